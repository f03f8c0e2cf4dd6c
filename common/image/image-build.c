/* gear-build: layers in, one index image and new objects out, all or nothing */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

#include "image.h"
#include "../base/fsutil.h"

struct refs {
        const char **hex;
        size_t n, cap;
};

static int collect(struct tnode *n, const char *path, void *ud)
{
        struct refs *r = ud;

        if (!S_ISREG(n->ino->mode))
                return 0;
        if (r->n == r->cap) {
                size_t cap = r->cap ? 2 * r->cap : 1024;
                void *p = realloc(r->hex, cap * sizeof *r->hex);
                if (!p)
                        return -ENOMEM;
                r->hex = p;
                r->cap = cap;
        }
        r->hex[r->n++] = n->ino->blob->hex;
        return 0;
}

static int by_hex(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* only what the image refers to goes into the store */
static bool referenced(const char *hex, void *ud)
{
        struct refs *r = ud;

        return r->n && bsearch(&hex, r->hex, r->n, sizeof *r->hex, by_hex) != NULL;
}

/* the staged objects are synced while the index is written */
struct stage_sync_job {
        struct store_stage *stage;
        pthread_t thread;
        bool started;
        int r;
        struct gear_err e;
};

static void *sync_staged(void *arg)
{
        struct stage_sync_job *j = arg;

        j->r = stage_sync(j->stage, &j->e);
        return NULL;
}

/* on a thread of its own; stage_commit syncs them itself when none can be made */
static void sync_start(struct stage_sync_job *j, struct store_stage *stage)
{
        j->stage = stage;
        j->started = pthread_create(&j->thread, NULL, sync_staged, j) == 0;
}

static int sync_wait(struct stage_sync_job *j, struct gear_err *e)
{
        if (!j->started)
                return 0;
        pthread_join(j->thread, NULL);
        j->started = false;
        if (j->r < 0)
                *e = j->e;
        return j->r;
}

void image_build_malloc(void)
{
        mallopt(M_TRIM_THRESHOLD, POOL_MAX_QUEUED);
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

int image_build(struct gear_tree *t, const struct build_opts *o, struct build_result *res, struct gear_err *e)
{
        struct image_source own = { .dfd = -1 }, *src = o->src ? o->src : &own;
        struct store_stage *stage = NULL;
        struct store_pool *pool = NULL;
        struct itree *tree = NULL;
        struct layout_result lay = { .tmp = "", .lock = -1 };
        struct refs refs = {0};
        struct stage_sync_job sync = {0};
        _cleanup_close_ int lock = -1;
        int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
        int r = -1, k;

        if (!o->src && source_open(o->source, &own, e) < 0)
                goto out;
        src->progress = o->progress;
        if (root_open(&t->img, ROOT_CREATE, e) < 0 || image_check_free(&t->img, &o->ref, e) < 0)
                goto out;
        /* nothing may delete objects between our look at the store and the new image in place */
        if ((lock = store_lock(&t->img, LOCK_SH, e)) < 0 || stage_begin(&t->img, &stage, e) < 0 ||
            pool_new(stage, jobs > 0 ? jobs : 1, &pool, e) < 0)
                goto out;
        if (!(tree = itree_new())) {
                gear_err_sys(e, ENOMEM, "cannot build");
                goto out;
        }
        if (source_apply(src, tree, stage, pool, e) < 0) {
                struct gear_err ignored = {0};
                pool_wait(pool, &ignored);
                goto out;
        }
        if (pool_wait(pool, e) < 0)
                goto out;
        sync_start(&sync, stage);
        k = layout_write(&t->img, &o->ref, tree, src->config, &lay, e);
        /* when both fail, the index's failure is the one told */
        if (sync_wait(&sync, k < 0 ? &(struct gear_err){0} : e) < 0 || k < 0)
                goto out;
        if (itree_walk(tree, collect, &refs) < 0) {
                gear_err_sys(e, ENOMEM, "cannot build");
                goto out;
        }
        if (refs.n)
                qsort(refs.hex, refs.n, sizeof *refs.hex, by_hex);
        /* objects first: an image in place never points at a missing object */
        if (stage_commit(stage, referenced, &refs, e) < 0 || image_commit(&t->img, &o->ref, lay.tmp, e) < 0)
                goto out;
        lay.tmp[0] = 0;
        stage_stats(stage, &res->st);
        res->sum = lay.sum;
        memcpy(res->manifest, lay.manifest, sizeof res->manifest);
        r = 0;
out:
        if (lay.tmp[0])
                store_rm_rf(t->img.fd, lay.tmp);
        if (lay.lock >= 0)
                close(lay.lock);
        free(refs.hex);
        pool_free(pool);
        stage_free(stage);
        itree_free(tree);
        source_close(&own);
        return r;
}
