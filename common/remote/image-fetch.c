/* an image's contents from its origin into public/; access lists (prefetching: prefetch.c) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image-fetch.h"
#include "remote.h"
#include "chunks.h"
#include "solid.h"
#include "../base/fsutil.h"
#include "../image/image.h"

int origin_open(const struct gear_root *img, const char *image_dir, struct itree *t, const struct remote_opts *ro,
                struct origin *o, struct gear_err *e)
{
        char spec[PATH_MAX + 256];
        int r;

        *o = (struct origin){0};
        if ((r = image_origin(img, image_dir, spec, sizeof spec, e)) <= 0)
                return r;
        if (remote_open_opts(spec, ro, &o->remote, e) < 0 || object_map_load(img, image_dir, t, &o->map, e) < 0) {
                origin_close(o);
                return -1;
        }
        return 0;
}

void origin_close(struct origin *o)
{
        if (o->map)
                object_map_free(o->map);
        if (o->remote)
                remote_free(o->remote);
        *o = (struct origin){0};
}

static int fetch_remote(const char *hex, uint64_t size, int fd, void *ud, struct gear_err *e)
{
        struct origin *o = ud;
        struct object_loc loc;
        bool found = object_map_find(o->map, hex, &loc);

        if (found && loc.member && solid_fetch_member(o->remote, &loc, size, fd, e) < 0)
                return gear_err_wrap(e, "object sha256:%.12s", hex);
        if (found && loc.member)
                return 0;
        return remote_fetch_object(o->remote, hex, found ? &loc : NULL, store_stored_max(size), fd, e);
}

int origin_cache_open(struct origin *o, const struct gear_root *img, const char *hex, uint64_t size,
                      struct cache_result *res, struct gear_err *e)
{
        return cache_open(img, hex, size, o->remote ? fetch_remote : NULL, o, res, e);
}

int access_list_check(const char *buf, size_t len, struct gear_err *e)
{
        char hex[DIGEST_HEX_LEN + 1];
        size_t line = 1;

        for (size_t i = 0; i < len; i += DIGEST_HEX_LEN + 1, line++) {
                if (len - i < DIGEST_HEX_LEN + 1 || buf[i + DIGEST_HEX_LEN] != '\n')
                        return gear_err_set(e, GEAR_EXIT_SYS, "invalid access list: line %zu", line);
                memcpy(hex, buf + i, DIGEST_HEX_LEN);
                hex[DIGEST_HEX_LEN] = 0;
                if (!digest_hex_valid(hex))
                        return gear_err_set(e, GEAR_EXIT_SYS, "invalid access list: line %zu", line);
        }
        return 0;
}

int access_list_read(const struct gear_root *img, const char *image_dir, char **buf, size_t *len,
                     struct gear_err *e)
{
        char rel[PATH_MAX];

        *buf = NULL;
        *len = 0;
        image_file_rel(image_dir, ACCESS_LIST_FILE, rel, sizeof rel);
        if (read_file(img, rel, ACCESS_LIST_MAX, buf, len, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        if (access_list_check(*buf, *len, e) < 0) {
                free(*buf);
                *buf = NULL;
                return gear_err_wrap(e, "'%s/%s'", img->path, rel);
        }
        return 0;
}

int access_list_load(const struct gear_root *img, const char *image_dir, digest_hex **v, size_t *n,
                     struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;

        *v = NULL;
        *n = 0;
        if (access_list_read(img, image_dir, &buf, &len, e) < 0)
                return -1;
        if (!buf)
                return 0;
        *n = len / (DIGEST_HEX_LEN + 1);
        if (!(*v = calloc(*n + 1, sizeof **v)))
                return gear_err_sys(e, ENOMEM, "cannot read the access list of '%s'", image_dir);
        for (size_t i = 0; i < *n; i++)
                memcpy((*v)[i], buf + i * (DIGEST_HEX_LEN + 1), DIGEST_HEX_LEN);
        return 0;
}


/* digits at *p up to stop (no sign, no space, no leading zero but "0"): the value, *p past them; -1 when not */
static int run_num(const char **p, const char *end, char stop, uint64_t *v)
{
        const char *q = *p;

        *v = 0;
        if (q == end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end && q[1] != stop))
                return -1;
        for (; q < end && *q >= '0' && *q <= '9'; q++) {
                if (*v > (UINT64_MAX / 2 - 9) / 10)
                        return -1;
                *v = *v * 10 + (uint64_t)(*q - '0');
        }
        if (q == end || *q != stop)
                return -1;
        *p = q + 1;
        return 0;
}

int access_runs_parse(const char *buf, size_t len, struct access_run **vp, size_t *np, struct gear_err *e)
{
        struct access_run *v = NULL;
        size_t n = 0, cap = 0, line = 1;

        *vp = NULL;
        *np = 0;
        for (const char *p = buf, *end = buf + len; p < end; line++) {
                const char *nl = memchr(p, '\n', end - p);
                struct access_run r = {0};
                if (!nl || nl - p < DIGEST_HEX_LEN)
                        goto bad;
                memcpy(r.hex, p, DIGEST_HEX_LEN);
                r.hex[DIGEST_HEX_LEN] = 0;
                if (!digest_hex_valid(r.hex))
                        goto bad;
                p += DIGEST_HEX_LEN;
                if (p < nl && (*p++ != ' ' || run_num(&p, nl, ' ', &r.off) < 0 || run_num(&p, nl + 1, '\n', &r.len) < 0 ||
                               !r.len || r.off % ACCESS_RUN_UNIT))
                        goto bad;
                if (array_room((void **)&v, &cap, n, sizeof *v) < 0) {
                        free(v);
                        return gear_err_sys(e, ENOMEM, "cannot read access runs");
                }
                v[n++] = r;
                p = nl + 1;
        }
        *vp = v;
        *np = n;
        return 0;
bad:
        free(v);
        return gear_err_set(e, GEAR_EXIT_SYS, "invalid access runs: line %zu", line);
}

/* the contents of runs v are those of image_dir's access list, in its order */
static bool runs_match_list(const struct gear_root *img, const char *image_dir, const struct access_run *v, size_t n)
{
        _cleanup_free_ char *list = NULL;
        struct gear_err err = {0};
        size_t len, at = 0;

        if (access_list_read(img, image_dir, &list, &len, &err) < 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (v[i].len)
                        continue;
                if (at + DIGEST_HEX_LEN + 1 > len || memcmp(list + at, v[i].hex, DIGEST_HEX_LEN))
                        return false;
                at += DIGEST_HEX_LEN + 1;
        }
        return at == len;
}

int access_runs_load(const struct gear_root *img, const char *image_dir, struct access_run **vp, size_t *np,
                     struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        char rel[PATH_MAX];
        size_t len;

        *vp = NULL;
        *np = 0;
        image_file_rel(image_dir, ACCESS_RUNS_FILE, rel, sizeof rel);
        if (read_file(img, rel, ACCESS_RUNS_MAX, &buf, &len, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        if (access_runs_parse(buf, len, vp, np, e) < 0)
                return gear_err_wrap(e, "'%s/%s'", img->path, rel);
        /* written with access.list: one that another hand changed since makes them stale */
        if (!runs_match_list(img, image_dir, *vp, *np)) {
                free(*vp);
                *vp = NULL;
                *np = 0;
        }
        return 0;
}

/* names hex at the end of *v, once there is room */
static int ship(struct hex_pos **v, size_t *n, size_t *cap, const char *hex)
{
        if (array_room((void **)v, cap, *n, sizeof **v) < 0)
                return -1;
        (*v)[*n] = (struct hex_pos){ hex, *n };
        (*n)++;
        return 0;
}

int access_list_shipped(const struct gear_root *img, const char *image_dir, const struct object_map *m, char **buf,
                        size_t *len, struct gear_err *e)
{
        _cleanup_free_ struct access_run *runs = NULL;
        _cleanup_free_ struct hex_pos *v = NULL;
        size_t nruns = 0, n = 0, cap = 0;
        char *list;

        if (access_runs_load(img, image_dir, &runs, &nruns, e) < 0)
                return -1;
        if (!nruns)
                return access_list_read(img, image_dir, buf, len, e);
        for (size_t i = 0; i < nruns; i++) {
                struct object_loc loc;
                uint32_t a, b;
                if (!runs[i].len || !m || !object_map_find(m, runs[i].hex, &loc) || loc.member || !loc.nchunks ||
                    runs[i].off >= loc.chunks[loc.nchunks - 1].uoff + loc.chunks[loc.nchunks - 1].size) {
                        if (ship(&v, &n, &cap, runs[i].hex) < 0)
                                return gear_err_sys(e, ENOMEM, "cannot make the access list");
                        continue;
                }
                a = chunk_at(&loc, runs[i].off);
                b = chunk_at(&loc, runs[i].len > UINT64_MAX - runs[i].off ? UINT64_MAX : runs[i].off + runs[i].len - 1);
                /* what a list can hold, twice over for the digests named again: the rest is left out */
                for (uint32_t k = a; k <= b && n < 2 * (ACCESS_LIST_MAX / (DIGEST_HEX_LEN + 1)); k++)
                        if (ship(&v, &n, &cap, loc.chunks[k].hex) < 0)
                                return gear_err_sys(e, ENOMEM, "cannot make the access list");
        }
        /* each digest once, at its first place */
        n = hex_pos_first(v, n);
        if (n > ACCESS_LIST_MAX / (DIGEST_HEX_LEN + 1))
                n = ACCESS_LIST_MAX / (DIGEST_HEX_LEN + 1);
        *buf = NULL;
        *len = 0;
        if (!n)
                return 0;
        if (!(list = malloc(n * (DIGEST_HEX_LEN + 1))))
                return gear_err_sys(e, ENOMEM, "cannot make the access list");
        for (size_t i = 0; i < n; i++) {
                memcpy(list + i * (DIGEST_HEX_LEN + 1), v[i].hex, DIGEST_HEX_LEN);
                list[i * (DIGEST_HEX_LEN + 1) + DIGEST_HEX_LEN] = '\n';
        }
        *buf = list;
        *len = n * (DIGEST_HEX_LEN + 1);
        return 0;
}
