#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "store.h"
#include "../base/fsutil.h"

static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

void store_object_rel(const char *hex, char rel[STORE_REL_MAX])
{
        snprintf(rel, STORE_REL_MAX, STORE_DIR "/%.2s/%s", hex, hex + 2);
}

bool store_has(const struct gear_root *img, const char *hex)
{
        char rel[STORE_REL_MAX];
        struct stat st;

        store_object_rel(hex, rel);
        return fstatat(img->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int store_lock(const struct gear_root *img, int op, struct gear_err *e)
{
        return lock_dir(img, STORE_LOCK, op, e);
}

bool store_is_zstd(const void *buf, size_t n)
{
        return n >= sizeof zstd_magic && !memcmp(buf, zstd_magic, sizeof zstd_magic);
}

uint64_t store_stored_max(uint64_t size)
{
        size_t bound = size > SIZE_MAX / 2 ? 0 : ZSTD_compressBound(size);

        if (!bound || ZSTD_isError(bound) || bound > UINT64_MAX - STORE_SLACK)
                return UINT64_MAX;
        return (bound > size ? bound : size) + STORE_SLACK;
}

/* one compression context per thread, freed when the thread exits */
static pthread_key_t cctx_key;
static pthread_once_t cctx_once = PTHREAD_ONCE_INIT;

static void cctx_free(void *p)
{
        ZSTD_freeCCtx(p);
}

static void cctx_key_init(void)
{
        pthread_key_create(&cctx_key, cctx_free);
}

ZSTD_CCtx *store_thread_cctx(void)
{
        ZSTD_CCtx *c;

        pthread_once(&cctx_once, cctx_key_init);
        c = pthread_getspecific(cctx_key);
        if (!c && (c = ZSTD_createCCtx()))
                pthread_setspecific(cctx_key, c);
        return c;
}

size_t store_frame_encode(void *out, size_t cap, const void *in, size_t n, struct gear_err *e)
{
        ZSTD_CCtx *cctx = store_thread_cctx();
        size_t k;

        if (!cctx)
                return gear_err_sys(e, ENOMEM, "cannot compress"), 0;
        k = ZSTD_compressCCtx(cctx, out, cap, in, n, STORE_ZSTD_LEVEL);
        if (ZSTD_isError(k))
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot compress: %s", ZSTD_getErrorName(k)), 0;
        return k;
}

int store_encode(const void *buf, size_t n, void **out, size_t *outn, struct gear_err *e)
{
        bool must = store_is_zstd(buf, n);
        size_t cap, r;
        void *z;

        if (n < STORE_RAW_MAX && !must)
                goto raw;
        cap = ZSTD_compressBound(n) + (n >= STORE_CHUNKED_MIN ? (n / STORE_CHUNK + 1) * 32 : 0);
        if (!(z = malloc(cap)))
                return gear_err_sys(e, ENOMEM, "cannot compress");
        /* a large one a frame of STORE_CHUNK bytes at a time */
        r = 0;
        for (size_t at = 0, step; at < n; at += step) {
                size_t k;
                step = n < STORE_CHUNKED_MIN ? n : n - at < STORE_CHUNK ? n - at : STORE_CHUNK;
                if (!(k = store_frame_encode((char *)z + r, cap - r, (const char *)buf + at, step, e))) {
                        free(z);
                        return -1;
                }
                r += k;
        }
        /* a large one stays in chunks whatever they save, for reads of part of it */
        if (r < n || must || n >= STORE_CHUNKED_MIN) {
                *out = z;
                *outn = r;
                return 0;
        }
        free(z);
raw:
        *out = (void *)buf;
        *outn = n;
        return 0;
}

struct store_reader {
        int fd;
        bool zstd, eof, frame_done, corrupt;
        ZSTD_DCtx *dctx;
        struct digest dg;
        digest_hex want;
        uint64_t total, expect;
        bool has_expect;
        char what[STORE_REL_MAX + 16];
        unsigned char in[128 * 1024];
        size_t inpos, inlen;
};

void store_reader_free(struct store_reader *r)
{
        if (!r)
                return;
        if (r->fd >= 0)
                close(r->fd);
        ZSTD_freeDCtx(r->dctx);
        digest_done(&r->dg);
        free(r);
}

static int fill(struct store_reader *r, struct gear_err *e)
{
        ssize_t k;

        do
                k = read(r->fd, r->in, sizeof r->in);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return gear_err_sys(e, errno, "cannot read object '%s'", r->what);
        r->inpos = 0;
        r->inlen = k;
        if (!k)
                r->eof = true;
        return 0;
}

int store_reader_fdopen(int fd, const char *hex, const char *what, struct store_reader **out,
                        struct gear_err *e)
{
        struct store_reader *r = calloc(1, sizeof *r);

        if (!r) {
                close(fd);
                return gear_err_sys(e, ENOMEM, "cannot read object '%s'", what);
        }
        r->fd = fd;
        snprintf(r->what, sizeof r->what, "%s", what);
        memcpy(r->want, hex, sizeof r->want);
        if (digest_init(&r->dg, e) < 0 || fill(r, e) < 0)
                goto fail;
        r->zstd = store_is_zstd(r->in, r->inlen);
        if (r->zstd && !(r->dctx = ZSTD_createDCtx())) {
                gear_err_sys(e, ENOMEM, "cannot read object '%s'", what);
                goto fail;
        }
        *out = r;
        return 0;
fail:
        store_reader_free(r);
        return -1;
}

int store_reader_open(const struct gear_root *img, const char *hex, struct store_reader **r,
                      struct gear_err *e)
{
        char rel[STORE_REL_MAX];
        struct stat st;
        int fd;

        store_object_rel(hex, rel);
        fd = openat(img->fd, rel, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int err = errno;
                gear_err_sys(e, err, "cannot open object '%s'", rel);
                if (err == ENOENT)
                        e->code = GEAR_EXIT_NO;
                return -err;
        }
        if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, O_RDONLY) < 0) {
                gear_err_sys(e, errno, "cannot read object '%s'", rel);
                close(fd);
                return -1;
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return gear_err_set(e, GEAR_EXIT_SYS, "object '%s' is not a regular file", rel);
        }
        return store_reader_fdopen(fd, hex, rel, r, e);
}

void store_reader_expect_size(struct store_reader *r, uint64_t size)
{
        r->expect = size;
        r->has_expect = true;
}

static int finish(struct store_reader *r, struct gear_err *e)
{
        digest_hex got;

        r->corrupt = true; /* until proven otherwise */
        digest_final(&r->dg, got);
        if (strcmp(got, r->want))
                return gear_err_set(e, GEAR_EXIT_SYS, "object '%s' is corrupt: content has digest sha256:%.12s...",
                                    r->what, got);
        if (r->has_expect && r->total != r->expect)
                return gear_err_set(e, GEAR_EXIT_SYS, "object '%s' holds %llu bytes, want %llu", r->what,
                                    (unsigned long long)r->total, (unsigned long long)r->expect);
        r->corrupt = false;
        return 0;
}

static ssize_t got(struct store_reader *r, const void *buf, size_t n, struct gear_err *e)
{
        digest_update(&r->dg, buf, n);
        r->total += n;
        if (r->has_expect && r->total > r->expect)
                return r->corrupt = true, gear_err_set(e, GEAR_EXIT_SYS, "object '%s' is longer than %llu bytes", r->what,
                                    (unsigned long long)r->expect);
        return n;
}

ssize_t store_reader_read(struct store_reader *r, void *buf, size_t n, struct gear_err *e)
{
        if (!r->zstd) {
                if (r->inpos == r->inlen && !r->eof && fill(r, e) < 0)
                        return -1;
                if (r->inpos == r->inlen)
                        return finish(r, e);
                size_t k = r->inlen - r->inpos < n ? r->inlen - r->inpos : n;
                memcpy(buf, r->in + r->inpos, k);
                r->inpos += k;
                return got(r, buf, k, e);
        }
        for (;;) {
                if (r->inpos == r->inlen && !r->eof) {
                        if (fill(r, e) < 0)
                                return -1;
                        continue;
                }
                if (r->inpos == r->inlen && r->frame_done)
                        return finish(r, e);

                ZSTD_inBuffer in = { r->in, r->inlen, r->inpos };
                ZSTD_outBuffer out = { buf, n, 0 };
                size_t left = ZSTD_decompressStream(r->dctx, &out, &in);

                if (ZSTD_isError(left))
                        return r->corrupt = true, gear_err_set(e, GEAR_EXIT_SYS, "object '%s' is corrupt: %s", r->what,
                                            ZSTD_getErrorName(left));
                r->inpos = in.pos;
                r->frame_done = left == 0;
                if (out.pos)
                        return got(r, buf, out.pos, e);
                if (r->inpos == r->inlen && r->eof && !r->frame_done)
                        return r->corrupt = true, gear_err_set(e, GEAR_EXIT_SYS, "object '%s' is corrupt: truncated", r->what);
        }
}

static int drain(struct store_reader *r, int fd, struct gear_err *e)
{
        static __thread char *buf;
        const size_t cap = 256 * 1024;
        ssize_t k;

        if (!buf && !(buf = malloc(cap)))
                return gear_err_sys(e, ENOMEM, "cannot read object '%s'", r->what);
        while ((k = store_reader_read(r, buf, cap, e)) > 0) {
                for (char *p = buf; fd >= 0 && k > 0;) {
                        ssize_t w = write(fd, p, k);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return gear_err_sys(e, errno, "cannot write content of '%s'", r->what);
                        p += w;
                        k -= w;
                }
        }
        return k < 0 ? -1 : 0;
}

int store_reader_check(struct store_reader *r, struct gear_err *e)
{
        return drain(r, -1, e) < 0 ? -1 : 0;
}

int store_verify(const struct gear_root *img, const char *hex, uint64_t *size, struct gear_err *e)
{
        struct store_reader *r = NULL;
        int ret;

        if (store_reader_open(img, hex, &r, e) < 0)
                return -1;
        ret = drain(r, -1, e);
        if (ret < 0 && r->corrupt)
                ret = -EBADMSG;
        if (size)
                *size = r->total;
        store_reader_free(r);
        return ret;
}

int store_copy_to_fd(const struct gear_root *img, const char *hex, uint64_t size, int fd,
                     struct gear_err *e)
{
        struct store_reader *r = NULL;
        int ret;

        if (store_reader_open(img, hex, &r, e) < 0)
                return -1;
        store_reader_expect_size(r, size);
        ret = drain(r, fd, e);
        if (ret < 0 && r->corrupt)
                ret = -EBADMSG;
        store_reader_free(r);
        return ret;
}

int store_rm_rf(int dfd, const char *name)
{
        _cleanup_close_ int fd = -1;
        DIR *d;
        struct dirent *de;
        int ret = 0;

        if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -1;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                int r = store_rm_rf(dirfd(d), de->d_name);
                if (r < 0 && !ret)
                        ret = r;
        }
        closedir(d);
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && !ret)
                ret = -errno;
        return ret;
}
