/*
 * gear-build from a registry: docker://HOST[:PORT]/REPO[:TAG|@DIGEST]. The
 * manifest (an index picks a platform) and config are read whole and
 * checked; each layer streams from a thread through a pipe into the build,
 * its digest checked on both ends, so no copy of the image lands on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "remote-internal.h"
#include "../base/config.h"
#include "../base/fsutil.h"

#define ACCEPT_ANY "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " \
                   "application/vnd.docker.distribution.manifest.v2+json, " \
                   "application/vnd.docker.distribution.manifest.list.v2+json"

struct layer_fetch {
        struct registry *reg;
        digest_hex hex;
        uint64_t size;
        int fd;
        struct gear_err err;
        int r;
};

struct reg_source {
        struct remote *r;
        pthread_t thread;
        bool running;
        struct layer_fetch f;
};

static void *fetch_thread(void *ud)
{
        struct layer_fetch *f = ud;
        sigset_t pipe;

        /* a reader that gave up closes its end: EPIPE here, not a signal for the process */
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, NULL);
        f->r = registry_get_blob_fd(f->reg, f->hex, f->size, f->fd, &f->err);
        close(f->fd);
        return NULL;
}

static int reg_open_layer(struct image_source *s, size_t i, int *fd, struct gear_err *e)
{
        struct reg_source *rs = s->ops_data;
        int p[2], k;

        if (pipe2(p, O_CLOEXEC) < 0)
                return gear_err_sys(e, errno, "cannot stream %s", s->layers[i].label);
        rs->f = (struct layer_fetch){ .reg = rs->r->reg, .size = s->layers[i].size, .fd = p[1] };
        memcpy(rs->f.hex, s->layers[i].hex, sizeof rs->f.hex);
        if ((k = pthread_create(&rs->thread, NULL, fetch_thread, &rs->f))) {
                close(p[0]);
                close(p[1]);
                return gear_err_sys(e, k, "cannot stream %s", s->layers[i].label);
        }
        rs->running = true;
        *fd = p[0];
        return 0;
}

static int reg_end_layer(struct image_source *s, size_t i, struct gear_err *e)
{
        struct reg_source *rs = s->ops_data;

        (void)i;
        if (!rs->running)
                return 0;
        pthread_join(rs->thread, NULL);
        rs->running = false;
        if (rs->f.r < 0) {
                *e = rs->f.err;
                return -1;
        }
        return 0;
}

static void reg_free(struct image_source *s)
{
        struct reg_source *rs = s->ops_data;

        if (!rs)
                return;
        remote_free(rs->r);
        free(rs);
        s->ops_data = NULL;
}

static const struct source_ops registry_ops = {
        .open_layer = reg_open_layer,
        .end_layer = reg_end_layer,
        .free = reg_free,
};

/* a manifest or index by tag or digest (checked against want when set), as JSON */
static json_t *get_manifest(struct remote *r, const char *ref, const char *want, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        json_error_t je;
        digest_hex got;
        json_t *j;
        size_t n;

        if (registry_get_manifest(r->reg, ref, ACCEPT_ANY, IMAGE_JSON_MAX, &buf, &n, e) < 0)
                return NULL;
        if (want && (digest_buf(buf, n, got, e) < 0 || strcmp(got, want))) {
                if (!e->code)
                        gear_err_set(e, GEAR_EXIT_SYS, "manifest %s does not match its digest", ref);
                return NULL;
        }
        if (!(j = json_loadb(buf, n, 0, &je)) || !json_is_object(j)) {
                json_decref(j);
                gear_err_set(e, GEAR_EXIT_USAGE, "manifest %s is not a JSON object", ref);
                return NULL;
        }
        if (json_object_get(j, "fsLayers")) {
                json_decref(j);
                gear_err_set(e, GEAR_EXIT_USAGE, "manifest %s is docker schema 1, which is not supported", ref);
                return NULL;
        }
        return j;
}

static int desc_digest(json_t *d, digest_hex hex, int64_t *size)
{
        const char *s = json_string_value(json_object_get(d, "digest"));
        json_t *sz = json_object_get(d, "size");

        if (!s || !digest_parse(s, hex) || !json_is_integer(sz) || json_integer_value(sz) < 0)
                return -1;
        *size = json_integer_value(sz);
        return 0;
}

static int load(struct image_source *s, struct remote *r, const char *ref, const char *want, struct gear_err *e)
{
        char dref[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN];
        _cleanup_free_ char *cbuf = NULL;
        json_t *idx = NULL, *man = NULL, *m;
        json_error_t je;
        digest_hex hex;
        int64_t size;
        size_t n;
        int k = -1;

        if (!(man = get_manifest(r, ref, want, e)))
                return -1;
        if (json_is_array(json_object_get(man, "manifests"))) {
                idx = man;
                man = NULL;
                if (source_pick_platform(json_object_get(idx, "manifests"), s->platform, &m, e) < 0)
                        goto out;
                if (desc_digest(m, hex, &size) < 0) {
                        gear_err_set(e, GEAR_EXIT_USAGE, "invalid descriptor in the index");
                        goto out;
                }
                snprintf(dref, sizeof dref, DIGEST_PREFIX "%s", hex);
                if (!(man = get_manifest(r, dref, hex, e)))
                        goto out;
        }
        if (desc_digest(json_object_get(man, "config"), hex, &size) < 0 || size > IMAGE_JSON_MAX) {
                gear_err_set(e, GEAR_EXIT_USAGE, "invalid config in the manifest");
                goto out;
        }
        if (registry_get_blob(r->reg, hex, size, &cbuf, &n, e) < 0)
                goto out;
        if ((int64_t)n != size || !(s->config = json_loadb(cbuf, n, 0, &je)) || !json_is_object(s->config)) {
                gear_err_set(e, GEAR_EXIT_USAGE, "config sha256:%.12s is not a JSON object of %lld bytes", hex,
                             (long long)size);
                goto out;
        }
        k = source_layers_parse(s, man, e);
out:
        json_decref(idx);
        json_decref(man);
        return k;
}

static int podman_open(const struct gear_tree *t, const char *name, struct image_source *s, struct gear_err *e)
{
        struct gear_config conf;
        int r;

        memset(s, 0, sizeof *s);
        s->dfd = -1;
        if (config_load(&conf, t, e) < 0)
                return -1;
        r = podman_source_open(&conf, name, s, e);
        config_done(&conf);
        return r;
}

int remote_source_open(const struct gear_tree *t, const char *spec, const struct remote_opts *o,
                       const char *platform, struct image_source *s, struct gear_err *e)
{
        _cleanup_free_ char *base = NULL;
        struct reg_source *rs;
        const char *ref;
        digest_hex want;
        char *at;

        if (!strncmp(spec, "containers-storage:", 19))
                return podman_open(t, spec + 19, s, e);
        if (!remote_spec_is_registry(spec))
                return source_open_for(spec, platform, s, e);
        memset(s, 0, sizeof *s);
        s->dfd = -1;
        s->platform = platform;
        s->kind = SOURCE_STREAM;
        if (platform && source_platform_check(platform, e) < 0)
                return -1;
        if (!(s->path = strdup(spec)) || !(base = strdup(spec)) || !(rs = calloc(1, sizeof *rs)))
                return gear_err_sys(e, ENOMEM, "cannot open '%s'", spec);
        s->ops = &registry_ops;
        s->ops_data = rs;
        if ((at = strrchr(base, '@'))) {
                *at = 0;
                if (!digest_parse(at + 1, want) || strncmp(at + 1, DIGEST_PREFIX, strlen(DIGEST_PREFIX)))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid digest in '%s'", spec);
        }
        if (remote_open_opts(base, o, &rs->r, e) < 0)
                return -1;
        if (at && rs->r->tag[0])
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid source '%s': a tag or a digest, not both", spec);
        ref = at ? at + 1 : rs->r->tag[0] ? rs->r->tag : IMAGE_DEFAULT_TAG;
        if (load(s, rs->r, ref, at ? want : NULL, e) < 0)
                return gear_err_wrap(e, "'%s'", spec);
        return 0;
}
