/* Folder build/: gear-build-image; may use base/ to image/. (common/README) */
/*
 * Source-to-image builds, as geard ran OpenShift's S2I. A builder image
 * holds the scripts assemble and run in the directory its label
 * io.openshift.s2i.scripts-url names (image:///usr/libexec/s2i when it has
 * none). The source, fetched with libgit2 into a private temporary
 * directory (repo.h), is copied to /tmp/src of a container of the builder,
 * owned by the builder's user; assemble runs there as that user with the
 * build's environment, its output streamed; the container is then
 * committed as the new image, with run as its command. All of it through
 * podman with gear.conf's settings: nothing here writes an image layer.
 *
 * What a build makes in podman is named after it: the container
 * gear-build-image-RANDOM, and until the image gets its tag
 * localhost/gear-build-image-tmp:RANDOM. Both go on every way out, a
 * failure or SIGINT, SIGTERM or SIGHUP (build_image catches them while it
 * runs); only the tagged image stays.
 */
#ifndef GEAR_BUILD_H
#define GEAR_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/err.h"
#include "../base/tree.h"
#include "../image/image.h"

#define BUILD_SCRIPTS_LABEL "io.openshift.s2i.scripts-url"
#define BUILD_SCRIPTS_DEFAULT "image:///usr/libexec/s2i"
#define BUILD_SOURCE_DIR "/tmp/src"
/* lines of assemble's output a failure repeats */
#define BUILD_TAIL_LINES 5
/* variables of --env */
#define BUILD_ENV_MAX 256

struct build_image_opts {
        const char *source;   /* a Git URL, a local repository, or repo://ID */
        const char *ref;      /* NULL: the source's HEAD */
        const char *builder;  /* an image podman has */
        const char *tag;      /* NAME[:TAG] */
        char *const *env;     /* n_env NAME=VALUE */
        size_t n_env;
        bool gear;            /* also the Gear image NAME:TAG */
        int out;              /* where the build's output goes */
};

struct build_image_result {
        struct image_ref ref;  /* the tag, parsed */
        char id[72];           /* podman's id of the image */
        char commit[41];       /* the source's commit */
        digest_hex manifest;   /* with gear: the Gear image's manifest */
        int signal;            /* the signal that stopped the build, or 0 */
};

/* every option checked, nothing touched: code 100 naming what is invalid */
int build_image_check(const struct build_image_opts *o, struct image_ref *ref, struct gear_err *e);

/*
 * Builds o->tag. A failure leaves nothing the build made: code 100 for
 * invalid options, a source or reference that names nothing, a builder
 * without an assemble script, or an assemble that fails (its exit status
 * and last lines in the message); 1 when podman has no image o->builder;
 * 111 for the rest. Stopped by a signal: -1 with res->signal set.
 */
int build_image(struct gear_tree *t, const struct build_image_opts *o, struct build_image_result *res,
                struct gear_err *e);

#endif
