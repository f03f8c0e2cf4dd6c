/*
 * Where the contents of an image come from, and its access list.
 *
 * An image built here reads its contents from the image tree's own store
 * (objects/); a pulled one from the store it was pulled from (its origin
 * file and, for a registry, its object map; see remote.h). Either way a
 * content reaches public/ through cache_open, verified.
 *
 * images/NAME/TAG/access.list names the contents the image's last mount
 * opened (one SHA-256 hex digest per line, in first-open order). gear-push
 * ships it with the image, gear-pull brings it back, and gear-pull
 * --prefetch fetches what it lists before any container asks.
 */
#ifndef GEAR_IMAGE_FETCH_H
#define GEAR_IMAGE_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/digest.h"
#include "../base/err.h"
#include "../base/tree.h"
#include "../store/cache.h"

#define ACCESS_LIST_FILE "access.list"
#define ACCESS_LIST_MAX (64u << 20)

struct remote;
struct remote_opts;
struct object_map;

struct origin {
        struct remote *remote;  /* NULL: the image tree's own objects/ */
        struct object_map *map;
};

/* image_dir: "images/NAME/TAG", or "." with img an image directory itself; t: its index when the caller
   has it, else NULL (object_map_load); ro: how to reach a registry (NULL: remote_open's defaults) */
struct itree;
int origin_open(const struct gear_root *img, const char *image_dir, struct itree *t, const struct remote_opts *ro,
                struct origin *o, struct gear_err *e);
void origin_close(struct origin *o);
/* cache_open of content hex (of size bytes) from the origin; safe from several threads */
int origin_cache_open(struct origin *o, const struct gear_root *img, const char *hex, uint64_t size,
                      struct cache_result *res, struct gear_err *e);

/*
 * images/NAME/TAG/access.runs, of an image built here: what its last mount
 * read, in first-read order, one line each, "HEX" for a content opened (as
 * in access.list) or "HEX OFFSET LENGTH" for bytes read of a content of
 * CHUNKED_MIN bytes or more (remote/chunks.h), in units of ACCESS_RUN_UNIT
 * (the last one may end at the content's end). gear-recompress lays out such
 * a content's frames along the runs read, and gear-push ships in place of
 * each run the digests of the chunks of the map that hold it (the chunks a
 * mount of the pushed image then fetches first).
 */
#define ACCESS_RUNS_FILE "access.runs"
/* the list's lines and up to ACCESS_LIST_MAX bytes of runs */
#define ACCESS_RUNS_MAX (2 * ACCESS_LIST_MAX)
#define ACCESS_RUN_UNIT STORE_READ_UNIT
struct access_run {
        digest_hex hex;
        uint64_t off, len;      /* len 0: the whole content */
};
/* buf as access runs: code 111 "invalid access runs: line N" unless every line is one */
int access_runs_parse(const char *buf, size_t len, struct access_run **v, size_t *n, struct gear_err *e);
/* image_dir's access.runs, checked; *n 0 when it has none */
int access_runs_load(const struct gear_root *img, const char *image_dir, struct access_run **v, size_t *n,
                     struct gear_err *e);

/*
 * The access list gear-push ships with image_dir, whose contents are where
 * map m (NULL: none) says: access.list as it is, or made from access.runs
 * when the image has one, each run named by the digests of the chunks of m
 * that hold it (a content m does not chunk is named whole), each digest once
 */
int access_list_shipped(const struct gear_root *img, const char *image_dir, const struct object_map *m, char **buf,
                        size_t *len, struct gear_err *e);

/* checks an access list: code 111 "invalid access list" unless every line is a digest */
int access_list_check(const char *buf, size_t len, struct gear_err *e);
/* image_dir's access list, checked; *buf NULL when it has none */
int access_list_read(const struct gear_root *img, const char *image_dir, char **buf, size_t *len,
                     struct gear_err *e);
/* the digests of image_dir's access list; none when it has no list */
int access_list_load(const struct gear_root *img, const char *image_dir, digest_hex **v, size_t *n,
                     struct gear_err *e);

struct prefetch_stats {
        uint64_t listed;   /* contents in the access list the index names */
        uint64_t unknown;  /* contents it lists that the index does not name: skipped */
        uint64_t fetched, fetched_bytes, wire_bytes;
        uint64_t present;  /* already in public/ */
        uint64_t failed;
};

struct around;
struct prefetch_opts {
        unsigned jobs;                 /* parallel fetches */
        /*
         * Parallel Range requests when the contents are in packs; 0: jobs.
         * Streams share a link: on a slow one, each of n ranges comes at
         * 1/n of its speed, and the head of the list waits for the others.
         */
        unsigned range_jobs;
        const struct remote_opts *ro;  /* how to reach the image's registry; NULL: the defaults */
        /*
         * NULL: the first content that fails ends it. Else it runs in the
         * background: a content that fails is counted and the rest still
         * fetched (the first failure is reported at the end), and it ends
         * early (code 0) once *stop is set: no new content is started.
         */
        const bool *stop;
        const digest_hex *list;        /* NULL: the image's access list, read now */
        size_t nlist;
        struct itree *tree;            /* the image's index, when loaded already; NULL: loaded now */
        struct origin *origin;         /* where its contents come from, when open already; NULL: opened now */
        struct progress *progress;     /* contents done of those listed; NULL: none */
        /*
         * A mount's read-around (below), when it has one: an open there of a
         * content a range brings waits for it to be staged (decoded and
         * verified), not for its batch to be synced into public/
         */
        struct around *around;
};
/*
 * Fetches every content of the access list of image r into public/, on
 * o->jobs threads. The list is data from a store and may be stale (the tag
 * rebuilt since it was recorded): a content the index does not name is
 * skipped and counted, since only the index says what a content's size is.
 */
struct image_ref;
int image_prefetch(const struct gear_root *img, const struct image_ref *r, const struct prefetch_opts *o,
                   struct prefetch_stats *st, struct gear_err *e);

/*
 * Read-around for lazy opens (read-around.c). A small content is seldom
 * opened alone: the files of one directory, or of one start-up, lie next to
 * each other in a pack (gear-push lays them out in the access list's order,
 * then in path order). A lazy open of a small content missing from public/
 * claims it, and a thread of its own fetches it with one Range request
 * together with the small contents the map puts right after it in its pack
 * (at most AROUND_WINDOW stored bytes and AROUND_MEMBERS_MAX contents, those
 * the image names and public/ lacks). Each is staged (decoded and verified
 * into an unnamed file) as its bytes arrive, and an opener in this process
 * waiting for it gets that file at once; they go into public/ in batches,
 * one sync each, each named only once its bytes are on disk. Only for a
 * registry whose map puts contents in packs.
 */
#define AROUND_SIZE_MAX (64u << 10)
#define AROUND_WINDOW (128u << 10)
#define AROUND_MEMBERS_MAX 64
#define AROUND_RUNS_MAX 2

/* fn (may be NULL) is told of what each run fetched (the opened content left out) and its wire bytes */
typedef void (*around_fn)(void *ud, uint64_t files, uint64_t bytes, uint64_t wire);
/*
 * NULL *a when the origin has no packs; t, origin: the image's, kept until
 * around_free. With !runs it starts no run of its own: it only shows an open
 * the ranges a prefetch brings (prefetch_opts.around).
 */
int around_new(const struct gear_root *img, struct origin *origin, struct itree *t, bool runs, around_fn fn,
               void *ud, struct around **a, struct gear_err *e);
/*
 * An O_RDONLY-usable fd on the verified content hex (of size bytes), when a
 * run brings it: one at work already (a prefetch's range too, whatever its
 * size), or one started now for it (*fetched then). -1 when not (no range
 * brings it and a starts no runs, too large, no neighbours, present in
 * public/ or fetched by another process, AROUND_RUNS_MAX runs at work, a
 * failure): the caller's cache_open then finds or fetches it.
 */
int around_open(struct around *a, const char *hex, uint64_t size, bool *fetched);
/* waits for the runs at work */
void around_free(struct around *a);

#endif
