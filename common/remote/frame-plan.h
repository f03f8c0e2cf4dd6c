/* the store's solid frames planned from the images and made (frame-plan.c) */
#ifndef GEAR_FRAME_PLAN_H
#define GEAR_FRAME_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/err.h"
#include "../base/tree.h"
#include "../store/frames.h"

struct planned {
        digest_hex name;
        struct frame_member *m;
        size_t n;
        bool make, failed;
};
struct frame_plan {
        struct planned *v;
        size_t n;
};
/* the frames the images built here call for (see frame-plan.c) */
/*
 * The index of image r when it was built here (its contents in objects/):
 * 1 with *t and rel its directory; 0 when it was pulled, or is gone or
 * unreadable meanwhile (not a failure of a plan); -1
 */
struct image_ref;
struct itree;
int built_image_tree(const struct gear_root *img, const struct image_ref *r, char rel[PATH_MAX], struct itree **t,
                     struct gear_err *e);
int frame_plan_make(const struct gear_root *img, struct frame_plan *fp, struct gear_err *e);
void frame_plan_free(struct frame_plan *fp);

struct frames_stats {
        uint64_t planned, kept, made, removed, failed;
        uint64_t made_bytes;    /* of the frames made */
        uint64_t bytes;         /* of every frame planned */
};
/*
 * gear-recompress's frames: those planned and not made yet (or made at a
 * lower level) made at level on jobs threads into a build staging
 * directory, then renamed into frames/ and the frames no longer planned
 * removed, with the store lock held exclusive. A frame that cannot be made
 * (a member's object corrupt or missing) is left out and counted, fn told
 * why; the run goes on. A frame planned but not made is not removed.
 */
typedef void (*frames_fail_fn)(const char *name, const struct gear_err *err, void *ud);
int frames_recompress(const struct gear_root *img, int level, int jobs, frames_fail_fn fn, void *ud,
                      struct frames_stats *st, struct gear_err *e);

#endif
