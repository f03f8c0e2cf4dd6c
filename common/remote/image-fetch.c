/* an image's contents from its origin into public/; access lists (prefetching: prefetch.c) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image-fetch.h"
#include "remote.h"
#include "solid.h"
#include "../base/fsutil.h"
#include "../image/image.h"

int origin_open(const struct gear_root *img, const char *image_dir, const struct remote_opts *ro,
                struct origin *o, struct gear_err *e)
{
        char spec[PATH_MAX + 256];
        int r;

        *o = (struct origin){0};
        if ((r = image_origin(img, image_dir, spec, sizeof spec, e)) <= 0)
                return r;
        if (remote_open_opts(spec, ro, &o->remote, e) < 0 || object_map_load(img, image_dir, &o->map, e) < 0) {
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

