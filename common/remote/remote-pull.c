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

/*
 * The map blob as text (a registry's blob is compressed), checked. The
 * compact form (a map of packs) is kept as it is: expanding it takes the
 * parsed index, which the mount builds anyway (object_map_load); checked
 * here for all but which contents its numbers stand for.
 */
static int map_read(struct store_image *s, struct gear_err *e)
{
        struct object_map *m = NULL;

        if (object_map_decode(s->map, s->nmap, &s->map_text, &s->nmap_text, e) < 0 ||
            (object_map_is_wire(s->map_text, s->nmap_text) ? object_map_wire_check(s->map_text, s->nmap_text, e)
                                                            : object_map_parse(s->map_text, s->nmap_text, &m, e)) < 0)
                return gear_err_wrap(e, "blob sha256:%.12s", s->m.map);
        object_map_free(m);
        return 0;
}

/* a blob from the registry, at most max bytes (exactly size when >= 0), checked by check when not NULL */
static int get_blob(struct remote *r, const char *hex, int64_t size, size_t max,
                    int (*check)(const char *, size_t, struct gear_err *), char **buf, size_t *n, uint64_t *bytes,
                    struct gear_err *e)
{
        if (registry_get_blob(r->reg, hex, size >= 0 ? (size_t)size : max, buf, n, e) < 0)
                return -1;
        *bytes += *n;
        if (size >= 0 && (uint64_t)size != *n)
                return gear_err_set(e, GEAR_EXIT_SYS, "blob sha256:%.12s has %zu bytes, want %lld", hex, *n,
                                    (long long)size);
        if (check && check(*buf, *n, e) < 0)
                return gear_err_wrap(e, "blob sha256:%.12s", hex);
        return 0;
}

/* the image under tag, read whole: the declared sizes checked before the blobs are fetched */
static int registry_read(struct remote *r, const char *tag, struct store_image *s, uint64_t *bytes,
                         struct gear_err *e)
{
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        struct store_manifest *m = &s->m;
        json_t *ix;

        memset(s, 0, sizeof *s);
        if (registry_get_manifest(r->reg, tag, NULL, IMAGE_JSON_MAX, &s->man, &s->nman, e) < 0)
                return -1;
        *bytes += s->nman;
        if (digest_buf(s->man, s->nman, s->mhex, e) < 0)
                goto fail;
        if (manifest_parse(s->man, s->nman, m, e) < 0 || !m->has_map) {
                gear_err_set(e, GEAR_EXIT_USAGE, "'%s:%s' is not a Gear index image", r->repo, tag);
                goto fail;
        }
        if (manifest_check_limits(m, &r->limits, e) < 0) {
                gear_err_wrap(e, "'%s:%s'", r->repo, tag);
                goto fail;
        }
        if (get_blob(r, m->config, m->config_size, 0, NULL, &s->config, &s->nconfig, bytes, e) < 0 ||
            get_blob(r, m->layer, m->layer_size, 0, NULL, &s->layer, &s->nlayer, bytes, e) < 0 ||
            get_blob(r, m->map, -1, REMOTE_MAP_MAX, NULL, &s->map, &s->nmap, bytes, e) < 0 || map_read(s, e) < 0 ||
            (m->has_access &&
             get_blob(r, m->access, -1, ACCESS_LIST_MAX, access_list_check, &s->access, &s->naccess, bytes, e) < 0))
                goto fail;
        s->access_blob = m->has_access;
        ix = json_pack("{s:i, s:[{s:s, s:s+, s:I, s:{s:s}}]}", "schemaVersion", 2, "manifests", "mediaType",
                       m->type[0] ? m->type : REGISTRY_MANIFEST_TYPE, "digest", DIGEST_PREFIX, s->mhex, "size",
                       (json_int_t)s->nman, "annotations", IMAGE_REF_ANNOTATION, tag);
        s->idx = ix ? json_dumps(ix, JSON_COMPACT) : NULL;
        json_decref(ix);
        s->layout = strdup(layout);
        if (!s->idx || !s->layout) {
                gear_err_sys(e, ENOMEM, "cannot write index.json");
                goto fail;
        }
        s->nidx = strlen(s->idx);
        s->nlayout = strlen(layout);
        return 0;
fail:
        store_image_free(s);
        return -1;
}

int remote_pull(struct remote *r, const struct gear_root *img, const struct image_ref *ref,
                uint64_t *bytes, struct gear_err *e)
{
        char rel[PATH_MAX], tmp[PATH_MAX], spec[PATH_MAX + 16], orig[PATH_MAX];
        const char *tag = r->tag[0] ? r->tag : ref->tag;
        _cleanup_close_ int lock = -1;
        struct store_image s;
        struct image im;
        int k;

        *bytes = 0;
        image_rel(ref, rel, sizeof rel);
        /* everything is read and checked before the image tree is touched */
        if (r->kind == REMOTE_DIR) {
                if (store_image_read(&r->dir, rel, &r->limits, &s, bytes, e) < 0) {
                        if (e->code == GEAR_EXIT_NO)
                                gear_err_set(e, GEAR_EXIT_NO, "store '%s' has no image '%s:%s'", r->dir.path,
                                             ref->name, ref->tag);
                        return -1;
                }
        } else if (registry_read(r, tag, &s, bytes, e) < 0)
                return -1;
        if ((lock = image_tmp_begin(img, ref, tmp, sizeof tmp, e)) < 0) {
                store_image_free(&s);
                return -1;
        }
        k = store_image_write(img, tmp, &s, e);
        store_image_free(&s);
        if (k < 0)
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
