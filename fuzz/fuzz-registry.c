/*
 * libFuzzer: what gear reads from a registry and from its auth file, in the
 * registry client itself (its parsers are static, so the file is built in):
 *   'A' + auth.json   the credentials lookup of --authfile, for two hosts
 *   'H' + lines       answer header lines, one callback call per line, as
 *                     curl makes them (Location is kept)
 *   'L' + URL\nLOC    an upload Location resolved against the URL that gave
 *                     it: an http(s) URL with the digest query, or refused;
 *                     whether the credentials may go there
 *   'R' + TYPE\nRANGE\nBODY  the answer to a request for three ranges
 *                     (byteranges.c), its Content-Type and Content-Range,
 *                     the body fed in pieces of the first byte's size: never
 *                     more kept than asked for, all of it when done
 * The registry's manifest answer goes through the same parser as a
 * directory store's (fuzz-manifest); error bodies are not parsed.
 */
#include "../common/remote/remote-registry.c"

static char authfile[4096];

static void authfile_remove(void)
{
        unlink(authfile);
}

static void fuzz_auth(const uint8_t *data, size_t size)
{
        static const char *hosts[] = { "registry.example:5000", "localhost" };
        struct gear_err e = {0};
        int fd;

        if (!*authfile) {
                const char *tmp = getenv("TMPDIR");
                snprintf(authfile, sizeof authfile, "%s/gear-fuzz-auth.XXXXXX", tmp && *tmp ? tmp : "/tmp");
                if ((fd = mkstemp(authfile)) < 0)
                        abort();
                close(fd);
                atexit(authfile_remove);
        }
        if ((fd = open(authfile, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0 ||
            (size && write(fd, data, size) != (ssize_t)size))
                abort();
        close(fd);
        for (size_t i = 0; i < ELEMENTSOF(hosts); i++) {
                char *up = NULL;
                gear_err_clear(&e);
                if (read_auth(authfile, hosts[i], &up, &e) < 0) {
                        if (up || (e.code != GEAR_EXIT_USAGE && e.code != GEAR_EXIT_SYS))
                                abort();
                } else if (up && !strchr(up, ':'))
                        abort();
                free(up);
        }
}

static void fuzz_headers(const uint8_t *data, size_t size)
{
        struct xfer x = { .up_fd = -1, .down_fd = -1 };

        for (size_t off = 0; off < size;) {
                const uint8_t *nl = memchr(data + off, '\n', size - off);
                size_t n = nl ? (size_t)(nl - data) + 1 - off : size - off;
                /* curl's buffer is not NUL-terminated: copy to an exact-sized one */
                char *line = malloc(n);
                if (!line)
                        abort();
                memcpy(line, data + off, n);
                if (header_cb(line, 1, n, &x) != n)
                        abort();
                free(line);
                off += n;
        }
        if (strnlen(x.location, sizeof x.location) >= sizeof x.location)
                abort();
}

static void fuzz_location(const uint8_t *data, size_t size)
{
        struct registry g = {0};
        char *url, *loc, *nl, *out;

        if (!(url = malloc(size + 1)))
                abort();
        memcpy(url, data, size);
        url[size] = 0;
        if (strlen(url) != size || !(nl = strchr(url, '\n'))) {
                free(url);
                return;
        }
        *nl = 0;
        loc = nl + 1;
        /* what registry_open does first: the URL API is libcurl's */
        if (dl_curl(&(struct gear_err){0}) < 0)
                abort();
        if (url_origin("http://127.0.0.1:5000/v2/a", &g.scheme, &g.host, &g.port) < 0)
                abort();
        if ((out = registry_resolve_location(url, loc, "digest=sha256:00"))) {
                if (strncmp(out, "http://", 7) && strncmp(out, "https://", 8))
                        abort();
                if (!strstr(out, "digest=sha256:00"))
                        abort();
                same_origin(&g, out);
                curl_free(out);
        }
        same_origin(&g, url);
        curl_free(g.scheme);
        curl_free(g.host);
        curl_free(g.port);
        free(url);
}

static bool keep_count(void *ud, const char *p, size_t k)
{
        (void)p;
        *(uint64_t *)ud += k;
        return true;
}

static void fuzz_ranges(const uint8_t *data, size_t size)
{
        static const struct byte_range v[] = { { 0, 5 }, { 100, 1 }, { 4096, 300 } };
        char type[256], range[128];
        const char *p = (const char *)data, *end = p + size, *nl;
        struct byteranges b;
        struct gear_err e = {0};
        uint64_t kept = 0;
        size_t step;

        if (!(nl = memchr(p, '\n', end - p)) || nl - p >= (long)sizeof type)
                return;
        snprintf(type, sizeof type, "%.*s", (int)(nl - p), p);
        p = nl + 1;
        if (!(nl = memchr(p, '\n', end - p)) || nl - p >= (long)sizeof range)
                return;
        snprintf(range, sizeof range, "%.*s", (int)(nl - p), p);
        p = nl + 1;
        if (byteranges_start(&b, v, 3, type, range, &e) < 0)
                return;
        step = p < end ? (unsigned char)*p % 64 + 1 : 1;
        while (p < end) {
                size_t k = (size_t)(end - p) < step ? (size_t)(end - p) : step;
                if (byteranges_feed(&b, p, k, keep_count, &kept, &e) < 0)
                        break;
                p += k;
        }
        if (kept > 306 || (byteranges_done(&b) && kept != 306))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        if (data[0] == 'A')
                fuzz_auth(data + 1, size - 1);
        else if (data[0] == 'H')
                fuzz_headers(data + 1, size - 1);
        else if (data[0] == 'L')
                fuzz_location(data + 1, size - 1);
        else if (data[0] == 'R')
                fuzz_ranges(data + 1, size - 1);
        return 0;
}
