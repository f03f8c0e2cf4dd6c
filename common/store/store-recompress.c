/*
 * Recompressing objects in place at a slower zstd level: the same contents,
 * fewer stored bytes (and so smaller packs for the registries they are pushed
 * to next). A batch of subdirectories of objects/ at a time: their objects
 * are read and verified, largest first, written again into a build staging
 * directory, read back, synced, and then, with the store lock held exclusive,
 * renamed over the objects they replace, each only if its object is still the
 * file that was read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <zstd.h>

#include "store.h"
#include "../base/fsutil.h"

#define BUF_SIZE (256 * 1024)
#define BATCH_OBJECTS 4096
#define BATCH_BYTES (256u << 20)

struct item {
        digest_hex hex;
        dev_t dev;
        ino_t ino;
        uint64_t before, after;
        enum recompress_result state;
        struct gear_err err;
};

struct run {
        const struct gear_root *img;
        const struct recompress_opts *o;
        int sdfd; /* the staging directory */
        pthread_mutex_t mu;
        pthread_cond_t work, done;
        struct item *items;
        size_t n, next, pending;
        bool stop;
};

/* the level an object was last recompressed at (0: never) */
static int object_level(int fd)
{
        char v[16];
        ssize_t k = fgetxattr(fd, STORE_LEVEL_XATTR, v, sizeof v - 1);

        if (k <= 0)
                return 0;
        v[k] = 0;
        return atoi(v);
}

static void mark_level(int fd, int level)
{
        char v[16];

        snprintf(v, sizeof v, "%d", level);
        /* without xattrs (ENOTSUP) the next run tries the object again */
        (void)fsetxattr(fd, STORE_LEVEL_XATTR, v, strlen(v), 0);
}

static int pump(ZSTD_CCtx *c, int out, const void *buf, size_t n, ZSTD_EndDirective end, unsigned char *obuf,
                uint64_t *total, struct gear_err *e)
{
        ZSTD_inBuffer in = { buf, n, 0 };
        size_t left;

        do {
                ZSTD_outBuffer o = { obuf, BUF_SIZE, 0 };
                left = ZSTD_compressStream2(c, &o, &in, end);
                if (ZSTD_isError(left))
                        return gear_err_set(e, GEAR_EXIT_SYS, "cannot compress: %s", ZSTD_getErrorName(left));
                int r = write_all(out, obuf, o.pos);
                if (r < 0)
                        return gear_err_sys(e, -r, "cannot write");
                *total += o.pos;
        } while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
        return 0;
}

/*
 * The content size of an open object, for the frame header: zstd then sizes
 * its window to the content, and a reader of a small object needs no more.
 */
/*
 * What the stored object on fd says of itself: its content's size (0 when
 * its frames do not say: *known false), and whether it is one zstd frame
 */
static int stored_form(int fd, uint64_t stored, uint64_t *size, bool *known, bool *single)
{
        unsigned char *p;
        unsigned long long n;

        *size = stored;
        *known = true;
        *single = false;
        if (!stored)
                return 0;
        if ((p = mmap(NULL, stored, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
                return -errno;
        if (store_is_zstd(p, stored)) {
                /* the sum of what its frames say they hold, unless one does not say */
                *size = 0;
                for (uint64_t off = 0; off < stored && *known;) {
                        size_t k = ZSTD_findFrameCompressedSize(p + off, stored - off);
                        n = ZSTD_getFrameContentSize(p + off, stored - off);
                        if (ZSTD_isError(k) || n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR)
                                *known = false;
                        else
                                *size += n;
                        *single = !off && k == stored;
                        off += ZSTD_isError(k) ? stored : k;
                }
                if (!*known)
                        *size = 0;
        }
        munmap(p, stored);
        return 0;
}

static int content_size(struct run *run, struct item *it, int fd, uint64_t stored, uint64_t *size)
{
        bool known, single;
        int r = stored_form(fd, stored, size, &known, &single);

        if (r < 0)
                return gear_err_sys(&it->err, -r, "cannot read");
        if (known)
                return 0;
        /* an object streamed in by an older build says nothing: one pass to learn it */
        return store_verify(run->img, it->hex, size, &it->err);
}

/*
 * The frames a content of size bytes is to be written in (store.h): *fv
 * their sizes (malloc'd), *nf of them, and sig what STORE_FRAMES_XATTR says
 * of them
 */
/* the frames a build writes a content of size bytes in (store.c): of STORE_CHUNK bytes each, the last one less */
static void build_frames(uint64_t size, uint64_t *fv, size_t *nf)
{
        *nf = 0;
        for (uint64_t off = 0; off < size; off += STORE_CHUNK)
                fv[(*nf)++] = size - off < STORE_CHUNK ? size - off : STORE_CHUNK;
}

static int layout_of(struct run *run, const char *hex, uint64_t size, uint64_t **fv, size_t *nf, char sig[17],
                     bool *keep, struct gear_err *e)
{
        uint64_t nu = (size + STORE_READ_UNIT - 1) / STORE_READ_UNIT;
        _cleanup_free_ unsigned char *read = NULL;
        digest_hex h;
        bool chunks = size >= STORE_LAYOUT_MIN;
        int k = 0;

        *nf = 0;
        *keep = false;
        if (!(*fv = malloc((chunks ? nu : 1) * sizeof **fv)) || (chunks && !(read = calloc(nu, 1))))
                return gear_err_sys(e, ENOMEM, "cannot recompress");
        if (chunks && run->o->layout)
                k = run->o->layout(run->o->layout_ud, hex, size, read);
        /* unknown: frames laid out before are kept; others are as a build writes them */
        if (k < 0)
                *keep = true;
        if (chunks && (k < 0 || (!k && !run->o->layout)) && size >= STORE_CHUNKED_MIN) {
                build_frames(size, *fv, nf);
        } else if (!chunks || k <= 0) {
                *keep = false;
                (*fv)[(*nf)++] = size;
                strcpy(sig, "1");
                return 0;
        } else {
                /* a gap of a few units between units read is read with them */
                for (uint64_t i = 0; i < nu;) {
                        uint64_t j = i;
                        while (j < nu && !read[j])
                                j++;
                        if (i && j < nu && j - i <= STORE_READ_GAP)
                                memset(read + i, 1, j - i);
                        while (j < nu && read[j])
                                j++;
                        i = j;
                }
                for (uint64_t i = 0; i < nu;) {
                        uint64_t j = i + 1, max = (read[i] ? STORE_CHUNK : STORE_MERGED_MAX) / STORE_READ_UNIT;
                        while (j < nu && read[j] == read[i] && j - i < max)
                                j++;
                        (*fv)[(*nf)++] = (j < nu ? j * STORE_READ_UNIT : size) - i * STORE_READ_UNIT;
                        i = j;
                }
                /* more frames than a map lists of a content: as a build writes them */
                if (*nf > STORE_FRAMES_MAX)
                        build_frames(size, *fv, nf);
        }
        if (digest_buf(*fv, *nf * sizeof **fv, h, e) < 0)
                return -1;
        memcpy(sig, h, 16);
        sig[16] = 0;
        return 0;
}

/*
 * the frames an object of a content of size bytes was last written in, as
 * STORE_FRAMES_XATTR says ("" when it does not; one below STORE_CHUNKED_MIN
 * without it, single when in one frame, as a build writes it)
 */
static void object_frames(int fd, uint64_t size, bool single, char sig[17])
{
        ssize_t k = fgetxattr(fd, STORE_FRAMES_XATTR, sig, 16);

        sig[k > 0 ? k : 0] = 0;
        if (k <= 0 && size < STORE_CHUNKED_MIN && single)
                strcpy(sig, "1");
}

static void mark_frames(int fd, const char *sig)
{
        (void)fsetxattr(fd, STORE_FRAMES_XATTR, sig, strlen(sig), 0);
}

/* the staged new form, decompressed and checked against the object's digest */
static int check_written(struct run *run, struct item *it, const char *rel)
{
        struct store_reader *r = NULL;
        int fd = openat(run->sdfd, it->hex, O_RDONLY | O_CLOEXEC);
        int ret;

        if (fd < 0)
                return gear_err_sys(&it->err, errno, "cannot read back '%s'", it->hex);
        if (store_reader_fdopen(fd, it->hex, rel, &r, &it->err) < 0)
                return -1;
        ret = store_reader_check(r, &it->err);
        store_reader_free(r);
        return ret < 0 ? gear_err_wrap(&it->err, "its new form") : 0;
}

/* one object: into the staging directory when smaller at the level, else marked as tried */
static void one(struct run *run, struct item *it, ZSTD_CCtx *c, unsigned char *buf, unsigned char *obuf)
{
        char rel[STORE_REL_MAX];
        struct store_reader *r = NULL;
        struct stat st;
        _cleanup_close_ int out = -1;
        _cleanup_free_ uint64_t *fv = NULL;
        uint64_t size, done = 0, frame_end;
        size_t nf = 0, f = 0;
        char want[17] = "", had[17] = "";
        bool relayout = false, known, single, keep_frames;
        int fd;
        ssize_t k;

        store_object_rel(it->hex, rel);
        fd = openat(run->img->fd, rel, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                /* removed since the listing (gear-gc): nothing to do */
                if (errno != ENOENT)
                        goto sys;
                return;
        }
        if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, O_RDONLY) < 0) {
                close(fd);
                goto sys;
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                gear_err_set(&it->err, GEAR_EXIT_SYS, "object '%s' is not a regular file", rel);
                it->state = RECOMPRESS_FAILED;
                return;
        }
        it->dev = st.st_dev;
        it->ino = st.st_ino;
        it->before = st.st_size;
        if (st.st_size < STORE_RAW_MAX) {
                close(fd);
                return;
        }
        /*
         * Tried at the level already: left alone, unless it is large and its
         * frames are not those its layout gives now (stated sizes: no decoding)
         */
        if (object_level(fd) >= run->o->level) {
                if (st.st_size < 4096 || stored_form(fd, st.st_size, &size, &known, &single) < 0 || !known ||
                    size < STORE_LAYOUT_MIN) {
                        close(fd);
                        return;
                }
                if (layout_of(run, it->hex, size, &fv, &nf, want, &keep_frames, &it->err) < 0) {
                        close(fd);
                        it->state = RECOMPRESS_FAILED;
                        return;
                }
                object_frames(fd, size, single, had);
                if (keep_frames || !strcmp(had, want)) {
                        close(fd);
                        return;
                }
                relayout = true;
        }
        /* kept open (as the reader's own fd is) to mark it when it stays as it is */
        int keep = dup(fd);
        if (keep < 0) {
                close(fd);
                goto sys;
        }
        if (store_reader_fdopen(fd, it->hex, rel, &r, &it->err) < 0) {
                close(keep);
                it->state = RECOMPRESS_FAILED;
                return;
        }
        ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
        if (content_size(run, it, keep, st.st_size, &size) < 0) {
                if (it->err.code == GEAR_EXIT_NO) {
                        /* removed meanwhile (gear-gc) */
                        gear_err_clear(&it->err);
                        store_reader_free(r);
                        close(keep);
                        return;
                }
                goto fail;
        }
        /* a large content in the frames of its layout (store.h), each stating its size */
        free(fv);
        fv = NULL;
        if (layout_of(run, it->hex, size, &fv, &nf, want, &keep_frames, &it->err) < 0)
                goto fail;
        if (size >= STORE_LAYOUT_MIN) {
                object_frames(keep, size, true, had);
                relayout |= strcmp(had, want) != 0;
        }
        frame_end = fv[0];
        ZSTD_CCtx_setPledgedSrcSize(c, fv[0]);
        out = openat(run->sdfd, it->hex, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, STORE_FILE_MODE);
        if (out < 0) {
                gear_err_sys(&it->err, errno, "cannot create '%s'", it->hex);
                goto fail;
        }
        it->after = 0;
        store_reader_expect_size(r, size);
        while ((k = store_reader_read(r, buf, BUF_SIZE, &it->err)) > 0)
                for (unsigned char *p = buf; k > 0;) {
                        /* a frame ends where the layout says (the last at the content's end) */
                        uint64_t room = frame_end - done, n = (uint64_t)k < room ? (uint64_t)k : room;
                        if (pump(c, out, p, n, n == room ? ZSTD_e_end : ZSTD_e_continue, obuf, &it->after,
                                 &it->err) < 0)
                                goto fail;
                        done += n;
                        p += n;
                        k -= n;
                        if (n == room && ++f < nf) {
                                frame_end += fv[f];
                                ZSTD_CCtx_setPledgedSrcSize(c, fv[f]);
                        }
                }
        /* 0 only once the whole content matched its digest (and size) */
        if (k < 0 || (!size && pump(c, out, NULL, 0, ZSTD_e_end, obuf, &it->after, &it->err) < 0))
                goto fail;
        store_reader_free(r);
        r = NULL;
        /* a large object whose frames change takes the new ones even when they cost a few bytes */
        if (it->after < it->before || relayout) {
                /* what replaces the object reads back as its content, or nothing changes */
                if (check_written(run, it, rel) < 0)
                        goto fail;
                mark_level(out, run->o->level);
                if (size >= STORE_LAYOUT_MIN)
                        mark_frames(out, want);
                it->state = RECOMPRESS_SMALLER;
        } else {
                unlinkat(run->sdfd, it->hex, 0);
                mark_level(keep, run->o->level);
                if (size >= STORE_LAYOUT_MIN)
                        mark_frames(keep, want);
                it->state = RECOMPRESS_KEPT;
        }
        close(keep);
        return;
fail:
        store_reader_free(r);
        close(keep);
        if (out >= 0)
                unlinkat(run->sdfd, it->hex, 0);
        gear_err_wrap(&it->err, "cannot recompress '%s/%s'", run->img->path, rel);
        it->state = RECOMPRESS_FAILED;
        return;
sys:
        gear_err_sys(&it->err, errno, "cannot recompress '%s/%s'", run->img->path, rel);
        it->state = RECOMPRESS_FAILED;
}

static void *worker(void *arg)
{
        struct run *run = arg;
        ZSTD_CCtx *c = ZSTD_createCCtx();
        unsigned char *buf = malloc(BUF_SIZE), *obuf = malloc(BUF_SIZE);
        bool ok = c && buf && obuf && !ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, run->o->level));

        pthread_mutex_lock(&run->mu);
        for (;;) {
                /* the items of one batch at a time: run.n and run.next change only under mu */
                while (run->next == run->n && !run->stop)
                        pthread_cond_wait(&run->work, &run->mu);
                if (run->stop)
                        break;
                struct item *it = &run->items[run->next++];
                pthread_mutex_unlock(&run->mu);
                if (ok)
                        one(run, it, c, buf, obuf);
                else {
                        gear_err_sys(&it->err, ENOMEM, "cannot recompress");
                        it->state = RECOMPRESS_FAILED;
                }
                pthread_mutex_lock(&run->mu);
                if (!--run->pending)
                        pthread_cond_signal(&run->done);
        }
        pthread_mutex_unlock(&run->mu);
        ZSTD_freeCCtx(c);
        free(buf);
        free(obuf);
        return NULL;
}

/* the objects of one subdirectory of objects/ (its name two hex digits), after those listed already */
static int list_dir(struct run *run, const char *sub, struct item **items, size_t *n, size_t *cap,
                    uint64_t *bytes, struct gear_err *e)
{
        char rel[sizeof STORE_DIR + 3];
        DIR *d;
        struct dirent *de;
        int r;

        snprintf(rel, sizeof rel, STORE_DIR "/%s", sub);
        if ((r = dir_open_at(run->img, run->img->fd, rel, &d, e)) < 0 || !d)
                return r;
        while ((de = readdir(d))) {
                digest_hex hex;
                struct stat st;
                if (strlen(de->d_name) != DIGEST_HEX_LEN - 2)
                        continue;
                snprintf(hex, sizeof hex, "%s%s", sub, de->d_name);
                if (!digest_hex_valid(hex))
                        continue;
                if (array_room((void **)items, cap, *n + 1, sizeof **items) < 0) {
                        closedir(d);
                        return gear_err_sys(e, ENOMEM, "cannot list '%s/%s'", run->img->path, rel);
                }
                /* the size orders the batch; the object's own open tells the rest */
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        st.st_size = 0;
                (*items)[*n] = (struct item){ .state = RECOMPRESS_SKIPPED, .before = st.st_size };
                memcpy((*items)[(*n)++].hex, hex, sizeof hex);
                *bytes += st.st_size;
        }
        closedir(d);
        return 0;
}

/* largest first, so that no worker is left with a big object at the end of a batch */
static int larger_first(const void *a, const void *b)
{
        const struct item *x = a, *y = b;

        return x->before < y->before ? 1 : x->before > y->before ? -1 : strcmp(x->hex, y->hex);
}

/* the smaller objects, synced, take the place of the ones read, if those are still there */
static int commit(struct run *run, struct gear_err *e)
{
        _cleanup_close_ int lock = -1;
        bool any = false;

        for (size_t i = 0; i < run->n; i++)
                any |= run->items[i].state == RECOMPRESS_SMALLER;
        if (!any)
                return 0;
        if (syncfs(run->sdfd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s'", run->img->path);
        test_pause_point("recompress:commit");
        if ((lock = store_lock(run->img, LOCK_EX, e)) < 0)
                return -1;
        for (size_t i = 0; i < run->n; i++) {
                struct item *it = &run->items[i];
                char rel[STORE_REL_MAX];
                struct stat st;

                if (it->state != RECOMPRESS_SMALLER)
                        continue;
                store_object_rel(it->hex, rel);
                if (fstatat(run->img->fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != it->dev ||
                    st.st_ino != it->ino) {
                        it->state = RECOMPRESS_SKIPPED;
                        unlinkat(run->sdfd, it->hex, 0);
                        continue;
                }
                if (renameat(run->sdfd, it->hex, run->img->fd, rel) < 0)
                        return gear_err_sys(e, errno, "cannot move object into '%s/%s'", run->img->path, rel);
        }
        if (syncfs(run->img->fd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s'", run->img->path);
        return 0;
}

int store_recompress(const struct gear_root *img, const struct recompress_opts *o, recompress_fn fn, void *ud,
                     struct recompress_stats *st, struct gear_err *e)
{
        struct run run = { .img = img, .o = o, .sdfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER,
                           .work = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER };
        struct store_stage *stage = NULL;
        pthread_t *th = NULL;
        size_t cap = 0;
        int nth = 0, rc = -1;

        *st = (struct recompress_stats){0};
        if (o->level < 1 || o->level > ZSTD_maxCLevel())
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid level %d (1 to %d)", o->level, ZSTD_maxCLevel());
        if (stage_begin(img, &stage, e) < 0)
                return -1;
        run.sdfd = stage_dirfd(stage);
        if (!(th = calloc(o->jobs > 0 ? o->jobs : 1, sizeof *th))) {
                gear_err_sys(e, ENOMEM, "cannot start workers");
                goto out;
        }
        for (; nth < (o->jobs > 0 ? o->jobs : 1); nth++)
                if (pthread_create(&th[nth], NULL, worker, &run) != 0) {
                        gear_err_sys(e, EAGAIN, "cannot start workers");
                        goto out;
                }
        for (int b = 0; b < 256;) {
                uint64_t bytes = 0;
                size_t n = 0;

                /* a batch: whole subdirectories, up to BATCH_OBJECTS objects or BATCH_BYTES stored bytes */
                while (b < 256 && n < BATCH_OBJECTS && bytes < BATCH_BYTES) {
                        char sub[3];
                        snprintf(sub, sizeof sub, "%02x", b++);
                        if (list_dir(&run, sub, &run.items, &n, &cap, &bytes, e) < 0)
                                goto out;
                }
                if (n)
                        qsort(run.items, n, sizeof *run.items, larger_first);
                pthread_mutex_lock(&run.mu);
                run.n = run.pending = n;
                run.next = 0;
                pthread_cond_broadcast(&run.work);
                while (run.pending)
                        pthread_cond_wait(&run.done, &run.mu);
                pthread_mutex_unlock(&run.mu);
                int k = commit(&run, e);
                for (size_t i = 0; i < n; i++) {
                        struct item *it = &run.items[i];
                        st->objects++;
                        switch (it->state) {
                        case RECOMPRESS_SKIPPED:
                                st->skipped++;
                                break;
                        case RECOMPRESS_KEPT:
                                st->kept++;
                                st->kept_bytes += it->before;
                                break;
                        case RECOMPRESS_SMALLER:
                                st->smaller++;
                                st->before += it->before;
                                st->after += it->after;
                                break;
                        case RECOMPRESS_FAILED:
                                st->failed++;
                                break;
                        }
                        fn(it->hex, it->state, it->before, it->after,
                           it->state == RECOMPRESS_FAILED ? &it->err : NULL, ud);
                        gear_err_clear(&it->err);
                }
                if (k < 0)
                        goto out;
        }
        rc = 0;
out:
        pthread_mutex_lock(&run.mu);
        run.stop = true;
        pthread_cond_broadcast(&run.work);
        pthread_mutex_unlock(&run.mu);
        for (int t = 0; t < nth; t++)
                pthread_join(th[t], NULL);
        for (size_t i = 0; i < run.n; i++)
                gear_err_clear(&run.items[i].err);
        free(th);
        free(run.items);
        stage_free(stage);
        return rc;
}
