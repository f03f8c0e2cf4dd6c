/* gear-build's docker archive source: manifest.json, the config and layer members */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "image-docker.h"
#include "layer.h"
#include "../base/dl-archive.h"

/* reads of 1 MiB, or of the whole archive when it is smaller (libarchive's least is 10 KiB) */
static size_t block_size(const char *path)
{
        struct stat st;

        if (stat(path, &st) < 0 || st.st_size >= 1 << 20)
                return 1 << 20;
        return st.st_size > 10240 ? (size_t)st.st_size : 10240;
}

/* the outer docker archive, positioned at member's data */
int docker_find(const char *path, const char *member, struct archive **out, struct gear_err *e)
{
        struct archive *a = layer_reader_new(e);
        struct archive_entry *ent;
        char want[PATH_MAX], got[PATH_MAX];
        const char *why;

        if (!a)
                return gear_err_wrap(e, "'%s'", path);
        if (!itree_path_clean(member, false, want, sizeof want, &why)) {
                sym_archive_read_free(a);
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid member '%s' in '%s': %s", member, path, why);
        }
        if (sym_archive_read_open_filename(a, path, block_size(path)) != ARCHIVE_OK)
                goto bad;
        for (;;) {
                int r = sym_archive_read_next_header(a, &ent);
                if (r == ARCHIVE_EOF) {
                        sym_archive_read_free(a);
                        return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' has no member '%s'", path, member);
                }
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        goto bad;
                const char *n = sym_archive_entry_pathname(ent);
                if (n && itree_path_clean(n, true, got, sizeof got, &why) && !strcmp(got, want) &&
                    sym_archive_entry_filetype(ent) == AE_IFREG) {
                        *out = a;
                        return 0;
                }
        }
bad:
        gear_err_set(e, GEAR_EXIT_USAGE, "cannot read '%s': %s", path, sym_archive_error_string(a));
        sym_archive_read_free(a);
        return -1;
}

static json_t *docker_json(const char *path, const char *member, const char *hex, struct gear_err *e)
{
        struct archive *a = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap = 0;
        json_error_t je;
        json_t *j;
        la_ssize_t k;

        if (docker_find(path, member, &a, e) < 0)
                return NULL;
        do {
                if (n + 65536 > cap) {
                        cap = cap ? 2 * cap : 65536;
                        char *p = cap > IMAGE_JSON_MAX ? NULL : realloc(buf, cap);
                        if (!p) {
                                sym_archive_read_free(a);
                                gear_err_set(e, GEAR_EXIT_USAGE, "'%s' in '%s' is too large", member, path);
                                return NULL;
                        }
                        buf = p;
                }
                k = sym_archive_read_data(a, buf + n, cap - n);
                if (k > 0)
                        n += k;
        } while (k > 0);
        sym_archive_read_free(a);
        if (k < 0) {
                gear_err_set(e, GEAR_EXIT_USAGE, "cannot read '%s' in '%s'", member, path);
                return NULL;
        }
        if (hex) {
                digest_hex got;
                if (digest_buf(buf, n, got, e) < 0)
                        return NULL;
                if (strcmp(got, hex)) {
                        gear_err_set(e, GEAR_EXIT_USAGE, "'%s' in '%s' does not match its digest", member, path);
                        return NULL;
                }
        }
        j = json_loadb(buf, n, 0, &je);
        if (!j)
                gear_err_set(e, GEAR_EXIT_USAGE, "'%s' in '%s' is not JSON: %s", member, path, je.text);
        return j;
}

/* the digest in a member name "blobs/sha256/HEX" or "HEX.json", else NULL */
static const char *member_hex(const char *m, digest_hex hex)
{
        const char *b = strrchr(m, '/');
        char tmp[DIGEST_HEX_LEN + 1];

        b = b ? b + 1 : m;
        if (strlen(b) < DIGEST_HEX_LEN)
                return NULL;
        memcpy(tmp, b, DIGEST_HEX_LEN);
        tmp[DIGEST_HEX_LEN] = 0;
        if (!digest_hex_valid(tmp) || (b[DIGEST_HEX_LEN] && strcmp(b + DIGEST_HEX_LEN, ".json")))
                return NULL;
        memcpy(hex, tmp, sizeof tmp);
        return hex;
}

static bool repo_tag_matches(const char *tag, const char *ref)
{
        static const char *prefixes[] = { "", "docker.io/", "docker.io/library/", "localhost/" };

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                for (size_t k = 0; k < ELEMENTSOF(prefixes); k++) {
                        size_t a = strlen(prefixes[i]), b = strlen(prefixes[k]);
                        if (!strncmp(tag, prefixes[i], a) && !strncmp(ref, prefixes[k], b) &&
                            !strcmp(tag + a, ref + b))
                                return true;
                }
        return false;
}

int docker_load(struct image_source *s, struct gear_err *e)
{
        json_t *man = docker_json(s->path, "manifest.json", NULL, e), *m = NULL, *layers, *diff_ids;
        digest_hex hex;
        int r = -1;

        if (!man)
                return -1;
        if (!json_is_array(man) || !json_array_size(man)) {
                gear_err_set(e, GEAR_EXIT_USAGE, "invalid manifest.json in '%s'", s->path);
                goto out;
        }
        if (!s->ref) {
                if (json_array_size(man) > 1) {
                        gear_err_set(e, GEAR_EXIT_USAGE, "'%s' holds %zu images: name one as docker-archive:%s:NAME:TAG",
                                     s->path, json_array_size(man), s->path);
                        goto out;
                }
                m = json_array_get(man, 0);
        } else if (s->ref[0] == '@') {
                m = json_array_get(man, strtoul(s->ref + 1, NULL, 10));
        } else {
                size_t i, k;
                json_t *img, *tag;
                json_array_foreach(man, i, img)
                        json_array_foreach(json_object_get(img, "RepoTags"), k, tag)
                                if (!m && json_is_string(tag) && repo_tag_matches(json_string_value(tag), s->ref))
                                        m = img;
        }
        if (!m) {
                gear_err_set(e, GEAR_EXIT_USAGE, "no image '%s' in '%s'", s->ref, s->path);
                goto out;
        }
        const char *cfg = json_string_value(json_object_get(m, "Config"));
        layers = json_object_get(m, "Layers");
        if (!cfg || !json_is_array(layers)) {
                gear_err_set(e, GEAR_EXIT_USAGE, "invalid manifest.json in '%s'", s->path);
                goto out;
        }
        if (!(s->config = docker_json(s->path, cfg, member_hex(cfg, hex), e)))
                goto out;
        diff_ids = json_object_get(json_object_get(s->config, "rootfs"), "diff_ids");
        s->nlayers = json_array_size(layers);
        if (!(s->layers = calloc(s->nlayers + 1, sizeof *s->layers))) {
                gear_err_sys(e, ENOMEM, "cannot read '%s'", s->path);
                goto out;
        }
        for (size_t i = 0; i < s->nlayers; i++) {
                struct source_layer *l = &s->layers[i];
                const char *name = json_string_value(json_array_get(layers, i));
                const char *d = json_string_value(json_array_get(diff_ids, i));
                l->size = -1;
                if (!name || !(l->member = strdup(name))) {
                        gear_err_set(e, GEAR_EXIT_USAGE, "invalid layer %zu in '%s'", i + 1, s->path);
                        goto out;
                }
                /* docker save's layer.tar is the uncompressed layer: its digest is the diff_id */
                if (!(strncmp(name, "blobs/", 6) == 0 && member_hex(name, l->hex)) && !(d && digest_parse(d, l->hex))) {
                        gear_err_set(e, GEAR_EXIT_USAGE, "layer %zu of '%s' has no digest", i + 1, s->path);
                        goto out;
                }
                snprintf(l->label, sizeof l->label, "layer %zu (sha256:%.12s)", i + 1, l->hex);
        }
        r = 0;
out:
        json_decref(man);
        return r;
}

