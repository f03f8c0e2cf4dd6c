/* gear-fs: chunked contents read a chunk at a time (gearfs-int.h, remote/chunks.h) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gearfs-int.h"
#include "../base/dl-fuse.h"
#include "../base/fsutil.h"
#include "../remote/byteranges.h"
#include "../remote/chunks.h"
#include "../remote/remote.h"
#include "../store/cache.h"

/* the bytes (decoded) of one run of chunks fetched at most: a read waiting behind the prefetch waits for no more */
#define PART_RUN_BYTES (4u << 20)

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

/*
 * Chunks fetched go into the kernel's page cache of their inode
 * (FUSE_NOTIFY_STORE), from a thread of their own: a program that maps the
 * content then finds their pages there, without a read request for each
 * fault (the mount's read-ahead is small). The thread, not the fetch, waits
 * for the pages a read in flight holds locked, since that read may wait for
 * a later chunk of the same fetch; reads never wait for it. A push is a
 * help: one past the queue is dropped, and one the kernel refuses (an inode
 * it has not looked up yet) is made again, whole, by the first read.
 */
#define PUSH_QUEUE_MAX 4096
/* the most bytes one push carries (a FUSE message is bounded; libfuse may copy it whole) */
#define PUSH_MAX (1u << 20)

struct push {
        struct gfs_node *n;
        uint64_t off, len; /* len 0: every chunk n has */
};

struct gfs_pusher {
        struct gearfs *fs;
        struct fuse_session *se;
        pthread_t th;
        pthread_mutex_t mu;
        pthread_cond_t cond;
        struct push *q;
        size_t head, n;
        bool stop;
};

static void push_queue(struct gearfs *fs, struct gfs_node *n, uint64_t off, uint64_t len)
{
        struct gfs_pusher *u = fs->pusher;

        if (!u)
                return;
        pthread_mutex_lock(&u->mu);
        if (u->n < PUSH_QUEUE_MAX && !u->stop) {
                u->q[(u->head + u->n++) % PUSH_QUEUE_MAX] = (struct push){ n, off, len };
                pthread_cond_signal(&u->cond);
        }
        pthread_mutex_unlock(&u->mu);
}

static void push_range(struct gfs_pusher *u, struct gfs_node *n, uint64_t off, uint64_t len)
{
        for (uint64_t k; len && !__atomic_load_n(&u->stop, __ATOMIC_RELAXED); off += k, len -= k) {
                struct fuse_bufvec bv = FUSE_BUFVEC_INIT(k = len < PUSH_MAX ? len : PUSH_MAX);

                bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
                bv.buf[0].fd = n->part->fd;
                bv.buf[0].pos = (off_t)off;
                if (sym_fuse_lowlevel_notify_store(u->se, (fuse_ino_t)(n - u->fs->nodes) + 1, (off_t)off, &bv, 0) < 0)
                        return;
                gfs_count(u->fs, &u->fs->st.pushed_bytes, k);
        }
}

/* every run of chunks n has */
static void push_all(struct gfs_pusher *u, struct gfs_node *n)
{
        struct gfs_part *p = n->part;
        _cleanup_free_ struct byte_range *v = NULL;
        size_t nv = 0;

        pthread_mutex_lock(&p->mu);
        /* all in and not checked whole (or not matching): its reads ask for what completed it */
        if ((p->whole || p->left) && (v = malloc(p->loc.nchunks * sizeof *v)))
                for (uint32_t k = 0; k < p->loc.nchunks; k++) {
                        if (p->have[k] != PART_HAVE)
                                continue;
                        if (nv && v[nv - 1].off + v[nv - 1].len == p->loc.chunks[k].uoff)
                                v[nv - 1].len += p->loc.chunks[k].size;
                        else
                                v[nv++] = (struct byte_range){ p->loc.chunks[k].uoff, p->loc.chunks[k].size };
                }
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < nv; i++)
                push_range(u, n, v[i].off, v[i].len);
}

static void *push_loop(void *ud)
{
        struct gfs_pusher *u = ud;

        pthread_mutex_lock(&u->mu);
        for (;;) {
                struct push x;
                while (!u->n && !u->stop)
                        pthread_cond_wait(&u->cond, &u->mu);
                if (u->stop)
                        break;
                x = u->q[u->head];
                u->head = (u->head + 1) % PUSH_QUEUE_MAX;
                u->n--;
                pthread_mutex_unlock(&u->mu);
                if (x.len)
                        push_range(u, x.n, x.off, x.len);
                else
                        push_all(u, x.n);
                pthread_mutex_lock(&u->mu);
        }
        pthread_mutex_unlock(&u->mu);
        return NULL;
}

void gfs_pusher_start(struct gearfs *fs, struct fuse_session *se)
{
        struct gfs_pusher *u = calloc(1, sizeof *u);

        if (!u || !(u->q = malloc(PUSH_QUEUE_MAX * sizeof *u->q))) {
                free(u);
                return;
        }
        u->fs = fs;
        u->se = se;
        pthread_mutex_init(&u->mu, NULL);
        pthread_cond_init(&u->cond, NULL);
        if (pthread_create(&u->th, NULL, push_loop, u) != 0) {
                pthread_mutex_destroy(&u->mu);
                pthread_cond_destroy(&u->cond);
                free(u->q);
                free(u);
                return;
        }
        __atomic_store_n(&fs->pusher, u, __ATOMIC_RELEASE);
}

void gfs_pusher_stop(struct gearfs *fs)
{
        struct gfs_pusher *u = fs->pusher;
        struct fuse_buf buf = { .mem = NULL };
        int fd;

        if (!u || u->stop)
                return;
        pthread_mutex_lock(&u->mu);
        __atomic_store_n(&u->stop, true, __ATOMIC_RELAXED);
        pthread_cond_signal(&u->cond);
        pthread_mutex_unlock(&u->mu);
        /*
         * A push under way may wait for pages that a read holds locked, a
         * read the loop (ended by a signal) will never answer: such reads
         * are served here until the push is done
         */
        fd = sym_fuse_session_fd(u->se);
        while (pthread_tryjoin_np(u->th, NULL) == EBUSY) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                if (poll(&pfd, 1, 20) == 1 && pfd.revents == POLLIN && sym_fuse_session_receive_buf(u->se, &buf) > 0)
                        sym_fuse_session_process_buf(u->se, &buf);
                else if (pfd.revents)
                        poll(NULL, 0, 10);
        }
        free(buf.mem);
}

void gfs_pusher_free(struct gearfs *fs)
{
        struct gfs_pusher *u = fs->pusher;

        if (!u)
                return;
        gfs_pusher_stop(fs);
        fs->pusher = NULL;
        pthread_mutex_destroy(&u->mu);
        pthread_cond_destroy(&u->cond);
        free(u->q);
        free(u);
}

/* with p->mu held: the end of the run of missing chunks from k (missing) before b, at most PART_RUN_BYTES of them */
static uint32_t run_end(const struct gfs_part *p, uint32_t k, uint32_t b)
{
        uint32_t end = k + 1;

        while (end < b && !p->have[end] &&
               p->loc.chunks[end].uoff + p->loc.chunks[end].size - p->loc.chunks[k].uoff <= PART_RUN_BYTES)
                end++;
        return end;
}

/*
 * With p->mu held: chunks [k, end), marked PART_FETCHING, fetched (r 0,
 * wire bytes on the link) or not (r -1, why in err), by a read or by the
 * prefetch; those waiting for them are woken. -EIO when they or the whole
 * are not to be read.
 */
static int part_fetched(struct gearfs *fs, struct gfs_node *n, struct gfs_part *p, uint32_t k, uint32_t end, int r,
                        uint64_t wire, bool read, const struct gear_err *err)
{
        uint64_t bytes = 0;

        memset(p->have + k, r < 0 ? 0 : PART_HAVE, end - k);
        pthread_cond_broadcast(&p->cond);
        if (r < 0) {
                log_failure(fs, n, k, end, err->msg);
                return -EIO;
        }
        for (uint32_t i = k; i < end; i++)
                bytes += p->loc.chunks[i].size;
        /* the chunks that complete the content are not: until the whole is checked, a read asks for them */
        if (p->pushed && p->left > end - k)
                push_queue(fs, n, p->loc.chunks[k].uoff, bytes);
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
        return !p->left && !p->whole ? part_done(fs, n, p) : 0;
}

int gfs_part_read(struct gearfs *fs, struct gfs_node *n, uint64_t off, uint64_t len)
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
                pthread_mutex_lock(&fs->lock);
                for (uint64_t u = off / ACCESS_RUN_UNIT; u <= (off + len - 1) / ACCESS_RUN_UNIT; u++)
                        gfs_access_add(fs, n, (uint32_t)u + 1);
                pthread_mutex_unlock(&fs->lock);
                return 0;
        }
        a = chunk_at(&p->loc, off);
        b = chunk_at(&p->loc, off + len - 1) + 1;
        pthread_mutex_lock(&fs->lock);
        for (uint32_t k = a; k < b; k++)
                gfs_access_add(fs, n, k + 1);
        pthread_mutex_unlock(&fs->lock);
        /*
         * The fetches run with the lock dropped: a read of chunks present
         * never waits for one, a read of a chunk another is fetching waits
         * for that one only
         */
        pthread_mutex_lock(&p->mu);
        /* the kernel knows the inode now: what came before goes into its page cache too */
        if (!p->pushed && fs->pusher) {
                p->pushed = true;
                push_queue(fs, n, 0, 0);
        }
        for (;;) {
                struct gear_err err = {0};
                uint64_t wire = 0;
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
                end = run_end(p, k, b);
                memset(p->have + k, PART_FETCHING, end - k);
                pthread_mutex_unlock(&p->mu);
                r = chunk_fetch(fs->origin.remote, &p->loc, k, end, p->fd, &wire, &err);
                pthread_mutex_lock(&p->mu);
                if ((rc = part_fetched(fs, n, p, k, end, r, wire, true, &err)) < 0)
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

/*
 * The prefetch asks for the missing chunks of the next wants in one request
 * for several ranges of their pack (remote_fetch_ranges): at most
 * BYTERANGES_MAX runs of chunks, PART_BATCH_WIRE stored bytes. The answer
 * brings them in pack order; each run is decoded, checked and written as
 * soon as its bytes are in, and the reads waiting for it go on.
 */
#define PART_BATCH_WIRE (2u << 20)

struct batch_run {
        struct gfs_node *n;
        uint32_t a, b;
        uint64_t off; /* in the pack */
};

struct batch {
        struct gearfs *fs;
        struct batch_run r[BYTERANGES_MAX];
        struct byte_range v[BYTERANGES_MAX];
        size_t n, next;
        uint64_t at; /* where r[next]'s bytes start among those fetched */
        int fd;
        unsigned char *buf;
        size_t cap;
};

static int by_off(const void *a, const void *b)
{
        const struct batch_run *x = a, *y = b;

        return (x->off > y->off) - (x->off < y->off);
}

/* the runs of wants from *i on missing and not being fetched, marked PART_FETCHING into b; *i past those taken */
static void batch_take(struct batch *b, struct want *v, size_t nv, size_t *i)
{
        const char *pack = NULL;
        uint64_t wire = 0;

        for (; *i < nv && b->n < BYTERANGES_MAX && wire < PART_BATCH_WIRE; ++*i) {
                struct want *w = &v[*i];
                struct gfs_part *p = w->n->part;
                if (pack && strcmp(p->loc.pack, pack))
                        break;
                pthread_mutex_lock(&p->mu);
                if (p->bad || part_fd(b->fs, w->n, p) < 0)
                        w->chunk = w->end;
                while (w->chunk < w->end && b->n < BYTERANGES_MAX && wire < PART_BATCH_WIRE) {
                        uint32_t k = w->chunk, e;
                        if (p->have[k]) {
                                w->chunk++;
                                continue;
                        }
                        e = run_end(p, k, w->end);
                        memset(p->have + k, PART_FETCHING, e - k);
                        b->r[b->n++] = (struct batch_run){ w->n, k, e, p->loc.off + p->loc.chunks[k].coff };
                        wire += chunk_stored(&p->loc, k, e);
                        pack = p->loc.pack;
                        w->chunk = e;
                }
                pthread_mutex_unlock(&p->mu);
                if (w->chunk < w->end)
                        break;
        }
}

/* the runs whose bytes are in (the first n fetched) stored, and their readers woken */
static void batch_arrived(void *ud, uint64_t n)
{
        struct batch *b = ud;

        while (b->next < b->n && b->at + b->v[b->next].len <= n) {
                struct batch_run *x = &b->r[b->next];
                struct gfs_part *p = x->n->part;
                uint64_t len = b->v[b->next].len;
                struct gear_err err = {0};
                ssize_t k;
                int r = -1;

                if (b->cap < len) {
                        free(b->buf);
                        b->cap = 0;
                        if ((b->buf = malloc(len)))
                                b->cap = len;
                }
                if (!b->buf)
                        gear_err_sys(&err, ENOMEM, "cannot decode chunks");
                else if ((k = pread(b->fd, b->buf, len, (off_t)b->at)) != (ssize_t)len)
                        gear_err_sys(&err, k < 0 ? errno : EIO, "cannot read fetched chunks");
                else
                        r = chunk_store(&p->loc, x->a, x->b, b->buf, p->fd, &err);
                pthread_mutex_lock(&p->mu);
                part_fetched(b->fs, x->n, p, x->a, x->b, r, r < 0 ? 0 : len, false, &err);
                pthread_mutex_unlock(&p->mu);
                b->at += len;
                b->next++;
        }
}

/* one request for the runs of b: what does not come is given back to the reads, which fetch it themselves */
static void batch_fetch(struct batch *b)
{
        const struct object_loc *loc = &b->r[0].n->part->loc;
        struct gear_err err = {0};
        uint64_t total = 0;

        qsort(b->r, b->n, sizeof *b->r, by_off);
        for (size_t i = 0; i < b->n; i++) {
                b->v[i] = (struct byte_range){ b->r[i].off, chunk_stored(&b->r[i].n->part->loc, b->r[i].a, b->r[i].b) };
                total += b->v[i].len;
        }
        if ((b->fd = memfd_create("gear-chunks", MFD_CLOEXEC)) < 0)
                gear_err_sys(&err, errno, "cannot fetch chunks");
        else if (remote_fetch_ranges(b->fs->origin.remote, loc->pack, loc->pack_size, b->v, b->n, b->fd,
                                     batch_arrived, b, &err) == 0)
                batch_arrived(b, total);
        if (!err.code)
                gear_err_set(&err, GEAR_EXIT_SYS, "the answer did not bring them");
        for (; b->next < b->n; b->next++) {
                struct batch_run *x = &b->r[b->next];
                pthread_mutex_lock(&x->n->part->mu);
                part_fetched(b->fs, x->n, x->n->part, x->a, x->b, -1, 0, false, &err);
                pthread_mutex_unlock(&x->n->part->mu);
        }
        if (b->fd >= 0)
                close(b->fd);
}

void gfs_part_prefetch(struct gearfs *fs, const bool *stop)
{
        _cleanup_free_ struct want *v = NULL;
        _cleanup_free_ struct batch *b = NULL;
        size_t n = 0;

        _cleanup_free_ uint64_t *seeded = NULL;
        size_t ns = fs->nseeded;

        if (!ns || !(v = malloc(ns * sizeof *v)) || !(seeded = malloc(ns * sizeof *seeded)) || !(b = malloc(sizeof *b)))
                return;
        /* reads add to the list meanwhile */
        pthread_mutex_lock(&fs->lock);
        memcpy(seeded, fs->access, ns * sizeof *seeded);
        pthread_mutex_unlock(&fs->lock);
        /* in the list's order, of contents still to fetch; chunks next to each other as one run */
        for (size_t i = 0; i < ns; i++) {
                struct gfs_node *node = &fs->nodes[(uint32_t)seeded[i]];
                uint32_t chunk = seeded[i] >> 32;
                if (!chunk)
                        continue;
                if (n && v[n - 1].n == node && v[n - 1].end == chunk - 1)
                        v[n - 1].end++;
                else if (gfs_part_open(fs, node) >= 0)
                        v[n++] = (struct want){ node, chunk - 1, chunk };
        }
        for (size_t i = 0; i < n && !__atomic_load_n(stop, __ATOMIC_RELAXED);) {
                *b = (struct batch){ .fs = fs, .fd = -1 };
                batch_take(b, v, n, &i);
                if (b->n)
                        batch_fetch(b);
                free(b->buf);
        }
}
