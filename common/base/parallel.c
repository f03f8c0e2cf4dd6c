/* work on a few threads (parallel.h) */
#include <pthread.h>

#include "parallel.h"

struct par {
        size_t n, next;
        parallel_fn fn;
        void *ud;
        pthread_mutex_t lock;
        struct gear_err err;    /* the first failure */
};

static void *worker(void *arg)
{
        struct par *p = arg;
        struct gear_err e = {0};

        for (;;) {
                size_t i;

                pthread_mutex_lock(&p->lock);
                i = p->err.code ? p->n : p->next++;
                pthread_mutex_unlock(&p->lock);
                if (i >= p->n)
                        return NULL;
                if (p->fn(i, p->ud, &e) < 0) {
                        pthread_mutex_lock(&p->lock);
                        if (!p->err.code)
                                p->err = e;
                        pthread_mutex_unlock(&p->lock);
                        return NULL;
                }
        }
}

int gear_parallel(size_t n, unsigned jobs, parallel_fn fn, void *ud, struct gear_err *e)
{
        struct par p = { .n = n, .fn = fn, .ud = ud, .lock = PTHREAD_MUTEX_INITIALIZER };
        pthread_t th[PARALLEL_JOBS_MAX];
        unsigned nth = 0;

        for (; nth < jobs && nth < PARALLEL_JOBS_MAX && nth < n; nth++)
                if (pthread_create(&th[nth], NULL, worker, &p) != 0)
                        break;
        if (!nth && n)
                worker(&p);
        for (unsigned t = 0; t < nth; t++)
                pthread_join(th[t], NULL);
        pthread_mutex_destroy(&p.lock);
        if (p.err.code) {
                *e = p.err;
                return -1;
        }
        return 0;
}
