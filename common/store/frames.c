/* solid frames of the store (frames.h) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "frames.h"
#include "store.h"
#include "../base/fsutil.h"

#define HEAD_WORD "gear-frame 1\t"
#define SKIP_MAGIC 0x184D2A5Eu
/* what a frame may decode to, and its own largest size (as remote.h's SOLID_ limits) */
#define FRAME_USIZE_MAX (16u << 20)
#define FRAME_DATA_MAX (16u << 20)
#define IN_BUF (128u << 10)

void frame_rel(const char *name, char rel[FRAME_REL_MAX])
{
        snprintf(rel, FRAME_REL_MAX, FRAMES_DIR "/%.2s/%s", name, name + 2);
}

void store_frame_free(struct store_frame *f)
{
        free(f->m);
        *f = (struct store_frame){0};
}

/* the member lines; *len their length */
static char *member_lines(const struct frame_member *m, size_t n, size_t *len)
{
        char *buf = NULL;
        FILE *f = open_memstream(&buf, len);

        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s\t%llu\n", m[i].hex, (unsigned long long)m[i].size);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

int frame_name(const struct frame_member *m, size_t n, digest_hex name, struct gear_err *e)
{
        size_t len;
        _cleanup_free_ char *lines = member_lines(m, n, &len);

        if (!lines)
                return gear_err_sys(e, ENOMEM, "cannot name a frame");
        return digest_buf(lines, len, name, e);
}

int frame_make(const struct gear_root *img, const struct frame_member *m, size_t n, int level, int dfd,
               const char *name, struct store_frame *f, struct gear_err *e)
{
        _cleanup_free_ char *lines = NULL, *in = NULL, *out = NULL, *back = NULL;
        _cleanup_close_ int fd = -1;
        uint64_t usize = 0, done = 0;
        ZSTD_CCtx *cctx = store_thread_cctx();
        size_t nlines, cap, k;
        unsigned char hdr[8];
        char head[32];
        int hl, r;

        *f = (struct store_frame){0};
        for (size_t i = 0; i < n; i++)
                usize += m[i].size;
        if (!n || n > FRAME_MEMBERS_MAX || usize > FRAME_USIZE_MAX)
                return gear_err_set(e, GEAR_EXIT_SYS, "a frame of %zu members and %llu bytes is out of bounds", n,
                                    (unsigned long long)usize);
        if (!(lines = member_lines(m, n, &nlines)) || !(in = malloc(usize ? usize : 1)) ||
            !(out = malloc((cap = ZSTD_compressBound(usize)))) || !(back = malloc(usize ? usize : 1)) || !cctx)
                return gear_err_sys(e, ENOMEM, "cannot make a frame");
        if (nlines + 32 > FRAME_HEAD_MAX)
                return gear_err_set(e, GEAR_EXIT_SYS, "the member list of a frame of %zu members is too long", n);
        for (size_t i = 0; i < n; i++) {
                struct store_reader *rd;
                ssize_t got = 0;
                uint64_t start = done;
                char more;
                if (store_reader_open(img, m[i].hex, &rd, e) < 0)
                        return gear_err_wrap(e, "object sha256:%.12s", m[i].hex);
                store_reader_expect_size(rd, m[i].size);
                while (done - start < m[i].size &&
                       (got = store_reader_read(rd, in + done, start + m[i].size - done, e)) > 0)
                        done += got;
                /* the end, where the reader checks the digest */
                if (got >= 0 && done - start == m[i].size)
                        got = store_reader_read(rd, &more, 1, e);
                store_reader_free(rd);
                if (got < 0)
                        return gear_err_wrap(e, "object sha256:%.12s", m[i].hex);
                if (got > 0 || done - start != m[i].size)
                        return gear_err_set(e, GEAR_EXIT_SYS, "object sha256:%.12s is not of %llu bytes", m[i].hex,
                                            (unsigned long long)m[i].size);
        }
        ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
        k = ZSTD_compress2(cctx, out, cap, in, usize);
        if (ZSTD_isError(k))
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot compress a frame: %s", ZSTD_getErrorName(k));
        if (k > FRAME_DATA_MAX)
                return gear_err_set(e, GEAR_EXIT_SYS, "a frame of %zu bytes is too large", k);
        /* what it decodes to must be what went in */
        if (ZSTD_decompress(back, usize, out, k) != usize || memcmp(back, in, usize))
                return gear_err_set(e, GEAR_EXIT_SYS, "a frame does not decode to its contents");
        hl = snprintf(head, sizeof head, HEAD_WORD "%d\n", level);
        uint32_t plen = hl + nlines;
        for (int i = 0; i < 4; i++) {
                hdr[i] = (SKIP_MAGIC >> (8 * i)) & 0xff;
                hdr[4 + i] = (plen >> (8 * i)) & 0xff;
        }
        if ((fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, STORE_FILE_MODE)) < 0)
                return gear_err_sys(e, errno, "cannot write a frame");
        if ((r = write_all(fd, hdr, sizeof hdr)) < 0 || (r = write_all(fd, head, hl)) < 0 ||
            (r = write_all(fd, lines, nlines)) < 0 || (r = write_all(fd, out, k)) < 0)
                return gear_err_sys(e, -r, "cannot write a frame");
        if (fsync(fd) < 0)
                return gear_err_sys(e, errno, "cannot write a frame");
        if (!(f->m = malloc(n * sizeof *f->m)))
                return gear_err_sys(e, ENOMEM, "cannot make a frame");
        memcpy(f->m, m, n * sizeof *m);
        for (size_t i = 0, at = 0; i < n; at += m[i++].size)
                f->m[i].at = at;
        f->n = n;
        f->level = level;
        f->data_off = sizeof hdr + plen;
        f->data_len = k;
        f->usize = usize;
        return digest_buf(lines, nlines, f->name, e);
}

static bool parse_dec(const char *p, const char *end, uint64_t *v)
{
        uint64_t x = 0;

        if (p == end || end - p > 19 || (end - p > 1 && *p == '0'))
                return false;
        for (; p < end; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                x = x * 10 + (*p - '0');
        }
        *v = x;
        return true;
}

int frame_read_head(int fd, uint64_t size, struct store_frame *f, struct gear_err *e)
{
        unsigned char hdr[8];
        _cleanup_free_ char *buf = NULL;
        const char *p, *end, *nl;
        uint32_t magic = 0, plen = 0;
        uint64_t level, at = 0;
        size_t cap = 0;

        *f = (struct store_frame){0};
        if (size < sizeof hdr || pread(fd, hdr, sizeof hdr, 0) != sizeof hdr)
                goto bad;
        for (int i = 3; i >= 0; i--) {
                magic = magic << 8 | hdr[i];
                plen = plen << 8 | hdr[4 + i];
        }
        if (magic != SKIP_MAGIC || plen > FRAME_HEAD_MAX || plen >= size - sizeof hdr ||
            size - sizeof hdr - plen > FRAME_DATA_MAX)
                goto bad;
        if (!(buf = malloc(plen + 1)))
                return gear_err_sys(e, ENOMEM, "cannot read a frame");
        if (pread(fd, buf, plen, sizeof hdr) != (ssize_t)plen)
                goto bad;
        buf[plen] = 0;
        p = buf;
        end = buf + plen;
        if (!(nl = memchr(p, '\n', end - p)) || strncmp(p, HEAD_WORD, strlen(HEAD_WORD)) ||
            !parse_dec(p + strlen(HEAD_WORD), nl, &level) || level < 1 || level > 22)
                goto bad;
        f->level = (int)level;
        for (p = nl + 1; p < end; p = nl + 1) {
                const char *tab = memchr(p, '\t', end - p);
                struct frame_member *x;
                uint64_t sz;
                if (!(nl = memchr(p, '\n', end - p)) || !tab || tab > nl || tab - p != DIGEST_HEX_LEN ||
                    !parse_dec(tab + 1, nl, &sz) || !sz || sz > FRAME_USIZE_MAX - at || f->n >= FRAME_MEMBERS_MAX)
                        goto bad;
                if (f->n == cap) {
                        cap = cap ? 2 * cap : 64;
                        if (!(x = realloc(f->m, cap * sizeof *x)))
                                return gear_err_sys(e, ENOMEM, "cannot read a frame");
                        f->m = x;
                }
                x = &f->m[f->n++];
                memcpy(x->hex, p, DIGEST_HEX_LEN);
                x->hex[DIGEST_HEX_LEN] = 0;
                if (!digest_hex_valid(x->hex))
                        goto bad;
                x->size = sz;
                x->at = at;
                at += sz;
        }
        if (!f->n)
                goto bad;
        f->usize = at;
        f->data_off = sizeof hdr + plen;
        f->data_len = size - f->data_off;
        /* the name: of the member lines */
        p = memchr(buf, '\n', plen) + 1;
        return digest_buf(p, end - p, f->name, e);
bad:
        store_frame_free(f);
        return gear_err_set(e, GEAR_EXIT_SYS, "not a frame of the store");
}

int frame_verify(int fd, const struct store_frame *f, struct gear_err *e)
{
        _cleanup_free_ unsigned char *in = malloc(IN_BUF), *out = malloc(IN_BUF);
        ZSTD_DCtx *d = ZSTD_createDCtx();
        struct digest dg = {0};
        size_t cur = 0, left = 1;
        uint64_t pos = 0, read = 0, in_member = 0;
        int rc = -1;

        if (!in || !out || !d) {
                rc = gear_err_sys(e, ENOMEM, "cannot check a frame");
                goto out;
        }
        if (digest_init(&dg, e) < 0)
                goto out;
        while (read < f->data_len && left) {
                size_t want = f->data_len - read < IN_BUF ? f->data_len - read : IN_BUF;
                ssize_t k = pread(fd, in, want, f->data_off + read);
                ZSTD_inBuffer ib = { in, k > 0 ? (size_t)k : 0, 0 };
                if (k <= 0) {
                        rc = gear_err_sys(e, k < 0 ? errno : EIO, "cannot read the frame");
                        goto out;
                }
                read += k;
                while (ib.pos < ib.size && left) {
                        ZSTD_outBuffer ob = { out, IN_BUF, 0 };
                        left = ZSTD_decompressStream(d, &ob, &ib);
                        if (ZSTD_isError(left)) {
                                rc = gear_err_set(e, GEAR_EXIT_SYS, "the frame does not decode: %s",
                                                  ZSTD_getErrorName(left));
                                goto out;
                        }
                        for (size_t o = 0; o < ob.pos;) {
                                size_t take;
                                digest_hex got;
                                if (cur >= f->n) {
                                        rc = gear_err_set(e, GEAR_EXIT_SYS, "the frame decodes to more than its members");
                                        goto out;
                                }
                                take = f->m[cur].size - in_member < ob.pos - o ? f->m[cur].size - in_member : ob.pos - o;
                                digest_update(&dg, out + o, take);
                                o += take;
                                in_member += take;
                                pos += take;
                                if (in_member < f->m[cur].size)
                                        continue;
                                digest_final(&dg, got);
                                if (strcmp(got, f->m[cur].hex)) {
                                        rc = gear_err_set(e, GEAR_EXIT_SYS, "member sha256:%.12s does not match its digest",
                                                          f->m[cur].hex);
                                        goto out;
                                }
                                digest_done(&dg);
                                if (digest_init(&dg, e) < 0)
                                        goto out;
                                cur++;
                                in_member = 0;
                        }
                }
        }
        if (left || read != f->data_len || cur != f->n || pos != f->usize) {
                rc = gear_err_set(e, GEAR_EXIT_SYS, "the frame is cut short");
                goto out;
        }
        rc = 0;
out:
        digest_done(&dg);
        ZSTD_freeDCtx(d);
        return rc;
}

struct frame_ref {
        const char *hex;
        uint32_t frame, member;
};

struct frame_index {
        struct store_frame *v;
        size_t n;
        struct frame_ref *by;
        size_t nby;
        size_t *by_name;        /* indices of v, by name */
};

static int index_name_cmp(const void *a, const void *b, void *ud)
{
        const struct store_frame *v = ud;

        return strcmp(v[*(const size_t *)a].name, v[*(const size_t *)b].name);
}

static int ref_cmp(const void *a, const void *b)
{
        return strcmp(((const struct frame_ref *)a)->hex, ((const struct frame_ref *)b)->hex);
}

void frame_index_free(struct frame_index *x)
{
        if (!x)
                return;
        for (size_t i = 0; i < x->n; i++)
                store_frame_free(&x->v[i]);
        free(x->v);
        free(x->by);
        free(x->by_name);
        free(x);
}

/* one frame file of frames/<sub>, when its head reads and its name is its members' */
static int load_one(struct frame_index *x, int sdfd, const char *sub, const char *file, size_t *cap,
                    struct gear_err *e)
{
        _cleanup_close_ int fd = openat(sdfd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct gear_err ignored = {0};
        struct store_frame f;
        struct stat st;
        char name[DIGEST_HEX_LEN + 1];

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            snprintf(name, sizeof name, "%s%s", sub, file) != DIGEST_HEX_LEN)
                return 0;
        if (frame_read_head(fd, st.st_size, &f, &ignored) < 0)
                return 0;
        if (strcmp(f.name, name)) {
                store_frame_free(&f);
                return 0;
        }
        if (x->n == *cap) {
                struct store_frame *v = realloc(x->v, (*cap = *cap ? 2 * *cap : 64) * sizeof *v);
                if (!v) {
                        store_frame_free(&f);
                        return gear_err_sys(e, ENOMEM, "cannot read the frames");
                }
                x->v = v;
        }
        x->v[x->n++] = f;
        return 0;
}

int frame_index_load(const struct gear_root *img, struct frame_index **xp, struct gear_err *e)
{
        struct frame_index *x = calloc(1, sizeof *x);
        int dfd = openat(img->fd, FRAMES_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *top = NULL;
        struct dirent *de;
        size_t cap = 0, k = 0;

        *xp = NULL;
        if (!x) {
                if (dfd >= 0)
                        close(dfd);
                return gear_err_sys(e, ENOMEM, "cannot read the frames");
        }
        if (dfd < 0) {
                if (errno != ENOENT) {
                        free(x);
                        return gear_err_sys(e, errno, "cannot open '%s/%s'", img->path, FRAMES_DIR);
                }
                *xp = x;
                return 0;
        }
        if (!(top = fdopendir(dfd))) {
                close(dfd);
                free(x);
                return gear_err_sys(e, errno, "cannot read '%s/%s'", img->path, FRAMES_DIR);
        }
        while ((de = readdir(top))) {
                int sdfd;
                DIR *sub;
                struct dirent *f;
                if (strlen(de->d_name) != 2 || !strchr("0123456789abcdef", de->d_name[0]) ||
                    !strchr("0123456789abcdef", de->d_name[1]))
                        continue;
                if ((sdfd = openat(dirfd(top), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                        continue;
                if (!(sub = fdopendir(sdfd))) {
                        close(sdfd);
                        continue;
                }
                while ((f = readdir(sub)))
                        if (f->d_name[0] != '.' && load_one(x, dirfd(sub), de->d_name, f->d_name, &cap, e) < 0) {
                                closedir(sub);
                                closedir(top);
                                frame_index_free(x);
                                return -1;
                        }
                closedir(sub);
        }
        closedir(top);
        for (size_t i = 0; i < x->n; i++)
                x->nby += x->v[i].n;
        if ((x->nby && !(x->by = malloc(x->nby * sizeof *x->by))) ||
            (x->n && !(x->by_name = malloc(x->n * sizeof *x->by_name)))) {
                frame_index_free(x);
                return gear_err_sys(e, ENOMEM, "cannot read the frames");
        }
        for (size_t i = 0; i < x->n; i++)
                for (size_t j = 0; j < x->v[i].n; j++)
                        x->by[k++] = (struct frame_ref){ x->v[i].m[j].hex, (uint32_t)i, (uint32_t)j };
        if (x->nby)
                qsort(x->by, x->nby, sizeof *x->by, ref_cmp);
        for (size_t i = 0; i < x->n; i++)
                x->by_name[i] = i;
        if (x->n)
                qsort_r(x->by_name, x->n, sizeof *x->by_name, index_name_cmp, x->v);
        *xp = x;
        return 0;
}

const struct store_frame *frame_index_named(const struct frame_index *x, const char *name)
{
        size_t lo = 0, hi = x ? x->n : 0;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(x->v[x->by_name[mid]].name, name);
                if (!c)
                        return &x->v[x->by_name[mid]];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

const struct store_frame *frame_index_find(const struct frame_index *x, const char *hex, size_t *member)
{
        struct frame_ref key = { hex, 0, 0 }, *r;

        if (!x || !x->nby || !(r = bsearch(&key, x->by, x->nby, sizeof *x->by, ref_cmp)))
                return NULL;
        *member = r->member;
        return &x->v[r->frame];
}

size_t frame_index_count(const struct frame_index *x)
{
        return x ? x->n : 0;
}

const struct store_frame *frame_index_at(const struct frame_index *x, size_t i)
{
        return &x->v[i];
}
