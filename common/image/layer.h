/* applying one layer (a tar stream, or a directory read through libarchive) to an image tree */
#ifndef GEAR_LAYER_H
#define GEAR_LAYER_H

#include <stdbool.h>

#include "image-tree.h"
#include "../base/err.h"
#include "../store/store.h"

struct archive;
struct archive_entry;

/* contents at least this big are hashed and compressed as they stream in */
#define LAYER_STREAM_MIN (16u << 20)
/* the xattr namespace of the index's own records; refused in source layers */
#define GEAR_XATTR_PREFIX "GEAR."

struct layer_ctx {
        struct itree *tree;
        struct store_stage *stage;
        struct store_pool *pool;
        unsigned index;    /* 1 for the bottom layer */
        const char *label; /* names the layer in messages */
        bool whiteouts;    /* .wh. names are whiteouts (not for dir: sources) */
        bool ignore_errno; /* libarchive error codes say nothing about the system */
        int content_fd;    /* >= 0: a regular file's content is read from it, not the archive (dir: sources) */
};

/* reads every entry of an opened archive; 100 with the layer and entry named when malformed */
/* a growing buffer that libarchive writes into (archive_write_open's write callback) */
struct membuf {
        char *p;
        size_t n, cap;
};
long membuf_write(struct archive *a, void *ud, const void *buf, size_t n);

/* a reader for layer tars: gzip, zstd, xz, bzip2 or none; NULL (e set) when it cannot be made */
struct archive *layer_reader_new(struct gear_err *e);
int layer_apply(struct layer_ctx *c, struct archive *a, struct gear_err *e);
/* one entry, its member name already relative to the image root */
int layer_apply_entry(struct layer_ctx *c, struct archive *a, struct archive_entry *ent,
                      const char *name, struct gear_err *e);
/* 111 for system errors (I/O, memory), 100 for malformed input */
int layer_archive_error(struct layer_ctx *c, struct archive *a, const char *name, struct gear_err *e);

#endif
