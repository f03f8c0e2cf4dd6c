/*
 * The registry side of a store: libcurl easy handles kept in a small pool
 * (connections stay open between requests), bounded timeouts, retries with
 * backoff on transport errors and 5xx answers, HTTP basic auth from a
 * containers-auth.json file.
 *
 * Timeouts: GEAR_CONNECT_TIMEOUT (seconds, default 5) to connect;
 * GEAR_FETCH_TIMEOUT (seconds, default 10) moving less than FETCH_MIN_SPEED
 * a second ends a transfer, as does its deadline (fetch_deadline,
 * registry-token.h). GEAR_FETCH_RETRIES (default 2) more attempts follow a
 * failed one, except after a stall, which has used up its time already.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "registry-http.h"
#include "registry-token.h"
#include "../base/fsutil.h"
/* of an answer that is not kept (an error page, a redirect, an upload's answer): read and dropped */
#define ANSWER_DROP_MAX (1u << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
        sym_curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long env_long(const char *name, long def)
{
        const char *s = getenv(name);
        char *end;
        long v;

        if (!s || !*s)
                return def;
        v = strtol(s, &end, 10);
        return *end || v < 0 ? def : v;
}

/* "user:pass" from auths[host].auth of a containers-auth.json file */
static int read_auth(const char *authfile, const char *host, char **userpwd, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL, *key = NULL;
        struct gear_root cwd = { .fd = AT_FDCWD };
        const char *b64;
        json_error_t je;
        json_t *j, *auths;
        unsigned char *out;
        size_t n, len;
        bool bad;
        int k;

        *userpwd = NULL;
        if (!authfile)
                return 0;
        snprintf(cwd.path, sizeof cwd.path, ".");
        if (read_file(&cwd, authfile, 1 << 20, &buf, &n, e) < 0) {
                if (e->code == GEAR_EXIT_NO) {
                        gear_err_clear(e);
                        return 0;
                }
                return gear_err_wrap(e, "auth file '%s'", authfile);
        }
        j = json_loadb(buf, n, 0, &je);
        auths = json_object_get(j, "auths");
        if (!j || (auths && !json_is_object(auths))) {
                json_decref(j);
                return gear_err_set(e, GEAR_EXIT_USAGE, "auth file '%s' is not valid JSON", authfile);
        }
        b64 = json_string_value(json_object_get(json_object_get(auths, host), "auth"));
        if (!b64 && asprintf(&key, "https://%s", host) >= 0)
                b64 = json_string_value(json_object_get(json_object_get(auths, key), "auth"));
        if (!b64) {
                json_decref(j);
                return 0;
        }
        len = strlen(b64);
        out = malloc(len / 4 * 3 + 4);
        if (!out) {
                json_decref(j);
                return gear_err_sys(e, ENOMEM, "cannot read '%s'", authfile);
        }
        /* b64 is j's: decoded before the decref */
        k = len % 4 || strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != len
                    ? -1 : b64_pton(b64, out, len / 4 * 3 + 4);
        bad = k < 0;
        json_decref(j);
        if (bad) {
                free(out);
                return gear_err_set(e, GEAR_EXIT_USAGE, "auth file '%s': invalid auth for '%s'", authfile, host);
        }
        out[k] = 0;
        if (!strchr((char *)out, ':')) {
                free(out);
                return gear_err_set(e, GEAR_EXIT_USAGE, "auth file '%s': invalid auth for '%s'", authfile, host);
        }
        *userpwd = (char *)out;
        return 0;
}

/* scheme, host and port (the scheme's default when it names none) of url; 0 or -1 */
static int url_origin(const char *url, char **scheme, char **host, char **port)
{
        CURLU *u = sym_curl_url();
        int r = -1;

        *scheme = *host = *port = NULL;
        if (u && sym_curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            sym_curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
            sym_curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
            sym_curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK)
                r = 0;
        sym_curl_url_cleanup(u);
        if (r < 0) {
                sym_curl_free(*scheme);
                sym_curl_free(*host);
                sym_curl_free(*port);
                *scheme = *host = *port = NULL;
        }
        return r;
}

/* url is on the registry's own scheme, host and port */
static bool same_origin(const struct registry *g, const char *url)
{
        char *scheme, *host, *port;
        bool same;

        if (!g->scheme || url_origin(url, &scheme, &host, &port) < 0)
                return false;
        same = !strcasecmp(scheme, g->scheme) && !strcasecmp(host, g->host) && !strcmp(port, g->port);
        sym_curl_free(scheme);
        sym_curl_free(host);
        sym_curl_free(port);
        return same;
}

char *registry_resolve_location(const char *url, const char *loc, const char *query)
{
        CURLU *u = sym_curl_url();
        char *scheme = NULL, *out = NULL;

        if (u && *loc && sym_curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            sym_curl_url_set(u, CURLUPART_URL, loc, 0) == CURLUE_OK &&
            sym_curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            (!strcmp(scheme, "http") || !strcmp(scheme, "https")) &&
            sym_curl_url_set(u, CURLUPART_QUERY, query, CURLU_APPENDQUERY) == CURLUE_OK &&
            sym_curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
                out = NULL;
        sym_curl_free(scheme);
        sym_curl_url_cleanup(u);
        return out;
}

int registry_open(const char *host, const char *repo, bool http, const char *authfile,
                  struct registry **gp, struct gear_err *e)
{
        struct registry *g;

        if (dl_curl(e) < 0)
                return -1;
        pthread_once(&curl_once, curl_init_once);
        g = calloc(1, sizeof *g);
        if (!g)
                return gear_err_sys(e, ENOMEM, "cannot open the registry");
        pthread_mutex_init(&g->lock, NULL);
        g->http = http;
        g->connect_timeout = env_long("GEAR_CONNECT_TIMEOUT", 5);
        g->stall_timeout = env_long("GEAR_FETCH_TIMEOUT", 10);
        g->retries = env_long("GEAR_FETCH_RETRIES", 2);
        if (asprintf(&g->base, "%s://%s/v2/%s", http ? "http" : "https", host, repo) < 0) {
                g->base = NULL;
                registry_free(g);
                return gear_err_sys(e, ENOMEM, "cannot open the registry");
        }
        if (url_origin(g->base, &g->scheme, &g->host, &g->port) < 0) {
                registry_free(g);
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid registry '%s'", host);
        }
        if (!(g->repo = strdup(repo)) || !(g->tokens = token_cache_new())) {
                registry_free(g);
                return gear_err_sys(e, ENOMEM, "cannot open the registry");
        }
        if (read_auth(authfile, host, &g->userpwd, e) < 0) {
                registry_free(g);
                return -1;
        }
        *gp = g;
        return 0;
}

void registry_free(struct registry *g)
{
        if (!g)
                return;
        for (size_t i = 0; i < g->npool; i++)
                sym_curl_easy_cleanup(g->pool[i]);
        pthread_mutex_destroy(&g->lock);
        free(g->base);
        free(g->repo);
        token_cache_free(g->tokens);
        sym_curl_free(g->scheme);
        sym_curl_free(g->host);
        sym_curl_free(g->port);
        if (g->userpwd)
                explicit_bzero(g->userpwd, strlen(g->userpwd));
        free(g->userpwd);
        free(g);
}

static CURL *handle_get(struct registry *g)
{
        CURL *c = NULL;

        pthread_mutex_lock(&g->lock);
        if (g->npool)
                c = g->pool[--g->npool];
        pthread_mutex_unlock(&g->lock);
        return c ? c : sym_curl_easy_init();
}

static void handle_put(struct registry *g, CURL *c)
{
        pthread_mutex_lock(&g->lock);
        if (g->npool < POOL_MAX) {
                g->pool[g->npool++] = c;
                c = NULL;
        }
        pthread_mutex_unlock(&g->lock);
        if (c)
                sym_curl_easy_cleanup(c);
}

static size_t up_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
        struct xfer *x = ud;
        size_t n = size * nmemb;
        ssize_t k;

        if (n > x->up_len - x->up_off)
                n = x->up_len - x->up_off;
        if (!n)
                return 0;
        if (x->up) {
                memcpy(buf, (const char *)x->up + x->up_off, n);
                k = n;
        } else if (x->up_read) {
                k = x->up_read(x->up_ud, x->up_off, buf, n);
                if (k <= 0)
                        return CURL_READFUNC_ABORT;
        } else {
                k = pread(x->up_fd, buf, n, x->up_off);
                if (k <= 0)
                        return CURL_READFUNC_ABORT;
        }
        x->up_off += k;
        return k;
}

static size_t too_big(struct xfer *x, uint64_t bound)
{
        x->down_err = true;
        x->down_errno = EFBIG;
        x->too_big = bound;
        return 0;
}

static size_t keep(struct xfer *x, const char *buf, size_t n)
{
        int r;

        if (x->down_fd < 0) {
                if (mem_append(&x->down, &x->down_len, buf, n) < 0) {
                        x->down_err = true;
                        x->down_errno = ENOMEM;
                        return 0;
                }
                return n;
        }
        if ((r = write_all(x->down_fd, buf, n)) < 0) {
                x->down_err = true;
                x->down_errno = -r;
                return 0;
        }
        digest_update(&x->dg, buf, n);
        x->down_len += n;
        if (x->down_progress)
                x->down_progress(x->down_ud, x->down_len);
        return n;
}

/* "bytes START-END/TOTAL" is the range asked for */
static bool content_range_ok(const struct xfer *x)
{
        uint64_t a, b;

        return byteranges_content_range(x->content_range, &a, &b) && a == x->range_off &&
               b == x->range_off + x->range_len - 1;
}

/* the body of an answer to a Range request: only the range is kept, never more */
static size_t down_range(struct xfer *x, char *buf, size_t n, long status)
{
        size_t skip = 0, take = n;
        uint64_t left = x->range_len - x->down_len;

        if (status == 206) {
                if (!content_range_ok(x)) {
                        x->range_bad = true;
                        return 0;
                }
                if (n > left)
                        return too_big(x, x->range_len);
                return keep(x, buf, n);
        }
        /* 200: the whole blob, whose bytes before the range are dropped and after it not read */
        if (x->range_pos < x->range_off) {
                uint64_t s = x->range_off - x->range_pos;
                skip = s < n ? (size_t)s : n;
                x->range_pos += skip;
                take = n - skip;
        }
        if (take > left)
                take = left;
        if (take && keep(x, buf + skip, take) != take)
                return 0;
        x->range_pos += take;
        if (x->down_len < x->range_len)
                return n;
        x->range_done = true;
        return 0;
}

static bool keep_part(void *ud, const char *p, size_t n)
{
        return keep(ud, p, n) == n;
}

/* the body of an answer to a Range request for several ranges: a 206 parsed (byteranges.h), a 200 refused */
static size_t down_ranges(struct xfer *x, char *buf, size_t n, long status)
{
        if (status == 200) {
                x->whole_answer = true;
                return 0;
        }
        if (!x->br_started) {
                x->br_started = true;
                if (byteranges_start(x->br, x->ranges, x->nranges, x->content_type, x->content_range, &x->br_err) < 0) {
                        x->range_bad = true;
                        return 0;
                }
        }
        if (byteranges_feed(x->br, buf, n, keep_part, x, &x->br_err) < 0) {
                x->range_bad = !x->down_err;
                return 0;
        }
        return n;
}

static size_t down_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
        struct xfer *x = ud;
        size_t n = size * nmemb;
        long status = 0;

        sym_curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
        if (x->nranges && (status == 200 || status == 206))
                return down_ranges(x, buf, n, status);
        if (x->range && (status == 200 || status == 206))
                return down_range(x, buf, n, status);
        /* an error page, a redirect or an upload's answer is not kept, and not read without end */
        if (status != 200 || (x->down_fd < 0 && !x->down_max)) {
                x->dropped += n;
                return x->dropped > ANSWER_DROP_MAX ? too_big(x, ANSWER_DROP_MAX) : n;
        }
        if (n > x->down_max - x->down_len)
                return too_big(x, x->down_max);
        return keep(x, buf, n);
}

/* the value of header line buf (n bytes) when it is name ("location:"), trimmed, into out; false when not or too long */
static bool header_value(const char *buf, size_t n, const char *name, char *out, size_t size)
{
        size_t i = strlen(name), j = n;

        if (n <= i || strncasecmp(buf, name, i))
                return false;
        while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
                i++;
        while (j > i && (buf[j - 1] == '\r' || buf[j - 1] == '\n' || buf[j - 1] == ' '))
                j--;
        if (j - i >= size)
                return false;
        memcpy(out, buf + i, j - i);
        out[j - i] = 0;
        return true;
}

static size_t header_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
        struct xfer *x = ud;
        size_t n = size * nmemb;
        char v[sizeof x->challenge];

        if (n > 5 && !strncmp(buf, "HTTP/", 5)) {
                x->challenge[0] = 0;
                x->content_range[0] = 0;
                x->content_type[0] = 0;
        }
        header_value(buf, n, "content-range:", x->content_range, sizeof x->content_range);
        header_value(buf, n, "content-type:", x->content_type, sizeof x->content_type);
        if (header_value(buf, n, "www-authenticate:", v, sizeof v) && !strncasecmp(v, "bearer", 6))
                memcpy(x->challenge, v, sizeof v);
        header_value(buf, n, "location:", x->location, sizeof x->location);
        return n;
}

/*
 * GEAR_HTTP_TRACE=FILE appends a line per request to FILE: method, url,
 * status, curl's times in microseconds (connected, sent, first byte of the
 * answer, done) and the wall clock's then, for the benchmarks of where a
 * fetch spends its time.
 */
static void trace(CURL *c, const struct xfer *x, CURLcode rc)
{
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        const char *path = getenv("GEAR_HTTP_TRACE");
        curl_off_t t[4] = {0};
        struct timespec now;
        long status = 0;
        FILE *f;

        if (!path || !*path)
                return;
        clock_gettime(CLOCK_REALTIME, &now);
        sym_curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        sym_curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &t[0]);
        sym_curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &t[1]);
        sym_curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &t[2]);
        sym_curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &t[3]);
        pthread_mutex_lock(&lock);
        if ((f = fopen(path, "ae"))) {
                fprintf(f, "%s\t%s\t%ld\t%d\t%lld\t%lld\t%lld\t%lld\t%lld\n", x->method, x->url, status, (int)rc,
                        (long long)t[0], (long long)t[1], (long long)t[2], (long long)t[3],
                        (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000);
                fclose(f);
        }
        pthread_mutex_unlock(&lock);
}

/* the request with token (NULL: none), retried; 0 with x->status set, or -1 (code 111) on a transport error */
static int request_once(struct registry *g, struct xfer *x, const char *token, struct gear_err *e)
{
        CURL *c = handle_get(g);
        struct curl_slist *hdr = NULL;
        char line[512], ranges[BYTERANGES_MAX * 42 + 16], *eff;
        CURLcode rc = CURLE_OK;
        off_t down_start = -1;
        bool own = same_origin(g, x->url), auth = g->userpwd && own && !token;
        int r = -1;

        memcpy(ranges, "Range: ", 7);
        if (x->nranges &&
            (x->nranges > BYTERANGES_MAX || !byteranges_header(x->ranges, x->nranges, ranges + 7, sizeof ranges - 7))) {
                if (c)
                        handle_put(g, c);
                return gear_err_set(e, GEAR_EXIT_USAGE, "more ranges than one request asks for");
        }
        if (!c)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot create a curl handle");
        if (x->down_fd >= 0)
                down_start = lseek(x->down_fd, 0, SEEK_CUR);
        hdr = sym_curl_slist_append(hdr, "Expect:");
        if (x->type) {
                snprintf(line, sizeof line, "Content-Type: %s", x->type);
                hdr = sym_curl_slist_append(hdr, line);
        }
        if (x->accept) {
                snprintf(line, sizeof line, "Accept: %s", x->accept);
                hdr = sym_curl_slist_append(hdr, line);
        }
        if (x->range) {
                snprintf(line, sizeof line, "Range: bytes=%llu-%llu", (unsigned long long)x->range_off,
                         (unsigned long long)(x->range_off + x->range_len - 1));
                hdr = sym_curl_slist_append(hdr, line);
        }
        if (x->nranges)
                hdr = sym_curl_slist_append(hdr, ranges);
        for (int attempt = 0;; attempt++) {
                /* a stream (a pipe) cannot take back what went out: no retry after a byte */
                if (attempt && x->down_fd >= 0 && down_start < 0 && x->down_len) {
                        gear_err_set(e, GEAR_EXIT_SYS, "%s '%s': %s", x->method, x->url,
                                     rc != CURLE_OK ? sym_curl_easy_strerror(rc) : "cut off");
                        goto out;
                }
                sym_curl_easy_reset(c);
                x->curl = c;
                x->status = 0;
                x->up_off = 0;
                x->down_len = 0;
                x->dropped = 0;
                x->too_big = 0;
                x->down_err = false;
                x->range_pos = 0;
                x->range_done = x->range_bad = false;
                x->br_started = x->whole_answer = false;
                if (x->br)
                        x->br->n = x->br->cur = 0;
                x->content_range[0] = 0;
                x->content_type[0] = 0;
                x->length = -1;
                x->location[0] = 0;
                if (x->down_fd >= 0) {
                        if (down_start >= 0 && (lseek(x->down_fd, down_start, SEEK_SET) < 0 ||
                                                ftruncate(x->down_fd, down_start) < 0) && attempt) {
                                gear_err_sys(e, errno, "cannot rewind the output");
                                goto out;
                        }
                        if (digest_init(&x->dg, e) < 0)
                                goto out;
                }
                sym_curl_easy_setopt(c, CURLOPT_URL, x->url);
                sym_curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
                sym_curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
                sym_curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, g->connect_timeout);
                sym_curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)FETCH_MIN_SPEED);
                sym_curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, g->stall_timeout);
                sym_curl_easy_setopt(c, CURLOPT_TIMEOUT,
                                     fetch_deadline(g->stall_timeout,
                                                    x->up_len + (x->nranges ? x->ranges[x->nranges - 1].off +
                                                                                      x->ranges[x->nranges - 1].len
                                                                 : x->range  ? x->range_off + x->range_len
                                                                 : x->down_max ? x->down_max : ANSWER_DROP_MAX)));
                sym_curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, x->down_fd >= 0 || x->down_max ? 1L : 0L);
                sym_curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
                sym_curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
                sym_curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
                sym_curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
                /* a Content-Length past the bound ends it before the body (a whole blob may answer a Range) */
                if (x->down_max && x->down_max <= INT64_MAX && !x->range)
                        sym_curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->down_max);
                /* credentials go to the registry's own origin only, not where it sends an upload */
                if (auth) {
                        sym_curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                        sym_curl_easy_setopt(c, CURLOPT_USERPWD, g->userpwd);
                        /* nor where it redirects (another scheme, host or port) */
                        sym_curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
                }
                /* a token the same way: to the registry's origin, never where it redirects */
                if (token && own) {
                        sym_curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
                        sym_curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, token);
                        sym_curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
                }
                sym_curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
                sym_curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
                sym_curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, down_cb);
                sym_curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
                if (!strcmp(x->method, "HEAD"))
                        sym_curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
                else if (!strcmp(x->method, "PUT")) {
                        sym_curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
                        sym_curl_easy_setopt(c, CURLOPT_READFUNCTION, up_cb);
                        sym_curl_easy_setopt(c, CURLOPT_READDATA, x);
                        sym_curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->up_len);
                } else if (!strcmp(x->method, "POST")) {
                        sym_curl_easy_setopt(c, CURLOPT_POST, 1L);
                        sym_curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
                        sym_curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
                } else if (!strcmp(x->method, "DELETE")) {
                        sym_curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
                }
                rc = sym_curl_easy_perform(c);
                trace(c, x, rc);
                /* a 200 answer to a Range request is stopped once the range is in, or at once for several */
                if (rc == CURLE_WRITE_ERROR && (x->range_done || x->whole_answer))
                        rc = CURLE_OK;
                if (x->down_fd >= 0)
                        digest_final(&x->dg, x->got);
                sym_curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
                {
                        curl_off_t cl = -1;
                        if (sym_curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK)
                                x->length = cl;
                }
                eff = NULL;
                sym_curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
                x->from_registry = eff && same_origin(g, eff);
                if (rc == CURLE_OK && x->status < 500)
                        break;
                if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
                        gear_err_set(e, GEAR_EXIT_SYS, "%s '%s': the answer is larger than %llu bytes", x->method,
                                     x->url, (unsigned long long)(x->too_big ? x->too_big : x->down_max));
                        goto out;
                }
                if (x->range_bad && x->nranges) {
                        gear_err_set(e, GEAR_EXIT_SYS, "%s '%s': %s", x->method, x->url, x->br_err.msg);
                        goto out;
                }
                if (x->range_bad) {
                        gear_err_set(e, GEAR_EXIT_SYS, "%s '%s': the answer is for bytes '%s', not %llu-%llu",
                                     x->method, x->url, x->content_range, (unsigned long long)x->range_off,
                                     (unsigned long long)(x->range_off + x->range_len - 1));
                        goto out;
                }
                if (x->down_err) {
                        gear_err_sys(e, x->down_errno, "cannot store the answer of '%s'", x->url);
                        goto out;
                }
                if (attempt >= g->retries || rc == CURLE_OPERATION_TIMEDOUT) {
                        if (rc != CURLE_OK)
                                gear_err_set(e, GEAR_EXIT_SYS, "%s '%s': %s", x->method, x->url,
                                             sym_curl_easy_strerror(rc));
                        else
                                gear_err_set(e, GEAR_EXIT_SYS, "%s '%s': HTTP %ld", x->method, x->url,
                                             x->status);
                        goto out;
                }
                /* 0.2 s, 0.4 s, 0.8 s, ... */
                struct timespec ts = { .tv_sec = 0, .tv_nsec = 200000000L };
                for (int i = 0; i < attempt && ts.tv_sec < 5; i++) {
                        ts.tv_nsec *= 2;
                        ts.tv_sec += ts.tv_nsec / 1000000000L;
                        ts.tv_nsec %= 1000000000L;
                }
                nanosleep(&ts, NULL);
        }
        r = 0;
out:
        if (x->down_fd >= 0)
                digest_done(&x->dg);
        sym_curl_slist_free_all(hdr);
        handle_put(g, c);
        return r;
}

/*
 * The request; a 401 with a Bearer challenge from the registry's own origin
 * gets a token for its scope from the realm it names (remote-registry.h) and
 * goes once more with it. A token cached for the scope goes with the first
 * try.
 */
int registry_request(struct registry *g, struct xfer *x, struct gear_err *e)
{
        struct token_opts to = { .userpwd = g->userpwd, .https = !g->http, .connect_timeout = g->connect_timeout,
                                 .stall_timeout = g->stall_timeout };
        struct bearer_challenge ch;
        char scope[sizeof "repository::pull,push" + 512];
        char *token;
        int r;

        snprintf(scope, sizeof scope, "repository:%s:%s", g->repo,
                 !strcmp(x->method, "GET") || !strcmp(x->method, "HEAD") ? "pull" : "pull,push");
        token = token_cached(g->tokens, scope);
        r = request_once(g, x, token, e);
        if (r < 0 || x->status != 401 || !x->from_registry || !bearer_parse(x->challenge, &ch)) {
                free(token);
                return r;
        }
        if (token)
                token_forget(g->tokens, scope);
        free(token);
        if (!ch.scope[0])
                snprintf(ch.scope, sizeof ch.scope, "%s", scope);
        if (token_get(g->tokens, &ch, &to, &token, e) < 0)
                return -1;
        free(x->down);
        x->down = NULL;
        r = request_once(g, x, token, e);
        explicit_bzero(token, strlen(token));
        free(token);
        return r;
}

char *registry_url(struct registry *g, const char *what, const char *ref)
{
        char *u;

        if (asprintf(&u, "%s/%s/%s", g->base, what, ref) < 0)
                return NULL;
        return u;
}

int registry_http_error(struct xfer *x, struct gear_err *e)
{
        if (x->status == 401 || x->status == 403)
                return gear_err_set(e, GEAR_EXIT_SYS, "%s '%s': not authorized (HTTP %ld)", x->method,
                                    x->url, x->status);
        return gear_err_set(e, GEAR_EXIT_SYS, "%s '%s': HTTP %ld", x->method, x->url, x->status);
}

