/* gear-fs internals: the inode table built from the index, fetching and counting */
#ifndef GEAR_GEARFS_INT_H
#define GEAR_GEARFS_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "gearfs.h"
#include "../image/image-tree.h"
#include "../remote/image-fetch.h"

struct gfs_node {
        struct inode *ino;
        struct tnode *tn;  /* the first path of the inode (a directory's only one) */
        uint32_t nlink;
        uint64_t dirents;  /* a directory's entries as ext4 stores them: bytes */
        int fd;            /* the cached content, once opened (-1 before) */
        bool accessed;     /* in the access list */
        bool opened;       /* opened (or read past FUSE) through this mount */
};

struct gfs_stats {
        uint64_t fetched_files, fetched_bytes, wire_bytes, cache_hits, errors, opened_files;
        uint64_t prefetched_files, prefetched_bytes, prefetched_wire_bytes;
        uint64_t around_files, around_bytes;  /* fetched with an opened content (read-around), not opened */
};

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
        size_t *access, naccess, access_cap;
        size_t nseeded;         /* access[] starts with the access list found at mount */
        uint64_t generation;    /* of every file handle: from the index's digest */
        digest_hex *prior;      /* the access list found at mount: what --prefetch fetches */
        size_t nprior;
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
/* writes fs.stats and access.list when they changed (or always with force) */
int gfs_write_stats(struct gearfs *fs, bool force, struct gear_err *e);

#endif
