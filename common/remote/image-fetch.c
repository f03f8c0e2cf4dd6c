/* an image's contents from its origin into public/; access lists and prefetching */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image-fetch.h"
#include "../base/progress.h"
#include "remote.h"
#include "../base/fsutil.h"
#include "../image/image.h"

int origin_open(const struct gear_root *img, const char *image_dir, const struct remote_opts *ro,
                struct origin *o, struct gear_err *e)
{
        char spec[PATH_MAX + 256];
        int r;

        *o = (struct origin){0};
        if ((r = image_origin(img, image_dir, spec, sizeof spec, e)) <= 0)
                return r;
        if (remote_open_opts(spec, ro, &o->remote, e) < 0 || object_map_load(img, image_dir, &o->map, e) < 0) {
                origin_close(o);
                return -1;
        }
        return 0;
}

void origin_close(struct origin *o)
{
        if (o->map)
                object_map_free(o->map);
        if (o->remote)
                remote_free(o->remote);
        *o = (struct origin){0};
}

static int fetch_remote(const char *hex, uint64_t size, int fd, void *ud, struct gear_err *e)
{
        struct origin *o = ud;

        return remote_fetch_object(o->remote, hex, object_map_blob(o->map, hex), store_stored_max(size), fd, e);
}

int origin_cache_open(struct origin *o, const struct gear_root *img, const char *hex, uint64_t size,
                      struct cache_result *res, struct gear_err *e)
{
        return cache_open(img, hex, size, o->remote ? fetch_remote : NULL, o, res, e);
}

int access_list_check(const char *buf, size_t len, struct gear_err *e)
{
        char hex[DIGEST_HEX_LEN + 1];
        size_t line = 1;

        for (size_t i = 0; i < len; i += DIGEST_HEX_LEN + 1, line++) {
                if (len - i < DIGEST_HEX_LEN + 1 || buf[i + DIGEST_HEX_LEN] != '\n')
                        return gear_err_set(e, GEAR_EXIT_SYS, "invalid access list: line %zu", line);
                memcpy(hex, buf + i, DIGEST_HEX_LEN);
                hex[DIGEST_HEX_LEN] = 0;
                if (!digest_hex_valid(hex))
                        return gear_err_set(e, GEAR_EXIT_SYS, "invalid access list: line %zu", line);
        }
        return 0;
}

int access_list_read(const struct gear_root *img, const char *image_dir, char **buf, size_t *len,
                     struct gear_err *e)
{
        char rel[PATH_MAX];

        *buf = NULL;
        *len = 0;
        image_file_rel(image_dir, ACCESS_LIST_FILE, rel, sizeof rel);
        if (read_file(img, rel, ACCESS_LIST_MAX, buf, len, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        if (access_list_check(*buf, *len, e) < 0) {
                free(*buf);
                *buf = NULL;
                return gear_err_wrap(e, "'%s/%s'", img->path, rel);
        }
        return 0;
}

int access_list_load(const struct gear_root *img, const char *image_dir, digest_hex **v, size_t *n,
                     struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;

        *v = NULL;
        *n = 0;
        if (access_list_read(img, image_dir, &buf, &len, e) < 0)
                return -1;
        if (!buf)
                return 0;
        *n = len / (DIGEST_HEX_LEN + 1);
        if (!(*v = calloc(*n + 1, sizeof **v)))
                return gear_err_sys(e, ENOMEM, "cannot read the access list of '%s'", image_dir);
        for (size_t i = 0; i < *n; i++)
                memcpy((*v)[i], buf + i * (DIGEST_HEX_LEN + 1), DIGEST_HEX_LEN);
        return 0;
}

struct sized {
        const char *hex;
        uint64_t size;
};

struct sizes {
        struct sized *v;
        size_t n, cap;
};

static int add_size(struct tnode *tn, const char *path, void *ud)
{
        struct sizes *s = ud;

        if (!tn->ino || !S_ISREG(tn->ino->mode) || !tn->ino->blob)
                return 0;
        if (s->n == s->cap) {
                size_t cap = s->cap ? 2 * s->cap : 1024;
                struct sized *v = realloc(s->v, cap * sizeof *v);
                if (!v)
                        return -ENOMEM;
                s->v = v;
                s->cap = cap;
        }
        s->v[s->n++] = (struct sized){ tn->ino->blob->hex, tn->ino->blob->size };
        return 0;
}

static int by_hex(const void *a, const void *b)
{
        return strcmp(((const struct sized *)a)->hex, ((const struct sized *)b)->hex);
}

struct prefetch_job {
        const struct gear_root *img;
        struct origin *origin, own;
        const struct sized **todo;
        size_t n, next;
        const bool *stop;
        struct progress *progress;
        pthread_mutex_t lock;
        struct prefetch_stats st;
        struct gear_err err;  /* the first failure */
};

static void *prefetch_worker(void *ud)
{
        struct prefetch_job *j = ud;

        for (;;) {
                struct gear_err e = {0};
                struct cache_result res;
                const struct sized *x;
                bool stop;
                int fd;

                pthread_mutex_lock(&j->lock);
                /* in the background only *stop ends it; otherwise the first failure */
                stop = j->stop ? __atomic_load_n(j->stop, __ATOMIC_ACQUIRE) : j->err.code != 0;
                x = stop || j->next >= j->n ? NULL : j->todo[j->next++];
                pthread_mutex_unlock(&j->lock);
                if (!x)
                        return NULL;
                fd = origin_cache_open(j->origin, j->img, x->hex, x->size, &res, &e);
                pthread_mutex_lock(&j->lock);
                if (fd < 0) {
                        j->st.failed++;
                        if (!j->err.code) {
                                j->err = e;
                                gear_err_wrap(&j->err, "content sha256:%.12s", x->hex);
                        }
                } else if (res.fetched) {
                        j->st.fetched++;
                        j->st.fetched_bytes += x->size;
                        j->st.wire_bytes += res.wire;
                } else {
                        j->st.present++;
                }
                pthread_mutex_unlock(&j->lock);
                progress_add(j->progress, x->size, 1);
                if (fd >= 0)
                        close(fd);
        }
}

#define PREFETCH_JOBS_MAX 64

int image_prefetch(const struct gear_root *img, const struct image_ref *r, const struct prefetch_opts *o,
                   struct prefetch_stats *st, struct gear_err *e)
{
        struct prefetch_job j = { .img = img, .lock = PTHREAD_MUTEX_INITIALIZER, .stop = o->stop,
                                  .origin = o->origin, .progress = o->progress };
        uint64_t total = 0;
        _cleanup_free_ digest_hex *own = NULL;
        const digest_hex *list = o->list;
        size_t nlist = o->nlist;
        struct sizes sz = {0};
        struct itree *own_tree = NULL, *t = o->tree;
        struct image im = { .dfd = -1 };
        /* what is not given is read from one generation of the image, opened once */
        struct gear_root dir = { .fd = -1 };
        pthread_t th[PREFETCH_JOBS_MAX];
        unsigned nth = 0, jobs = o->jobs < 1 ? 1 : o->jobs;
        int rc = -1;

        memset(st, 0, sizeof *st);
        if (!list || !t || !j.origin) {
                char rel[PATH_MAX];
                if (image_open(img, r, &im, e) < 0)
                        goto out;
                image_rel(r, rel, sizeof rel);
                dir.fd = im.dfd;
                snprintf(dir.path, sizeof dir.path, "%s/%s", img->path, rel);
        }
        if (!list) {
                if (access_list_load(&dir, ".", &own, &nlist, e) < 0)
                        goto out;
                list = own;
        }
        if (!nlist) {
                rc = 0;
                goto out;
        }
        if (!t) {
                if (image_load_tree(&im, &own_tree, e) < 0)
                        goto out;
                t = own_tree;
        }
        if (itree_walk(t, add_size, &sz) < 0 || !(j.todo = calloc(nlist, sizeof *j.todo))) {
                gear_err_sys(e, ENOMEM, "cannot prefetch '%s:%s'", r->name, r->tag);
                goto out;
        }
        if (sz.n)
                qsort(sz.v, sz.n, sizeof *sz.v, by_hex);
        for (size_t i = 0; i < nlist; i++) {
                struct sized key = { list[i], 0 };
                const struct sized *x = sz.n ? bsearch(&key, sz.v, sz.n, sizeof *sz.v, by_hex) : NULL;
                if (x) {
                        j.todo[j.n++] = x;
                        total += x->size;
                } else
                        j.st.unknown++;
        }
        if (j.n && !j.origin) {
                if (origin_open(&dir, ".", o->ro, &j.own, e) < 0)
                        goto out;
                j.origin = &j.own;
        }
        progress_total(j.progress, total, j.n);
        for (; nth < jobs && nth < PREFETCH_JOBS_MAX && nth < j.n; nth++)
                if (pthread_create(&th[nth], NULL, prefetch_worker, &j) != 0)
                        break;
        if (!nth)
                prefetch_worker(&j);
        for (unsigned i = 0; i < nth; i++)
                pthread_join(th[i], NULL);
        j.st.listed = j.n;
        *st = j.st;
        if (j.err.code) {
                *e = j.err;
                goto out;
        }
        rc = 0;
out:
        origin_close(&j.own);
        free(j.todo);
        free(sz.v);
        itree_free(own_tree);
        image_close(&im);
        pthread_mutex_destroy(&j.lock);
        return rc;
}
