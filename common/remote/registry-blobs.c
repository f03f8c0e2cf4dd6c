/*
 * What gear asks of a registry: blobs (whole, a range of one, uploaded from
 * memory, a file or a reader, mounted from another repository) and
 * manifests, through the engine of remote-registry.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry-http.h"
#include "../base/fsutil.h"

/*
 * x, a HEAD or a GET of blob hex whose body goes to a file or nowhere: 1
 * when it answers status a or b, 0 when the registry has no such blob
 * (404), -1 (code 111) else.
 */
static int blob_request(struct registry *g, const char *hex, struct xfer *x, long a, long b, struct gear_err *e)
{
        char ref[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN];
        _cleanup_free_ char *url = NULL;
        int r = -1;

        snprintf(ref, sizeof ref, DIGEST_PREFIX "%s", hex);
        if (!(x->url = url = registry_url(g, "blobs", ref)))
                return gear_err_sys(e, ENOMEM, "cannot ask the registry");
        if (registry_request(g, x, e) == 0)
                r = x->status == a || x->status == b ? 1 : x->status == 404 ? 0 : registry_http_error(x, e);
        free(x->down);
        x->down = NULL;
        x->url = NULL;
        return r;
}

int registry_stat_blob(struct registry *g, const char *hex, uint64_t *size, struct gear_err *e)
{
        struct xfer x = { .method = "HEAD", .down_fd = -1 };
        int r = blob_request(g, hex, &x, 200, 200, e);

        if (r > 0 && size)
                *size = x.length >= 0 ? (uint64_t)x.length : UINT64_MAX;
        return r;
}

int registry_has_blob(struct registry *g, const char *hex, struct gear_err *e)
{
        return registry_stat_blob(g, hex, NULL, e);
}

/* POST of an upload (query: NULL, or a mount's); x gets the answer */
static int upload_start(struct registry *g, const char *query, struct xfer *x, char **url, struct gear_err *e)
{
        if (asprintf(url, "%s/blobs/uploads/%s%s", g->base, query ? "?" : "", query ? query : "") < 0) {
                *url = NULL;
                return gear_err_sys(e, ENOMEM, "cannot upload");
        }
        *x = (struct xfer){ .method = "POST", .url = *url, .down_fd = -1 };
        if (registry_request(g, x, e) < 0)
                return -1;
        free(x->down);
        x->down = NULL;
        return 0;
}

/* the upload of blob hex: POST, then PUT of the whole body from what up describes */
static int put_blob(struct registry *g, const char *hex, const struct xfer *up, struct gear_err *e)
{
        char query[sizeof "digest=" DIGEST_PREFIX + DIGEST_HEX_LEN];
        _cleanup_free_ char *url = NULL;
        struct xfer x;
        char *put;
        int r;

        if (upload_start(g, NULL, &x, &url, e) < 0)
                return -1;
        if (x.status != 202 || !x.location[0])
                return registry_http_error(&x, e);
        /* relative to the answer's url; credentials go there only when it is the registry's own origin */
        snprintf(query, sizeof query, "digest=" DIGEST_PREFIX "%s", hex);
        if (!(put = registry_resolve_location(url, x.location, query)))
                return gear_err_set(e, GEAR_EXIT_SYS, "POST '%s': invalid upload location '%s'", url, x.location);
        x = (struct xfer){ .method = "PUT", .url = put, .type = "application/octet-stream", .up = up->up,
                           .up_fd = up->up_fd, .up_read = up->up_read, .up_ud = up->up_ud, .up_len = up->up_len,
                           .down_fd = -1 };
        r = registry_request(g, &x, e);
        free(x.down);
        if (r == 0 && x.status != 201)
                r = registry_http_error(&x, e);
        sym_curl_free(put);
        return r;
}

int registry_put_blob(struct registry *g, const char *hex, const void *buf, int fd, uint64_t n,
                      struct gear_err *e)
{
        struct xfer up = { .up = buf, .up_fd = fd, .up_len = n };

        return put_blob(g, hex, &up, e);
}

int registry_put_blob_read(struct registry *g, const char *hex, registry_read_fn fn, void *ud, uint64_t n,
                           struct gear_err *e)
{
        struct xfer up = { .up_fd = -1, .up_read = fn, .up_ud = ud, .up_len = n };

        return put_blob(g, hex, &up, e);
}

int registry_mount_blob(struct registry *g, const char *hex, const char *from, struct gear_err *e)
{
        _cleanup_free_ char *url = NULL, *query = NULL;
        struct xfer x;
        char *loc;

        if (asprintf(&query, "mount=" DIGEST_PREFIX "%s&from=%s", hex, from) < 0) {
                query = NULL;
                return gear_err_sys(e, ENOMEM, "cannot upload");
        }
        if (upload_start(g, query, &x, &url, e) < 0)
                return -1;
        if (x.status == 201)
                return 1;
        /* 202: the registry could not mount it and opened an upload instead, which is cancelled */
        if (x.status == 202 && x.location[0] && (loc = registry_resolve_location(url, x.location, ""))) {
                struct gear_err ignored = {0};
                struct xfer d = { .method = "DELETE", .url = loc, .down_fd = -1 };
                registry_request(g, &d, &ignored);
                free(d.down);
                sym_curl_free(loc);
        }
        /* refused (no access to the other repository, an old registry): the caller uploads it */
        if (x.status == 202 || x.status == 401 || x.status == 403 || x.status == 404 || x.status == 405)
                return 0;
        return registry_http_error(&x, e);
}

int registry_get_range_fd(struct registry *g, const char *hex, uint64_t off, uint64_t len, int fd,
                          registry_progress_fn fn, void *ud, struct gear_err *e)
{
        struct xfer x = { .method = "GET", .down_fd = fd, .down_max = len, .range = true, .range_off = off,
                          .range_len = len, .down_progress = fn, .down_ud = ud };
        int r = blob_request(g, hex, &x, 200, 206, e);

        if (r <= 0)
                return r < 0 ? -1 : gear_err_set(e, GEAR_EXIT_NO, "the registry has no blob sha256:%.12s", hex);
        if (x.down_len != len)
                return gear_err_set(e, GEAR_EXIT_SYS, "blob sha256:%.12s: %llu of bytes %llu-%llu came", hex,
                                    (unsigned long long)x.down_len, (unsigned long long)off,
                                    (unsigned long long)(off + len - 1));
        return 0;
}

int registry_get_ranges_fd(struct registry *g, const char *hex, const struct byte_range *v, size_t n, int fd,
                           registry_progress_fn fn, void *ud, struct gear_err *e)
{
        struct byteranges br = { .n = 0 };
        struct xfer x = { .method = "GET", .down_fd = fd, .ranges = v, .nranges = n, .br = &br, .down_progress = fn,
                          .down_ud = ud };
        uint64_t want = 0;
        int r = blob_request(g, hex, &x, 200, 206, e);

        /* the whole blob, a refusal of several ranges, or parts that are not them: asked range by range */
        if (x.whole_answer || (r < 0 && (x.range_bad || x.status == 416 || x.status == 501))) {
                gear_err_clear(e);
                return 1;
        }
        if (r <= 0)
                return r < 0 ? -1 : gear_err_set(e, GEAR_EXIT_NO, "the registry has no blob sha256:%.12s", hex);
        for (size_t i = 0; i < n; i++)
                want += v[i].len;
        if (!br.n || !byteranges_done(&br) || x.down_len != want)
                return gear_err_set(e, GEAR_EXIT_SYS, "blob sha256:%.12s: %llu of the %llu bytes of %zu ranges came", hex,
                                    (unsigned long long)x.down_len, (unsigned long long)want, n);
        return 0;
}

int registry_get_blob_fd(struct registry *g, const char *hex, uint64_t max, int fd, struct gear_err *e)
{
        struct xfer x = { .method = "GET", .down_fd = fd, .down_max = max };
        int r = blob_request(g, hex, &x, 200, 200, e);

        if (r <= 0)
                return r < 0 ? -1 : gear_err_set(e, GEAR_EXIT_NO, "the registry has no blob sha256:%.12s", hex);
        if (strcmp(x.got, hex))
                return gear_err_set(e, GEAR_EXIT_SYS, "blob sha256:%.12s from the registry does not match its digest", hex);
        return 0;
}

/* a GET whose body stays in memory: *buf (malloc'd, NUL-terminated) on 200; code 1 with missing on 404 */
static int get_body(struct registry *g, struct xfer *x, const char *missing, char **buf, size_t *n,
                    struct gear_err *e)
{
        if (registry_request(g, x, e) < 0) {
                free(x->down);
                return -1;
        }
        if (x->status != 200) {
                free(x->down);
                if (x->status == 404)
                        return gear_err_set(e, GEAR_EXIT_NO, "%s", missing);
                return registry_http_error(x, e);
        }
        *buf = x->down ? x->down : strdup("");
        *n = x->down_len;
        return *buf ? 0 : gear_err_sys(e, ENOMEM, "cannot fetch '%s'", x->url);
}

int registry_get_blob(struct registry *g, const char *hex, size_t max, char **buf, size_t *n,
                      struct gear_err *e)
{
        char ref[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN], missing[96];
        _cleanup_free_ char *url = NULL;
        struct xfer x = { .method = "GET", .down_fd = -1, .down_max = max };
        digest_hex got;

        snprintf(ref, sizeof ref, DIGEST_PREFIX "%s", hex);
        snprintf(missing, sizeof missing, "the registry has no blob sha256:%.12s", hex);
        if (!(x.url = url = registry_url(g, "blobs", ref)))
                return gear_err_sys(e, ENOMEM, "cannot fetch");
        if (get_body(g, &x, missing, buf, n, e) < 0)
                return -1;
        if (digest_buf(*buf, *n, got, e) < 0) {
                free(TAKE_PTR(*buf));
                return -1;
        }
        if (strcmp(got, hex)) {
                free(TAKE_PTR(*buf));
                return gear_err_set(e, GEAR_EXIT_SYS, "blob sha256:%.12s from the registry does not match its digest", hex);
        }
        return 0;
}

int registry_put_manifest(struct registry *g, const char *tag, const char *type, const void *buf,
                          size_t n, struct gear_err *e)
{
        _cleanup_free_ char *url = NULL;
        struct xfer x = { .method = "PUT", .type = type, .up = buf, .up_len = n, .down_fd = -1 };

        if (!(x.url = url = registry_url(g, "manifests", tag)))
                return gear_err_sys(e, ENOMEM, "cannot push the manifest");
        if (registry_request(g, &x, e) < 0) {
                free(x.down);
                return -1;
        }
        free(x.down);
        if (x.status != 201)
                return registry_http_error(&x, e);
        return 0;
}

int registry_get_manifest(struct registry *g, const char *tag, const char *accept, size_t max, char **buf,
                          size_t *n, struct gear_err *e)
{
        _cleanup_free_ char *url = NULL;
        struct xfer x = { .method = "GET", .accept = accept ? accept : REGISTRY_MANIFEST_TYPE, .down_fd = -1,
                          .down_max = max };
        char missing[320];

        snprintf(missing, sizeof missing, "the registry has no tag '%s'", tag);
        if (!(x.url = url = registry_url(g, "manifests", tag)))
                return gear_err_sys(e, ENOMEM, "cannot fetch the manifest");
        return get_body(g, &x, missing, buf, n, e);
}
