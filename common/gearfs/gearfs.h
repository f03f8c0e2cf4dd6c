/* Folder gearfs/: the FUSE file system; may use base/ to remote/. (common/README) */
/*
 * gear-fs: a Gear image mounted read-only with FUSE. The whole tree (names,
 * metadata, xattrs, link targets) comes from the index held in memory, so
 * lookup, getattr, readdir, readlink and the xattr calls never fetch. A
 * regular file's content is fetched into the public/ cache (cache.h) on its
 * first open; reads are served from the cached file.
 *
 * While mounted it keeps, in the image directory (images/NAME/TAG/):
 *   fs.stats     "KEY VALUE" lines: fetched_files, fetched_bytes (content),
 *                wire_bytes (stored form moved), cache_hits, errors,
 *                opened_files, and with prefetch prefetched_files,
 *                prefetched_bytes, prefetched_wire_bytes (what the
 *                background fetch of the access list brought in, counted
 *                when it is done); rewritten (atomically) within a
 *                fraction of a second of a change, and at exit
 *   access.list  the digests of the files opened, one per line, in
 *                first-open order (image-fetch.h); written with the stats
 *                once the mount has opened a file
 *   access.runs  of an image built here, the list and the runs read of
 *                its large contents (image-fetch.h), written with it
 */
#ifndef GEAR_GEARFS_H
#define GEAR_GEARFS_H

#include <stdbool.h>

#include "../base/err.h"
#include "../base/tree.h"
#include "../image/image.h"

#define GEARFS_STATS "fs.stats"

/* where a running mount reports fetch failures (one line, no newline) */
typedef void (*gearfs_log_fn)(const char *msg);

struct gearfs_opts {
        struct image_ref ref;
        const char *mountpoint;
        bool foreground;
        bool allow_other;
        bool prefetch;          /* fetch the access list's contents in the background */
        bool direct;            /* fetched files are metacopies of public/ for gear-fs --overlay */
        bool no_around;         /* a lazy open fetches its content alone (no read-around, image-fetch.h) */
        gearfs_log_fn log;
};

/* mounts, serves until unmounted or signalled, then writes the stats and access list */
int gearfs_run(const struct gear_root *img, const struct gearfs_opts *o, struct gear_err *e);

/* the overlay a container runs on (overlay.c) */
struct gearfs_overlay {
        const char *lower, *upper, *work, *merged;
};
/*
 * Mounts it with public/ as a data-only layer below lower (*direct true),
 * or, where the kernel cannot (gearfs_overlay_direct_works), over lower alone
 */
int gearfs_overlay_mount(const struct gear_root *img, const struct gearfs_overlay *ov, bool *direct,
                         struct gear_err *e);
/*
 * whether this kernel reads a lower file through its redirect into a
 * data-only layer without metacopy=on (a probe in a mount namespace of its
 * own, on a tmpfs: Linux 6.16 and later); why (may be NULL) gets the reason
 * when not. gear-fs --overlay mounts public/ below only then, and a
 * --direct mount answers metacopy only then: a plain overlay refuses a
 * metacopy file.
 */
bool gearfs_overlay_direct_works(char *why, size_t n);

#endif
