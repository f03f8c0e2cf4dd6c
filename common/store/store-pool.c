/* worker threads that hash, compress and stage file contents while the reader moves on */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* bytes waiting in the queue at most: bounds memory, keeps the reader ahead */
#define POOL_MAX_QUEUED (256u << 20)

struct job {
        struct job *next;
        void *buf;
        size_t n;
        struct store_blob *blob;
};

struct store_pool {
        struct store_stage *stage;
        pthread_t *threads;
        int nthreads;
        pthread_mutex_t mu;
        pthread_cond_t work, room, idle;
        struct job *head, *tail;
        size_t queued;
        int busy;
        bool stop, failed;
        struct gear_err err;
};

static int work(struct store_stage *s, const void *buf, size_t n, struct store_blob *blob, struct gear_err *e)
{
        blob->size = n;
        if (digest_buf(buf, n, blob->hex, e) < 0)
                return -1;
        return stage_put(s, blob->hex, buf, n, e);
}

static void *worker(void *arg)
{
        struct store_pool *p = arg;
        struct gear_err e = {0};

        pthread_mutex_lock(&p->mu);
        for (;;) {
                while (!p->head && !p->stop)
                        pthread_cond_wait(&p->work, &p->mu);
                if (!p->head)
                        break;
                struct job *j = p->head;
                p->head = j->next;
                if (!p->head)
                        p->tail = NULL;
                p->busy++;
                bool skip = p->failed;
                pthread_mutex_unlock(&p->mu);

                int r = skip ? 0 : work(p->stage, j->buf, j->n, j->blob, &e);
                free(j->buf);

                pthread_mutex_lock(&p->mu);
                if (r < 0 && !p->failed) {
                        p->failed = true;
                        p->err = e;
                }
                p->queued -= j->n;
                p->busy--;
                free(j);
                pthread_cond_broadcast(&p->room);
                if (!p->head && !p->busy)
                        pthread_cond_broadcast(&p->idle);
        }
        pthread_mutex_unlock(&p->mu);
        return NULL;
}

int pool_new(struct store_stage *s, int threads, struct store_pool **out, struct gear_err *e)
{
        struct store_pool *p = calloc(1, sizeof *p);

        if (threads < 0)
                threads = 0;
        if (!p || !(p->threads = calloc(threads + 1, sizeof *p->threads))) {
                free(p);
                return gear_err_sys(e, ENOMEM, "cannot start workers");
        }
        p->stage = s;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->work, NULL);
        pthread_cond_init(&p->room, NULL);
        pthread_cond_init(&p->idle, NULL);
        for (; p->nthreads < threads; p->nthreads++) {
                int r = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
                if (r) {
                        pool_free(p);
                        return gear_err_sys(e, r, "cannot start workers");
                }
        }
        *out = p;
        return 0;
}

int pool_submit(struct store_pool *p, void *buf, size_t n, struct store_blob *blob, struct gear_err *e)
{
        struct job *j;

        if (!p->nthreads) {
                int r = p->failed ? -1 : work(p->stage, buf, n, blob, e);

                if (r < 0 && !p->failed) {
                        p->failed = true;
                        p->err = *e;
                } else if (r < 0)
                        *e = p->err;
                free(buf);
                return r;
        }
        if (!(j = malloc(sizeof *j))) {
                free(buf);
                return gear_err_sys(e, ENOMEM, "cannot queue file content");
        }
        *j = (struct job){ .buf = buf, .n = n, .blob = blob };
        pthread_mutex_lock(&p->mu);
        while (p->queued && p->queued + n > POOL_MAX_QUEUED && !p->failed)
                pthread_cond_wait(&p->room, &p->mu);
        if (p->failed) {
                *e = p->err;
                pthread_mutex_unlock(&p->mu);
                free(buf);
                free(j);
                return -1;
        }
        if (p->tail)
                p->tail->next = j;
        else
                p->head = j;
        p->tail = j;
        p->queued += n;
        pthread_cond_signal(&p->work);
        pthread_mutex_unlock(&p->mu);
        return 0;
}

int pool_wait(struct store_pool *p, struct gear_err *e)
{
        int r = 0;

        pthread_mutex_lock(&p->mu);
        while (p->head || p->busy)
                pthread_cond_wait(&p->idle, &p->mu);
        if (p->failed) {
                *e = p->err;
                r = -1;
        }
        pthread_mutex_unlock(&p->mu);
        return r;
}

void pool_free(struct store_pool *p)
{
        if (!p)
                return;
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        p->failed = true; /* drop what is still queued */
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->nthreads; i++)
                pthread_join(p->threads[i], NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->room);
        pthread_cond_destroy(&p->idle);
        free(p->threads);
        free(p);
}
