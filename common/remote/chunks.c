/*
 * Chunked contents (chunks.h): the frames of a stored object listed with
 * their digests, and a few of them fetched and checked alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <zstd.h>

#include "chunks.h"
#include "../base/fsutil.h"
#include "../store/cache.h"
#include "../store/store.h"

/* gear's frames are of STORE_CHUNK bytes: a header asking for more than a chunk's window is refused */
#define CHUNK_WINDOW_LOG_MAX 23

static int decoder(ZSTD_DCtx **d, struct gear_err *e)
{
        if (!(*d = ZSTD_createDCtx()))
                return gear_err_sys(e, ENOMEM, "cannot decode a chunk");
        ZSTD_DCtx_setParameter(*d, ZSTD_d_windowLogMax, CHUNK_WINDOW_LOG_MAX);
        return 0;
}

#define IN_BUF (128u << 10)

int chunk_table(int fd, uint64_t stored, const char *hex, uint64_t size, struct map_chunk **vp, uint32_t *np,
                struct gear_err *e)
{
        _cleanup_free_ unsigned char *in = NULL, *out = NULL;
        struct map_chunk *v = NULL;
        struct digest dg = {0};
        ZSTD_DCtx *d = NULL;
        uint64_t off = 0, fstart = 0, total = 0;
        unsigned long long first;
        size_t cap = 0, n = 0, fill = 0;
        digest_hex got;
        ssize_t k;
        int rc = -1;

        *vp = NULL;
        *np = 0;
        if (size < CHUNKED_MIN || stored < 18)
                return 0;
        /* a byte more than a chunk: a frame that fills it is too large */
        if (!(in = malloc(IN_BUF)) || !(out = malloc(CHUNK_SIZE_MAX + 1)))
                return gear_err_sys(e, ENOMEM, "cannot read object sha256:%.12s", hex);
        if ((k = pread(fd, in, 18, 0)) != 18)
                return gear_err_sys(e, k < 0 ? errno : EIO, "cannot read object sha256:%.12s", hex);
        /* raw, a first frame larger than a chunk, or the one frame of it: fetched whole, nothing to list */
        first = ZSTD_getFrameContentSize(in, 18);
        if (!store_is_zstd(in, 18) || first == ZSTD_CONTENTSIZE_ERROR ||
            (first != ZSTD_CONTENTSIZE_UNKNOWN && (first > CHUNK_SIZE_MAX || first == size)))
                return 0;
        if (decoder(&d, e) < 0 || digest_init(&dg, e) < 0)
                goto out;
        /* a frame at a time into a buffer of a chunk: what is held is bounded whatever the object's size */
        while (off < stored) {
                ZSTD_inBuffer ib = { in, 0, 0 };
                if ((k = pread(fd, in, stored - off < IN_BUF ? stored - off : IN_BUF, off)) <= 0) {
                        gear_err_sys(e, k < 0 ? errno : EIO, "cannot read object sha256:%.12s", hex);
                        goto out;
                }
                ib.size = k;
                while (ib.pos < ib.size) {
                        ZSTD_outBuffer ob = { out, CHUNK_SIZE_MAX + 1, fill };
                        size_t left = ZSTD_decompressStream(d, &ob, &ib);
                        uint64_t end = off + ib.pos;
                        if (ZSTD_isError(left)) {
                                gear_err_set(e, GEAR_EXIT_SYS, "object sha256:%.12s is corrupt: %s", hex,
                                             ZSTD_getErrorName(left));
                                goto out;
                        }
                        fill = ob.pos;
                        if (fill > CHUNK_SIZE_MAX || (left == 0 && (!fill || n == CHUNKS_MAX || end - fstart > UINT32_MAX)))
                                goto whole; /* frames past a chunk's limits: the object is fetched whole */
                        if (left)
                                continue;
                        if (array_room((void **)&v, &cap, n, sizeof *v) < 0) {
                                gear_err_sys(e, ENOMEM, "cannot read object sha256:%.12s", hex);
                                goto out;
                        }
                        v[n] = (struct map_chunk){ .coff = fstart, .uoff = total, .clen = (uint32_t)(end - fstart),
                                                   .size = (uint32_t)fill };
                        if (digest_buf(out, fill, v[n].hex, e) < 0)
                                goto out;
                        digest_update(&dg, out, fill);
                        n++;
                        total += fill;
                        fill = 0;
                        fstart = end;
                }
                off += k;
        }
        digest_final(&dg, got);
        if (fill || fstart != stored || strcmp(got, hex) || total != size) {
                gear_err_set(e, GEAR_EXIT_SYS, "object sha256:%.12s is corrupt: %s", hex,
                             fill || fstart != stored ? "truncated" : "its content does not match its digest");
                goto out;
        }
        if (n < 2)
                goto whole;
        *vp = v;
        *np = (uint32_t)n;
        v = NULL;
        rc = 0;
        goto out;
whole:
        rc = 0;
out:
        free(v);
        digest_done(&dg);
        ZSTD_freeDCtx(d);
        return rc;
}

/* CHUNK_TABLE_XATTR: "gear-chunks 1 STORED SIZE N\n", then N lines "CLEN SIZE HEX\n" */
#define KEPT_MAX 65536

static bool kept_read(int fd, uint64_t stored, uint64_t size, struct map_chunk **vp, uint32_t *np)
{
        _cleanup_free_ char *buf = malloc(KEPT_MAX + 1);
        unsigned long long st, sz, n, clen, csize;
        struct map_chunk *v = NULL;
        uint64_t coff = 0, uoff = 0;
        ssize_t k;
        char *p;
        int used;

        if (!buf || (k = fgetxattr(fd, CHUNK_TABLE_XATTR, buf, KEPT_MAX)) <= 0)
                return false;
        buf[k] = 0;
        if (sscanf(buf, "gear-chunks 1 %llu %llu %llu\n%n", &st, &sz, &n, &used) != 3 || st != stored || sz != size ||
            n > CHUNKS_MAX || n == 1 || (n && !(v = calloc(n, sizeof *v))))
                return false;
        p = buf + used;
        for (uint32_t i = 0; i < n; i++, p += used) {
                char hex[DIGEST_HEX_LEN + 1];
                if (sscanf(p, "%llu %llu %64[0-9a-f]\n%n", &clen, &csize, hex, &used) != 3 || !clen ||
                    clen > UINT32_MAX || !csize || csize > CHUNK_SIZE_MAX || !digest_hex_valid(hex)) {
                        free(v);
                        return false;
                }
                v[i] = (struct map_chunk){ .coff = coff, .uoff = uoff, .clen = (uint32_t)clen, .size = (uint32_t)csize };
                memcpy(v[i].hex, hex, sizeof v[i].hex);
                coff += clen;
                uoff += csize;
        }
        if (n && (coff != stored || uoff != size)) {
                free(v);
                return false;
        }
        *vp = v;
        *np = (uint32_t)n;
        return true;
}

int chunk_table_kept(int fd, uint64_t stored, const char *hex, uint64_t size, struct map_chunk **vp, uint32_t *np,
                     struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *f;

        *vp = NULL;
        *np = 0;
        if (size < CHUNKED_MIN || kept_read(fd, stored, size, vp, np))
                return 0;
        if (chunk_table(fd, stored, hex, size, vp, np, e) < 0)
                return -1;
        /* kept when it fits; a push without it decodes the object again */
        if (!(f = open_memstream(&buf, &len)))
                return 0;
        fprintf(f, "gear-chunks 1 %llu %llu %u\n", (unsigned long long)stored, (unsigned long long)size, *np);
        for (uint32_t i = 0; i < *np; i++)
                fprintf(f, "%u %u %s\n", (*vp)[i].clen, (*vp)[i].size, (*vp)[i].hex);
        if (fclose(f) == 0 && len <= KEPT_MAX)
                (void)fsetxattr(fd, CHUNK_TABLE_XATTR, buf, len, 0);
        return 0;
}

/* reads of a content: its object, verified as it is read, or its public/ file */
struct content_reader {
        struct store_reader *r;
        int fd;
};

static ssize_t content_read(struct content_reader *c, void *buf, size_t n, struct gear_err *e)
{
        ssize_t k;

        if (c->r)
                return store_reader_read(c->r, buf, n, e);
        while ((k = read(c->fd, buf, n)) < 0 && errno == EINTR)
                ;
        return k < 0 ? gear_err_sys(e, errno, "cannot read a cached content") : k;
}

bool chunk_matches_local(const struct gear_root *img, const char *hex, const struct object_loc *loc)
{
        struct content_reader c = { .fd = -1 };
        _cleanup_free_ unsigned char *buf = malloc(CHUNK_SIZE_MAX);
        struct gear_err err = {0};
        uint64_t size = 0;
        char rel[CACHE_REL_MAX];
        bool ok = true;

        for (uint32_t i = 0; i < loc->nchunks; i++)
                size += loc->chunks[i].size;
        if (!buf || chunk_check(loc, size, &err) < 0)
                return false;
        if (store_reader_open(img, hex, &c.r, &err) < 0) {
                cache_rel(hex, rel);
                if ((c.fd = openat(img->fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                        return false;
        } else {
                store_reader_expect_size(c.r, size);
        }
        for (uint32_t i = 0; i < loc->nchunks && ok; i++) {
                size_t fill = 0;
                digest_hex got;
                ssize_t k = 1;
                while (fill < loc->chunks[i].size && (k = content_read(&c, buf + fill, loc->chunks[i].size - fill, &err)) > 0)
                        fill += k;
                ok = fill == loc->chunks[i].size && digest_buf(buf, fill, got, &err) == 0 &&
                     !strcmp(got, loc->chunks[i].hex);
        }
        /* and nothing past them: the object's digest checked at its end */
        if (ok)
                ok = content_read(&c, buf, 1, &err) == 0;
        store_reader_free(c.r);
        if (c.fd >= 0)
                close(c.fd);
        return ok;
}

int chunk_check(const struct object_loc *loc, uint64_t size, struct gear_err *e)
{
        uint64_t u = 0, c = 0;

        if (loc->nchunks > CHUNKS_MAX)
                return gear_err_set(e, GEAR_EXIT_SYS, "the map names more than %u chunks of a content", CHUNKS_MAX);
        for (uint32_t i = 0; i < loc->nchunks; i++) {
                const struct map_chunk *k = &loc->chunks[i];
                if (k->uoff != u || k->coff != c || !k->size || k->size > CHUNK_SIZE_MAX)
                        return gear_err_set(e, GEAR_EXIT_SYS, "the map's chunk %u of a content is invalid", i);
                u += k->size;
                c += k->clen;
        }
        if (u != size || c != loc->len)
                return gear_err_set(e, GEAR_EXIT_SYS,
                                    "the map's chunks of a content hold %llu bytes in %llu, want %llu in %llu",
                                    (unsigned long long)u, (unsigned long long)c, (unsigned long long)size,
                                    (unsigned long long)loc->len);
        return 0;
}

uint32_t chunk_at(const struct object_loc *loc, uint64_t off)
{
        uint32_t lo = 0, hi = loc->nchunks;

        /* the last chunk starting at or before off */
        while (hi - lo > 1) {
                uint32_t mid = lo + (hi - lo) / 2;
                if (loc->chunks[mid].uoff <= off)
                        lo = mid;
                else
                        hi = mid;
        }
        return lo;
}

int chunk_store(const struct object_loc *loc, uint32_t a, uint32_t b, const unsigned char *p, int fd,
                struct gear_err *e)
{
        _cleanup_free_ unsigned char *buf = malloc(CHUNK_SIZE_MAX);
        ZSTD_DCtx *d = NULL;
        int rc = -1;

        if (!buf)
                return gear_err_sys(e, ENOMEM, "cannot decode chunks");
        if (decoder(&d, e) < 0)
                return -1;
        for (uint32_t i = a; i < b; i++) {
                const struct map_chunk *k = &loc->chunks[i];
                size_t r = 0;
                digest_hex got;
                ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
                r = ZSTD_decompressDCtx(d, buf, k->size, p + (k->coff - loc->chunks[a].coff), k->clen);
                if (ZSTD_isError(r) || r != k->size) {
                        gear_err_set(e, GEAR_EXIT_SYS, "chunk %u does not decode to its %u bytes%s%s", i, k->size,
                                     ZSTD_isError(r) ? ": " : "", ZSTD_isError(r) ? ZSTD_getErrorName(r) : "");
                        goto out;
                }
                if (digest_buf(buf, r, got, e) < 0)
                        goto out;
                if (strcmp(got, k->hex)) {
                        gear_err_set(e, GEAR_EXIT_SYS, "chunk %u does not match its digest (sha256:%.12s...)", i, got);
                        goto out;
                }
                if ((rc = pwrite_all(fd, buf, r, k->uoff)) < 0) {
                        rc = gear_err_sys(e, -rc, "cannot write a fetched chunk");
                        goto out;
                }
        }
        rc = 0;
out:
        ZSTD_freeDCtx(d);
        return rc;
}

int chunk_fetch(struct remote *r, const struct object_loc *loc, uint32_t a, uint32_t b, int fd, uint64_t *wire,
                struct gear_err *e)
{
        _cleanup_close_ int tmp = -1;
        unsigned char *p;
        uint64_t len;
        int rc;

        *wire = 0;
        if (a >= b || b > loc->nchunks)
                return gear_err_set(e, GEAR_EXIT_USAGE, "no such chunks %u to %u", a, b);
        len = chunk_stored(loc, a, b);
        if ((tmp = memfd_create("gear-chunks", MFD_CLOEXEC)) < 0)
                return gear_err_sys(e, errno, "cannot fetch chunks");
        if (remote_fetch_range(r, loc->pack, loc->pack_size, loc->off + loc->chunks[a].coff, len, tmp, NULL, NULL, e) < 0)
                return -1;
        *wire = len;
        if ((p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, tmp, 0)) == MAP_FAILED)
                return gear_err_sys(e, errno, "cannot read fetched chunks");
        rc = chunk_store(loc, a, b, p, fd, e);
        munmap(p, len);
        return rc;
}

uint64_t chunk_stored(const struct object_loc *loc, uint32_t a, uint32_t b)
{
        return loc->chunks[b - 1].coff + loc->chunks[b - 1].clen - loc->chunks[a].coff;
}
