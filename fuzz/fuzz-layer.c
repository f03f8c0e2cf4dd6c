/*
 * libFuzzer: applying a layer (a tar stream, plain or compressed) through the
 * reader and entry code every build and pull uses, with whiteouts, opaque
 * directories, hardlinks, symlinks, devices and xattrs, into a scratch image
 * tree; then writing the index of what was accepted and reading it back.
 * The scratch tree sits next to an empty canary directory: anything that
 * appears beside them, or in the canary, is a write outside the tree.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>

#include "../common/base/tree.h"
#include "../common/image/image-tree.h"
#include "../common/image/image.h"
#include "../common/image/index.h"
#include "../common/image/layer.h"
#include "../common/store/store.h"

static struct gear_root img = { .fd = -1 };
static char top[4096];

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
        char canary[4200];

        snprintf(top, sizeof top, "%s/gear-fuzz-layer.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(top))
                abort();
        atexit(teardown);
        snprintf(img.path, sizeof img.path, "%s/img", top);
        snprintf(canary, sizeof canary, "%s/canary", top);
        if (mkdir(img.path, 0700) < 0 || mkdir(canary, 0700) < 0)
                abort();
        if ((img.fd = open(img.path, O_DIRECTORY | O_RDONLY | O_CLOEXEC)) < 0)
                abort();
}

/* the scratch top holds exactly img/ and an empty canary/ */
static void check_canary(void)
{
        char canary[4200];
        DIR *d = opendir(top);
        struct dirent *de;

        if (!d)
                abort();
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "img") &&
                    strcmp(de->d_name, "canary"))
                        abort();
        closedir(d);
        snprintf(canary, sizeof canary, "%s/canary", top);
        if (rmdir(canary) < 0 || mkdir(canary, 0700) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gear_err e = {0};
        struct store_stage *stage = NULL;
        struct store_pool *pool = NULL;
        struct itree *t = itree_new(), *again = NULL;
        struct archive *a = NULL;
        struct index_summary sum;
        char *tar = NULL;
        size_t n;

        if (img.fd < 0)
                setup();
        if (!t || stage_begin(&img, &stage, &e) < 0 || pool_new(stage, 0, &pool, &e) < 0)
                abort();
        struct layer_ctx c = { .tree = t, .stage = stage, .pool = pool, .index = 1,
                               .label = "layer 1", .whiteouts = true };
        if (!(a = layer_reader_new(&e)))
                abort();
        memset(&e, 0, sizeof e);
        if (archive_read_open_memory(a, data, size) == ARCHIVE_OK)
                layer_apply(&c, a, &e);
        else
                layer_archive_error(&c, a, NULL, &e);
        struct gear_err pe = {0};
        pool_wait(pool, &pe);
        if (e.code == 0 && pe.code == 0 &&
            index_write(t, &tar, &n, &sum, &e) == 0 && index_parse(tar, n, &again, &e) < 0)
                abort();
        archive_read_free(a);
        free(tar);
        itree_free(again);
        pool_free(pool);
        stage_free(stage);
        itree_free(t);
        check_canary();
        return 0;
}
