/*
 * Object maps: where a registry keeps each content of an image.
 *
 * The second format (packs, what gear-push writes) is text, one record a
 * line, fields separated by a tab:
 *
 *   pack<TAB>sha256:PACK_HEX<TAB>SIZE        a blob of SIZE bytes
 *   CONTENT_HEX<TAB>OFFSET<TAB>LENGTH        a content in the pack above
 *   CONTENT_HEX<TAB>OFFSET<TAB>LENGTH<TAB>AT a member of a solid frame
 *
 * Each pack line is followed by its contents in offset order, none
 * overlapping, each inside the pack's declared size (an empty content has
 * length 0). A solid frame is one zstd frame of LENGTH bytes at OFFSET,
 * of several contents one after the other: its members' lines follow each
 * other, with the frame's OFFSET and LENGTH, in the order of their AT, the
 * offset of the content in what the frame decodes to (its length is the
 * content's size, which the index gives). The first format has
 * one line "CONTENT_HEX<TAB>sha256:BLOB_HEX" per content, whose blob is
 * its stored bytes alone. A registry gets the text zstd-compressed; an image
 * directory keeps what the registry sent, decompressed (objects.map), and
 * gear-index -m prints it as text, for cut and grep.
 *
 * A content of the second format may be followed by the frames it is
 * stored as (a chunked content, chunks.h), in order, which together are its
 * LENGTH bytes:
 *
 *   chunk<TAB>CLEN<TAB>SIZE<TAB>CHUNK_HEX   a zstd frame of CLEN bytes that
 *                                           decodes to SIZE bytes of digest CHUNK_HEX
 *
 * A map is data from a store: every number is checked, a content named
 * twice, a pack named twice, a pack with no content or contents out of
 * order are refused.
 *
 * In a registry, a map of the second format travels in a compact form (the
 * third), which names contents by their place in the image's index instead
 * of their digests (the index has them already, and digests do not
 * compress):
 *
 *   gear-map 3<TAB>N                         N: the index's distinct contents
 *   pack<TAB>sha256:PACK_HEX<TAB>SIZE        as above
 *   STEP<TAB>GAP<TAB>LENGTH                  a content in the pack above
 *   STEP<TAB>GAP<TAB>LENGTH<TAB>AT           the first member of a solid frame
 *   STEP<TAB>DAT                             the next member of that frame
 *
 * The contents of the index are numbered from 0 in the order of their
 * first file in path order; STEP is a content's number less the one of the
 * line before (the first: less -1), GAP the bytes between the end of the
 * content before in the pack (the first: the pack's start) and its offset.
 * gear-push lays packs out mostly in path order, so the lines are mostly
 * "1<TAB>0<TAB>LENGTH". gear-pull checks it with each content standing in
 * as its number (object_map_wire_check) and keeps it; loading it with the
 * index turns it back into the second format. DAT is a member's AT less
 * the one of the member before. Chunk lines follow their content's line as
 * in the second format. A map with chunks is headed "gear-map 5", else one
 * with solid frames "gear-map 4", which earlier versions refuse; one with
 * neither, "gear-map 3".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "chunks.h"
#include "remote-internal.h"
#include "../base/fsutil.h"
#include "../image/image.h"
#include "../image/image-tree.h"
#include "../store/store.h"

#define PACK_WORD "pack\t"
#define CHUNK_WORD "chunk\t"

static void entry_loc(const struct object_map *m, const struct map_entry *x, struct object_loc *loc)
{
        memcpy(loc->pack, m->packs[x->pack].hex, sizeof loc->pack);
        loc->pack_size = m->packs[x->pack].size;
        loc->off = x->off;
        loc->len = x->len;
        loc->whole = m->whole;
        loc->member = x->member;
        loc->at = x->at;
        loc->chunks = x->nchunks ? m->chunks + x->chunk0 : NULL;
        loc->nchunks = x->nchunks;
}

static int entry_cmp(const void *a, const void *b)
{
        return strcmp(((const struct map_entry *)a)->hex, ((const struct map_entry *)b)->hex);
}

static int pack_hex_cmp(const void *a, const void *b)
{
        return strcmp(((const struct map_pack *)a)->hex, ((const struct map_pack *)b)->hex);
}

int object_map_new(struct object_map **m, struct gear_err *e)
{
        if (!(*m = calloc(1, sizeof **m)))
                return gear_err_sys(e, ENOMEM, "cannot make an object map");
        return 0;
}

void object_map_free(struct object_map *m)
{
        if (!m)
                return;
        free(m->packs);
        free(m->v);
        free(m->chunks);
        free(m->chunk_owner);
        free(m->chunk_by_hex);
        free(m->by_off);
        free(m->rank);
        free(m);
}

int object_map_add_pack(struct object_map *m, const char *hex, uint64_t size, struct gear_err *e)
{
        if (m->npacks >= UINT32_MAX || array_room((void **)&m->packs, &m->cap_packs, m->npacks, sizeof *m->packs) < 0)
                return gear_err_sys(e, ENOMEM, "cannot make an object map");
        memcpy(m->packs[m->npacks].hex, hex, sizeof(digest_hex));
        m->packs[m->npacks].size = size;
        return (int)m->npacks++;
}

int object_map_add(struct object_map *m, const char *hex, uint32_t pack, uint64_t off, uint64_t len,
                   struct gear_err *e)
{
        if (array_room((void **)&m->v, &m->cap, m->n, sizeof *m->v) < 0)
                return gear_err_sys(e, ENOMEM, "cannot make an object map");
        memcpy(m->v[m->n].hex, hex, sizeof(digest_hex));
        m->v[m->n].pack = pack;
        m->v[m->n].off = off;
        m->v[m->n].len = len;
        m->v[m->n].member = false;
        m->v[m->n].at = 0;
        m->v[m->n].chunk0 = m->v[m->n].nchunks = 0;
        m->n++;
        m->sorted = false;
        return 0;
}

int object_map_add_member(struct object_map *m, const char *hex, uint32_t pack, uint64_t off, uint64_t len,
                          uint64_t at, struct gear_err *e)
{
        if (object_map_add(m, hex, pack, off, len, e) < 0)
                return -1;
        m->v[m->n - 1].member = true;
        m->v[m->n - 1].at = at;
        return 0;
}

int object_map_add_chunk(struct object_map *m, uint32_t clen, uint32_t size, const char *hex, struct gear_err *e)
{
        struct map_entry *x = m->n ? &m->v[m->n - 1] : NULL;
        struct map_chunk *c, *before;

        if (!x || x->member || x->nchunks >= CHUNKS_MAX)
                return gear_err_set(e, GEAR_EXIT_SYS, "invalid object map: a chunk of no content");
        if (array_room((void **)&m->chunks, &m->cap_chunks, m->nchunks, sizeof *m->chunks) < 0)
                return gear_err_sys(e, ENOMEM, "cannot make an object map");
        if (!x->nchunks)
                x->chunk0 = (uint32_t)m->nchunks;
        before = x->nchunks ? &m->chunks[m->nchunks - 1] : NULL;
        c = &m->chunks[m->nchunks++];
        c->coff = before ? before->coff + before->clen : 0;
        c->uoff = before ? before->uoff + before->size : 0;
        c->clen = clen;
        c->size = size;
        memcpy(c->hex, hex, sizeof c->hex);
        x->nchunks++;
        return 0;
}

int object_map_add_chunks(struct object_map *m, const struct object_loc *loc, struct gear_err *e)
{
        for (uint32_t i = 0; i < loc->nchunks; i++)
                if (object_map_add_chunk(m, loc->chunks[i].clen, loc->chunks[i].size, loc->chunks[i].hex, e) < 0)
                        return -1;
        return 0;
}

/* a decimal number of a map: digits only, no leading zero, no overflow */
static bool parse_u64(const char *p, size_t n, uint64_t *v)
{
        uint64_t x = 0;

        if (!n || n > 20 || (n > 1 && p[0] == '0'))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9' || x > (UINT64_MAX - (p[i] - '0')) / 10)
                        return false;
                x = x * 10 + (p[i] - '0');
        }
        *v = x;
        return true;
}

/* the tab-separated fields of line (n bytes) into f: false unless there are exactly nf */
static bool fields(const char *line, size_t n, const char *f[], size_t len[], size_t nf)
{
        size_t k = 0, start = 0;

        for (size_t i = 0; i <= n; i++)
                if (i == n || line[i] == '\t') {
                        if (k == nf)
                                return false;
                        f[k] = line + start;
                        len[k++] = i - start;
                        start = i + 1;
                }
        return k == nf;
}

static bool hex_field(const char *p, size_t n, digest_hex hex)
{
        if (n != DIGEST_HEX_LEN)
                return false;
        memcpy(hex, p, DIGEST_HEX_LEN);
        hex[DIGEST_HEX_LEN] = 0;
        return digest_hex_valid(hex);
}

/* the first format: CONTENT_HEX<TAB>sha256:BLOB_HEX lines (the last one may lack its newline) */
static int parse_v1(struct object_map *m, const char *buf, size_t len, size_t *line, struct gear_err *e)
{
        const char *p = buf, *end = buf + len;

        m->whole = true;
        for (*line = 1; p < end; (*line)++) {
                const char *nl = memchr(p, '\n', end - p), *f[2];
                size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), fl[2];
                char blob[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN];
                digest_hex hex, bhex;
                int k;

                if (!fields(p, l, f, fl, 2) || !hex_field(f[0], fl[0], hex) || fl[1] >= sizeof blob)
                        return -1;
                memcpy(blob, f[1], fl[1]);
                blob[fl[1]] = 0;
                if (!digest_parse(blob, bhex))
                        return -1;
                if ((k = object_map_add_pack(m, bhex, 0, e)) < 0 || object_map_add(m, hex, k, 0, 0, e) < 0)
                        return -2;
                p += l + 1;
        }
        return 0;
}

/* the second format; every line ends with a newline */
static int parse_v2(struct object_map *m, const char *buf, size_t len, size_t *line, struct gear_err *e)
{
        const char *p = buf, *end = buf + len;
        uint64_t pack_end = 0, next = 0, frame_off = 0, frame_len = 0, at = 0, chunked = 0;
        size_t members = 0, in_this = 0;
        bool in_frame = false, may_chunk = false;

        for (*line = 1; p < end; (*line)++) {
                const char *nl = memchr(p, '\n', end - p), *f[4];
                size_t l, fl[4], nf = 3;
                digest_hex hex;
                uint64_t a, b, c;

                if (!nl)
                        return -1;
                l = nl - p;
                if (!fields(p, l, f, fl, 3) && !fields(p, l, f, fl, (nf = 4)))
                        return -1;
                if (nf == 4 && fl[0] == strlen(CHUNK_WORD) - 1 && !memcmp(f[0], CHUNK_WORD, fl[0])) {
                        /* a frame of the content of the line before: together they are its length */
                        struct map_entry *x;
                        if (!may_chunk)
                                return -1;
                        x = &m->v[m->n - 1];
                        if (!parse_u64(f[1], fl[1], &a) || !parse_u64(f[2], fl[2], &b) ||
                            !hex_field(f[3], fl[3], hex) || !a || !b || b > CHUNK_SIZE_MAX ||
                            a > ZSTD_compressBound(b) || a > x->len - chunked)
                                return -1;
                        if (object_map_add_chunk(m, (uint32_t)a, (uint32_t)b, hex, e) < 0)
                                return e->code == GEAR_EXIT_SYS && x->nchunks >= CHUNKS_MAX ? -1 : -2;
                        chunked += a;
                        p = nl + 1;
                        continue;
                }
                /* a content's chunks, when it has any, are the whole of it, two at least */
                if (may_chunk && chunked && (chunked != m->v[m->n - 1].len || m->v[m->n - 1].nchunks < 2))
                        return -1;
                may_chunk = false;
                chunked = 0;
                if (nf == 4) {
                        /* a member: of the frame of the line before, after it; or of a new frame */
                        if (!m->npacks || !hex_field(f[0], fl[0], hex) || !parse_u64(f[1], fl[1], &a) ||
                            !parse_u64(f[2], fl[2], &b) || !parse_u64(f[3], fl[3], &c) || c > SOLID_AT_MAX)
                                return -1;
                        if (in_frame && a == frame_off && b == frame_len) {
                                if (c < at || ++in_this > SOLID_MEMBERS_MAX)
                                        return -1;
                        } else if (a < next || a > pack_end || b > pack_end - a || !b || b > SOLID_FRAME_MAX) {
                                return -1;
                        } else {
                                in_this = 1;
                        }
                        if (object_map_add_member(m, hex, m->npacks - 1, a, b, c, e) < 0)
                                return -2;
                        in_frame = true;
                        frame_off = a;
                        frame_len = b;
                        at = c;
                        next = a + b;
                        members++;
                        p = nl + 1;
                        continue;
                }
                in_frame = false;
                if (fl[0] == 4 && !memcmp(f[0], "pack", 4)) {
                        char blob[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN];
                        int k;

                        if ((m->npacks && !members) || fl[1] >= sizeof blob || !parse_u64(f[2], fl[2], &a) ||
                            a > REMOTE_PACK_MAX)
                                return -1;
                        memcpy(blob, f[1], fl[1]);
                        blob[fl[1]] = 0;
                        if (!digest_parse(blob, hex))
                                return -1;
                        if ((k = object_map_add_pack(m, hex, a, e)) < 0)
                                return -2;
                        pack_end = a;
                        next = 0;
                        members = 0;
                } else {
                        /* in offset order, not overlapping, inside the pack */
                        if (!m->npacks || !hex_field(f[0], fl[0], hex) || !parse_u64(f[1], fl[1], &a) ||
                            !parse_u64(f[2], fl[2], &b) || a < next || a > pack_end || b > pack_end - a)
                                return -1;
                        if (object_map_add(m, hex, m->npacks - 1, a, b, e) < 0)
                                return -2;
                        next = a + b;
                        members++;
                        may_chunk = true;
                }
                p = nl + 1;
        }
        if (may_chunk && chunked && (chunked != m->v[m->n - 1].len || m->v[m->n - 1].nchunks < 2))
                return -1;
        return m->npacks && !members ? -1 : 0;
}

static int entry_pack_off(const struct map_entry *x, const struct map_entry *y)
{
        if (x->pack != y->pack)
                return x->pack < y->pack ? -1 : 1;
        if (x->off != y->off)
                return x->off < y->off ? -1 : 1;
        /* an empty content first: the next one starts where it is */
        if (x->len != y->len)
                return x->len < y->len ? -1 : 1;
        /* the members of a frame in the order of what it decodes to */
        if (x->member != y->member)
                return x->member ? 1 : -1;
        return (x->at > y->at) - (x->at < y->at);
}

static int by_pack_off(const void *a, const void *b, void *ud)
{
        const struct map_entry *v = ud;

        return entry_pack_off(&v[*(const size_t *)a], &v[*(const size_t *)b]);
}

static int by_pack_off32(const void *a, const void *b, void *ud)
{
        const struct map_entry *v = ud;

        return entry_pack_off(&v[*(const uint32_t *)a], &v[*(const uint32_t *)b]);
}

/* the contents of a packed map in pack and offset order, for object_map_after */
static int index_offsets(struct object_map *m, struct gear_err *e)
{
        free(m->by_off);
        free(m->rank);
        m->by_off = m->rank = NULL;
        if (m->whole || !m->n || m->n > UINT32_MAX)
                return 0;
        if (!(m->by_off = malloc(m->n * sizeof *m->by_off)) || !(m->rank = malloc(m->n * sizeof *m->rank)))
                return gear_err_sys(e, ENOMEM, "cannot read the object map");
        for (size_t i = 0; i < m->n; i++)
                m->by_off[i] = (uint32_t)i;
        qsort_r(m->by_off, m->n, sizeof *m->by_off, by_pack_off32, m->v);
        for (size_t k = 0; k < m->n; k++)
                m->rank[m->by_off[k]] = (uint32_t)k;
        return 0;
}

static int chunk_hex_cmp(const void *a, const void *b, void *ud)
{
        const struct map_chunk *c = ud;

        return strcmp(c[*(const uint32_t *)a].hex, c[*(const uint32_t *)b].hex);
}

/* who each chunk is of, and the chunks by digest, for object_map_find_chunk */
static int index_chunks(struct object_map *m, struct gear_err *e)
{
        free(m->chunk_owner);
        free(m->chunk_by_hex);
        m->chunk_owner = m->chunk_by_hex = NULL;
        if (!m->nchunks)
                return 0;
        if (m->nchunks > UINT32_MAX || m->n > UINT32_MAX || !(m->chunk_owner = malloc(m->nchunks * sizeof(uint32_t))) ||
            !(m->chunk_by_hex = malloc(m->nchunks * sizeof(uint32_t))))
                return gear_err_sys(e, ENOMEM, "cannot read the object map");
        for (size_t i = 0; i < m->n; i++)
                for (uint32_t k = 0; k < m->v[i].nchunks; k++)
                        m->chunk_owner[m->v[i].chunk0 + k] = (uint32_t)i;
        for (size_t i = 0; i < m->nchunks; i++)
                m->chunk_by_hex[i] = (uint32_t)i;
        qsort_r(m->chunk_by_hex, m->nchunks, sizeof *m->chunk_by_hex, chunk_hex_cmp, m->chunks);
        return 0;
}

size_t object_map_find_chunk(const struct object_map *m, const char *hex, size_t i, const char **content,
                             uint32_t *k)
{
        size_t lo = 0, hi, n = 0;

        if (!m || !m->chunk_by_hex || !digest_hex_valid(hex))
                return 0;
        /* the first chunk whose digest is not below hex, then those equal to it */
        for (hi = m->nchunks; lo < hi;) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(m->chunks[m->chunk_by_hex[mid]].hex, hex) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        while (lo + n < m->nchunks && !strcmp(m->chunks[m->chunk_by_hex[lo + n]].hex, hex))
                n++;
        if (i < n) {
                uint32_t c = m->chunk_by_hex[lo + i];
                const struct map_entry *x = &m->v[m->chunk_owner[c]];
                *content = x->hex;
                *k = c - x->chunk0;
        }
        return n;
}

int object_map_index(struct object_map *m, struct gear_err *e)
{
        _cleanup_free_ struct map_pack *p = NULL;

        if (m->n)
                qsort(m->v, m->n, sizeof *m->v, entry_cmp);
        m->sorted = true;
        for (size_t i = 1; i < m->n; i++)
                if (!strcmp(m->v[i - 1].hex, m->v[i].hex))
                        return gear_err_set(e, GEAR_EXIT_SYS, "invalid object map: content %.12s named twice",
                                            m->v[i].hex);
        if (index_offsets(m, e) < 0 || index_chunks(m, e) < 0)
                return -1;
        if (m->whole || m->npacks < 2)
                return 0;
        if (!(p = malloc(m->npacks * sizeof *p)))
                return gear_err_sys(e, ENOMEM, "cannot read the object map");
        memcpy(p, m->packs, m->npacks * sizeof *p);
        qsort(p, m->npacks, sizeof *p, pack_hex_cmp);
        for (size_t i = 1; i < m->npacks; i++)
                if (!strcmp(p[i - 1].hex, p[i].hex))
                        return gear_err_set(e, GEAR_EXIT_SYS, "invalid object map: pack %.12s named twice",
                                            p[i].hex);
        return 0;
}

int object_map_parse(const char *buf, size_t len, struct object_map **mp, struct gear_err *e)
{
        struct object_map *m;
        size_t line = 0;
        int r;

        if (len > REMOTE_MAP_MAX)
                return gear_err_set(e, GEAR_EXIT_SYS, "invalid object map: larger than %u bytes", REMOTE_MAP_MAX);
        if (object_map_new(&m, e) < 0)
                return -1;
        if (len >= strlen(PACK_WORD) && !memcmp(buf, PACK_WORD, strlen(PACK_WORD)))
                r = parse_v2(m, buf, len, &line, e);
        else
                r = parse_v1(m, buf, len, &line, e);
        if (r == -1)
                gear_err_set(e, GEAR_EXIT_SYS, "invalid object map: line %zu", line);
        if (r < 0 || object_map_index(m, e) < 0) {
                object_map_free(m);
                return -1;
        }
        *mp = m;
        return 0;
}

bool object_map_find(const struct object_map *m, const char *hex, struct object_loc *loc)
{
        struct map_entry key, *x;

        if (!m || !m->n || !m->sorted || !digest_hex_valid(hex))
                return false;
        memcpy(key.hex, hex, sizeof key.hex);
        x = bsearch(&key, m->v, m->n, sizeof *m->v, entry_cmp);
        if (!x)
                return false;
        entry_loc(m, x, loc);
        return true;
}

size_t object_map_after(const struct object_map *m, const char *hex, uint64_t window, object_map_fn fn, void *ud)
{
        struct map_entry key, *x;
        size_t k, n = 0;

        if (!m || !m->by_off || !m->sorted || !digest_hex_valid(hex))
                return 0;
        memcpy(key.hex, hex, sizeof key.hex);
        if (!(x = bsearch(&key, m->v, m->n, sizeof *m->v, entry_cmp)))
                return 0;
        k = m->rank[x - m->v];
        if (x->member) {
                /* the frame's first member, then each but x */
                while (k > 0 && m->v[m->by_off[k - 1]].member && m->v[m->by_off[k - 1]].pack == x->pack &&
                       m->v[m->by_off[k - 1]].off == x->off)
                        k--;
                for (; k < m->n; k++) {
                        const struct map_entry *y = &m->v[m->by_off[k]];
                        struct object_loc loc;
                        if (!y->member || y->pack != x->pack || y->off != x->off)
                                break;
                        if (y == x)
                                continue;
                        entry_loc(m, y, &loc);
                        n++;
                        if (!fn(ud, y->hex, &loc))
                                break;
                }
                return n;
        }
        for (k++; k < m->n; k++) {
                const struct map_entry *y = &m->v[m->by_off[k]];
                struct object_loc loc;
                if (y->pack != x->pack || y->off + y->len - x->off > window)
                        break;
                entry_loc(m, y, &loc);
                n++;
                if (!fn(ud, y->hex, &loc))
                        break;
        }
        return n;
}

bool object_map_packed(const struct object_map *m)
{
        return m && !m->whole && m->n;
}

/* the indices of m->v in pack and offset order (from the index, when the map has one): *ord malloc'd */
static int offset_order(const struct object_map *m, size_t **ord, struct gear_err *e)
{
        *ord = NULL;
        if (!m->n)
                return 0;
        if (!(*ord = malloc(m->n * sizeof **ord)))
                return gear_err_sys(e, ENOMEM, "cannot write the object map");
        for (size_t k = 0; k < m->n; k++)
                (*ord)[k] = m->by_off ? m->by_off[k] : k;
        if (!m->by_off)
                qsort_r(*ord, m->n, sizeof **ord, by_pack_off, m->v);
        return 0;
}

/* the chunk lines of content x, the same in both forms */
static size_t put_chunks(FILE *f, const struct object_map *m, const struct map_entry *x)
{
        size_t n = 0;

        for (uint32_t k = 0; k < x->nchunks; k++) {
                const struct map_chunk *c = &m->chunks[x->chunk0 + k];
                int w = fprintf(f, CHUNK_WORD "%u\t%u\t%s\n", c->clen, c->size, c->hex);
                n += w > 0 ? (size_t)w : 0;
        }
        return n;
}

int object_map_format(const struct object_map *m, char **text, size_t *n, struct gear_err *e)
{
        _cleanup_free_ size_t *ord = NULL;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;
        size_t i = 0;

        *text = NULL;
        *n = 0;
        if (offset_order(m, &ord, e) < 0)
                return -1;
        if (!(f = open_memstream(&buf, &len)))
                return gear_err_sys(e, errno, "cannot write the object map");
        for (size_t p = 0; p < m->npacks; p++) {
                if (i >= m->n || m->v[ord[i]].pack != p)
                        continue; /* a pack none of the contents is in */
                fprintf(f, PACK_WORD DIGEST_PREFIX "%s\t%llu\n", m->packs[p].hex,
                        (unsigned long long)m->packs[p].size);
                for (; i < m->n && m->v[ord[i]].pack == p; i++) {
                        const struct map_entry *x = &m->v[ord[i]];
                        fprintf(f, "%s\t%llu\t%llu", x->hex, (unsigned long long)x->off, (unsigned long long)x->len);
                        if (x->member)
                                fprintf(f, "\t%llu", (unsigned long long)x->at);
                        fputc('\n', f);
                        put_chunks(f, m, x);
                }
        }
        if (fclose(f) != 0) {
                free(buf);
                return gear_err_sys(e, ENOMEM, "cannot write the object map");
        }
        *text = buf;
        *n = len;
        return 0;
}

#define WIRE_WORD "gear-map 3\t"
#define WIRE_WORD_SOLID "gear-map 4\t"
#define WIRE_WORD_CHUNKS "gear-map 5\t"

struct ordinal {
        const char *hex;
        size_t pos;
};

static int ordinal_cmp(const void *a, const void *b)
{
        return strcmp(((const struct ordinal *)a)->hex, ((const struct ordinal *)b)->hex);
}

int object_map_format_wire(const struct object_map *m, const digest_hex *order, size_t norder, char **text,
                           size_t *n, struct gear_err *e)
{
        _cleanup_free_ size_t *ord = NULL;
        _cleanup_free_ struct ordinal *byhex = NULL;
        char *buf = NULL;
        size_t len = 0, i = 0;
        long long prev = -1;
        FILE *f;

        *text = NULL;
        *n = 0;
        if (offset_order(m, &ord, e) < 0)
                return -1;
        if (norder && !(byhex = malloc(norder * sizeof *byhex)))
                return gear_err_sys(e, ENOMEM, "cannot write the object map");
        for (size_t k = 0; k < norder; k++)
                byhex[k] = (struct ordinal){ order[k], k };
        if (norder)
                qsort(byhex, norder, sizeof *byhex, ordinal_cmp);
        if (!(f = open_memstream(&buf, &len)))
                return gear_err_sys(e, errno, "cannot write the object map");
        for (i = 0; i < m->n && !m->v[i].member; i++)
                ;
        fprintf(f, "%s%zu\n", m->nchunks ? WIRE_WORD_CHUNKS : i < m->n ? WIRE_WORD_SOLID : WIRE_WORD, norder);
        i = 0;
        for (size_t p = 0; p < m->npacks; p++) {
                const struct map_entry *before = NULL;
                uint64_t end = 0;
                if (i >= m->n || m->v[ord[i]].pack != p)
                        continue;
                fprintf(f, PACK_WORD DIGEST_PREFIX "%s\t%llu\n", m->packs[p].hex,
                        (unsigned long long)m->packs[p].size);
                for (; i < m->n && m->v[ord[i]].pack == p; i++) {
                        const struct map_entry *x = &m->v[ord[i]];
                        struct ordinal key = { x->hex, 0 }, *o;
                        o = norder ? bsearch(&key, byhex, norder, sizeof *byhex, ordinal_cmp) : NULL;
                        if (!o) {
                                fclose(f);
                                free(buf);
                                return gear_err_set(e, GEAR_EXIT_SYS, "content %.12s of the map is not in the index",
                                                    x->hex);
                        }
                        if (x->member && before && before->member && before->off == x->off)
                                fprintf(f, "%lld\t%llu\n", (long long)o->pos - prev,
                                        (unsigned long long)(x->at - before->at));
                        else if (x->member)
                                fprintf(f, "%lld\t%llu\t%llu\t%llu\n", (long long)o->pos - prev,
                                        (unsigned long long)(x->off - end), (unsigned long long)x->len,
                                        (unsigned long long)x->at);
                        else
                                fprintf(f, "%lld\t%llu\t%llu\n", (long long)o->pos - prev,
                                        (unsigned long long)(x->off - end), (unsigned long long)x->len);
                        put_chunks(f, m, x);
                        prev = (long long)o->pos;
                        end = x->off + x->len;
                        before = x;
                }
        }
        if (fclose(f) != 0) {
                free(buf);
                return gear_err_sys(e, ENOMEM, "cannot write the object map");
        }
        *text = buf;
        *n = len;
        return 0;
}

bool object_map_is_wire(const char *text, size_t n)
{
        return n >= strlen(WIRE_WORD) &&
               (!memcmp(text, WIRE_WORD, strlen(WIRE_WORD)) || !memcmp(text, WIRE_WORD_SOLID, strlen(WIRE_WORD)) ||
                !memcmp(text, WIRE_WORD_CHUNKS, strlen(WIRE_WORD)));
}

/* a signed decimal step of the compact form */
static bool parse_step(const char *p, size_t n, long long *v)
{
        uint64_t x;
        bool neg = n && p[0] == '-';

        if (!parse_u64(p + neg, n - neg, &x) || x > (uint64_t)LLONG_MAX || (neg && !x))
                return false;
        *v = neg ? -(long long)x : (long long)x;
        return true;
}

/* a content's digest, or when the map is only checked (order NULL: object_map_wire_check) its number as one */
static const char *named(const digest_hex *order, long long i, digest_hex stand_in)
{
        if (order)
                return order[i];
        snprintf(stand_in, sizeof(digest_hex), "%064llx", (unsigned long long)i);
        return stand_in;
}

int object_map_from_wire(const char *wire, size_t n, const digest_hex *order, size_t norder, char **text,
                         size_t *tn, struct gear_err *e)
{
        const char *p = wire, *end = wire + n;
        char *buf = NULL;
        size_t len = 0, line = 0, out = 0;
        long long prev = -1;
        uint64_t pack_end = 0, count, frame_off = 0, frame_len = 0, at = 0;
        bool in_pack = false, solid = false, in_frame = false, chunks = false, may_chunk = false;
        /* each content once: a few bytes may not stand for the same long line again and again */
        _cleanup_free_ unsigned char *seen = NULL;
        digest_hex stand_in;
        FILE *f;

        *text = NULL;
        *tn = 0;
        if (!(f = open_memstream(&buf, &len)))
                return gear_err_sys(e, errno, "cannot read the object map");
        while (p < end) {
                const char *nl = memchr(p, '\n', end - p), *fl[4];
                size_t ll, fn[4];
                uint64_t a, b, c;
                long long step;

                line++;
                if (!nl)
                        goto bad;
                ll = nl - p;
                if (line == 1) {
                        if (!object_map_is_wire(p, ll) ||
                            !parse_u64(p + strlen(WIRE_WORD), ll - strlen(WIRE_WORD), &count) ||
                            (order ? count != norder : count > REMOTE_MAP_MAX / (DIGEST_HEX_LEN + 4)))
                                goto bad;
                        norder = count;
                        if (!(seen = calloc(norder / 8 + 1, 1))) {
                                fclose(f);
                                free(buf);
                                return gear_err_sys(e, ENOMEM, "cannot read the object map");
                        }
                        solid = memcmp(p, WIRE_WORD, strlen(WIRE_WORD)) != 0;
                        chunks = !memcmp(p, WIRE_WORD_CHUNKS, strlen(WIRE_WORD_CHUNKS));
                } else if (chunks && may_chunk && ll >= strlen(CHUNK_WORD) && !memcmp(p, CHUNK_WORD, strlen(CHUNK_WORD))) {
                        /* as in the second format: object_map_parse checks it */
                        out += fwrite(p, 1, ll + 1, f);
                        goto next;
                } else if (ll >= strlen(PACK_WORD) && !memcmp(p, PACK_WORD, strlen(PACK_WORD))) {
                        out += fwrite(p, 1, ll + 1, f);
                        pack_end = 0;
                        in_pack = true;
                        in_frame = false;
                } else if (solid && in_pack && fields(p, ll, fl, fn, 2)) {
                        /* the next member of the frame of the line before */
                        if (!in_frame || !parse_step(fl[0], fn[0], &step) || !parse_u64(fl[1], fn[1], &c) ||
                            step > (long long)norder || prev + step < 0 || prev + step >= (long long)norder ||
                            c > SOLID_AT_MAX - at)
                                goto bad;
                        prev += step;
                        if (seen[prev / 8] & 1u << prev % 8)
                                goto bad;
                        seen[prev / 8] |= 1u << prev % 8;
                        at += c;
                        out += fprintf(f, "%s\t%llu\t%llu\t%llu\n", named(order, prev, stand_in), (unsigned long long)frame_off,
                                       (unsigned long long)frame_len, (unsigned long long)at);
                } else if (solid && in_pack && fields(p, ll, fl, fn, 4)) {
                        /* the first member of a frame */
                        if (!parse_step(fl[0], fn[0], &step) || !parse_u64(fl[1], fn[1], &a) ||
                            !parse_u64(fl[2], fn[2], &b) || !parse_u64(fl[3], fn[3], &c) ||
                            step > (long long)norder || prev + step < 0 || prev + step >= (long long)norder ||
                            a > UINT64_MAX - pack_end || b > UINT64_MAX - pack_end - a || c > SOLID_AT_MAX)
                                goto bad;
                        prev += step;
                        if (seen[prev / 8] & 1u << prev % 8)
                                goto bad;
                        seen[prev / 8] |= 1u << prev % 8;
                        frame_off = pack_end + a;
                        frame_len = b;
                        at = c;
                        in_frame = true;
                        out += fprintf(f, "%s\t%llu\t%llu\t%llu\n", named(order, prev, stand_in), (unsigned long long)frame_off,
                                       (unsigned long long)frame_len, (unsigned long long)at);
                        pack_end = frame_off + frame_len;
                } else {
                        in_frame = false;
                        if (!in_pack || !fields(p, ll, fl, fn, 3) || !parse_step(fl[0], fn[0], &step) ||
                            !parse_u64(fl[1], fn[1], &a) || !parse_u64(fl[2], fn[2], &b) ||
                            step > (long long)norder || prev + step < 0 || prev + step >= (long long)norder ||
                            a > UINT64_MAX - pack_end || b > UINT64_MAX - pack_end - a)
                                goto bad;
                        prev += step;
                        if (seen[prev / 8] & 1u << prev % 8)
                                goto bad;
                        seen[prev / 8] |= 1u << prev % 8;
                        out += fprintf(f, "%s\t%llu\t%llu\n", named(order, prev, stand_in), (unsigned long long)(pack_end + a),
                                       (unsigned long long)b);
                        pack_end += a + b;
                        may_chunk = true;
                        goto next;
                }
                may_chunk = false;
        next:
                /* what it stands for is held to the limit of the second format */
                if (out > REMOTE_MAP_MAX) {
                        fclose(f);
                        free(buf);
                        return gear_err_set(e, GEAR_EXIT_SYS, "invalid object map: larger than %u bytes",
                                            REMOTE_MAP_MAX);
                }
                p = nl + 1;
        }
        if (!line)
                goto bad;
        if (fclose(f) != 0) {
                free(buf);
                return gear_err_sys(e, ENOMEM, "cannot read the object map");
        }
        *text = buf;
        *tn = len;
        return 0;
bad:
        fclose(f);
        free(buf);
        return gear_err_set(e, GEAR_EXIT_SYS, "invalid object map: line %zu", line);
}

int object_map_encode(const char *text, size_t n, void **blob, size_t *bn, struct gear_err *e)
{
        size_t cap = ZSTD_compressBound(n), k;
        void *z = malloc(cap ? cap : 1);

        if (!z)
                return gear_err_sys(e, ENOMEM, "cannot compress the object map");
        k = ZSTD_compress(z, cap, text, n, REMOTE_MAP_ZSTD_LEVEL);
        if (ZSTD_isError(k)) {
                free(z);
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot compress the object map: %s", ZSTD_getErrorName(k));
        }
        *blob = z;
        *bn = k;
        return 0;
}

int object_map_decode(const char *blob, size_t n, char **text, size_t *tn, struct gear_err *e)
{
        ZSTD_DCtx *d;
        char *out = NULL;
        size_t cap = 0, len = 0;
        ZSTD_inBuffer in = { blob, n, 0 };
        size_t left = 1;

        *text = NULL;
        *tn = 0;
        if (!store_is_zstd(blob, n)) {
                if (!(*text = malloc(n + 1)))
                        return gear_err_sys(e, ENOMEM, "cannot read the object map");
                memcpy(*text, blob, n);
                (*text)[n] = 0;
                *tn = n;
                return 0;
        }
        if (!(d = ZSTD_createDCtx()))
                return gear_err_sys(e, ENOMEM, "cannot read the object map");
        /* one frame, at most REMOTE_MAP_MAX bytes of text, nothing after it */
        while (left) {
                ZSTD_outBuffer o;
                if (len == cap) {
                        size_t c = cap ? 2 * cap : 1 << 16;
                        char *p;
                        if (cap > REMOTE_MAP_MAX) {
                                left = 0;
                                break;
                        }
                        if (!(p = realloc(out, c + 1))) {
                                free(out);
                                ZSTD_freeDCtx(d);
                                return gear_err_sys(e, ENOMEM, "cannot read the object map");
                        }
                        out = p;
                        cap = c;
                }
                o = (ZSTD_outBuffer){ out, cap, len };
                left = ZSTD_decompressStream(d, &o, &in);
                len = o.pos;
                if (ZSTD_isError(left) || (left && in.pos == in.size && o.pos < o.size))
                        break;
        }
        ZSTD_freeDCtx(d);
        if (left || in.pos != in.size || len > REMOTE_MAP_MAX) {
                free(out);
                if (len > REMOTE_MAP_MAX)
                        return gear_err_set(e, GEAR_EXIT_SYS, "invalid object map: larger than %u bytes",
                                            REMOTE_MAP_MAX);
                return gear_err_set(e, GEAR_EXIT_SYS, "invalid object map: not a whole zstd frame");
        }
        if (!out && !(out = malloc(1)))
                return gear_err_sys(e, ENOMEM, "cannot read the object map");
        out[len] = 0;
        *text = out;
        *tn = len;
        return 0;
}

int object_map_wire_check(const char *wire, size_t n, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        struct object_map *m = NULL;
        size_t tn;

        /* each content stands in as its number: distinct, so the rules of the second format hold as they would */
        if (object_map_from_wire(wire, n, NULL, 0, &text, &tn, e) < 0)
                return -1;
        if (object_map_parse(text, tn, &m, e) < 0)
                return gear_err_wrap(e, "expanded");
        object_map_free(m);
        return 0;
}

/* the compact form in *buf expanded with the contents of the index t */
static int expand(struct itree *t, char **buf, size_t *len, struct gear_err *e)
{
        _cleanup_free_ digest_hex *order = NULL;
        char *text;
        size_t n, tn;
        int r = itree_contents(t, &order, &n);

        if (r < 0)
                return gear_err_sys(e, -r, "cannot read the object map");
        if (object_map_from_wire(*buf, *len, order, n, &text, &tn, e) < 0)
                return -1;
        free(*buf);
        *buf = text;
        *len = tn;
        return 0;
}

/*
 * The map of the image at image_dir as text (rel: its path, for messages):
 * 1, 0 when there is none (code 1 set), -1 (*text NULL but with 1). A
 * compact one is expanded with t, or without t with the index of the image
 * directory the map was read from, opened once: a pull of the same tag may
 * put another in its place meanwhile, whose index names other contents.
 * *expanded tells a compact one.
 */
static int map_text(const struct gear_root *img, const char *image_dir, struct itree *t, char **text, size_t *n,
                    bool *expanded, char rel[PATH_MAX], struct gear_err *e)
{
        struct image_ref ref = { .tag = "-" };
        struct image im = { .dfd = -1 };
        struct gear_root dir = { .fd = -1 };
        struct itree *own = NULL;
        int r = 1;

        *text = NULL;
        *n = 0;
        *expanded = false;
        image_file_rel(image_dir, REMOTE_MAP_FILE, rel, PATH_MAX);
        snprintf(dir.path, sizeof dir.path, "%s/%s", img->path, image_dir);
        if (!t && (dir.fd = openat(img->fd, image_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return gear_err_sys(e, errno, "cannot open '%s'", dir.path);
        if (read_file(t ? img : &dir, t ? rel : REMOTE_MAP_FILE, REMOTE_MAP_MAX, text, n, e) < 0) {
                /* one past the bound is damage here, as any other map that cannot be read */
                r = e->code == GEAR_EXIT_NO ? 0 : -1;
                if (e->code == GEAR_EXIT_USAGE)
                        e->code = GEAR_EXIT_SYS;
        } else if (object_map_is_wire(*text, *n)) {
                *expanded = true;
                snprintf(ref.name, sizeof ref.name, "%s", image_dir);
                if (!t && (image_open_dir(&dir, ".", &ref, &im, e) < 0 || image_load_tree(&im, &own, e) < 0))
                        r = gear_err_wrap(e, "the index its compact form needs");
                else if (expand(t ? t : own, text, n, e) < 0)
                        r = -1;
        }
        if (r <= 0) {
                free(*text);
                *text = NULL;
                *n = 0;
        }
        itree_free(own);
        image_close(&im);
        if (dir.fd >= 0)
                close(dir.fd);
        return r;
}

int object_map_text(const struct gear_root *img, const char *image_dir, struct itree *t, char **text, size_t *n,
                    struct gear_err *e)
{
        char rel[PATH_MAX];
        bool expanded;
        int r = map_text(img, image_dir, t, text, n, &expanded, rel, e);

        return r < 0 ? gear_err_wrap(e, "'%s'", rel) : r;
}

/*
 * The text of buf (NULL: none, an empty map) as *m, rel naming it in
 * messages; the line an error gives is of the text, one before the line of
 * a compact form's (its first line, gear-map N, has no text)
 */
static int parse_named(const char *buf, size_t len, const char *rel, bool expanded, struct object_map **m,
                       struct gear_err *e)
{
        if (object_map_parse(buf ? buf : "", len, m, e) < 0)
                return gear_err_wrap(e, expanded ? "'%s', expanded" : "'%s'", rel);
        return 0;
}

int object_map_show(const struct gear_root *img, const char *image_dir, struct itree *t, FILE *out,
                    struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        struct object_map *m = NULL;
        char rel[PATH_MAX];
        bool expanded;
        size_t len;
        int r = map_text(img, image_dir, t, &buf, &len, &expanded, rel, e);

        if (r <= 0)
                return r < 0 ? gear_err_wrap(e, "'%s'", rel) : -1;
        if (parse_named(buf, len, rel, expanded, &m, e) < 0)
                return -1;
        object_map_free(m);
        if (fwrite(buf, 1, len, out) != len)
                return gear_err_sys(e, errno, "cannot write the object map");
        return 0;
}

int object_map_load(const struct gear_root *img, const char *image_dir, struct itree *t, struct object_map **m,
                    struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        char rel[PATH_MAX];
        bool expanded;
        size_t len = 0;
        int r = map_text(img, image_dir, t, &buf, &len, &expanded, rel, e);

        if (r < 0)
                return gear_err_wrap(e, "'%s'", rel);
        if (!r)
                gear_err_clear(e);
        return parse_named(buf, len, rel, expanded, m, e);
}

int object_map_load_file(const struct gear_root *root, const char *rel, struct object_map **m, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        if (read_file(root, rel, REMOTE_MAP_MAX, &buf, &len, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
        }
        return parse_named(buf, len, rel, false, m, e);
}
