/*
 * unit tests: store specs, fetching from a directory store, object maps, origins.
 *
 * test-remote fetch SPEC HEX BLOB OUT [SIZE]: fetches one object with
 * remote_fetch_object (at most what a content of SIZE bytes can need, when
 * given), decodes and verifies it, writes its content to OUT; prints
 * "gear: MSG" and exits with the error's code when it fails (for the shell
 * tests against a registry). BLOB is sha256:HEX, a blob that is the stored
 * object, or sha256:HEX@OFF+LEN, LEN bytes at OFF of a pack.
 *
 * test-remote ranges SPEC PACK SIZE OFF+LEN,... OUT [TIMES]: the ranges of
 * pack sha256:PACK (SIZE bytes) with remote_fetch_ranges, one after the
 * other into OUT; TIMES times over (default 1) on one struct remote.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/base/digest.h"
#include "../../common/base/fsutil.h"
#include "../../common/remote/byteranges.h"
#include "../../common/remote/chunks.h"
#include "../../common/remote/registry-token.h"
#include "../../common/remote/remote-internal.h"
#include "../../common/store/store.h"

static int n, failed;

static void ok(int cond, const char *what)
{
        printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
        if (!cond)
                failed++;
}

/* fetch hex from r into a temp file, then decode and verify it into out (may be -1) */
static int fetch_verified(struct remote *r, const char *hex, const char *blob, uint64_t max, int out,
                          struct gear_err *e)
{
        struct object_loc loc = { .whole = true }, *lp = NULL;
        char dg[sizeof "sha256:" + 64];
        unsigned long long off, len;
        int used = -1;

        char tmp[] = "/tmp/test-remote.XXXXXX";
        struct store_reader *sr = NULL;
        char buf[65536];
        ssize_t k;
        int fd = mkstemp(tmp);

        if (fd < 0)
                return gear_err_sys(e, errno, "mkstemp");
        unlink(tmp);
        if (blob && sscanf(blob, "%71[^@]@%llu+%llu%n", dg, &off, &len, &used) == 3 &&
            used == (int)strlen(blob)) {
                loc = (struct object_loc){ .pack_size = off + len, .off = off, .len = len };
                blob = dg;
        }
        if (blob && digest_parse(blob, loc.pack))
                lp = &loc;
        if (remote_fetch_object(r, hex, lp, max, fd, e) < 0) {
                close(fd);
                return -1;
        }
        lseek(fd, 0, SEEK_SET);
        if (store_reader_fdopen(fd, hex, "fetched object", &sr, e) < 0)
                return -1;
        while ((k = store_reader_read(sr, buf, sizeof buf, e)) > 0)
                if (out >= 0 && write(out, buf, k) != k) {
                        store_reader_free(sr);
                        return gear_err_sys(e, errno, "write");
                }
        store_reader_free(sr);
        return k < 0 ? -1 : 0;
}

/* text refused by object_map_parse with code 111 and a message */
static void map_refused(const char *text, const char *what)
{
        struct gear_err e = {0};
        struct object_map *m = NULL;

        ok(object_map_parse(text, strlen(text), &m, &e) < 0 && e.code == GEAR_EXIT_SYS &&
           !strncmp(e.msg, "invalid object map", 18), what);
}


/* what object_map_after reports */
struct after {
        char hex[4][65];
        uint64_t off[4];
        size_t n;
};

static bool after_fn(void *ud, const char *hex, const struct object_loc *loc)
{
        struct after *a = ud;

        if (a->n < 4) {
                snprintf(a->hex[a->n], sizeof a->hex[a->n], "%s", hex);
                a->off[a->n++] = loc->off;
        }
        return a->n < 4;
}

static void packed_maps(void)
{
        const char *a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        const char *b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        const char *p = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
        const char *q = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
        char t[1024];
        struct gear_err e = {0};
        struct object_map *m = NULL;
        char *text = NULL, *back = NULL;
        void *blob = NULL;
        size_t n, bn, tn;

        snprintf(t, sizeof t, "pack\tsha256:%s\t10\n%s\t0\t4\n%s\t4\t6\n", p, a, b);
        ok(object_map_parse(t, strlen(t), &m, &e) == 0, "two contents in one pack");
        ok(object_map_format(m, &text, &n, &e) == 0 && n == strlen(t) && !memcmp(text, t, n), "formatted back the same");
        ok(object_map_encode(text, n, &blob, &bn, &e) == 0 && object_map_decode(blob, bn, &back, &tn, &e) == 0 &&
           tn == n && !memcmp(back, t, n), "compressed and back");
        ok(object_map_decode(blob, bn - 1, &back, &tn, &e) < 0 && e.code == GEAR_EXIT_SYS, "a cut blob is refused");
        gear_err_clear(&e);
        free(text);
        free(back);
        free(blob);
        object_map_free(m);
        /* read-around: what follows a content in its pack, within a window */
        {
                const char *c = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
                struct after got = {0};
                snprintf(t, sizeof t, "pack\tsha256:%s\t100\n%s\t0\t4\n%s\t4\t6\n%s\t10\t50\npack\tsha256:%s\t10\n%s\t0\t10\n",
                         p, b, a, c, q, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
                ok(object_map_parse(t, strlen(t), &m, &e) == 0, "three contents in one pack, one in another");
                ok(object_map_after(m, b, 60, after_fn, &got) == 2 && got.n == 2 && !strcmp(got.hex[0], a) &&
                   !strcmp(got.hex[1], c) && got.off[0] == 4 && got.off[1] == 10, "what follows, in offset order");
                got.n = 0;
                ok(object_map_after(m, b, 59, after_fn, &got) == 1 && !strcmp(got.hex[0], a),
                   "a content past the window is left out");
                got.n = 0;
                ok(object_map_after(m, c, 1000, after_fn, &got) == 0, "nothing follows the last of a pack");
                ok(object_map_after(m, q, 1000, after_fn, &got) == 0, "nor a content the map lacks");
                object_map_free(m);
                m = NULL;
        }
        /* the compact form a registry gets: contents by their place in the index */
        {
                digest_hex order[3];
                char *wire = NULL, *v2 = NULL;
                size_t nw, n2;
                memcpy(order[0], b, sizeof order[0]);
                memcpy(order[1], q, sizeof order[1]);
                memcpy(order[2], a, sizeof order[2]);
                snprintf(t, sizeof t, "pack\tsha256:%s\t20\n%s\t0\t4\n%s\t6\t6\n", p, a, b);
                ok(object_map_parse(t, strlen(t), &m, &e) == 0 && object_map_format_wire(m, order, 3, &wire, &nw, &e) == 0,
                   "compact form written");
                snprintf(t, sizeof t, "gear-map 3\t3\npack\tsha256:%s\t20\n3\t0\t4\n-2\t2\t6\n", p);
                ok(wire && nw == strlen(t) && !memcmp(wire, t, nw), "steps and gaps, not digests");
                ok(object_map_is_wire(wire, nw), "told apart from the second format");
                ok(object_map_from_wire(wire, nw, order, 3, &v2, &n2, &e) == 0, "read back");
                ok(object_map_wire_check(wire, nw, &e) == 0, "checked without the index");
                snprintf(t, sizeof t, "pack\tsha256:%s\t20\n%s\t0\t4\n%s\t6\t6\n", p, a, b);
                ok(v2 && n2 == strlen(t) && !memcmp(v2, t, n2), "the second format again");
                free(v2);
                v2 = NULL;
                ok(object_map_from_wire(wire, nw, order, 2, &v2, &n2, &e) < 0 && e.code == GEAR_EXIT_SYS,
                   "an index of another count is refused");
                gear_err_clear(&e);
                free(wire);
                ok(object_map_format_wire(m, order, 2, &wire, &nw, &e) < 0 && e.code == GEAR_EXIT_SYS,
                   "a content the index lacks is not written");
                gear_err_clear(&e);
                object_map_free(m);
                m = NULL;
                const char *bad[] = { "gear-map 3\t3\n1\t0\t4\n", "gear-map 3\t3\npack\tsha256:%s\t20\n4\t0\t4\n",
                                      "gear-map 3\t3\npack\tsha256:%s\t20\n0\t0\t4\n",
                                      "gear-map 3\t3\npack\tsha256:%s\t20\n1\t18446744073709551615\t4\n",
                                      "gear-map 3\t3\npack\tsha256:%s\t20\n-0\t0\t4\n", "gear-map 3\t3\npack\tsha256:%s\t20\n1\t0\t4",
                                      "gear-map 3\t3\npack\tsha256:%s\t20\n1\t0\t4\n0\t0\t4\n",
                                      "gear-map 3\t3\npack\tsha256:%s\t20\n1\t0\t1\n1\t0\t1\n-1\t0\t1\n" };
                const char *why[] = { "a content before any pack", "a step past the index", "a step below the first",
                                      "a gap that wraps", "a step of -0", "a last line without its newline",
                                      "a content named again at once (step 0)", "a content named again later" };
                for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                        char what[128];
                        snprintf(t, sizeof t, bad[i], p);
                        snprintf(what, sizeof what, "compact form: %s is refused", why[i]);
                        ok(object_map_from_wire(t, strlen(t), order, 3, &v2, &n2, &e) < 0 && e.code == GEAR_EXIT_SYS &&
                           strstr(e.msg, "invalid object map"), what);
                        gear_err_clear(&e);
                        snprintf(what, sizeof what, "compact form checked without the index: %s is refused", why[i]);
                        ok(object_map_wire_check(t, strlen(t), &e) < 0 && e.code == GEAR_EXIT_SYS &&
                           strstr(e.msg, "invalid object map"), what);
                        gear_err_clear(&e);
                }
                /* without the index, the count is held to what the largest map can name */
                snprintf(t, sizeof t, "gear-map 3\t%u\npack\tsha256:%s\t20\n0\t0\t4\n", REMOTE_MAP_MAX, p);
                ok(object_map_wire_check(t, strlen(t), &e) < 0 && e.code == GEAR_EXIT_SYS &&
                   strstr(e.msg, "invalid object map: line 1"), "compact form checked without the index: a count past the limit is refused");
                gear_err_clear(&e);
                snprintf(t, sizeof t, "gear-map 3\t9\npack\tsha256:%s\t20\n8\t0\t4\n", p);
                ok(object_map_wire_check(t, strlen(t), &e) == 0, "compact form checked without the index: its own count bounds the steps");
                snprintf(t, sizeof t, "gear-map 3\t9\npack\tsha256:%s\t20\n10\t0\t4\n", p);
                ok(object_map_wire_check(t, strlen(t), &e) < 0 && e.code == GEAR_EXIT_SYS,
                   "compact form checked without the index: a step to the count itself is refused");
                gear_err_clear(&e);
                snprintf(t, sizeof t, "gear-map 3\t%u\npack\tsha256:%s\t20\n1\t0\t4\n", REMOTE_MAP_MAX / (DIGEST_HEX_LEN + 4), p);
                ok(object_map_wire_check(t, strlen(t), &e) == 0, "compact form checked without the index: the largest count is taken");
                /* the rules of the second format hold for what it stands for */
                const char *rules[] = { "gear-map 3\t3\npack\tsha256:%s\t20\n1\t0\t40\n",
                                        "gear-map 3\t3\npack\tsha256:%s\t20\n1\t0\t4\npack\tsha256:%s\t20\n1\t0\t4\n",
                                        "gear-map 3\t3\npack\tsha256:%s\t20\npack\tsha256:%s\t30\n1\t0\t4\n",
                                        "gear-map 3\t3\npack\tsha256:nothex\t20\n1\t0\t4\n" };
                const char *broken[] = { "a content past the end of its pack", "a pack named twice",
                                         "a pack without a content", "a pack that is no digest" };
                for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
                        char what[128];
                        snprintf(t, sizeof t, rules[i], p, i == 2 ? a : p);
                        snprintf(what, sizeof what, "compact form checked without the index: %s is refused", broken[i]);
                        ok(object_map_wire_check(t, strlen(t), &e) < 0 && e.code == GEAR_EXIT_SYS &&
                           strstr(e.msg, "invalid object map"), what);
                        gear_err_clear(&e);
                }
        }
        /* solid frames: members of one zstd frame, by their offset in what it decodes to */
        {
                const char *c = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
                digest_hex order[4];
                struct object_loc loc;
                struct after got = {0};
                char *wire = NULL, *v2 = NULL;
                size_t nw, n2;
                snprintf(t, sizeof t, "pack\tsha256:%s\t100\n%s\t0\t4\n%s\t4\t50\t0\n%s\t4\t50\t300\n%s\t60\t40\n",
                         p, q, a, b, c);
                ok(object_map_parse(t, strlen(t), &m, &e) == 0, "a solid frame between two contents");
                ok(object_map_find(m, b, &loc) && loc.member && loc.off == 4 && loc.len == 50 && loc.at == 300,
                   "a member's frame and place in it");
                ok(object_map_find(m, c, &loc) && !loc.member && loc.off == 60, "a content after the frame is not one");
                ok(object_map_format(m, &text, &n, &e) == 0 && n == strlen(t) && !memcmp(text, t, n),
                   "formatted back the same");
                free(text);
                ok(object_map_after(m, b, 1, after_fn, &got) == 1 && !strcmp(got.hex[0], a),
                   "read-around of a member: the rest of its frame, whatever the window");
                got.n = 0;
                ok(object_map_after(m, q, 60, after_fn, &got) == 2 && !strcmp(got.hex[0], a) && !strcmp(got.hex[1], b),
                   "a frame within the window comes after a content");
                memcpy(order[0], q, sizeof order[0]);
                memcpy(order[1], c, sizeof order[1]);
                memcpy(order[2], a, sizeof order[2]);
                memcpy(order[3], b, sizeof order[3]);
                ok(object_map_format_wire(m, order, 4, &wire, &nw, &e) == 0, "compact form of a map with a frame");
                snprintf(t, sizeof t, "gear-map 4\t4\npack\tsha256:%s\t100\n1\t0\t4\n2\t0\t50\t0\n1\t300\n-2\t6\t40\n", p);
                ok(wire && nw == strlen(t) && !memcmp(wire, t, nw), "headed gear-map 4, the next member by its step");
                ok(object_map_from_wire(wire, nw, order, 4, &v2, &n2, &e) == 0, "read back");
                snprintf(t, sizeof t, "pack\tsha256:%s\t100\n%s\t0\t4\n%s\t4\t50\t0\n%s\t4\t50\t300\n%s\t60\t40\n",
                         p, q, a, b, c);
                ok(v2 && n2 == strlen(t) && !memcmp(v2, t, n2), "the second format again");
                free(v2);
                free(wire);
                object_map_free(m);
                m = NULL;
                snprintf(t, sizeof t, "gear-map 3\t4\npack\tsha256:%s\t100\n1\t0\t4\n2\t0\t50\t0\n", p);
                ok(object_map_from_wire(t, strlen(t), order, 4, &v2, &n2, &e) < 0 && e.code == GEAR_EXIT_SYS,
                   "a member in a gear-map 3 is refused");
                gear_err_clear(&e);
                snprintf(t, sizeof t, "gear-map 4\t4\npack\tsha256:%s\t100\n1\t0\t4\n1\t300\n", p);
                ok(object_map_from_wire(t, strlen(t), order, 4, &v2, &n2, &e) < 0 && e.code == GEAR_EXIT_SYS,
                   "a next member with no frame before is refused");
                gear_err_clear(&e);
                snprintf(t, sizeof t, "gear-map 4\t4\npack\tsha256:%s\t100\n1\t0\t50\t0\n1\t16777216\n", p);
                ok(object_map_from_wire(t, strlen(t), order, 4, &v2, &n2, &e) == 0 && v2, "at up to the limit");
                free(v2);
                snprintf(t, sizeof t, "gear-map 4\t4\npack\tsha256:%s\t100\n1\t0\t50\t0\n1\t16777217\n", p);
                ok(object_map_from_wire(t, strlen(t), order, 4, &v2, &n2, &e) < 0 && e.code == GEAR_EXIT_SYS,
                   "a member past the limit of a frame is refused");
                gear_err_clear(&e);
                snprintf(t, sizeof t, "pack\tsha256:%s\t100\n%s\t4\t50\t300\n%s\t4\t50\t0\n", p, a, b);
                map_refused(t, "members out of order are refused");
                snprintf(t, sizeof t, "pack\tsha256:%s\t100\n%s\t4\t50\t0\n%s\t20\t50\t0\n", p, a, b);
                map_refused(t, "overlapping frames are refused");
                snprintf(t, sizeof t, "pack\tsha256:%s\t100\n%s\t4\t50\t0\n%s\t30\t4\n", p, a, b);
                map_refused(t, "a content inside a frame is refused");
                snprintf(t, sizeof t, "pack\tsha256:%s\t100\n%s\t4\t0\t0\n", p, a);
                map_refused(t, "an empty frame is refused");
                snprintf(t, sizeof t, "pack\tsha256:%s\t100\n%s\t4\t50\t16777217\n", p, a);
                map_refused(t, "a member past the limit is refused");
                snprintf(t, sizeof t, "pack\tsha256:%s\t100\n%s\t60\t50\t0\n", p, a);
                map_refused(t, "a frame past its pack's end is refused");
                /* a frame of more members than SOLID_MEMBERS_MAX */
                {
                        size_t cap = 80 * (SOLID_MEMBERS_MAX + 2) + 128, k;
                        char *big = malloc(cap);
                        for (int extra = 0; extra < 2; extra++) {
                                k = snprintf(big, cap, "pack\tsha256:%s\t100\n", p);
                                for (int i = 0; i < SOLID_MEMBERS_MAX + extra; i++)
                                        k += snprintf(big + k, cap - k, "%064x\t4\t50\t%d\n", i, i);
                                if (extra)
                                        map_refused(big, "a frame of more than SOLID_MEMBERS_MAX members is refused");
                                else {
                                        ok(object_map_parse(big, k, &m, &e) == 0, "a frame of SOLID_MEMBERS_MAX members");
                                        object_map_free(m);
                                        m = NULL;
                                }
                        }
                        free(big);
                }
        }
        /* chunked contents: a content's frames, with the digests of what they decode to */
        {
                const char *c = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
                const char *found;
                digest_hex order[3];
                struct object_loc loc;
                char *wire = NULL, *v2 = NULL;
                size_t nw, n2;
                uint32_t k;
                snprintf(t, sizeof t,
                         "pack\tsha256:%s\t100\n%s\t0\t4\n%s\t4\t50\nchunk\t30\t1048576\t%s\nchunk\t20\t100\t%s\n%s\t60\t40\n",
                         p, q, a, b, c, a);
                map_refused(t, "a content named twice, once chunked, is refused");
                snprintf(t, sizeof t,
                         "pack\tsha256:%s\t100\n%s\t0\t4\n%s\t4\t50\nchunk\t30\t1048576\t%s\nchunk\t20\t100\t%s\n%s\t60\t40\n",
                         p, q, a, b, c, b);
                ok(object_map_parse(t, strlen(t), &m, &e) == 0, "a chunked content between two contents");
                ok(object_map_find(m, a, &loc) && loc.nchunks == 2 && loc.chunks[0].clen == 30 &&
                   loc.chunks[0].size == 1048576 && loc.chunks[1].coff == 30 && loc.chunks[1].uoff == 1048576 &&
                   !strcmp(loc.chunks[1].hex, c) && chunk_check(&loc, 1048676, &e) == 0,
                   "its chunks, their places and digests");
                ok(chunk_at(&loc, 0) == 0 && chunk_at(&loc, 1048575) == 0 && chunk_at(&loc, 1048576) == 1 &&
                   chunk_at(&loc, 1048675) == 1, "the chunk of an offset");
                ok(chunk_check(&loc, 1048677, &e) < 0 && e.code == GEAR_EXIT_SYS, "chunks short of the content's size are refused");
                gear_err_clear(&e);
                ok(object_map_find(m, q, &loc) && !loc.nchunks && object_map_find(m, b, &loc) && !loc.nchunks,
                   "the contents around it have none");
                ok(object_map_find_chunk(m, c, 0, &found, &k) == 1 && !strcmp(found, a) && k == 1 &&
                   !object_map_find_chunk(m, a, 0, &found, &k), "a chunk found by its digest");
                ok(object_map_format(m, &text, &n, &e) == 0 && n == strlen(t) && !memcmp(text, t, n),
                   "formatted back the same");
                free(text);
                memcpy(order[0], q, sizeof order[0]);
                memcpy(order[1], a, sizeof order[1]);
                memcpy(order[2], b, sizeof order[2]);
                ok(object_map_format_wire(m, order, 3, &wire, &nw, &e) == 0 && wire &&
                   !strncmp(wire, "gear-map 5\t3\n", 13), "compact form headed gear-map 5");
                ok(object_map_from_wire(wire, nw, order, 3, &v2, &n2, &e) == 0 && v2 && n2 == strlen(t) &&
                   !memcmp(v2, t, n2), "read back to the same text");
                free(v2);
                free(wire);
                object_map_free(m);
                m = NULL;
                snprintf(t, sizeof t, "gear-map 4\t3\npack\tsha256:%s\t100\n1\t4\t50\nchunk\t30\t100\t%s\nchunk\t20\t100\t%s\n", p,
                         b, c);
                ok(object_map_from_wire(t, strlen(t), order, 3, &v2, &n2, &e) < 0 && e.code == GEAR_EXIT_SYS,
                   "chunks in a gear-map 4 are refused");
                gear_err_clear(&e);
                const char *bad[] = {
                        "pack\tsha256:%s\t100\n%s\t4\t50\nchunk\t50\t100\t%s\n",
                        "pack\tsha256:%s\t100\n%s\t4\t50\nchunk\t30\t100\t%s\nchunk\t21\t100\t%s\n",
                        "pack\tsha256:%s\t100\n%s\t4\t50\nchunk\t30\t100\t%s\nchunk\t19\t100\t%s\n",
                        "pack\tsha256:%s\t100\n%s\t4\t50\nchunk\t30\t4194305\t%s\nchunk\t20\t100\t%s\n",
                        "pack\tsha256:%s\t100\n%s\t4\t50\nchunk\t0\t100\t%s\nchunk\t50\t100\t%s\n",
                        "pack\tsha256:%s\t100\n%s\t4\t50\nchunk\t30\t0\t%s\nchunk\t20\t100\t%s\n",
                        "pack\tsha256:%s\t100\n%s\t4\t50\t0\nchunk\t30\t100\t%s\nchunk\t20\t100\t%s\n",
                        "pack\tsha256:%s\t100\nchunk\t30\t100\t%s\nchunk\t20\t100\t%s\n%s\t4\t50\n",
                        "pack\tsha256:%s\t100\n%s\t4\t50\nchunk\t30\t100\t%s\nchunk\t20\t100\tXYZ%s\n",
                };
                const char *why[] = { "one chunk alone", "chunks longer than the content", "chunks shorter than it",
                                      "a chunk past CHUNK_SIZE_MAX", "an empty frame", "a frame of nothing",
                                      "chunks of a member", "chunks of no content", "a chunk without its digest" };
                for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                        char what[128];
                        if (i == 7)
                                snprintf(t, sizeof t, bad[i], p, b, c, a);
                        else
                                snprintf(t, sizeof t, bad[i], p, a, b, c);
                        snprintf(what, sizeof what, "chunks: %s is refused", why[i]);
                        map_refused(t, what);
                }
        }
        snprintf(t, sizeof t, "pack\tsha256:%s\t10\n%s\t0\t4\n%s\t3\t6\n", p, a, b);
        map_refused(t, "overlapping contents are refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t10\n%s\t4\t6\n%s\t0\t4\n", p, a, b);
        map_refused(t, "contents out of offset order are refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t10\n%s\t4\t7\n", p, a);
        map_refused(t, "a content past its pack's end is refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t10\n%s\t18446744073709551615\t2\n", p, a);
        map_refused(t, "an offset that wraps is refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t10\n%s\t0\t4\npack\tsha256:%s\t10\n%s\t0\t4\n", p, a, q, a);
        map_refused(t, "a content named twice is refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t10\n%s\t0\t4\npack\tsha256:%s\t10\n%s\t0\t4\n", p, a, p, b);
        map_refused(t, "a pack named twice is refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t10\npack\tsha256:%s\t10\n%s\t0\t4\n", p, q, a);
        map_refused(t, "a pack with no content is refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t2000000000000\n%s\t0\t4\n", p, a);
        map_refused(t, "a pack over 1 TiB is refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t010\n%s\t0\t4\n", p, a);
        map_refused(t, "a number with a leading zero is refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t10\n%s\t0\t4", p, a);
        map_refused(t, "a last line without its newline is refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t10\n%s\t0\t4\t1\t2\n", p, a);
        map_refused(t, "a line with a field too many is refused");
        snprintf(t, sizeof t, "pack\tsha256:%s\t10\n%s\tsha256:%s\n", p, a, q);
        map_refused(t, "a line of the first format in the second is refused");
}

static void specs(void)
{
        struct gear_err e = {0};
        struct remote *r = NULL;

        ok(remote_open("docker://", &r, &e) < 0 && e.code == GEAR_EXIT_USAGE, "docker:// without host is invalid");
        gear_err_clear(&e);
        ok(remote_open("docker://host:5000/Bad", &r, &e) < 0 && e.code == GEAR_EXIT_USAGE, "bad repository");
        gear_err_clear(&e);
        ok(remote_open("docker://host/repo:.x", &r, &e) < 0 && e.code == GEAR_EXIT_USAGE, "bad tag");
        gear_err_clear(&e);
        ok(remote_open("ftp://host/x", &r, &e) < 0 && e.code == GEAR_EXIT_USAGE, "unknown scheme");
        gear_err_clear(&e);
        ok(remote_open("dir:", &r, &e) < 0 && e.code == GEAR_EXIT_USAGE, "empty dir");
        gear_err_clear(&e);
        ok(remote_open("/nonexistent/store", &r, &e) < 0 && e.code == GEAR_EXIT_SYS, "missing dir");
        gear_err_clear(&e);
        ok(remote_open("docker://127.0.0.1:5000/a/b:v1", &r, &e) == 0, "registry spec");
        remote_free(r);
}

static void dir_store(void)
{
        char tmpl[] = "/tmp/test-remote-dir.XXXXXX", rel[STORE_REL_MAX], dir[STORE_REL_MAX], path[PATH_MAX];
        struct gear_root root = { .fd = -1 };
        struct gear_err e = {0};
        struct remote *r = NULL;
        const char *content = "hello, remote store\n";
        digest_hex hex, other;

        if (!mkdtemp(tmpl))
                return ok(0, "mkdtemp");
        snprintf(root.path, sizeof root.path, "%s", tmpl);
        root.fd = open(tmpl, O_RDONLY | O_DIRECTORY);
        digest_buf(content, strlen(content), hex, &e);
        digest_buf("x", 1, other, &e);
        store_object_rel(hex, rel);
        path_dirname(rel, dir, sizeof dir);
        mkdir_p_at(root.fd, dir, 0755, &e);
        ok(atomic_write(&root, rel, content, strlen(content), 0644, &e) == 0, "object written");
        snprintf(path, sizeof path, "dir:%s", tmpl);
        ok(remote_open(path, &r, &e) == 0, "dir store opens");
        ok(fetch_verified(r, hex, NULL, UINT64_MAX, -1, &e) == 0, "object fetched and verified");
        ok(fetch_verified(r, other, NULL, UINT64_MAX, -1, &e) < 0 && e.code == GEAR_EXIT_NO, "missing object: code 1");
        gear_err_clear(&e);
        ok(atomic_write(&root, rel, "hello, remote storf\n", strlen(content), 0644, &e) == 0, "object corrupted");
        ok(fetch_verified(r, hex, NULL, UINT64_MAX, -1, &e) < 0 && e.code == GEAR_EXIT_SYS, "corrupt object: digest mismatch");
        gear_err_clear(&e);
        remote_free(r);

        /* origin and map */
        char spec[256];
        struct object_map *m = NULL;
        struct object_loc loc;
        mkdir_p_at(root.fd, "images/a/t", 0755, &e);
        ok(image_origin(&root, "images/a/t", spec, sizeof spec, &e) == 0, "no origin: built here");
        ok(object_map_load(&root, "images/a/t", NULL, &m, &e) == 0 && !object_map_find(m, hex, &loc), "no map: empty");
        object_map_free(m);
        atomic_write(&root, "images/a/t/origin", "docker://h/a:t\n", 15, 0644, &e);
        ok(image_origin(&root, "images/a/t", spec, sizeof spec, &e) == 1 && !strcmp(spec, "docker://h/a:t"),
           "origin read");
        char map[4 * (64 + 1 + 71 + 1) + 1];
        /* unsorted on purpose: the loader sorts */
        snprintf(map, sizeof map, "%s\tsha256:%s\n%s\tsha256:%s\n", other, hex, hex, other);
        atomic_write(&root, "images/a/t/objects.map", map, strlen(map), 0644, &e);
        ok(object_map_load(&root, "images/a/t", NULL, &m, &e) == 0, "map loads");
        ok(object_map_find(m, hex, &loc) && loc.whole && !strcmp(loc.pack, other), "map lookup");
        ok(object_map_find(m, other, &loc) && loc.whole && !strcmp(loc.pack, hex), "map lookup, other");
        ok(!object_map_find(m, "0000000000000000000000000000000000000000000000000000000000000000", &loc), "map miss");
        ok(!object_map_packed(m), "a map of the first format has no packs");
        object_map_free(m);
        /* the second format: packs, offsets and lengths */
        snprintf(map, sizeof map, "pack\tsha256:%s\t100\n%s\t0\t0\n%s\t10\t90\n", other, other, hex);
        atomic_write(&root, "images/a/t/objects.map", map, strlen(map), 0644, &e);
        ok(object_map_load(&root, "images/a/t", NULL, &m, &e) == 0 && object_map_packed(m), "packed map loads");
        ok(object_map_find(m, hex, &loc) && !loc.whole && !strcmp(loc.pack, other) && loc.off == 10 && loc.len == 90 &&
           loc.pack_size == 100, "packed map lookup");
        ok(object_map_find(m, other, &loc) && loc.off == 0 && loc.len == 0, "an empty content");
        object_map_free(m);
        atomic_write(&root, "images/a/t/objects.map", "garbage\n", 8, 0644, &e);
        ok(object_map_load(&root, "images/a/t", NULL, &m, &e) < 0 && e.code == GEAR_EXIT_SYS, "bad map rejected");
        gear_err_clear(&e);
        store_rm_rf(AT_FDCWD, tmpl);
        close(root.fd);
}

/* the deadline of a registry transfer: none without a stall timeout, else bounded as libcurl takes it */
static void deadlines(void)
{
        ok(fetch_deadline(0, 1u << 20) == 0, "deadline: none when GEAR_FETCH_TIMEOUT is 0");
        ok(fetch_deadline(10, 0) == 11, "deadline: the stall timeout, and a second");
        ok(fetch_deadline(10, 100 * 4096) == 111, "deadline: and a second per 4 KiB");
        ok(fetch_deadline(10, UINT64_MAX) == FETCH_DEADLINE_MAX, "deadline: an unknown size, libcurl's most");
        ok(fetch_deadline(LONG_MAX, 1) == FETCH_DEADLINE_MAX, "deadline: a huge stall timeout, libcurl's most");
        ok(fetch_deadline(FETCH_DEADLINE_MAX - 2, 8192) == FETCH_DEADLINE_MAX, "deadline: no overflow at the edge");
}

/* what byteranges_feed kept */
struct kept {
        char buf[256];
        size_t n;
};

static bool keep_bytes(void *ud, const char *p, size_t k)
{
        struct kept *c = ud;

        if (k > sizeof c->buf - c->n)
                return false;
        memcpy(c->buf + c->n, p, k);
        c->n += k;
        return true;
}

/*
 * An answer for the ranges v (of the blob "0123456789abcdefghij..."), fed
 * whole and then a byte at a time: 0 with every range in and exactly want
 * kept, else -1 with the error's message in msg.
 */
static int answer(const struct byte_range *v, size_t n, const char *type, const char *range, const char *body,
                  const char *want, char *msg, size_t size)
{
        for (int bytewise = 0; bytewise < 2; bytewise++) {
                struct byteranges b;
                struct kept k = { .n = 0 };
                struct gear_err e = {0};
                size_t len = strlen(body);
                int r = byteranges_start(&b, v, n, type, range, &e);

                for (size_t i = 0; r == 0 && i < len; i += bytewise ? 1 : len)
                        r = byteranges_feed(&b, body + i, bytewise ? 1 : len, keep_bytes, &k, &e);
                if (r == 0 && !byteranges_done(&b))
                        r = gear_err_set(&e, GEAR_EXIT_SYS, "not done");
                if (r == 0 && (k.n != strlen(want) || memcmp(k.buf, want, k.n)))
                        r = gear_err_set(&e, GEAR_EXIT_SYS, "kept '%.*s'", (int)k.n, k.buf);
                if (r < 0) {
                        snprintf(msg, size, "%s", e.msg);
                        return -1;
                }
        }
        return 0;
}

#define MP "multipart/byteranges; boundary=XyZ"
#define PART(a, b, text) "--XyZ\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes " #a "-" #b "/36\r\n\r\n" text "\r\n"

/* the answers to a request for several ranges */
static void byteranges(void)
{
        static const struct byte_range v[] = { { 2, 3 }, { 10, 2 }, { 20, 4 } };
        char msg[512], hdr[64];

        ok(answer(v, 3, MP, "", PART(2, 4, "234") PART(10, 11, "ab") PART(20, 23, "klmn") "--XyZ--\r\n", "234abklmn",
                  msg, sizeof msg) == 0,
           "byteranges: a multipart answer, its parts in order, whole or a byte at a time");
        ok(answer(v, 3, "Multipart/Byteranges; charset=x; boundary=\"XyZ\"", "",
                  "\r\n" PART(2, 4, "234") PART(10, 11, "ab") PART(20, 23, "klmn") "--XyZ--  \r\nepilogue\r\n",
                  "234abklmn", msg, sizeof msg) == 0,
           "byteranges: a quoted boundary, blank lines before it, padding and an epilogue after the close");
        ok(answer(v, 3, MP, "", PART(2, 11, "23456789ab") PART(20, 23, "klmn") "--XyZ--\r\n", "234abklmn", msg,
                  sizeof msg) == 0,
           "byteranges: a part a server coalesced from two ranges: the bytes between them dropped");
        ok(answer(v, 3, "application/octet-stream", "bytes 2-23/36", "23456789abcdefghijklmn", "234abklmn", msg,
                  sizeof msg) == 0,
           "byteranges: a single-part answer covering them all");
        ok(answer(v, 3, MP, "", PART(10, 11, "ab") PART(2, 4, "234") PART(20, 23, "klmn") "--XyZ--\r\n", "", msg,
                  sizeof msg) < 0 && strstr(msg, "not the range asked for next"),
           "byteranges: parts out of order are refused");
        ok(answer(v, 3, MP, "", PART(3, 5, "345") PART(10, 11, "ab") PART(20, 23, "klmn") "--XyZ--\r\n", "", msg,
                  sizeof msg) < 0 && strstr(msg, "not the range asked for next"),
           "byteranges: a part for other bytes is refused");
        ok(answer(v, 3, MP, "", PART(2, 5, "2345") PART(10, 11, "ab") PART(20, 23, "klmn") "--XyZ--\r\n", "", msg,
                  sizeof msg) < 0 && strstr(msg, "does not end where"),
           "byteranges: a part longer than its range is refused");
        ok(answer(v, 3, MP, "", PART(2, 4, "234") PART(10, 11, "ab") "--XyZ--\r\n", "", msg, sizeof msg) < 0 &&
                   !strcmp(msg, "not done"),
           "byteranges: an answer that ends before the last range is not done");
        ok(answer(v, 3, MP, "", PART(2, 4, "234X") PART(10, 11, "ab") PART(20, 23, "klmn"), "", msg, sizeof msg) < 0 &&
                   strstr(msg, "where a boundary belongs"),
           "byteranges: a body longer than its Content-Range says is refused at the next line");
        ok(answer(v, 3, "multipart/byteranges", "", PART(2, 4, "234"), "", msg, sizeof msg) < 0 &&
                   strstr(msg, "no boundary"),
           "byteranges: a multipart answer without a boundary is refused");
        ok(answer(v, 3, MP, "", "--XyZ\r\nContent-Range: bytes -2-4/36\r\n\r\n234\r\n", "", msg, sizeof msg) < 0 &&
                   strstr(msg, "Content-Range 'bytes -2-4/36'"),
           "byteranges: a Content-Range that is not one is refused");
        ok(answer(v, 3, MP, "", "--XyZ\r\nContent-Range: bytes 2-4/3\r\n\r\n234\r\n", "", msg, sizeof msg) < 0,
           "byteranges: a Content-Range past the total it gives is refused");
        ok(answer(v, 3, "application/octet-stream", "bytes 2-23/36", "23456789abcdefghijklmnX", "", msg, sizeof msg) < 0 &&
                   strstr(msg, "longer than the range"),
           "byteranges: a single-part answer longer than its range is refused");
        ok(answer(v, 3, "application/octet-stream", "bytes 2-11/36", "23456789ab", "", msg, sizeof msg) < 0 &&
                   strstr(msg, "not done"),
           "byteranges: a single-part answer that does not cover every range is not done");
        {
                char body[8192];
                memset(body, 'x', sizeof body - 1);
                body[sizeof body - 1] = 0;
                ok(answer(v, 3, MP, "", body, "", msg, sizeof msg) < 0 && strstr(msg, "a line of more than"),
                   "byteranges: a framing line past its bound is refused");
                memset(body, '\n', sizeof body - 1);
                ok(answer(v, 3, MP, "", body, "", msg, sizeof msg) < 0 && strstr(msg, "more than its parts"),
                   "byteranges: endless framing is refused");
        }
        {
                static const struct byte_range far[] = { { 0, 1 }, { 100000, 1 } }, bad[] = { { 10, 2 }, { 11, 2 } };
                struct byteranges b;
                struct gear_err e = {0};
                ok(byteranges_start(&b, far, 2, "application/octet-stream", "bytes 0-100000/200000", &e) < 0 &&
                           strstr(e.msg, "more bytes between the ranges"),
                   "byteranges: a part coalesced across more than the ranges hold (and 64 KiB) is refused before its body");
                gear_err_clear(&e);
                ok(byteranges_start(&b, bad, 2, MP, "", &e) < 0 && e.code == GEAR_EXIT_USAGE,
                   "byteranges: ranges asked for that overlap are refused");
                gear_err_clear(&e);
                ok(byteranges_start(&b, v, 3, "multipart/byterangesX; boundary=XyZ", "", &e) < 0 &&
                           strstr(e.msg, "Content-Range ''"),
                   "byteranges: a type that only begins with multipart/byteranges is not one");
        }
        {
                char body[512];
                snprintf(body, sizeof body, "--XyZ\r\nContent-Range: bytes 2-4/%0200d\r\n\r\n234\r\n", 36);
                ok(answer(v, 3, MP, "", body, "", msg, sizeof msg) < 0 && strstr(msg, "a Content-Range of"),
                   "byteranges: a part's Content-Range too long to keep is refused, not cut");
        }
        ok(byteranges_header(v, 3, hdr, sizeof hdr) && !strcmp(hdr, "bytes=2-4,10-11,20-23"),
           "byteranges: the Range header names each range");
        ok(!byteranges_header(v, 3, hdr, 16), "byteranges: a Range header that does not fit is refused");
}

int main(int argc, char **argv)
{
        if ((argc == 6 || argc == 7) && !strcmp(argv[1], "fetch")) {
                /* BLOB "-": no location at all */
                struct gear_err e = {0};
                struct remote *r = NULL;
                uint64_t max = argc == 7 ? store_stored_max(strtoull(argv[6], NULL, 10)) : UINT64_MAX;
                int out = open(argv[5], O_WRONLY | O_CREAT | O_TRUNC, 0644);

                if (out < 0 || remote_open(argv[2], &r, &e) < 0 ||
                    fetch_verified(r, argv[3], argv[4], max, out, &e) < 0) {
                        fprintf(stderr, "gear: %s\n", out < 0 ? "cannot open output" : e.msg);
                        return out < 0 ? 111 : e.code;
                }
                remote_free(r);
                return 0;
        }
        if ((argc == 7 || argc == 8) && !strcmp(argv[1], "ranges")) {
                struct byte_range v[BYTERANGES_MAX + 1];
                struct gear_err e = {0};
                struct remote *r = NULL;
                unsigned long long off, len;
                size_t nv = 0;
                int times = argc == 8 ? atoi(argv[7]) : 1, out = -1, used;

                for (const char *p = argv[5]; *p && nv < ELEMENTSOF(v); p += used + (p[used] == ',')) {
                        if (sscanf(p, "%llu+%llu%n", &off, &len, &used) != 2)
                                return 2;
                        v[nv++] = (struct byte_range){ off, len };
                }
                if (remote_open(argv[2], &r, &e) < 0)
                        goto ranges_failed;
                for (int i = 0; i < times; i++) {
                        if (out >= 0)
                                close(out);
                        if ((out = open(argv[6], O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
                                gear_err_sys(&e, errno, "cannot open output");
                                goto ranges_failed;
                        }
                        if (remote_fetch_ranges(r, argv[3], strtoull(argv[4], NULL, 10), v, nv, out, NULL, NULL, &e) < 0)
                                goto ranges_failed;
                }
                remote_free(r);
                return 0;
        ranges_failed:
                fprintf(stderr, "gear: %s\n", e.msg);
                return e.code;
        }
        specs();
        dir_store();
        packed_maps();
        deadlines();
        byteranges();
        printf("1..%d\n", n);
        return failed ? 1 : 0;
}
