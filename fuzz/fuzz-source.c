/*
 * libFuzzer: the build sources' readers of outside JSON and tars, through
 * source_open and source_apply as gear-build uses them.
 *
 * An input starting with 'D' is a docker save archive (manifest.json, config,
 * layer tars) read as docker-archive:FILE. Any other input is an OCI layout:
 * parts separated by "\n--\n", the first is index.json, each later one a blob
 * stored under its digest; "@N@" in a part (N a digit) stands for the digest
 * of part N, so that the fuzzer can change a blob and keep it referenced.
 * A scratch directory is made once and emptied every run; a canary directory
 * beside it must stay empty.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/base/digest.h"
#include "../common/base/tree.h"
#include "../common/image/image-tree.h"
#include "../common/image/image.h"
#include "../common/store/store.h"

#define MAXPARTS 10

static struct gear_root img = { .fd = -1 };
static char top[4096], src[4200], canary[4200];

/* the scratch tree goes when the fuzzer ends */
static void teardown(void)
{
        if (img.fd >= 0)
                close(img.fd);
        store_rm_rf(AT_FDCWD, top);
}

static void setup(void)
{
        const char *tmp = getenv("TMPDIR");

        snprintf(top, sizeof top, "%s/gear-fuzz-source.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(top))
                abort();
        atexit(teardown);
        snprintf(img.path, sizeof img.path, "%s/img", top);
        snprintf(src, sizeof src, "%s/src", top);
        snprintf(canary, sizeof canary, "%s/canary", top);
        if (mkdir(img.path, 0700) < 0 || mkdir(canary, 0700) < 0)
                abort();
        if ((img.fd = open(img.path, O_DIRECTORY | O_RDONLY | O_CLOEXEC)) < 0)
                abort();
}

static void put(const char *path, const void *buf, size_t n)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0 || (n && write(fd, buf, n) != (ssize_t)n))
                abort();
        close(fd);
}

/* part with "@N@" replaced by the digests in hex[] (of later parts only) */
static char *expand(const char *p, size_t n, digest_hex *hex, size_t i, size_t nparts, size_t *len)
{
        char *out = malloc(n * (DIGEST_HEX_LEN / 3 + 1) + 1);
        size_t k = 0;

        if (!out)
                abort();
        for (size_t j = 0; j < n; j++) {
                unsigned d = j + 2 < n && p[j] == '@' && p[j + 2] == '@' ? (unsigned)(p[j + 1] - '0') : 10;
                if (d < nparts && d > i) {
                        memcpy(out + k, hex[d], DIGEST_HEX_LEN);
                        k += DIGEST_HEX_LEN;
                        j += 2;
                } else
                        out[k++] = p[j];
        }
        *len = k;
        return out;
}

static void make_layout(const uint8_t *data, size_t size)
{
        const char *part[MAXPARTS], *end = (const char *)data + size;
        size_t plen[MAXPARTS], nparts = 0;
        digest_hex hex[MAXPARTS];
        struct gear_err e = {0};
        char path[4400];

        for (const char *p = (const char *)data; nparts < MAXPARTS;) {
                const char *q = memmem(p, end - p, "\n--\n", 4);
                part[nparts] = p;
                plen[nparts++] = (q ? q : end) - p;
                if (!q)
                        break;
                p = q + 4;
        }
        snprintf(path, sizeof path, "%s/blobs", src);
        if (mkdir(src, 0700) < 0 || mkdir(path, 0700) < 0)
                abort();
        snprintf(path, sizeof path, "%s/blobs/sha256", src);
        if (mkdir(path, 0700) < 0)
                abort();
        for (size_t i = nparts; i-- > 0;) {
                size_t n;
                char *b = expand(part[i], plen[i], hex, i, nparts, &n);
                if (digest_buf(b, n, hex[i], &e) < 0)
                        abort();
                if (i)
                        snprintf(path, sizeof path, "%s/blobs/sha256/%s", src, hex[i]);
                else
                        snprintf(path, sizeof path, "%s/index.json", src);
                put(path, b, n);
                free(b);
        }
}

static void rm_tree(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        char sub[4400];

        if (!d) {
                if (unlink(path) < 0 && errno != ENOENT)
                        abort();
                return;
        }
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                        rm_tree(sub);
                }
        closedir(d);
        if (rmdir(path) < 0)
                abort();
}

/* the scratch top holds img/ (empty but for what stages leave) and an empty canary/ */
static void check_canary(void)
{
        DIR *d = opendir(top);
        struct dirent *de;

        if (!d)
                abort();
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "img") &&
                    strcmp(de->d_name, "canary"))
                        abort();
        closedir(d);
        if (rmdir(canary) < 0 || mkdir(canary, 0700) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gear_err e = {0};
        struct image_source s;
        struct store_stage *stage = NULL;
        struct store_pool *pool = NULL;
        struct itree *t = NULL;
        char spec[4300];

        if (img.fd < 0)
                setup();
        if (size > 0 && data[0] == 'D') {
                put(src, data + 1, size - 1);
                snprintf(spec, sizeof spec, "docker-archive:%s", src);
        } else {
                make_layout(data, size);
                snprintf(spec, sizeof spec, "oci:%s", src);
        }
        if (source_open(spec, &s, &e) == 0) {
                if (!(t = itree_new()) || stage_begin(&img, &stage, &e) < 0 || pool_new(stage, 0, &pool, &e) < 0)
                        abort();
                source_apply(&s, t, stage, pool, &e);
                struct gear_err pe = {0};
                pool_wait(pool, &pe);
                pool_free(pool);
                stage_free(stage);
                itree_free(t);
        } else if (e.code != GEAR_EXIT_USAGE && e.code != GEAR_EXIT_SYS)
                abort();
        /* FUZZ_VERBOSE=1 with -runs=0 shows what each seed reaches */
        if (getenv("FUZZ_VERBOSE"))
                fprintf(stderr, "source: %d %s\n", e.code, e.msg);
        source_close(&s);
        rm_tree(src);
        check_canary();
        return 0;
}
