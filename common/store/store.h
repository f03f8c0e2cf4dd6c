/* Folder store/: the content store and the cache; may use base/ to repo/. (common/README) */
/*
 * The content store of the image tree: one file per distinct content,
 * objects/<ab>/<rest of the 64 hex digits>, named by the SHA-256 of the
 * uncompressed content.
 *
 * An object is stored zstd-compressed (one frame, fast level) unless it is
 * smaller than STORE_RAW_MAX bytes or compression does not make it smaller;
 * one of STORE_CHUNKED_MIN bytes or more is stored as a run of frames of
 * STORE_CHUNK bytes of it each (the last one less), which decode one after
 * the other to the whole (a reader of a registry fetches only the frames it
 * needs: remote/chunks.h);
 * then it is stored raw. Contents big enough to be compressed as they stream
 * in (LAYER_STREAM_MIN), or of STORE_CHUNKED_MIN bytes or more, are always compressed: for incompressible data zstd
 * adds a few bytes per 128 KiB block. A reader tells the two apart by the zstd frame magic
 * (28 b5 2f fd) at the start: raw content that itself begins with those four
 * bytes is therefore always stored compressed.
 *
 * Objects appear only by rename(2) of a complete, synced file, so a reader
 * never sees half an object. A present object is rewritten only by
 * store_recompress, which replaces it with the same content at a slower
 * level under the store lock held exclusive: whoever reads an object's stored
 * bytes more than once (a pack push) holds the lock shared meanwhile.
 */
#ifndef GEAR_STORE_H
#define GEAR_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/digest.h"
#include "../base/err.h"
#include "../base/tree.h"

#define STORE_DIR "objects"
/* of an object: read-only and root-only, whatever the file's mode in its image */
#define STORE_FILE_MODE 0400
#define STORE_CORRUPT_DIR "objects/.corrupt"
#define STORE_LOCK STORE_DIR
#define STORE_BUILD_DIR "build"
#define STORE_RAW_MAX 512
#define STORE_ZSTD_LEVEL 1
#define STORE_CHUNK (1u << 20)
#define STORE_CHUNKED_MIN (4u << 20)
#define STORE_REL_MAX (sizeof STORE_DIR + 3 + DIGEST_HEX_LEN)

/* where a file's content is: its digest and its real size */
struct store_blob {
        digest_hex hex;
        uint64_t size;
};

/* "objects/ab/cdef..." */
void store_object_rel(const char *hex, char rel[STORE_REL_MAX]);
/* the object is present (a regular file) */
bool store_has(const struct gear_root *img, const char *hex);

/*
 * Builds hold the store lock shared from their first look at the store until
 * their image is in place; anything that deletes objects takes it exclusive.
 * Returns the fd holding the lock.
 */
int store_lock(const struct gear_root *img, int op, struct gear_err *e);

/* this thread's zstd compression context (freed when the thread ends); NULL when out of memory */
struct ZSTD_CCtx_s;
struct ZSTD_CCtx_s *store_thread_cctx(void);
/* one zstd frame of n bytes of content at the store's level into out (cap bytes); its size, 0 (e set) on failure */
size_t store_frame_encode(void *out, size_t cap, const void *in, size_t n, struct gear_err *e);
/* the stored form of buf: *out is buf itself (raw) or a malloc'd zstd frame */
int store_encode(const void *buf, size_t n, void **out, size_t *outn, struct gear_err *e);
bool store_is_zstd(const void *buf, size_t n);
/*
 * The most bytes the stored form of a content of size bytes can take: raw,
 * or one zstd frame (ZSTD_compressBound), plus STORE_SLACK. A fetch stops
 * past it.
 */
#define STORE_SLACK 4096
uint64_t store_stored_max(uint64_t size);

/* reading an object: content decompressed, digest and size checked at the end */
struct store_reader;
/* -ENOENT (code 1) when the object is missing */
int store_reader_open(const struct gear_root *img, const char *hex, struct store_reader **r,
                      struct gear_err *e);
/* also reads a stored object from an open fd (taken over) */
int store_reader_fdopen(int fd, const char *hex, const char *what, struct store_reader **r,
                        struct gear_err *e);
/* bytes read; 0 at the end, once the digest (and size, if set) matched; -1 (code 111) else */
ssize_t store_reader_read(struct store_reader *r, void *buf, size_t n, struct gear_err *e);
void store_reader_expect_size(struct store_reader *r, uint64_t size);
/* reads the rest, checking it: 0 when the digest (and size, if set) matched */
int store_reader_check(struct store_reader *r, struct gear_err *e);
void store_reader_free(struct store_reader *r);

/* reads a whole object, checking it; *size gets its content size; -EBADMSG when it is corrupt */
int store_verify(const struct gear_root *img, const char *hex, uint64_t *size, struct gear_err *e);
/* writes an object's content to fd, checking digest and size; -EBADMSG when it is corrupt */
int store_copy_to_fd(const struct gear_root *img, const char *hex, uint64_t size, int fd,
                     struct gear_err *e);

/*
 * A build stages new objects in build/.gear-tmp.RANDOM/ (locked while the
 * build runs) and moves them into objects/ only when it succeeds.
 */
struct store_stats {
        uint64_t files;          /* regular file contents read */
        uint64_t bytes_in;       /* their bytes */
        uint64_t objects_new;    /* objects this build adds */
        uint64_t objects_reused; /* contents already stored or seen earlier in the build */
        uint64_t bytes_new;      /* content bytes of the new objects */
        uint64_t bytes_stored;   /* bytes the new objects take in the store */
};

struct store_stage;
int stage_begin(const struct gear_root *img, struct store_stage **s, struct gear_err *e);
/* content already hashed: dedups it and stages it when new (thread safe) */
int stage_put(struct store_stage *s, const char *hex, const void *buf, size_t n,
              struct gear_err *e);
/* a content written in pieces (its stored form: pool_stream's frames) to a file of the staging area */
struct stage_stream;
int stage_stream_open(struct store_stage *s, struct stage_stream **w, struct gear_err *e);
int stage_stream_append(struct stage_stream *w, const void *buf, size_t n, struct gear_err *e);
/* the content is hex, of size bytes: stages it (or drops a duplicate); frees w */
int stage_stream_finish(struct stage_stream *w, const char *hex, uint64_t size, struct gear_err *e);
void stage_stream_free(struct stage_stream *w);
void stage_stats(struct store_stage *s, struct store_stats *st);
/* syncs what is staged so far: the sync stage_commit starts with, done ahead (on another thread) */
int stage_sync(struct store_stage *s, struct gear_err *e);
/*
 * Syncs the staged objects (unless stage_sync did, and nothing came since),
 * then renames those that keep() wants into objects/ (contents a later layer
 * deleted are dropped); the stats count only those.
 */
typedef bool (*stage_keep_fn)(const char *hex, void *ud);
int stage_commit(struct store_stage *s, stage_keep_fn keep, void *ud, struct gear_err *e);
/* the staging directory, for files of the caller's own (store_recompress) */
int stage_dirfd(struct store_stage *s);
/* removes the staging directory (and whatever was not committed) and frees s */
void stage_free(struct store_stage *s);

/* true when a build/ or images/ temp directory's build is gone (its lock is free) */
bool stage_token_stale(const struct gear_root *img, const char *token);

/* hashing and staging on worker threads while the caller reads the next file;
 * with no threads, in the caller at each submit */
struct store_pool;
/* bytes waiting in the queue at most: bounds memory, keeps the reader ahead */
#define POOL_MAX_QUEUED (256u << 20)
int pool_new(struct store_stage *s, int threads, struct store_pool **p, struct gear_err *e);
/* takes buf (malloc'd); blob is filled by a worker before pool_wait returns */
int pool_submit(struct store_pool *p, void *buf, size_t n, struct store_blob *blob,
                struct gear_err *e);
/*
 * A content too large to hold (LAYER_STREAM_MIN): hashed as the caller
 * writes it, each STORE_CHUNK of it compressed to a frame by the workers
 * (ahead of the contents queued) and the frames written in order to a
 * stage_stream. A stream is its caller's thread's, and is finished or freed
 * before pool_free.
 */
struct pool_stream;
int pool_stream_open(struct store_pool *p, struct pool_stream **w, struct gear_err *e);
int pool_stream_write(struct pool_stream *w, const void *buf, size_t n, struct gear_err *e);
/* fills blob and stages the content (or drops a duplicate); frees w */
int pool_stream_finish(struct pool_stream *w, struct store_blob *blob, struct gear_err *e);
void pool_stream_free(struct pool_stream *w);
/* waits for every submitted job; the first failure, if any */
int pool_wait(struct store_pool *p, struct gear_err *e);
void pool_free(struct store_pool *p);

/*
 * Recompression (gear-recompress): every object of at least STORE_RAW_MAX
 * bytes not yet tried at level or above is read, verified and compressed
 * again at level, in one zstd frame with its content size (a large one in
 * the frames its layout gives, below); a smaller result
 * replaces the object (renamed over it with the store lock held exclusive,
 * if the object is still the file that was read), a larger one leaves it as
 * it is. Either way the object is marked with the level in STORE_LEVEL_XATTR,
 * so that the next run skips it (on file systems without extended attributes
 * it tries the object again). Objects are taken a batch of subdirectories at
 * a time (up to 4096 objects or 256 MiB), largest first, written into a build
 * staging directory and synced before their renames:
 * a kill leaves each object either old or new, and the staging directory to
 * gear-clean. A corrupt object is reported and left alone (gear-fsck repairs).
 */
#define STORE_LEVEL_XATTR "trusted.gear.zstd-level"
/*
 * A content of STORE_LAYOUT_MIN bytes or more is written in the frames
 * layout gives: it fills read (one byte for each unit of STORE_READ_UNIT
 * bytes of the content) with 1 for the units some image's mount read
 * (remote/chunk-plan.h) and returns 1; 0 when no image read it in part,
 * -1 when what was read is unknown (an access list from before access.runs:
 * frames laid out before are kept, others are as a build writes them).
 * A content read in part so gets frames of up to STORE_CHUNK bytes along
 * each run of units read (a gap of up to STORE_READ_GAP units between two
 * read with them), and frames of up to STORE_MERGED_MAX bytes of the units
 * between (fewer frames: smaller); one that no image reads in part, a single
 * frame; without layout, a content of STORE_CHUNKED_MIN bytes or more a
 * frame for every STORE_CHUNK bytes (as a build writes them), a smaller one
 * a single frame. The frames an object is in are kept in STORE_FRAMES_XATTR
 * (a digest of their sizes), so a run skips an object tried at the level
 * whose frames are as they should be, and rewrites one whose frames changed
 * whatever the new form costs.
 */
#define STORE_FRAMES_XATTR "trusted.gear.zstd-frames"
#define STORE_MERGED_MAX (4u << 20)
#define STORE_LAYOUT_MIN STORE_CHUNK
#define STORE_READ_UNIT (4u << 10)
#define STORE_READ_GAP 2
/* at most this many frames (CHUNKS_MAX of a map): more, and a content is as a build writes it */
#define STORE_FRAMES_MAX 65536u
typedef int (*recompress_layout_fn)(void *ud, const char *hex, uint64_t size, unsigned char *read);
struct recompress_opts {
        int level; /* 1 to ZSTD_maxCLevel() */
        int jobs;  /* threads compressing */
        recompress_layout_fn layout; /* NULL: as a build writes them */
        void *layout_ud;
};
enum recompress_result { RECOMPRESS_SKIPPED, RECOMPRESS_SMALLER, RECOMPRESS_KEPT, RECOMPRESS_FAILED };
struct recompress_stats {
        uint64_t objects, skipped, smaller, kept, failed;
        uint64_t before, after; /* stored bytes of the objects made smaller */
        uint64_t kept_bytes;
};
/* called for every object, batch by batch; err set only for RECOMPRESS_FAILED */
typedef void (*recompress_fn)(const char *hex, enum recompress_result r, uint64_t before, uint64_t after,
                              const struct gear_err *err, void *ud);
int store_recompress(const struct gear_root *img, const struct recompress_opts *o, recompress_fn fn, void *ud,
                     struct recompress_stats *st, struct gear_err *e);

/* rm -rf of name below dfd, without following symlinks */
int store_rm_rf(int dfd, const char *name);

#endif
