/* gear-fs: chunked contents read a chunk at a time (gearfs-int.h, remote/chunks.h) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gearfs-int.h"
#include "../base/fsutil.h"
#include "../base/parallel.h"
#include "../remote/chunks.h"
#include "../store/cache.h"

/* the bytes (decoded) one request fetches at most: a read waiting behind a prefetch waits for no more */
#define PART_RUN_BYTES (4u << 20)
/* the chunks of the list are prefetched in its order, one request at a time (see gearfs-ops.c) */
#define PART_PREFETCH_JOBS 1

void gfs_part_free(struct gfs_part *p)
{
        if (!p)
                return;
        if (p->fd >= 0)
                close(p->fd);
        free(p->have);
        free(p->touched);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cond);
        free(p);
}

static struct gfs_part *keep(struct gearfs *fs, struct gfs_node *n, struct gfs_part *p);

/* a large content of an image built here: its reads are recorded in units of ACCESS_RUN_UNIT */
static struct gfs_part *local_part(struct gearfs *fs, struct gfs_node *n)
{
        uint64_t size = n->ino->blob->size;
        uint64_t nu = (size + ACCESS_RUN_UNIT - 1) / ACCESS_RUN_UNIT;
        struct gfs_part *p;

        /* a unit's number + 1 fits an access entry's 32 bits */
        if (size < CHUNKED_MIN || nu >= UINT32_MAX)
                return NULL;
        if (!(p = calloc(1, sizeof *p)) || !(p->touched = calloc(nu, 1))) {
                free(p);
                return NULL;
        }
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->fd = -1;
        p->local = true;
        p->size = size;
        return keep(fs, n, p);
}

const char *gfs_part_chunk_hex(struct gearfs *fs, struct gfs_node *n, uint32_t k)
{
        (void)fs;
        return n->part->local ? NULL : n->part->loc.chunks[k].hex;
}

struct gfs_part *gfs_part_get(struct gearfs *fs, struct gfs_node *n)
{
        struct gfs_part *p = __atomic_load_n(&n->part, __ATOMIC_ACQUIRE);
        const struct store_blob *b = n->ino->blob;
        struct gear_err err = {0};
        struct object_loc loc;

        if (p)
                return p;
        if (!S_ISREG(n->ino->mode) || !b)
                return NULL;
        if (!fs->origin.remote)
                return local_part(fs, n);
        if (!remote_is_registry(fs->origin.remote) || !object_map_find(fs->origin.map, b->hex, &loc) || loc.member ||
            !loc.nchunks)
                return NULL;
        if (chunk_check(&loc, b->size, &err) < 0) {
                /* fetched whole then, and checked whole */
                if (fs->o->log) {
                        char msg[sizeof err.msg + 64];
                        snprintf(msg, sizeof msg, "sha256:%.12s: %s", b->hex, err.msg);
                        fs->o->log(msg);
                }
                return NULL;
        }
        if (!(p = calloc(1, sizeof *p)) || !(p->have = calloc(loc.nchunks, 1)) ||
            !(p->touched = calloc(loc.nchunks, 1))) {
                if (p) {
                        free(p->have);
                        free(p);
                }
                return NULL;
        }
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->fd = -1;
        p->loc = loc;
        p->size = b->size;
        p->left = loc.nchunks;
        return keep(fs, n, p);
}

/* p as n's part, unless another thread made one first */
static struct gfs_part *keep(struct gearfs *fs, struct gfs_node *n, struct gfs_part *p)
{
        pthread_mutex_lock(&fs->lock);
        if (n->part) {
                gfs_part_free(p);
                p = n->part;
        } else {
                __atomic_store_n(&n->part, p, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&fs->lock);
        return p;
}

/* with p->mu held: its file, made when missing */
static int part_fd(struct gearfs *fs, struct gfs_node *n, struct gfs_part *p)
{
        struct gear_err err = {0};

        if (p->fd >= 0)
                return p->fd;
        int fd = cache_partial(fs->img, n->ino->blob->hex, p->size, &err);

        if (fd < 0) {
                if (fs->o->log)
                        fs->o->log(err.msg);
                return -EIO;
        }
        __atomic_store_n(&p->fd, fd, __ATOMIC_RELAXED);
        __atomic_store_n(&p->by_chunks, true, __ATOMIC_RELAXED);
        gfs_count(fs, &fs->st.chunked_files, 1);
        return p->fd;
}

int gfs_part_open(struct gearfs *fs, struct gfs_node *n)
{
        struct gfs_part *p = gfs_part_get(fs, n);
        int fd;

        if (!p)
                return -ENOENT;
        if (p->local) {
                /* read whole from public/; its reads through FUSE list the chunks they cover */
                __atomic_store_n(&p->by_chunks, true, __ATOMIC_RELAXED);
                return -ENOENT;
        }
        pthread_mutex_lock(&p->mu);
        /* in public/ already (another mount, a pull): read whole from there */
        if (p->fd < 0 && cache_has(fs->img, n->ino->blob->hex, p->size))
                fd = -ENOENT;
        else
                fd = part_fd(fs, n, p);
        pthread_mutex_unlock(&p->mu);
        return fd;
}

static void log_failure(struct gearfs *fs, struct gfs_node *n, uint32_t a, uint32_t b, const char *why)
{
        char path[PATH_MAX], msg[PATH_MAX + 1200];

        gfs_count(fs, &fs->st.errors, 1);
        if (!fs->o->log)
                return;
        gfs_node_path(n->tn, path, sizeof path);
        snprintf(msg, sizeof msg, "cannot fetch chunks %u to %u of '%s' (sha256:%s): %s", a, b - 1, path,
                 n->ino->blob->hex, why);
        fs->o->log(msg);
}

/* with p->mu held: every chunk in, so the whole is checked and named in public/, and later opens use it */
static int part_done(struct gearfs *fs, struct gfs_node *n, struct gfs_part *p)
{
        struct gear_err err = {0};
        bool mismatch;
        int fd;

        if (cache_adopt(fs->img, n->ino->blob->hex, p->size, p->fd, &mismatch, &err) < 0) {
                log_failure(fs, n, 0, p->loc.nchunks, err.msg);
                /* the map's chunks are not the content the index names: nothing more is read */
                if (mismatch) {
                        p->bad = true;
                        return -EIO;
                }
                /* not named (a full disk, say): read from the file all the same, named by a later mount */
                return 0;
        }
        p->whole = true;
        if ((fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 3)) < 0)
                return 0;
        pthread_mutex_lock(&fs->lock);
        if (n->fd < 0)
                __atomic_store_n(&n->fd, fd, __ATOMIC_RELEASE);
        else
                close(fd);
        fs->gen++;
        pthread_mutex_unlock(&fs->lock);
        return 0;
}

int gfs_part_read(struct gearfs *fs, struct gfs_node *n, uint64_t off, uint64_t len, bool read)
{
        struct gfs_part *p = __atomic_load_n(&n->part, __ATOMIC_ACQUIRE);
        uint32_t a, b;
        int rc = 0;

        if (!p || off >= p->size || !len)
                return 0;
        if (len > p->size - off)
                len = p->size - off;
        if (p->local) {
                /* read whole from public/: only recorded */
                if (read) {
                        pthread_mutex_lock(&fs->lock);
                        for (uint64_t u = off / ACCESS_RUN_UNIT; u <= (off + len - 1) / ACCESS_RUN_UNIT; u++)
                                gfs_access_add(fs, n, (uint32_t)u + 1);
                        pthread_mutex_unlock(&fs->lock);
                }
                return 0;
        }
        a = chunk_at(&p->loc, off);
        b = chunk_at(&p->loc, off + len - 1) + 1;
        if (read) {
                pthread_mutex_lock(&fs->lock);
                for (uint32_t k = a; k < b; k++)
                        gfs_access_add(fs, n, k + 1);
                pthread_mutex_unlock(&fs->lock);
        }
        /*
         * The fetches run with the lock dropped: a read of chunks present
         * never waits for one, a read of a chunk another is fetching waits
         * for that one only
         */
        pthread_mutex_lock(&p->mu);
        for (;;) {
                struct gear_err err = {0};
                uint64_t wire = 0, bytes = 0;
                uint32_t k = a, end;
                int r;

                if (p->bad || part_fd(fs, n, p) < 0) {
                        rc = -EIO;
                        break;
                }
                while (k < b && p->have[k] == PART_HAVE)
                        k++;
                if (k == b)
                        break;
                if (p->have[k] == PART_FETCHING) {
                        pthread_cond_wait(&p->cond, &p->mu);
                        continue;
                }
                /* a run of missing chunks, one request */
                for (end = k + 1; end < b && !p->have[end] &&
                                  p->loc.chunks[end].uoff + p->loc.chunks[end].size - p->loc.chunks[k].uoff <= PART_RUN_BYTES;
                     end++)
                        ;
                memset(p->have + k, PART_FETCHING, end - k);
                pthread_mutex_unlock(&p->mu);
                r = chunk_fetch(fs->origin.remote, &p->loc, k, end, p->fd, &wire, &err);
                pthread_mutex_lock(&p->mu);
                memset(p->have + k, r < 0 ? 0 : PART_HAVE, end - k);
                pthread_cond_broadcast(&p->cond);
                if (r < 0) {
                        log_failure(fs, n, k, end, err.msg);
                        rc = -EIO;
                        break;
                }
                for (uint32_t i = k; i < end; i++)
                        bytes += p->loc.chunks[i].size;
                p->left -= end - k;
                pthread_mutex_lock(&fs->lock);
                if (read) {
                        fs->st.fetched_chunks += end - k;
                        fs->st.fetched_bytes += bytes;
                        fs->st.wire_bytes += wire;
                } else {
                        fs->st.prefetched_chunks += end - k;
                        fs->st.prefetched_bytes += bytes;
                        fs->st.prefetched_wire_bytes += wire;
                }
                fs->gen++;
                pthread_mutex_unlock(&fs->lock);
                if (!p->left && !p->whole && (rc = part_done(fs, n, p)) < 0)
                        break;
        }
        pthread_mutex_unlock(&p->mu);
        return rc;
}

/* chunks [chunk, end) the list found at mount names */
struct want {
        struct gfs_node *n;
        uint32_t chunk, end;
};

struct prefetch_job {
        struct gearfs *fs;
        struct want *v;
        const bool *stop;
};

static int prefetch_one(size_t i, void *ud, struct gear_err *e)
{
        struct prefetch_job *j = ud;
        struct want *w = &j->v[i];
        const struct map_chunk *a = &w->n->part->loc.chunks[w->chunk], *b = &w->n->part->loc.chunks[w->end - 1];

        (void)e;
        /* a failure is logged and left to the read that needs it */
        if (!__atomic_load_n(j->stop, __ATOMIC_RELAXED))
                gfs_part_read(j->fs, w->n, a->uoff, b->uoff + b->size - a->uoff, false);
        return 0;
}

void gfs_part_prefetch(struct gearfs *fs, const bool *stop)
{
        _cleanup_free_ struct want *v = NULL;
        struct prefetch_job j = { .fs = fs, .stop = stop };
        struct gear_err err = {0};
        size_t n = 0;

        _cleanup_free_ uint64_t *seeded = NULL;
        size_t ns = fs->nseeded;

        if (!ns || !(v = malloc(ns * sizeof *v)) || !(seeded = malloc(ns * sizeof *seeded)))
                return;
        /* reads add to the list meanwhile */
        pthread_mutex_lock(&fs->lock);
        memcpy(seeded, fs->access, ns * sizeof *seeded);
        pthread_mutex_unlock(&fs->lock);
        /* in the list's order, of contents still to fetch; chunks next to each other in one request */
        for (size_t i = 0; i < ns; i++) {
                struct gfs_node *node = &fs->nodes[(uint32_t)seeded[i]];
                uint32_t chunk = seeded[i] >> 32;
                if (!chunk)
                        continue;
                const struct map_chunk *c = node->part ? node->part->loc.chunks : NULL;
                if (n && v[n - 1].n == node && v[n - 1].end == chunk - 1 &&
                    c[chunk - 1].uoff + c[chunk - 1].size - c[v[n - 1].chunk].uoff <= PART_RUN_BYTES)
                        v[n - 1].end++;
                else if (gfs_part_open(fs, node) >= 0)
                        v[n++] = (struct want){ node, chunk - 1, chunk };
        }
        j.v = v;
        gear_parallel(n, PART_PREFETCH_JOBS, prefetch_one, &j, &err);
}
