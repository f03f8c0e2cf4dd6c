/*
 * The public/ cache of the image tree: public/<ab>/<rest of the 64 hex
 * digits>, one uncompressed, verified file per content, shared by every
 * image and container of the host. A file appears there only by link(2) of
 * a complete, synced file whose SHA-256 and size were checked, so a reader
 * never sees half a file or wrong bytes.
 *
 * The first opener of a missing content fetches it while holding
 * public/<ab>/.<rest>.lock (flock, exclusive); other threads and processes
 * wait on that lock and then find the file, so a content is fetched once.
 */
#ifndef GEAR_CACHE_H
#define GEAR_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/err.h"
#include "../base/tree.h"

#define CACHE_DIR "public"
/* of a cached file: read-only and root-only, whatever the file's mode in its image */
#define CACHE_FILE_MODE 0400
#define CACHE_REL_MAX (sizeof CACHE_DIR + 3 + 64)

/* "public/ab/cdef..." */
void cache_rel(const char *hex, char rel[CACHE_REL_MAX]);

/*
 * Writes the stored form (zstd or raw, see store.h) of content hex, of size
 * bytes, to fd; the cache decodes and verifies it. The fetch stops past what
 * the content can need (store_stored_max). Code 1 when the source lacks it.
 */
typedef int (*cache_fetch_fn)(const char *hex, uint64_t size, int fd, void *ud, struct gear_err *e);

struct cache_result {
        bool fetched;       /* this call fetched the content */
        uint64_t wire;      /* stored bytes it fetched */
};

/* content hex is in public/, of size bytes (a prefetch leaves it out) */
bool cache_has(const struct gear_root *img, const char *hex, uint64_t size);

/*
 * An O_RDONLY fd on the cached content hex of the given size, fetching it
 * first when missing: from the image tree's own store (objects/) when fetch
 * is NULL, else through fetch. A content whose digest or size does not match
 * is never cached: code 111, "... does not match its digest".
 */
int cache_open(const struct gear_root *img, const char *hex, uint64_t size, cache_fetch_fn fetch, void *ud,
               struct cache_result *res, struct gear_err *e);

/*
 * The same in two steps, for a fetch that brings many contents at once: the
 * claim of content hex without waiting, 1 with *c when the caller is to
 * fill it (its lock held), 0 when it is in public/ already or another fetch
 * holds it; then cache_fill, which fills it through fetch as cache_open does
 * and gives the same fd (or -1), or cache_claim_free, which gives it up.
 * Both end the claim.
 */
struct cache_claim;
int cache_claim(const struct gear_root *img, const char *hex, uint64_t size, struct cache_claim **c,
                struct gear_err *e);
int cache_fill(struct cache_claim *c, cache_fetch_fn fetch, void *ud, struct cache_result *res, struct gear_err *e);
void cache_claim_free(struct cache_claim *c);
/*
 * cache_fill in two steps, for many contents at once: cache_stage fetches,
 * decodes and verifies the claimed content into an unnamed file of
 * public/<ab> (the claim kept; on failure too, for the caller to free);
 * cache_publish syncs a batch of staged contents at the cost of about one
 * sync, names each, ends every claim in v (NULL entries skipped, each set
 * to NULL), and tells fn (may be NULL) of each: e NULL when it is in
 * public/.
 */
int cache_stage(struct cache_claim *c, cache_fetch_fn fetch, void *ud, struct cache_result *res, struct gear_err *e);
typedef void (*cache_published_fn)(void *ud, size_t i, const struct gear_err *e);
/* the staged content's unnamed file (read-write; the claim's until published) */
int cache_staged_fd(const struct cache_claim *c);
void cache_publish(struct cache_claim **v, size_t n, cache_published_fn fn, void *ud);
/*
 * A content written in place by its reader, a part at a time (a chunked
 * content, remote/chunks.h): cache_partial gives an unnamed read-write file
 * of size bytes in public/<ab>, each part of which the caller fills with
 * verified bytes; once all are, cache_adopt checks the whole file's digest
 * and size, syncs it and names it (when another fetch has not named the
 * content meanwhile), without copying it.
 */
int cache_partial(const struct gear_root *img, const char *hex, uint64_t size, struct gear_err *e);
/* *mismatch: it failed because the file is not the content (else a failure to name it, worth a retry) */
int cache_adopt(const struct gear_root *img, const char *hex, uint64_t size, int fd, bool *mismatch,
                struct gear_err *e);
/* a temporary file for size bytes: in memory (memfd) when small, else unnamed in directory dfd */
int cache_temp(int dfd, uint64_t size);

/*
 * A fetch killed while it held its lock leaves public/<ab>/.<rest>.lock
 * behind. cache_lock_claim gives an fd holding the lock file name (below
 * public/<ab>, dfd) when nobody holds it: the caller may unlink it while it
 * holds it, and waiters that opened it before try again with a new one. -1
 * when a fetch holds it, or it is gone.
 */
bool cache_lock_name(const char *name);
int cache_lock_claim(int dfd, const char *name);

/*
 * gear-gc: removes cached contents that no image in use needs, least
 * recently accessed (atime) first, until the cache holds at most max bytes.
 * An image is in use while images/NAME/TAG/fs.lock is held shared: by its
 * gear-fs for as long as it is mounted, by gear-pull --prefetch while it
 * fetches. Every content of an image in use is kept. gc holds the lock of public/
 * exclusively from its scan to its last removal, and a user takes the fs.lock
 * only while holding the lock of public/ shared (cache_use), so an image is either
 * seen in use by the scan or starts being used once gc is done: gc never
 * removes what a mount or a prefetch just fetched. fn (may be NULL) is told
 * of each content removed (or, with dry_run, that would be).
 */
#define CACHE_MOUNT_LOCK "fs.lock"
#define CACHE_GC_LOCK CACHE_DIR
/*
 * An image starts being used (mounted, prefetched) only with the lock of public/
 * held shared, which gear-gc holds exclusively from its scan to its last
 * removal: cache_use_begin returns the fd holding it (waits for a running
 * gc); the caller takes its fs.lock, then closes it. cache_use does both for
 * the image in image_dir and returns the fd holding its fs.lock shared.
 */
int cache_use_begin(const struct gear_root *img, struct gear_err *e);
int cache_use(const struct gear_root *img, const char *image_dir, struct gear_err *e);
struct cache_gc_result {
        uint64_t removed, removed_bytes, kept, kept_bytes, mounted;
        uint64_t frames_removed, frames_removed_bytes; /* object_gc: solid frames (frames.h) */
};
typedef void (*cache_gc_fn)(const char *hex, uint64_t size, void *ud);
int cache_gc(const struct gear_root *img, uint64_t max, bool dry_run, cache_gc_fn fn, void *ud,
             struct cache_gc_result *res, struct gear_err *e);
/*
 * Removes the objects/ no image of the tree names (their images removed
 * or built anew), and the solid frames of frames/ one of whose members no
 * image names; nothing while a build runs. fn for each object removed.
 */
int object_gc(const struct gear_root *img, bool dry_run, cache_gc_fn fn, void *ud, struct cache_gc_result *res,
              struct gear_err *e);

#endif
