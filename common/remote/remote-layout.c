/* a store image's OCI layout and manifest: parsed, limited, copied with every read bounded */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "image-fetch.h"
#include "remote-internal.h"
#include "store-read.h"
#include "../base/fsutil.h"
#include "../image/image.h"

/* oci-layout holds one small JSON object */
#define OCI_LAYOUT_MAX 4096

static int descriptor(json_t *d, digest_hex hex, uint64_t *size)
{
        const char *dg = json_string_value(json_object_get(d, "digest"));
        json_t *sz = json_object_get(d, "size");

        if (!json_is_object(d) || !dg || !digest_parse(dg, hex) || !json_is_integer(sz) ||
            json_integer_value(sz) < 0)
                return -1;
        *size = json_integer_value(sz);
        return 0;
}

/* an optional digest annotation: 0 when absent, 1 when set, -1 when invalid */
static int annotation(json_t *ann, const char *key, digest_hex hex)
{
        json_t *v = json_object_get(ann, key);

        if (!v)
                return 0;
        return json_is_string(v) && digest_parse(json_string_value(v), hex) ? 1 : -1;
}

int manifest_parse(const char *buf, size_t n, struct store_manifest *m, struct gear_err *e)
{
        json_error_t je;
        json_t *j = json_loadb(buf, n, 0, &je), *layers, *ann, *type;
        int map = 0, acc = 0;

        memset(m, 0, sizeof *m);
        layers = json_object_get(j, "layers");
        ann = json_object_get(j, "annotations");
        type = json_object_get(j, "mediaType");
        if (!json_is_object(j) || descriptor(json_object_get(j, "config"), m->config, &m->config_size) < 0 ||
            !json_is_array(layers) || json_array_size(layers) != 1 ||
            descriptor(json_array_get(layers, 0), m->layer, &m->layer_size) < 0 || (ann && !json_is_object(ann)) ||
            (map = annotation(ann, REMOTE_MAP_ANNOTATION, m->map)) < 0 ||
            (acc = annotation(ann, REMOTE_ACCESS_ANNOTATION, m->access)) < 0 ||
            (type && (!json_is_string(type) || json_string_length(type) >= sizeof m->type ||
                      strlen(json_string_value(type)) != json_string_length(type)))) {
                json_decref(j);
                return gear_err_set(e, GEAR_EXIT_USAGE, "not a Gear index image");
        }
        m->has_map = map;
        m->has_access = acc;
        if (type)
                snprintf(m->type, sizeof m->type, "%s", json_string_value(type));
        json_decref(j);
        return 0;
}

int manifest_check_limits(const struct store_manifest *m, const struct remote_limits *l, struct gear_err *e)
{
        if (!l)
                return 0;
        if (m->layer_size > l->index_max)
                return gear_err_set(e, GEAR_EXIT_USAGE,
                                    "the index layer declares %" PRIu64 " bytes, more than max-index-size (%" PRIu64 ")",
                                    m->layer_size, l->index_max);
        if (m->config_size > l->config_max)
                return gear_err_set(e, GEAR_EXIT_USAGE,
                                    "the config declares %" PRIu64 " bytes, more than max-config-size (%" PRIu64 ")",
                                    m->config_size, l->config_max);
        return 0;
}

int layout_index_parse(const char *buf, size_t n, digest_hex hex, uint64_t *size, struct gear_err *e)
{
        json_error_t je;
        json_t *j = json_loadb(buf, n, 0, &je);
        int r = descriptor(json_array_get(json_object_get(j, "manifests"), 0), hex, size);

        json_decref(j);
        if (r < 0 || *size > IMAGE_JSON_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid index.json");
        return 0;
}

/* blobs/sha256/hex of the layout at from/src, at most max bytes, checked against hex and size */
static int read_blob(const struct gear_root *from, const char *src, const char *hex, uint64_t size, size_t max,
                     char **buf, size_t *n, struct gear_err *e)
{
        char rel[PATH_MAX];
        digest_hex got;

        snprintf(rel, sizeof rel, "%s/blobs/sha256/%s", src, hex);
        if (store_file_read(from, rel, max, buf, n, e) < 0 || digest_buf(*buf, *n, got, e) < 0) {
                /* a missing blob is damage: only a missing index.json means no image */
                if (e->code == GEAR_EXIT_NO)
                        e->code = GEAR_EXIT_SYS;
                return gear_err_wrap(e, "blob sha256:%.12s", hex);
        }
        if (strcmp(got, hex))
                return gear_err_set(e, GEAR_EXIT_SYS, "blob sha256:%.12s: '%s' does not match its digest", hex, hex);
        if (*n != size)
                return gear_err_set(e, GEAR_EXIT_SYS, "blob sha256:%.12s has %zu bytes, want %" PRIu64, hex, *n, size);
        return 0;
}

static int write_file(const struct gear_root *to, const char *dst, const char *name, const char *buf, size_t n,
                      struct gear_err *e)
{
        char rel[PATH_MAX];

        snprintf(rel, sizeof rel, "%s/%s", dst, name);
        return atomic_write(to, rel, buf, n, 0644, e);
}

static int write_blob(const struct gear_root *to, const char *dst, const char *hex, const char *buf, size_t n,
                      struct gear_err *e)
{
        char name[sizeof "blobs/sha256/" + DIGEST_HEX_LEN];

        snprintf(name, sizeof name, "blobs/sha256/%s", hex);
        return write_file(to, dst, name, buf, n, e);
}

void store_image_free(struct store_image *s)
{
        free(s->idx);
        free(s->layout);
        free(s->man);
        free(s->config);
        free(s->layer);
        free(s->map);
        free(s->map_text);
        free(s->access);
        memset(s, 0, sizeof *s);
}

/* a file of the layout that must be there: missing, it is damage */
static int read_part(const struct gear_root *from, const char *src, const char *name, size_t max, char **buf,
                     size_t *n, struct gear_err *e)
{
        char rel[PATH_MAX];

        snprintf(rel, sizeof rel, "%s/%s", src, name);
        if (store_file_read(from, rel, max, buf, n, e) < 0) {
                if (e->code == GEAR_EXIT_NO)
                        e->code = GEAR_EXIT_SYS;
                return -1;
        }
        return 0;
}

int store_image_read(const struct gear_root *from, const char *src, const struct remote_limits *l,
                     struct store_image *s, uint64_t *bytes, struct gear_err *e)
{
        char rel[PATH_MAX];
        uint64_t msize;

        memset(s, 0, sizeof *s);
        snprintf(rel, sizeof rel, "%s/index.json", src);
        if (store_file_read(from, rel, IMAGE_JSON_MAX, &s->idx, &s->nidx, e) < 0 ||
            layout_index_parse(s->idx, s->nidx, s->mhex, &msize, e) < 0) {
                gear_err_wrap(e, "'%s/%s'", from->path, src);
                goto fail;
        }
        /* the manifest is read whole before its size is checked: a damaged one reads as not matching */
        if (read_part(from, src, "oci-layout", OCI_LAYOUT_MAX, &s->layout, &s->nlayout, e) < 0 ||
            read_blob(from, src, s->mhex, msize, IMAGE_JSON_MAX, &s->man, &s->nman, e) < 0)
                goto fail;
        if (manifest_parse(s->man, s->nman, &s->m, e) < 0 || manifest_check_limits(&s->m, l, e) < 0) {
                gear_err_wrap(e, "'%s/%s'", from->path, src);
                goto fail;
        }
        if (read_blob(from, src, s->m.config, s->m.config_size, s->m.config_size, &s->config, &s->nconfig, e) < 0 ||
            read_blob(from, src, s->m.layer, s->m.layer_size, s->m.layer_size, &s->layer, &s->nlayer, e) < 0)
                goto fail;
        snprintf(rel, sizeof rel, "%s/" ACCESS_LIST_FILE, src);
        if (store_file_read(from, rel, ACCESS_LIST_MAX, &s->access, &s->naccess, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        goto fail;
                gear_err_clear(e);
        } else if (access_list_check(s->access, s->naccess, e) < 0) {
                gear_err_wrap(e, "'%s/%s'", from->path, rel);
                goto fail;
        }
        if (bytes)
                *bytes += s->nidx + s->nlayout + s->nman + s->nconfig + s->nlayer + s->naccess;
        return 0;
fail:
        store_image_free(s);
        return -1;
}

int store_image_write(const struct gear_root *to, const char *dst, const struct store_image *s, struct gear_err *e)
{
        char rel[PATH_MAX];

        snprintf(rel, sizeof rel, "%s/blobs/sha256", dst);
        if (mkdir_p_at(to->fd, rel, 0755, e) < 0 ||
            write_blob(to, dst, s->mhex, s->man, s->nman, e) < 0 ||
            write_blob(to, dst, s->m.config, s->config, s->nconfig, e) < 0 ||
            write_blob(to, dst, s->m.layer, s->layer, s->nlayer, e) < 0)
                return -1;
        if (s->map && (write_blob(to, dst, s->m.map, s->map, s->nmap, e) < 0 ||
                       write_file(to, dst, REMOTE_MAP_FILE, s->map_text ? s->map_text : s->map,
                                  s->map_text ? s->nmap_text : s->nmap, e) < 0))
                return -1;
        if (s->access && ((s->access_blob && write_blob(to, dst, s->m.access, s->access, s->naccess, e) < 0) ||
                          write_file(to, dst, ACCESS_LIST_FILE, s->access, s->naccess, e) < 0))
                return -1;
        /* last, so that a half-written layout does not read as an image */
        return write_file(to, dst, "oci-layout", s->layout, s->nlayout, e) < 0 ||
               write_file(to, dst, "index.json", s->idx, s->nidx, e) < 0 ? -1 : 0;
}
