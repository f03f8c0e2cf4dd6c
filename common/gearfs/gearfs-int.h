/* gear-fs internals: the inode table built from the index, fetching and counting */
#ifndef GEAR_GEARFS_INT_H
#define GEAR_GEARFS_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "gearfs.h"
#include "../image/image-tree.h"
#include "../remote/image-fetch.h"
#include "../remote/chunks.h"

struct gfs_node {
        struct inode *ino;
        struct tnode *tn;  /* the first path of the inode (a directory's only one) */
        uint32_t nlink;
        uint64_t dirents;  /* a directory's entries as ext4 stores them: bytes */
        int fd;            /* the cached content, once opened (-1 before) */
        bool accessed;     /* in the access list */
        bool opened;       /* opened (or read past FUSE) through this mount */
        struct gfs_part *part; /* a chunked content, read a chunk at a time (partial.c); NULL: none */
};

/*
 * A chunked content (remote/chunks.h) missing from public/ is not fetched
 * on open: each read fetches the chunks it covers that are missing, checked
 * each against its digest, into an unnamed file of public/<ab>, which is
 * named once every chunk is in and the whole matches its digest. The chunks
 * read are recorded in the access list by their own digests, which --prefetch
 * fetches (older versions skip them as contents the image lacks).
 */
struct gfs_part {
        pthread_mutex_t mu;     /* fd, have, left, whole */
        pthread_cond_t cond;    /* a fetch ended */
        int fd;                 /* -1 until the first fetch */
        struct object_loc loc;  /* its chunks the origin map's */
        uint64_t size;
        unsigned char *have;    /* chunk k: 0 missing, PART_FETCHING, PART_HAVE (in fd) */
        uint32_t left;          /* chunks missing */
        bool whole;             /* all in, named in public/ */
        bool bad;               /* the whole did not match: every read fails */
        unsigned char *touched; /* under fs->lock: chunk k (of a local one, unit k) is in the access list */
        /*
         * local: of an image built here, whose content is whole in public/:
         * its reads only record the units of ACCESS_RUN_UNIT they cover, for
         * access.runs (remote/image-fetch.h)
         */
        bool local;
        bool by_chunks;         /* its reads come through FUSE: listed by the chunks they read */
        bool seeded;            /* the list found at mount names chunks of it: --prefetch fetches those, not it */
        bool pushed;            /* read: the chunks it had then went to the pusher, as every one since does */
};

struct gfs_stats {
        uint64_t fetched_files, fetched_bytes, wire_bytes, cache_hits, errors, opened_files;
        uint64_t prefetched_files, prefetched_bytes, prefetched_wire_bytes;
        uint64_t around_files, around_bytes;  /* fetched with an opened content (read-around), not opened */
        uint64_t chunked_files, fetched_chunks, prefetched_chunks;
        uint64_t pushed_bytes;  /* of chunks, put into the kernel's page cache (partial.c) */
};

struct gfs_pusher;

struct gearfs {
        const struct gear_root *img;
        const struct gearfs_opts *o;
        /*
         * The generation of images/NAME/TAG mounted, opened once: origin, map,
         * access list and stats are its own even when a pull or a build
         * replaces the tag meanwhile. lockfd holds its fs.lock shared.
         */
        struct gear_root dir;
        int lockfd;
        struct itree *t;
        struct gfs_node *nodes; /* FUSE inode number i is nodes[i - 1]; the root is 1 */
        size_t n;
        struct inode **hash;    /* open addressing: inode -> index + 1 */
        size_t *hidx, hcap;
        uint64_t bytes;
        struct origin origin;   /* where the contents come from */
        struct around *around;  /* read-around of lazy opens; NULL: none */
        bool no_open;           /* the kernel skips open: reads look the content up */
        bool direct;            /* --direct, and the kernel has data-only overlay layers */
        pthread_mutex_t lock;   /* stats, access list, node fds */
        struct gfs_stats st;
        uint64_t gen, written;  /* changes, and the change last written */
        uint64_t *access;       /* nodes[] index, with its chunk (local: unit) + 1 in the high 32 bits (0: the whole) */
        size_t naccess, access_cap;
        size_t nseeded;         /* access[] starts with the access list found at mount */
        uint64_t generation;    /* of every file handle: from the index's digest */
        digest_hex *prior;      /* the access list found at mount: what --prefetch fetches */
        size_t nprior;
        digest_hex *by_chunks;  /* sorted: the contents it names chunks of (fetched by those) */
        size_t nby_chunks;
        struct gfs_pusher *pusher; /* NULL: none */
};

int gfs_init(struct gearfs *fs, const struct gear_root *img, const struct gearfs_opts *o, struct gear_err *e);
void gfs_done(struct gearfs *fs);
/* FUSE inode number of a tree node */
uint64_t gfs_ino(const struct gearfs *fs, const struct tnode *tn);
struct gfs_node *gfs_node(struct gearfs *fs, uint64_t ino);
void gfs_stat(const struct gearfs *fs, uint64_t ino, struct stat *st);
/*
 * The content fd of a regular file (shared by every open; not to be closed);
 * -EIO after logging. open: an open, not a read looking its content up.
 */
int gfs_open(struct gearfs *fs, uint64_t ino, bool open);
/* counts a file as accessed (once): its first open, or an overlay reading it past FUSE */
void gfs_record_access(struct gearfs *fs, struct gfs_node *n);
/* the access list entry of node n (its chunk k + 1, or 0 for the whole), once; call with fs->lock held */
void gfs_access_add(struct gearfs *fs, struct gfs_node *n, uint32_t chunk);
void gfs_count(struct gearfs *fs, uint64_t *field, uint64_t v);
/* the access list found at mount names chunks of content hex: --prefetch fetches those, not it */
bool gfs_by_chunks(const struct gearfs *fs, const char *hex);
void gfs_node_path(const struct tnode *tn, char *buf, size_t n);

/* partial.c */
#define PART_FETCHING 2
#define PART_HAVE 1
/* the part of n when its content is chunked in a registry's map (made now), else NULL */
struct gfs_part *gfs_part_get(struct gearfs *fs, struct gfs_node *n);
/* the fd to read n from when it is read a chunk at a time (made now): -1 when it is not */
int gfs_part_open(struct gearfs *fs, struct gfs_node *n);
/*
 * A read of bytes [off, off + len) of n's part: recorded, and made present
 * in its fd; 0, or -EIO after logging
 */
int gfs_part_read(struct gearfs *fs, struct gfs_node *n, uint64_t off, uint64_t len);
void gfs_part_free(struct gfs_part *p);
/* the digest of chunk k of a part; NULL for a local one (its entries are units, for access.runs) */
const char *gfs_part_chunk_hex(struct gearfs *fs, struct gfs_node *n, uint32_t k);
/* the chunks the access list found at mount names, fetched (of contents not in public/); stops early at *stop */
void gfs_part_prefetch(struct gearfs *fs, const bool *stop);
/*
 * The pusher of chunks into the page cache of the session se (a thread);
 * stopped before se unmounts (serving the reads the push under way waits
 * for), freed once nothing can queue pushes (the prefetch has ended)
 */
struct fuse_session;
void gfs_pusher_start(struct gearfs *fs, struct fuse_session *se);
void gfs_pusher_stop(struct gearfs *fs);
void gfs_pusher_free(struct gearfs *fs);
/* writes fs.stats and access.list when they changed (or always with force) */
int gfs_write_stats(struct gearfs *fs, bool force, struct gear_err *e);

#endif
