/*
 * Members of solid frames (object-map.c): a zstd frame of several contents
 * one after the other, fetched whole, decoded once, and each member taken
 * out of it and verified on its own by the cache, as any stored form.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zstd.h>

#include "remote-internal.h"
#include "solid.h"
#include "../base/fsutil.h"
#include "../store/store.h"

#define IN_BUF (128u << 10)
#define SOLID_WINDOW_LOG_MAX 24

void solid_frame_free(struct solid_frame *f)
{
        free(f->buf);
        *f = (struct solid_frame){0};
}

/*
 * A frame that states its content size, within the limits, decoded in one
 * call: far faster than a stream decoded a block at a time. -1 when it does
 * not state it or does not decode whole (the stream then keeps what decodes
 * before a fault).
 */
static int whole(struct solid_frame *f, ZSTD_DCtx *d, int fd, uint64_t fd_off, const struct object_loc *loc)
{
        _cleanup_free_ unsigned char *in = malloc(loc->len ? loc->len : 1);
        unsigned long long cs;
        size_t k;

        if (!in || pread(fd, in, loc->len, fd_off) != (ssize_t)loc->len)
                return -1;
        cs = ZSTD_getFrameContentSize(in, loc->len);
        if (cs == ZSTD_CONTENTSIZE_UNKNOWN || cs == ZSTD_CONTENTSIZE_ERROR ||
            cs > SOLID_AT_MAX + (uint64_t)SOLID_MEMBER_MAX || !(f->buf = malloc(cs ? cs : 1)))
                return -1;
        k = ZSTD_decompressDCtx(d, f->buf, cs, in, loc->len);
        if (ZSTD_isError(k) || k != cs) {
                free(f->buf);
                f->buf = NULL;
                ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
                return -1;
        }
        f->n = cs;
        return 0;
}

int solid_frame_load(struct solid_frame *f, int fd, uint64_t fd_off, const struct object_loc *loc, uint64_t want,
                     struct gear_err *e)
{
        _cleanup_free_ char *in = NULL;
        ZSTD_DCtx *d = NULL;
        uint64_t done = 0;
        size_t left = 1, cap = 0;
        int rc = -1;

        if (f->buf && f->off == loc->off && f->len == loc->len && (f->n >= want || f->broken))
                return 0;
        solid_frame_free(f);
        if (loc->len > SOLID_FRAME_MAX || want > SOLID_AT_MAX + (uint64_t)SOLID_MEMBER_MAX)
                return gear_err_set(e, GEAR_EXIT_SYS, "the map names a solid frame larger than its limits");
        if (!(in = malloc(IN_BUF)) || !(d = ZSTD_createDCtx())) {
                rc = gear_err_sys(e, ENOMEM, "cannot decode a solid frame");
                goto out;
        }
        /* gear makes frames of a few MiB: a header asking for a larger window is refused */
        ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, SOLID_WINDOW_LOG_MAX);
        f->off = loc->off;
        f->len = loc->len;
        if (whole(f, d, fd, fd_off, loc) == 0)
                goto done;
        /* only what the members need is decoded: a frame that holds less is cut short */
        while (done < loc->len && f->n < want && left) {
                size_t k = loc->len - done < IN_BUF ? (size_t)(loc->len - done) : IN_BUF;
                ssize_t r = pread(fd, in, k, fd_off + done);
                ZSTD_inBuffer ib = { in, 0, 0 };
                if (r <= 0) {
                        rc = gear_err_sys(e, r < 0 ? errno : EIO, "cannot read a fetched solid frame");
                        goto out;
                }
                ib.size = r;
                while (ib.pos < ib.size && f->n < want && left) {
                        ZSTD_outBuffer ob;
                        /* the buffer grows with what decodes, up to want */
                        if (f->n == cap) {
                                size_t c = cap ? 2 * cap : 1u << 20;
                                unsigned char *p;
                                if (c > want)
                                        c = want;
                                if (!(p = realloc(f->buf, c))) {
                                        rc = gear_err_sys(e, ENOMEM, "cannot decode a solid frame");
                                        goto out;
                                }
                                f->buf = p;
                                cap = c;
                        }
                        ob = (ZSTD_outBuffer){ f->buf, cap, f->n };
                        left = ZSTD_decompressStream(d, &ob, &ib);
                        f->n = ob.pos;
                        if (ZSTD_isError(left)) {
                                /* what decoded before the fault still serves its members, each verified */
                                f->broken = true;
                                snprintf(f->why, sizeof f->why, "its solid frame does not decode past %zu bytes: %s",
                                         f->n, ZSTD_getErrorName(left));
                                rc = 0;
                                goto out;
                        }
                }
                done += r;
        }
done:
        rc = 0;
out:
        ZSTD_freeDCtx(d);
        if (rc < 0)
                solid_frame_free(f);
        return rc;
}

int solid_member_write(const struct solid_frame *f, const struct object_loc *loc, uint64_t size, int out,
                       struct gear_err *e)
{
        const unsigned char *p;
        void *z = NULL;
        size_t zn;
        int r;

        if (loc->at > f->n || size > f->n - loc->at)
                return gear_err_set(e, GEAR_EXIT_SYS, "%s", f->broken ? f->why : "its solid frame ends before it");
        p = f->buf + loc->at;
        /* raw, unless it looks like a stored zstd frame itself: that is stored compressed (store.h) */
        if (store_is_zstd(p, size)) {
                if (store_encode(p, size, &z, &zn, e) < 0)
                        return -1;
                r = write_all(out, z, zn);
                if (z != p)
                        free(z);
        } else {
                r = write_all(out, p, size);
        }
        if (r < 0)
                return gear_err_sys(e, -r, "cannot write the fetched object");
        return 0;
}

int solid_fetch_member(struct remote *r, const struct object_loc *loc, uint64_t size, int out, struct gear_err *e)
{
        _cleanup_close_ int fd = -1;
        struct solid_frame f = {0};
        int rc;

        if (loc->len > SOLID_FRAME_MAX || loc->at > SOLID_AT_MAX || size > SOLID_MEMBER_MAX)
                return gear_err_set(e, GEAR_EXIT_SYS, "the map names a solid frame larger than its limits");
        if ((fd = memfd_create("gear-frame", MFD_CLOEXEC)) < 0)
                return gear_err_sys(e, errno, "cannot fetch a solid frame");
        if (remote_fetch_range(r, loc->pack, loc->pack_size, loc->off, loc->len, fd, NULL, NULL, e) < 0)
                return -1;
        if (solid_frame_load(&f, fd, 0, loc, loc->at + size, e) < 0)
                return -1;
        rc = solid_member_write(&f, loc, size, out, e);
        solid_frame_free(&f);
        return rc;
}
