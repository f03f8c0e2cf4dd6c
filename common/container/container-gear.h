/* containers run from Gear images: the image's gear-fs unit and the container's overlay */
#ifndef GEAR_CONTAINER_GEAR_H
#define GEAR_CONTAINER_GEAR_H

#include <limits.h>
#include <stdbool.h>

#include "../base/config.h"
#include "../base/err.h"
#include "../base/tree.h"
#include "../systemd/unit.h"

#define CTR_GEAR_PREFIX "gear:"
/* the longest unit name systemd takes */
#define CTR_GEAR_UNIT_MAX 255

struct ctr_gear {
        char ref[PATH_MAX];          /* "NAME:TAG" */
        char mount_unit[PATH_MAX];   /* gear-fs-<NAME:TAG escaped>.service, shortened past 255 bytes */
        char lower[PATH_MAX];        /* IMG/mnt/NAME/TAG */
        char upper[PATH_MAX], work[PATH_MAX], merged[PATH_MAX]; /* IMG/containers/ID/... */
        struct gear_strv command, env;
        char *workdir, *user;
        struct unit_gear unit;       /* points into the above */
        bool mount_changed;          /* the gear-fs unit was written anew */
};

/* "gear:NAME[:TAG]" */
bool ctr_gear_image(const char *image);
/*
 * 1 and buf "gear:IMAGE" when IMAGE, without the prefix, names an image of
 * the image tree; 0 when it does not (it is then the engine's to find).
 */
int ctr_gear_resolve(struct gear_tree *t, const char *image, char *buf, size_t n, struct gear_err *e);
/*
 * Reads the image's OCI config, makes the container's overlay directories
 * and writes the image's gear-fs unit into the unit directory. Code 1 when
 * the image is not in the image tree.
 */
int ctr_gear_prepare(struct gear_tree *t, const struct gear_config *conf, const char *image, const char *id,
                     struct ctr_gear *g, struct gear_err *e);
void ctr_gear_done(struct ctr_gear *g);
/*
 * The statistics of the image's mount (gearfs.h: "KEY VALUE" lines), NULL
 * when it has none; image is "gear:NAME[:TAG]".
 */
int ctr_gear_stats(struct gear_tree *t, const char *image, char **text, struct gear_err *e);
/*
 * 1 when containers run from the image (their units name "gear:NAME:TAG"):
 * their ids, quoted and comma-separated, in users; 0 when none does.
 * plain (may be NULL) is set when one of them, other than container
 * except (may be NULL), has a unit from before gear-fs --overlay: an
 * overlay without public/ below, which a gear-fs --direct mount would fail.
 */
struct image_ref;
int ctr_gear_users(struct gear_tree *t, const struct image_ref *ref, const char *except, char *users, size_t n,
                   bool *plain, struct gear_err *e);
/* unmounts and removes IMG/containers/ID; 0 when there was none */
int ctr_gear_remove(struct gear_tree *t, const char *id, struct gear_err *e);

#endif
