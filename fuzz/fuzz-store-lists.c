/*
 * libFuzzer target for the lists a store hands gear-pull: an access list is
 * accepted only when it is lines of 64 lowercase hex digits (access runs only
 * in their one form), and an object
 * map (either format, compressed or not) only when lookups find every
 * content it names where its line puts it, inside the pack it is in (a
 * member of a solid frame within the limits of a frame, a chunked content
 * with every chunk its line names); a map
 * of the compact form, read against a small index of known digests, only
 * when what it stands for is such a map.
 * Anything else is refused with code 111, without a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/remote/chunks.h"
#include "../common/remote/image-fetch.h"
#include "../common/remote/remote-internal.h"

static void check_access(const char *s, size_t len)
{
        struct gear_err e = {0};

        if (access_list_check(s, len, &e) < 0) {
                if (e.code != GEAR_EXIT_SYS || !e.msg[0])
                        abort();
                return;
        }
        if (len % (DIGEST_HEX_LEN + 1))
                abort();
        for (size_t i = 0; i < len; i++)
                if ((i + 1) % (DIGEST_HEX_LEN + 1) ? !strchr("0123456789abcdef", s[i]) || !s[i] : s[i] != '\n')
                        abort();
}

/* access runs are taken only in their one form: written out again, they are the same bytes */
static void check_runs(const char *s, size_t len)
{
        struct gear_err e = {0};
        struct access_run *v = NULL;
        char *out = NULL;
        size_t n = 0, olen = 0;
        FILE *f;

        if (access_runs_parse(s, len, &v, &n, &e) < 0) {
                if (e.code != GEAR_EXIT_SYS || strncmp(e.msg, "invalid access runs: line ", 26))
                        abort();
                return;
        }
        if (!(f = open_memstream(&out, &olen)))
                abort();
        for (size_t i = 0; i < n; i++) {
                if (strlen(v[i].hex) != DIGEST_HEX_LEN || v[i].off % ACCESS_RUN_UNIT || (v[i].off && !v[i].len))
                        abort();
                if (v[i].len)
                        fprintf(f, "%s %llu %llu\n", v[i].hex, (unsigned long long)v[i].off, (unsigned long long)v[i].len);
                else
                        fprintf(f, "%s\n", v[i].hex);
        }
        fclose(f);
        if (olen != len || memcmp(out, s, len))
                abort();
        free(out);
        free(v);
}

/* a number of an accepted map: digits only */
static uint64_t num(const char *p, size_t n)
{
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = v * 10 + (p[i] - '0');
        return v;
}

static void check_map(const char *s, size_t len)
{
        struct gear_err e = {0};
        struct object_map *m = NULL;
        struct object_loc loc, pack = {0}, last = {0};
        char hex[DIGEST_HEX_LEN + 1];
        uint32_t nth = 0;

        if (object_map_parse(s, len, &m, &e) < 0) {
                if (e.code != GEAR_EXIT_SYS || strncmp(e.msg, "invalid object map", 18))
                        abort();
                return;
        }
        /* every content line is found again, where the line puts it, inside its pack */
        for (const char *p = s, *end = s + len; p < end;) {
                const char *nl = memchr(p, '\n', end - p), *t1, *t2;
                size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

                t1 = memchr(p, '\t', l);
                if (!t1)
                        abort();
                if (t1 - p == 5 && !memcmp(p, "chunk", 5)) {
                        /* a frame of the content of the lines before: as the loc of that content says */
                        const struct map_chunk *c;
                        if (!last.nchunks || nth >= last.nchunks)
                                abort();
                        c = &last.chunks[nth++];
                        t2 = memchr(t1 + 1, '\t', p + l - t1 - 1);
                        if (!t2 || c->clen != num(t1 + 1, t2 - t1 - 1) || !c->clen || !c->size ||
                            c->size > CHUNK_SIZE_MAX || memcmp(c->hex, p + l - DIGEST_HEX_LEN, DIGEST_HEX_LEN) ||
                            c->coff + c->clen > last.len || (nth == last.nchunks && c->coff + c->clen != last.len))
                                abort();
                } else if (t1 - p == 4 && !memcmp(p, "pack", 4)) {
                        t2 = memchr(t1 + 1, '\t', p + l - t1 - 1);
                        if (!t2 || t2 - t1 - 1 != 7 + DIGEST_HEX_LEN)
                                abort();
                        memcpy(pack.pack, t1 + 8, DIGEST_HEX_LEN);
                        pack.pack[DIGEST_HEX_LEN] = 0;
                        pack.pack_size = num(t2 + 1, p + l - t2 - 1);
                } else {
                        if (t1 - p != DIGEST_HEX_LEN)
                                abort();
                        memcpy(hex, p, DIGEST_HEX_LEN);
                        hex[DIGEST_HEX_LEN] = 0;
                        if (!object_map_find(m, hex, &loc) || (last.nchunks && nth != last.nchunks))
                                abort();
                        last = loc;
                        nth = 0;
                        if (loc.whole) {
                                if (memcmp(loc.pack, t1 + 8, DIGEST_HEX_LEN))
                                        abort();
                        } else {
                                const char *t3;
                                t2 = memchr(t1 + 1, '\t', p + l - t1 - 1);
                                if (!t2)
                                        abort();
                                /* a member of a solid frame: its place in what the frame decodes to */
                                t3 = memchr(t2 + 1, '\t', p + l - t2 - 1);
                                if (!t3 != !loc.member || (t3 && (loc.at != num(t3 + 1, p + l - t3 - 1) ||
                                                                   loc.at > SOLID_AT_MAX || !loc.len ||
                                                                   loc.len > SOLID_FRAME_MAX)))
                                        abort();
                                if (strcmp(loc.pack, pack.pack) || loc.pack_size != pack.pack_size ||
                                    loc.off != num(t1 + 1, t2 - t1 - 1) ||
                                    loc.len != num(t2 + 1, (t3 ? t3 : p + l) - t2 - 1) ||
                                    loc.off > loc.pack_size || loc.len > loc.pack_size - loc.off ||
                                    loc.pack_size > REMOTE_PACK_MAX)
                                        abort();
                        }
                }
                p += l + 1;
        }
        if (last.nchunks && nth != last.nchunks)
                abort();
        object_map_free(m);
}

/* a map blob: decoded within its bound, or refused */
static void check_blob(const char *s, size_t len)
{
        struct gear_err e = {0};
        char *text = NULL;
        size_t n = 0;

        if (object_map_decode(s, len, &text, &n, &e) < 0) {
                if (e.code != GEAR_EXIT_SYS || !e.msg[0])
                        abort();
                return;
        }
        if (n > REMOTE_MAP_MAX || text[n])
                abort();
        check_map(text, n);
        free(text);
}

/* the compact form against an index of 4 contents: refused, or a map of the second format that checks */
static void check_wire(const char *s, size_t len)
{
        static const digest_hex order[4] = {
                "0000000000000000000000000000000000000000000000000000000000000000",
                "1111111111111111111111111111111111111111111111111111111111111111",
                "2222222222222222222222222222222222222222222222222222222222222222",
                "3333333333333333333333333333333333333333333333333333333333333333",
        };
        struct gear_err e = {0}, ce = {0};
        char *text = NULL;
        size_t n = 0;
        /* gear-pull's check, without the index: refuses no map the index accepts */
        int checked = object_map_wire_check(s, len, &ce);

        /* its own rules, or those of the text it stands for ("expanded: invalid object map: ...") */
        if (checked < 0 && (ce.code != GEAR_EXIT_SYS || (strncmp(ce.msg, "invalid object map", 18) &&
                                                         strncmp(ce.msg, "expanded: invalid object map", 28))))
                abort();
        if (object_map_from_wire(s, len, order, 4, &text, &n, &e) < 0) {
                if (e.code != GEAR_EXIT_SYS || strncmp(e.msg, "invalid object map", 18))
                        abort();
                return;
        }
        /* with the index's count, the check and the expanded map agree: distinct stand-ins, distinct digests */
        {
                struct object_map *m = NULL;
                int parsed = object_map_parse(text, n, &m, &e);
                object_map_free(m);
                if ((parsed == 0) != (checked == 0))
                        abort();
        }
        if (n > REMOTE_MAP_MAX)
                abort();
        check_map(text, n);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        check_access((const char *)data, size);
        check_runs((const char *)data, size);
        check_map((const char *)data, size);
        check_blob((const char *)data, size);
        check_wire((const char *)data, size);
        return 0;
}
