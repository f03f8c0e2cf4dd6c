/* reading an image's OCI layout back, every blob checked against its digest */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "image.h"
#include "../base/fsutil.h"

int layout_read_blob(int dfd, const char *hex, int64_t size, size_t max, char **out, size_t *len,
                     struct gear_err *e)
{
        char rel[sizeof "blobs/sha256/" + DIGEST_HEX_LEN];
        struct gear_root r = { .fd = dfd, .path = "" };
        _cleanup_free_ char *buf = NULL;
        digest_hex got;
        size_t n;

        if (!digest_hex_valid(hex))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid digest 'sha256:%s'", hex);
        snprintf(rel, sizeof rel, "blobs/sha256/%s", hex);
        if (read_file(&r, rel, max, &buf, &n, e) < 0)
                return gear_err_wrap(e, "blob sha256:%.12s", hex);
        if (size >= 0 && (uint64_t)size != n)
                return gear_err_set(e, GEAR_EXIT_USAGE, "blob sha256:%.12s has %zu bytes, want %" PRId64,
                                    hex, n, size);
        if (digest_buf(buf, n, got, e) < 0)
                return -1;
        if (strcmp(got, hex))
                return gear_err_set(e, GEAR_EXIT_USAGE, "blob sha256:%.12s does not match its digest", hex);
        *out = TAKE_PTR(buf);
        *len = n;
        return 0;
}

static json_t *read_json(int dfd, const char *hex, int64_t size, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        json_error_t je;
        json_t *j;
        size_t n;

        if (layout_read_blob(dfd, hex, size, IMAGE_JSON_MAX, &buf, &n, e) < 0)
                return NULL;
        j = json_loadb(buf, n, 0, &je);
        if (!j || !json_is_object(j)) {
                json_decref(j);
                gear_err_set(e, GEAR_EXIT_USAGE, "blob sha256:%.12s is not a JSON object", hex);
                return NULL;
        }
        return j;
}

/* a descriptor's digest and size */
static int descriptor(json_t *d, char *hex, int64_t *size, struct gear_err *e)
{
        const char *dg = json_string_value(json_object_get(d, "digest"));
        json_t *sz = json_object_get(d, "size");

        if (!dg || !digest_parse(dg, hex) || !json_is_integer(sz) || json_integer_value(sz) < 0)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid descriptor");
        *size = json_integer_value(sz);
        return 0;
}

static uint64_t annotation(json_t *m, const char *key)
{
        const char *v = json_string_value(json_object_get(json_object_get(m, "annotations"), key));

        return v ? strtoull(v, NULL, 10) : 0;
}

int image_open(const struct gear_root *img, const struct image_ref *r, struct image *im, struct gear_err *e)
{
        char rel[PATH_MAX];

        image_rel(r, rel, sizeof rel);
        return image_open_dir(img, rel, r, im, e);
}

int image_open_dir(const struct gear_root *img, const char *rel, const struct image_ref *r, struct image *im,
                   struct gear_err *e)
{
        struct gear_root dir = { .fd = -1 };
        _cleanup_free_ char *idx = NULL;
        json_t *j = NULL, *m, *layers;
        json_error_t je;
        int64_t size;
        size_t n;

        memset(im, 0, sizeof *im);
        im->dfd = -1;
        im->ref = *r;
        im->dfd = openat(img->fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (im->dfd < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return gear_err_set(e, GEAR_EXIT_NO, "no image '%s:%s'", r->name, r->tag);
                return gear_err_sys(e, errno, "cannot open '%s/%s'", img->path, rel);
        }
        dir.fd = im->dfd;
        if (read_file(&dir, "index.json", IMAGE_JSON_MAX, &idx, &n, e) < 0) {
                if (e->code == GEAR_EXIT_NO) {
                        gear_err_set(e, GEAR_EXIT_NO, "no image '%s:%s'", r->name, r->tag);
                        image_close(im);
                        return -1;
                }
                goto fail;
        }
        j = json_loadb(idx, n, 0, &je);
        m = json_array_get(json_object_get(j, "manifests"), 0);
        if (!m || descriptor(m, im->manifest, &size, e) < 0) {
                gear_err_set(e, GEAR_EXIT_USAGE, "invalid index.json");
                goto fail;
        }
        if (!(im->manifest_json = read_json(im->dfd, im->manifest, size, e)))
                goto fail;
        m = json_object_get(im->manifest_json, "config");
        layers = json_object_get(im->manifest_json, "layers");
        if (!m || descriptor(m, im->config, &size, e) < 0 || json_array_size(layers) != 1 ||
            descriptor(json_array_get(layers, 0), im->layer, &size, e) < 0) {
                gear_err_set(e, GEAR_EXIT_USAGE, "manifest is not a gear index");
                goto fail;
        }
        im->layer_size = size;
        if (descriptor(m, im->config, &size, e) < 0 || !(im->config_json = read_json(im->dfd, im->config, size, e)))
                goto fail;
        im->entries = annotation(im->manifest_json, "io.gear.entries");
        im->files = annotation(im->manifest_json, "io.gear.files");
        im->bytes = annotation(im->manifest_json, "io.gear.bytes");
        json_decref(j);
        return 0;
fail:
        json_decref(j);
        /* an image of our own tree that does not read back is damage, not bad input */
        if (e->code == GEAR_EXIT_USAGE)
                e->code = GEAR_EXIT_SYS;
        gear_err_wrap(e, "image '%s:%s'", r->name, r->tag);
        image_close(im);
        return -1;
}

void image_close(struct image *im)
{
        if (im->dfd >= 0)
                close(im->dfd);
        im->dfd = -1;
        json_decref(im->manifest_json);
        json_decref(im->config_json);
        im->manifest_json = im->config_json = NULL;
}

int image_load_tree(struct image *im, struct itree **t, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t n;

        if (layout_read_blob(im->dfd, im->layer, im->layer_size, SIZE_MAX / 2, &buf, &n, e) < 0 ||
            index_parse(buf, n, t, e) < 0) {
                if (e->code == GEAR_EXIT_USAGE)
                        e->code = GEAR_EXIT_SYS;
                return gear_err_wrap(e, "image '%s:%s'", im->ref.name, im->ref.tag);
        }
        return 0;
}

int image_root_open(struct gear_root *img, const struct image_ref *r, struct gear_err *e)
{
        if (root_open(img, 0, e) >= 0)
                return 0;
        if (e->code == GEAR_EXIT_NO)
                return gear_err_set(e, GEAR_EXIT_NO, "no image '%s:%s'", r->name, r->tag);
        return -1;
}

int image_load(struct gear_root *img, const struct image_ref *r, struct itree **t, struct gear_err *e)
{
        struct image im;
        int k;

        if (image_root_open(img, r, e) < 0 || image_open(img, r, &im, e) < 0)
                return -1;
        k = image_load_tree(&im, t, e);
        image_close(&im);
        return k;
}
