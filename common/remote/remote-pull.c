/* gear-pull: the index image of a Gear image from a store, checked, into the image tree */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "image-fetch.h"
#include "remote-internal.h"
#include "../base/fsutil.h"
#include "../image/image.h"

static int descriptor(json_t *d, digest_hex hex, int64_t *size)
{
        const char *dg = json_string_value(json_object_get(d, "digest"));
        json_t *sz = json_object_get(d, "size");

        if (!dg || !digest_parse(dg, hex) || !json_is_integer(sz) || json_integer_value(sz) < 0)
                return -1;
        *size = json_integer_value(sz);
        return 0;
}

static int map_check(const char *buf, size_t n, struct gear_err *e)
{
        struct object_map *m = NULL;

        if (object_map_parse(buf, n, &m, e) < 0)
                return -1;
        object_map_free(m);
        return 0;
}

/* one blob from the registry into tmp/blobs/sha256/ (also: into tmp/ALSO too, once check passes) */
static int pull_blob(struct remote *r, const struct gear_root *img, const char *tmp, const char *hex,
                     int64_t size, size_t max, const char *also,
                     int (*check)(const char *, size_t, struct gear_err *), uint64_t *bytes, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        char rel[PATH_MAX];
        size_t n;

        if (registry_get_blob(r->reg, hex, size >= 0 ? (size_t)size : max, &buf, &n, e) < 0)
                return -1;
        if (size >= 0 && (uint64_t)size != n)
                return gear_err_set(e, GEAR_EXIT_SYS, "blob sha256:%.12s has %zu bytes, want %lld", hex, n,
                                    (long long)size);
        *bytes += n;
        snprintf(rel, sizeof rel, "%s/blobs/sha256/%s", tmp, hex);
        if (atomic_write(img, rel, buf, n, 0644, e) < 0)
                return -1;
        if (also) {
                if (check(buf, n, e) < 0)
                        return gear_err_wrap(e, "blob sha256:%.12s", hex);
                snprintf(rel, sizeof rel, "%s/%s", tmp, also);
                if (atomic_write(img, rel, buf, n, 0644, e) < 0)
                        return -1;
        }
        return 0;
}

static int pull_registry(struct remote *r, const struct gear_root *img, const char *tag, const char *tmp,
                         uint64_t *bytes, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL, *idx = NULL;
        char rel[PATH_MAX];
        digest_hex mhex, chex, lhex, maphex, acchex;
        int64_t csize, lsize;
        json_t *m = NULL, *layers, *ix;
        json_error_t je;
        const char *mapdg, *accdg;
        size_t n;
        int rc = -1;

        if (registry_get_manifest(r->reg, tag, IMAGE_JSON_MAX, &buf, &n, e) < 0)
                return -1;
        *bytes += n;
        if (digest_buf(buf, n, mhex, e) < 0)
                return -1;
        m = json_loadb(buf, n, 0, &je);
        layers = json_object_get(m, "layers");
        mapdg = json_string_value(json_object_get(json_object_get(m, "annotations"), REMOTE_MAP_ANNOTATION));
        accdg = json_string_value(json_object_get(json_object_get(m, "annotations"), REMOTE_ACCESS_ANNOTATION));
        if (!json_is_object(m) || descriptor(json_object_get(m, "config"), chex, &csize) < 0 ||
            json_array_size(layers) != 1 || descriptor(json_array_get(layers, 0), lhex, &lsize) < 0 ||
            !mapdg || !digest_parse(mapdg, maphex) || (accdg && !digest_parse(accdg, acchex))) {
                gear_err_set(e, GEAR_EXIT_USAGE, "'%s:%s' is not a Gear index image", r->repo, tag);
                goto out;
        }
        snprintf(rel, sizeof rel, "%s/blobs/sha256/%s", tmp, mhex);
        if (atomic_write(img, rel, buf, n, 0644, e) < 0 ||
            pull_blob(r, img, tmp, chex, csize, 0, NULL, NULL, bytes, e) < 0 ||
            pull_blob(r, img, tmp, lhex, lsize, 0, NULL, NULL, bytes, e) < 0 ||
            pull_blob(r, img, tmp, maphex, -1, REMOTE_MAP_MAX, REMOTE_MAP_FILE, map_check, bytes, e) < 0 ||
            (accdg && pull_blob(r, img, tmp, acchex, -1, ACCESS_LIST_MAX, ACCESS_LIST_FILE, access_list_check,
                                bytes, e) < 0))
                goto out;
        ix = json_pack("{s:i, s:[{s:s, s:s+, s:I, s:{s:s}}]}", "schemaVersion", 2, "manifests", "mediaType",
                       json_string_value(json_object_get(m, "mediaType")) ?: REGISTRY_MANIFEST_TYPE, "digest",
                       DIGEST_PREFIX, mhex, "size", (json_int_t)n, "annotations", IMAGE_REF_ANNOTATION, tag);
        idx = ix ? json_dumps(ix, JSON_COMPACT) : NULL;
        json_decref(ix);
        if (!idx) {
                gear_err_sys(e, ENOMEM, "cannot write index.json");
                goto out;
        }
        snprintf(rel, sizeof rel, "%s/index.json", tmp);
        if (atomic_write(img, rel, idx, strlen(idx), 0644, e) < 0)
                goto out;
        snprintf(rel, sizeof rel, "%s/oci-layout", tmp);
        if (atomic_write(img, rel, "{\"imageLayoutVersion\":\"1.0.0\"}", 30, 0644, e) < 0)
                goto out;
        rc = 0;
out:
        json_decref(m);
        return rc;
}

int remote_pull(struct remote *r, const struct gear_root *img, const struct image_ref *ref,
                uint64_t *bytes, struct gear_err *e)
{
        char rel[PATH_MAX], tmp[PATH_MAX], spec[PATH_MAX + 16], orig[PATH_MAX];
        const char *tag = r->tag[0] ? r->tag : ref->tag;
        _cleanup_close_ int lock = -1;
        struct image im;
        struct stat st;

        *bytes = 0;
        if (r->kind == REMOTE_DIR) {
                image_rel(ref, rel, sizeof rel);
                if (fstatat(r->dir.fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        return gear_err_set(e, GEAR_EXIT_NO, "store '%s' has no image '%s:%s'", r->dir.path,
                                            ref->name, ref->tag);
        }
        if ((lock = image_tmp_begin(img, ref, tmp, sizeof tmp, e)) < 0)
                return -1;
        if (r->kind == REMOTE_DIR) {
                if (copy_layout(r->dir.fd, rel, img->fd, tmp, bytes, e) < 0 ||
                    access_list_copy(&r->dir, rel, img, tmp, e) < 0)
                        goto fail;
        } else if (pull_registry(r, img, tag, tmp, bytes, e) < 0)
                goto fail;
        remote_origin_spec(r, tag, spec, sizeof spec - 1);
        strcat(spec, "\n");
        snprintf(orig, sizeof orig, "%s/" REMOTE_ORIGIN_FILE, tmp);
        if (atomic_write(img, orig, spec, strlen(spec), 0644, e) < 0)
                goto fail;
        /* what arrived must read back as a Gear image before it takes the tag */
        if (image_open_dir(img, tmp, ref, &im, e) < 0) {
                if (e->code == GEAR_EXIT_SYS)
                        e->code = GEAR_EXIT_USAGE;
                goto fail;
        }
        image_close(&im);
        if (image_commit(img, ref, tmp, e) < 0)
                goto fail;
        return 0;
fail:
        store_rm_rf(img->fd, tmp);
        return -1;
}
