/*
 * Chunked contents (chunks.c). The store keeps a content larger than
 * STORE_CHUNK as a run of zstd frames, each of STORE_CHUNK bytes of it (the
 * last one less), which decode one after the other to the whole content, as
 * any zstd reader does. gear-push lists such an object's frames in the map
 * with the SHA-256 of what each decodes to (gear-tree(5)), and a reader
 * fetches, decodes and checks only the frames it needs: gear-fs reads a
 * large file a chunk at a time, without fetching what is never read.
 */
#ifndef GEAR_CHUNKS_H
#define GEAR_CHUNKS_H

#include <stdbool.h>
#include <stdint.h>

#include "remote.h"
#include "../base/tree.h"
#include "../store/store.h"

/* what a map may say: a chunk decodes to at most CHUNK_SIZE_MAX bytes, a content has at most CHUNKS_MAX */
#define CHUNK_SIZE_MAX (4u << 20)
#define CHUNKS_MAX 65536u
/*
 * the chunks gear-push lists: of contents of at least this size (a build
 * writes those of STORE_CHUNKED_MIN bytes or more in chunks, gear-recompress
 * those a mount read in part from this size on)
 */
#define CHUNKED_MIN STORE_LAYOUT_MIN

struct map_chunk {
        uint64_t coff;    /* of its frame, from the content's offset in the pack */
        uint64_t uoff;    /* of what it decodes to, in the content */
        uint32_t clen;    /* its frame's bytes */
        uint32_t size;    /* what it decodes to */
        digest_hex hex;   /* the SHA-256 of that */
};

/*
 * The chunk table of the stored object on fd (stored bytes), which must
 * decode to content hex of size bytes: every frame decoded and hashed, the
 * whole checked against hex. *n 0 (and *v NULL) when it is a single frame,
 * raw, or smaller than CHUNKED_MIN: it is fetched whole. Code 111 when it
 * is corrupt.
 */
int chunk_table(int fd, uint64_t stored, const char *hex, uint64_t size, struct map_chunk **v, uint32_t *n,
                struct gear_err *e);
/*
 * loc's chunks are those of content hex as this host has it (objects/, else
 * public/): each slice of it they name hashes to its digest. A chunk table
 * another image's map gives is only trusted so (gear-push): false when it
 * does not match or the content is not here to check against.
 */
bool chunk_matches_local(const struct gear_root *img, const char *hex, const struct object_loc *loc);
/*
 * chunk_table, kept with the object (the extended attribute
 * CHUNK_TABLE_XATTR of its file, when it fits) so that the next push of it
 * reads the table instead of decoding the object again: an object is only
 * ever replaced by a new file (store.h), which starts without one
 */
#define CHUNK_TABLE_XATTR "trusted.gear.chunks"
int chunk_table_kept(int fd, uint64_t stored, const char *hex, uint64_t size, struct map_chunk **v, uint32_t *n,
                     struct gear_err *e);
/* loc's chunks hold size bytes, each within the limits: else code 111 */
int chunk_check(const struct object_loc *loc, uint64_t size, struct gear_err *e);
/* the chunk of loc holding byte off of the content (off below its size) */
uint32_t chunk_at(const struct object_loc *loc, uint64_t off);
/* the stored bytes of chunks [a, b) of loc, which lie one after the other */
uint64_t chunk_stored(const struct object_loc *loc, uint32_t a, uint32_t b);
/*
 * Chunks [a, b) of loc from their stored bytes at p (chunk a's first at p[0]),
 * as chunk_fetch writes them
 */
int chunk_store(const struct object_loc *loc, uint32_t a, uint32_t b, const unsigned char *p, int fd,
                struct gear_err *e);
/*
 * Chunks [a, b) of the content at loc with one Range request: each decoded,
 * checked against its digest and written at its offset of fd. *wire: the
 * stored bytes fetched. A chunk that does not match is never written: code
 * 111 (those before it are).
 */
int chunk_fetch(struct remote *r, const struct object_loc *loc, uint32_t a, uint32_t b, int fd, uint64_t *wire,
                struct gear_err *e);

#endif
