/* writing a built tree as images/NAME/TAG/: an OCI image layout with one image of one layer */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "image.h"
#include "index.h"
#include "layer.h"
#include "../base/dl-archive.h"
#include "../base/fsutil.h"

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#elif defined(__i386__)
#define HOST_ARCH "386"
#else
#define HOST_ARCH "unknown"
#endif

static int write_at(int dfd, const char *name, const void *buf, size_t n, struct gear_err *e)
{
        _cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

        if (fd < 0)
                return gear_err_sys(e, errno, "cannot create '%s'", name);
        for (const char *p = buf; n;) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return gear_err_sys(e, errno, "cannot write '%s'", name);
                p += k;
                n -= k;
        }
        if (fsync(fd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s'", name);
        return 0;
}

static int write_blob(int dfd, const void *buf, size_t n, digest_hex hex, struct gear_err *e)
{
        char rel[sizeof "blobs/sha256/" + DIGEST_HEX_LEN];

        if (digest_buf(buf, n, hex, e) < 0)
                return -1;
        snprintf(rel, sizeof rel, "blobs/sha256/%s", hex);
        return write_at(dfd, rel, buf, n, e);
}

/* gzip, reproducibly (no timestamp in the header) */
static int gzip(const char *in, size_t n, struct membuf *out, struct gear_err *e)
{
        struct archive *a = NULL;
        struct archive_entry *ent = NULL;
        int r = -1;

        if (dl_archive(e) < 0)
                return -1;
        a = sym_archive_write_new();
        ent = sym_archive_entry_new();
        if (!a || !ent) {
                gear_err_sys(e, ENOMEM, "cannot compress index");
                goto out;
        }
        sym_archive_entry_set_pathname(ent, "index");
        sym_archive_entry_set_filetype(ent, AE_IFREG);
        sym_archive_entry_set_size(ent, n);
        if (sym_archive_write_set_format_raw(a) != ARCHIVE_OK || sym_archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
            sym_archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
            sym_archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
            sym_archive_write_open(a, out, NULL, membuf_write, NULL) != ARCHIVE_OK ||
            sym_archive_write_header(a, ent) != ARCHIVE_OK ||
            sym_archive_write_data(a, in, n) != (la_ssize_t)n || sym_archive_write_close(a) != ARCHIVE_OK) {
                gear_err_set(e, GEAR_EXIT_SYS, "cannot compress index: %s", sym_archive_error_string(a));
                goto out;
        }
        r = 0;
out:
        sym_archive_entry_free(ent);
        sym_archive_write_free(a);
        return r;
}

static json_t *descriptor(const char *mt, const char *hex, size_t size)
{
        char d[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN];

        snprintf(d, sizeof d, DIGEST_PREFIX "%s", hex);
        return json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", d, "size", (json_int_t)size);
}

static char *u64(uint64_t v, char *buf)
{
        sprintf(buf, "%" PRIu64, v);
        return buf;
}

static json_t *make_config(json_t *src, const char *diff_id)
{
        json_t *c = src ? json_deep_copy(src) : json_pack("{s:s, s:s, s:{}}", "architecture", HOST_ARCH,
                                                          "os", "linux", "config");
        char d[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN];

        if (!c)
                return NULL;
        snprintf(d, sizeof d, DIGEST_PREFIX "%s", diff_id);
        json_object_set_new(c, "rootfs", json_pack("{s:s, s:[s]}", "type", "layers", "diff_ids", d));
        json_object_set_new(c, "history", json_pack("[{s:s, s:s}]", "created_by", "gear-build",
                                                    "comment", "gear index: file contents are in the store"));
        return c;
}

static int write_json(int dfd, const char *name, json_t *j, digest_hex hex, size_t *size, struct gear_err *e)
{
        _cleanup_free_ char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

        if (!s)
                return gear_err_sys(e, ENOMEM, "cannot write image");
        *size = strlen(s);
        if (!name)
                return write_blob(dfd, s, *size, hex, e);
        return write_at(dfd, name, s, *size, e);
}

static int fill(int dfd, const struct image_ref *r, struct itree *t, json_t *src_config,
                struct layout_result *res, struct gear_err *e)
{
        _cleanup_free_ char *tar = NULL;
        struct membuf gz = {0};
        digest_hex diff_id, layer, config, dummy;
        size_t n, config_size, manifest_size, layout_size;
        json_t *cfg = NULL, *man = NULL, *idx = NULL, *lay = NULL;
        char b1[24], b2[24], b3[24], b4[24];
        int ret = -1;

        if (mkdir_p_at(dfd, "blobs/sha256", 0755, e) < 0)
                return -1;
        if (index_write(t, &tar, &n, &res->sum, e) < 0 || digest_buf(tar, n, diff_id, e) < 0 ||
            gzip(tar, n, &gz, e) < 0 || write_blob(dfd, gz.p, gz.n, layer, e) < 0)
                goto out;
        cfg = make_config(src_config, diff_id);
        if (write_json(dfd, NULL, cfg, config, &config_size, e) < 0)
                goto out;
        man = json_pack("{s:i, s:s, s:o, s:[o], s:{s:s, s:s, s:s, s:s, s:s}}",
                        "schemaVersion", 2, "mediaType", MT_MANIFEST,
                        "config", descriptor(MT_CONFIG, config, config_size),
                        "layers", descriptor(MT_LAYER, layer, gz.n),
                        "annotations", "io.gear.index", INDEX_VERSION,
                        "io.gear.entries", u64(res->sum.entries, b1), "io.gear.files", u64(res->sum.files, b2),
                        "io.gear.bytes", u64(res->sum.bytes, b3), "io.gear.objects", u64(res->sum.objects, b4));
        if (write_json(dfd, NULL, man, res->manifest, &manifest_size, e) < 0)
                goto out;
        idx = json_pack("{s:i, s:[o]}", "schemaVersion", 2, "manifests",
                        descriptor(MT_MANIFEST, res->manifest, manifest_size));
        json_object_set_new(json_array_get(json_object_get(idx, "manifests"), 0), "annotations",
                            json_pack("{s:s}", IMAGE_REF_ANNOTATION, r->tag));
        lay = json_pack("{s:s}", "imageLayoutVersion", "1.0.0");
        if (write_json(dfd, "index.json", idx, dummy, &n, e) < 0 ||
            write_json(dfd, "oci-layout", lay, dummy, &layout_size, e) < 0)
                goto out;
        ret = 0;
out:
        free(gz.p);
        json_decref(cfg);
        json_decref(man);
        json_decref(idx);
        json_decref(lay);
        return ret;
}

int layout_write(const struct gear_root *img, const struct image_ref *r, struct itree *t, json_t *src_config,
                 struct layout_result *res, struct gear_err *e)
{
        _cleanup_close_ int dfd = -1;

        if ((res->lock = image_tmp_begin(img, r, res->tmp, sizeof res->tmp, e)) < 0) {
                res->tmp[0] = 0;
                return -1;
        }
        dfd = openat(img->fd, res->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return gear_err_sys(e, errno, "cannot open '%s/%s'", img->path, res->tmp);
        if (fill(dfd, r, t, src_config, res, e) < 0)
                return gear_err_wrap(e, "in '%s/%s'", img->path, res->tmp);
        return 0;
}
