/*
 * Read-around for lazy opens (image-fetch.h): a small content opened is
 * fetched with the contents its pack lays out after it, in one Range request
 * (run_range, prefetch.c), on a thread of its own; an opener in this process
 * gets a content's verified unnamed file as soon as it is staged.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prefetch-int.h"
#include "../store/cache.h"

struct around {
        const struct gear_root *img;
        struct origin *origin;
        struct sizes sz;                /* the image's contents, by digest */
        around_fn fn;
        void *ud;
        bool own_runs;                  /* it starts runs of its own */
        pthread_mutex_t lock;           /* runs, and each run's members' state */
        pthread_cond_t cond;
        unsigned running;               /* runs at work */
        unsigned fetching;              /* of those, the ones not yet done with the network */
        struct around_run *runs;        /* at work */
};

int around_new(const struct gear_root *img, struct origin *origin, struct itree *t, bool runs, around_fn fn,
               void *ud, struct around **ap, struct gear_err *e)
{
        struct around *a;

        *ap = NULL;
        if (!origin->remote || !remote_is_registry(origin->remote) || !object_map_packed(origin->map))
                return 0;
        if (!(a = calloc(1, sizeof *a)))
                return gear_err_sys(e, ENOMEM, "cannot read around");
        *a = (struct around){ .img = img, .origin = origin, .fn = fn, .ud = ud, .own_runs = runs };
        if (sizes_load(t, &a->sz) < 0) {
                free(a);
                return gear_err_sys(e, ENOMEM, "cannot read around");
        }
        pthread_mutex_init(&a->lock, NULL);
        pthread_cond_init(&a->cond, NULL);
        *ap = a;
        return 0;
}

/* where a member of a run is, for an opener that waits for it */
enum { AR_PENDING, AR_STAGED, AR_GONE };

/* one run: its members (the opened content first), the claim of that one; or a prefetch's range */
struct around_run {
        struct around *a;
        struct around_run *next;
        struct member *mv;              /* NULL: a prefetch's range, whose members are the prefetch's */
        struct member **mp;
        size_t *by_hex;                 /* a prefetch's range: its members' indices by content, for in_flight */
        int *state, *fd;                /* of each member: AR_..., and its staged content while AR_STAGED */
        size_t n, cap;
        struct cache_claim *first;
        bool fetched;                   /* done with the network */
        bool first_staged;              /* the opened content was staged: its opener got it */
        unsigned refs;                  /* the worker's, and the starter's until it has its answer */
};

/* a run done with the network leaves room for another while it syncs */
static void run_fetched(void *ud)
{
        struct around_run *ar = ud;

        pthread_mutex_lock(&ar->a->lock);
        if (!ar->fetched) {
                ar->fetched = true;
                ar->a->fetching--;
        }
        pthread_mutex_unlock(&ar->a->lock);
}

static void run_staged(void *ud, size_t i, int fd)
{
        struct around_run *ar = ud;

        pthread_mutex_lock(&ar->a->lock);
        if (ar->state[i] == AR_PENDING && fd >= 0 && (ar->fd[i] = fcntl(fd, F_DUPFD_CLOEXEC, 3)) >= 0) {
                ar->state[i] = AR_STAGED;
                if (i == 0)
                        ar->first_staged = true;
        }
        pthread_cond_broadcast(&ar->a->cond);
        pthread_mutex_unlock(&ar->a->lock);
}

static void run_gone(void *ud, size_t i)
{
        struct around_run *ar = ud;

        pthread_mutex_lock(&ar->a->lock);
        if (ar->state[i] == AR_STAGED)
                close(ar->fd[i]);
        ar->state[i] = AR_GONE;
        pthread_cond_broadcast(&ar->a->cond);
        pthread_mutex_unlock(&ar->a->lock);
}

static void around_run_free(struct around_run *ar)
{
        if (!ar)
                return;
        if (ar->mv)
                free(ar->mp);
        free(ar->mv);
        free(ar->by_hex);
        free(ar->state);
        free(ar->fd);
        free(ar);
}

static bool count_fn(void *ud, const char *hex, const struct object_loc *loc)
{
        (void)hex;
        (void)loc;
        ++*(size_t *)ud;
        return true;
}

static bool add_neighbour(void *ud, const char *hex, const struct object_loc *loc)
{
        struct around_run *ar = ud;
        const struct sized *x = sizes_find(&ar->a->sz, hex);

        /* a small stored form may stand for a large file: only small ones come along, or the rest of a
           solid frame (its bytes come anyway) */
        if (x && (x->size <= AROUND_SIZE_MAX || loc->member) && ar->n < ar->cap) {
                ar->mv[ar->n] = (struct member){ .x = x, .order = ar->n, .packed = true, .loc = *loc };
                ar->mp[ar->n] = &ar->mv[ar->n];
                ar->n++;
        }
        return ar->n < ar->cap;
}

/* drops a reference to ar, with a->lock held; the last one frees it */
static void run_put(struct around_run *ar)
{
        if (--ar->refs == 0)
                around_run_free(ar);
}

static void *around_worker(void *ud)
{
        struct around_run *ar = ud, **pp;
        struct around *a = ar->a;
        struct prefetch_job j = { .img = a->img, .origin = a->origin, .lock = PTHREAD_MUTEX_INITIALIZER };
        struct pjob p = { .m = ar->mp, .n = ar->n };
        struct range_hooks h = { run_staged, run_gone, run_fetched, ar, .rest_at_end = true };
        bool first;

        run_range(&j, &p, &h, ar->first);
        first = j.first_published;
        /* the opened content counts with its open, when its opener got it */
        if (a->fn)
                a->fn(a->ud, j.st.fetched - first, j.st.fetched_bytes - (first ? ar->mv[0].x->size : 0),
                      j.st.wire_bytes);
        pthread_mutex_destroy(&j.lock);
        pthread_mutex_lock(&a->lock);
        for (pp = &a->runs; *pp != ar; pp = &(*pp)->next)
                ;
        *pp = ar->next;
        if (!ar->fetched)
                a->fetching--;
        /* every member is AR_GONE by now: published, failed or left to another */
        run_put(ar);
        a->running--;
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->lock);
        return NULL;
}

/* member k of ar, of content hex: not gone */
static bool member_is(const struct around_run *ar, size_t k, const char *hex)
{
        return ar->state[k] != AR_GONE && !strcmp(ar->mp[k]->x->hex, hex);
}

/* a run's member of content hex, with a->lock held; NULL when none */
static struct around_run *in_flight(struct around *a, const char *hex, size_t *i)
{
        for (struct around_run *ar = a->runs; ar; ar = ar->next) {
                if (!ar->by_hex) {
                        for (size_t k = 0; k < ar->n; k++)
                                if (member_is(ar, k, hex)) {
                                        *i = k;
                                        return ar;
                                }
                        continue;
                }
                /* a prefetch's range, of thousands of members maybe: each content once */
                for (size_t lo = 0, hi = ar->n; lo < hi;) {
                        size_t mid = lo + (hi - lo) / 2, k = ar->by_hex[mid];
                        int c = strcmp(ar->mp[k]->x->hex, hex);
                        if (!c) {
                                if (!member_is(ar, k, hex))
                                        break;
                                *i = k;
                                return ar;
                        }
                        if (c < 0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
        }
        return NULL;
}

/* content hex from a run that brings it (waited for): an fd on it staged, or -1 when none brings it */
static int staged_of(struct around *a, const char *hex)
{
        struct around_run *ar;
        size_t i;
        int fd = -1;

        pthread_mutex_lock(&a->lock);
        while ((ar = in_flight(a, hex, &i)) && ar->state[i] == AR_PENDING)
                pthread_cond_wait(&a->cond, &a->lock);
        if (ar)
                fd = fcntl(ar->fd[i], F_DUPFD_CLOEXEC, 3);
        pthread_mutex_unlock(&a->lock);
        return fd;
}

int around_open(struct around *a, const char *hex, uint64_t size, bool *fetched)
{
        struct around_run *ar = NULL;
        const struct sized *x;
        struct object_loc loc;
        struct gear_err e = {0};
        pthread_attr_t attr;
        pthread_t th;
        size_t cap = AROUND_MEMBERS_MAX;
        int fd = -1;
        bool ok, busy = false;

        *fetched = false;
        if (!a)
                return -1;
        /* on its way with another's neighbours, or in a prefetch's range: staged, or given up */
        if ((fd = staged_of(a, hex)) >= 0 || !a->own_runs)
                return fd;
        if (!(x = sizes_find(&a->sz, hex)) || !object_map_find(a->origin->map, hex, &loc) || loc.whole ||
            (size > AROUND_SIZE_MAX && !loc.member))
                return -1;
        pthread_mutex_lock(&a->lock);
        ok = a->fetching < AROUND_RUNS_MAX;
        if (ok) {
                a->running++;
                a->fetching++;
        }
        pthread_mutex_unlock(&a->lock);
        if (!ok)
                return -1;
        if (cache_has(a->img, hex, x->size))
                goto no;
        /* a solid frame comes whole: every member of it the image names */
        if (loc.member) {
                size_t k = 0;
                object_map_after(a->origin->map, hex, 0, count_fn, &k);
                cap = k < SOLID_MEMBERS_MAX ? k + 1 : SOLID_MEMBERS_MAX;
        }
        if (!(ar = calloc(1, sizeof *ar)) || !(ar->mv = calloc(cap, sizeof *ar->mv)) ||
            !(ar->mp = calloc(cap, sizeof *ar->mp)) || !(ar->state = calloc(cap, sizeof *ar->state)) ||
            !(ar->fd = calloc(cap, sizeof *ar->fd)))
                goto no;
        ar->a = a;
        ar->cap = cap;
        ar->refs = 2;
        ar->mv[0] = (struct member){ .x = x, .packed = true, .loc = loc };
        ar->mp[0] = &ar->mv[0];
        ar->n = 1;
        object_map_after(a->origin->map, hex, AROUND_WINDOW, add_neighbour, ar);
        /* alone, it is fetched as well by the opener; claimed by another, by a range that began meanwhile maybe */
        if (ar->n < 2)
                goto no;
        if ((busy = cache_claim(a->img, hex, x->size, &ar->first, &e) == 0) || !ar->first)
                goto no;
        pthread_mutex_lock(&a->lock);
        ar->next = a->runs;
        a->runs = ar;
        pthread_mutex_unlock(&a->lock);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&th, &attr, around_worker, ar) == 0;
        pthread_attr_destroy(&attr);
        pthread_mutex_lock(&a->lock);
        if (!ok) {
                struct around_run **pp;
                for (pp = &a->runs; *pp != ar; pp = &(*pp)->next)
                        ;
                *pp = ar->next;
                pthread_mutex_unlock(&a->lock);
                cache_claim_free(ar->first);
                goto no;
        }
        /* ours: wait for its bytes (the run stays ours until then: refs) */
        while (ar->state[0] == AR_PENDING)
                pthread_cond_wait(&a->cond, &a->lock);
        if (ar->state[0] == AR_STAGED)
                fd = fcntl(ar->fd[0], F_DUPFD_CLOEXEC, 3);
        *fetched = ar->first_staged;
        run_put(ar);
        pthread_mutex_unlock(&a->lock);
        return fd;
no:
        around_run_free(ar);
        pthread_mutex_lock(&a->lock);
        a->running--;
        a->fetching--;
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->lock);
        return busy ? staged_of(a, hex) : -1;
}

/* indices into members m (qsort_r) by content */
static int by_member_hex(const void *a, const void *b, void *m)
{
        struct member **v = m;

        return strcmp(v[*(const size_t *)a]->x->hex, v[*(const size_t *)b]->x->hex);
}

void around_range(struct around *a, struct prefetch_job *j, const struct pjob *p)
{
        struct around_run *ar = calloc(1, sizeof *ar), **pp;
        /* not one of a's own runs: not counted in a->fetching */
        struct range_hooks h = { run_staged, run_gone, NULL, ar, .rest_at_end = false };

        if (!ar || !(ar->state = calloc(p->n, sizeof *ar->state)) || !(ar->fd = calloc(p->n, sizeof *ar->fd)) ||
            !(ar->by_hex = malloc(p->n * sizeof *ar->by_hex))) {
                around_run_free(ar);
                run_range(j, p, NULL, NULL);
                return;
        }
        /* every member AR_PENDING (0) until staged or gone */
        ar->a = a;
        ar->mp = p->m;
        ar->n = ar->cap = p->n;
        ar->refs = 1;
        for (size_t k = 0; k < p->n; k++)
                ar->by_hex[k] = k;
        qsort_r(ar->by_hex, p->n, sizeof *ar->by_hex, by_member_hex, p->m);
        pthread_mutex_lock(&a->lock);
        ar->next = a->runs;
        a->runs = ar;
        a->running++;
        pthread_mutex_unlock(&a->lock);
        run_range(j, p, &h, NULL);
        pthread_mutex_lock(&a->lock);
        for (pp = &a->runs; *pp != ar; pp = &(*pp)->next)
                ;
        *pp = ar->next;
        /* every member is AR_GONE by now: published, failed or left to another */
        run_put(ar);
        a->running--;
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->lock);
}

void around_free(struct around *a)
{
        if (!a)
                return;
        pthread_mutex_lock(&a->lock);
        while (a->running)
                pthread_cond_wait(&a->cond, &a->lock);
        pthread_mutex_unlock(&a->lock);
        pthread_mutex_destroy(&a->lock);
        pthread_cond_destroy(&a->cond);
        free(a->sz.v);
        free(a);
}
