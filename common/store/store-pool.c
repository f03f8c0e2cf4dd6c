/* worker threads that hash, compress and stage file contents while the reader moves on */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "store.h"

/* a chunk of a pool_stream: compressed by a worker, written by the stream's owner */
struct chunk {
        struct chunk *next; /* in the stream's order */
        void *in, *out;
        size_t n, outn;
        bool done, ok;
};

struct job {
        struct job *next;
        void *buf;
        size_t n;
        struct store_blob *blob;
        struct chunk *chunk; /* or a stream's chunk (buf is NULL: its input is chunk->in) */
};

struct store_pool {
        struct store_stage *stage;
        pthread_t *threads;
        int nthreads;
        pthread_mutex_t mu;
        pthread_cond_t work, room, idle, chunk;
        struct job *head, *tail;
        struct job *chead, *ctail; /* streams' chunks: taken first, their reader waits for them */
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

static int chunk_work(struct chunk *c, struct gear_err *e)
{
        size_t cap = ZSTD_COMPRESSBOUND(STORE_CHUNK);

        if (!(c->out = malloc(cap)))
                return gear_err_sys(e, ENOMEM, "cannot compress");
        c->outn = store_frame_encode(c->out, cap, c->in, c->n, e);
        free(c->in);
        c->in = NULL;
        return c->outn ? 0 : -1;
}

/* runs job j (and frees its buf); called without mu held */
static int run(struct store_pool *p, struct job *j, bool skip, struct gear_err *e)
{
        int r;

        if (j->chunk)
                r = skip ? -1 : chunk_work(j->chunk, e);
        else {
                r = skip ? 0 : work(p->stage, j->buf, j->n, j->blob, e);
                free(j->buf);
        }
        return r;
}

/* a chunk's job ended with r: its stream may take it (workers hold mu); false for other jobs */
static bool chunk_done(struct job *j, int r)
{
        if (!j->chunk)
                return false;
        j->chunk->done = true;
        j->chunk->ok = r == 0;
        return true;
}

static void *worker(void *arg)
{
        struct store_pool *p = arg;
        struct gear_err e = {0};

        pthread_mutex_lock(&p->mu);
        for (;;) {
                while (!p->head && !p->chead && !p->stop)
                        pthread_cond_wait(&p->work, &p->mu);
                struct job *j, **head = p->chead ? &p->chead : &p->head;
                if (!(j = *head))
                        break;
                if (!(*head = j->next))
                        *(head == &p->chead ? &p->ctail : &p->tail) = NULL;
                p->busy++;
                bool skip = p->failed;
                pthread_mutex_unlock(&p->mu);

                int r = run(p, j, skip, &e);

                pthread_mutex_lock(&p->mu);
                if (r < 0 && !skip && !p->failed) {
                        p->failed = true;
                        p->err = e;
                }
                if (chunk_done(j, r))
                        pthread_cond_broadcast(&p->chunk);
                p->queued -= j->n;
                p->busy--;
                free(j);
                pthread_cond_broadcast(&p->room);
                if (!p->head && !p->chead && !p->busy)
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
        pthread_cond_init(&p->chunk, NULL);
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

/* takes j and its buf, whatever happens (a chunk stays its stream's) */
static int enqueue(struct store_pool *p, struct job *j, struct gear_err *e)
{
        if (!p->nthreads) {
                int r = run(p, j, p->failed, e);

                chunk_done(j, r);
                if (r < 0 && !p->failed) {
                        p->failed = true;
                        p->err = *e;
                } else if (r < 0 || p->failed) {
                        *e = p->err;
                        r = -1;
                }
                free(j);
                return r;
        }
        pthread_mutex_lock(&p->mu);
        while (p->queued && p->queued + j->n > POOL_MAX_QUEUED && !p->failed)
                pthread_cond_wait(&p->room, &p->mu);
        if (p->failed) {
                *e = p->err;
                pthread_mutex_unlock(&p->mu);
                free(j->buf);
                free(j);
                return -1;
        }
        struct job **head = j->chunk ? &p->chead : &p->head, **tail = j->chunk ? &p->ctail : &p->tail;
        if (*tail)
                (*tail)->next = j;
        else
                *head = j;
        *tail = j;
        p->queued += j->n;
        pthread_cond_signal(&p->work);
        pthread_mutex_unlock(&p->mu);
        return 0;
}

int pool_submit(struct store_pool *p, void *buf, size_t n, struct store_blob *blob, struct gear_err *e)
{
        struct job *j = malloc(sizeof *j);

        if (!j) {
                free(buf);
                return gear_err_sys(e, ENOMEM, "cannot queue file content");
        }
        *j = (struct job){ .buf = buf, .n = n, .blob = blob };
        return enqueue(p, j, e);
}

/* chunks a stream has given the workers and not written yet, at most (each holds its MiB or its frame) */
#define STREAM_AHEAD(p) ((p)->nthreads < 7 ? 2 * (p)->nthreads + 2 : 16)

struct pool_stream {
        struct store_pool *p;
        struct stage_stream *w;
        struct digest dg;
        uint64_t size;
        struct chunk *cur;         /* being filled */
        struct chunk *head, *tail; /* with the workers, in order */
        int ahead;
};

static void chunk_free(struct chunk *c)
{
        if (c) {
                free(c->in);
                free(c->out);
                free(c);
        }
}

/* waits for the oldest chunk and takes it off the list; NULL when there is none */
static struct chunk *stream_pop(struct pool_stream *w)
{
        struct chunk *c = w->head;

        if (!c)
                return NULL;
        pthread_mutex_lock(&w->p->mu);
        while (!c->done)
                pthread_cond_wait(&w->p->chunk, &w->p->mu);
        pthread_mutex_unlock(&w->p->mu);
        if (!(w->head = c->next))
                w->tail = NULL;
        w->ahead--;
        return c;
}

/* writes the oldest chunks, waiting for them while more than keep are ahead */
static int stream_drain(struct pool_stream *w, int keep, struct gear_err *e)
{
        while (w->ahead > keep) {
                struct chunk *c = stream_pop(w);
                int r = 0;

                if (!c->ok) {
                        pthread_mutex_lock(&w->p->mu);
                        *e = w->p->err;
                        pthread_mutex_unlock(&w->p->mu);
                        r = -1;
                } else
                        r = stage_stream_append(w->w, c->out, c->outn, e);
                chunk_free(c);
                if (r < 0)
                        return -1;
        }
        return 0;
}

/* gives the chunk being filled to the workers */
static int stream_send(struct pool_stream *w, struct gear_err *e)
{
        struct chunk *c = w->cur;
        struct job *j = malloc(sizeof *j);

        if (!j)
                return gear_err_sys(e, ENOMEM, "cannot queue file content");
        w->cur = NULL;
        if (w->tail)
                w->tail->next = c;
        else
                w->head = c;
        w->tail = c;
        w->ahead++;
        *j = (struct job){ .n = c->n, .chunk = c };
        if (enqueue(w->p, j, e) < 0) {
                /* never queued: done, failed */
                c->done = true;
                c->ok = false;
                return -1;
        }
        return stream_drain(w, STREAM_AHEAD(w->p), e);
}

static struct chunk *chunk_new(void)
{
        struct chunk *c = calloc(1, sizeof *c);

        if (c && !(c->in = malloc(STORE_CHUNK))) {
                free(c);
                c = NULL;
        }
        return c;
}

int pool_stream_open(struct store_pool *p, struct pool_stream **out, struct gear_err *e)
{
        struct pool_stream *w = calloc(1, sizeof *w);

        if (!w)
                return gear_err_sys(e, ENOMEM, "cannot stage object");
        w->p = p;
        if (digest_init(&w->dg, e) < 0) {
                free(w);
                return -1;
        }
        if (stage_stream_open(p->stage, &w->w, e) < 0) {
                pool_stream_free(w);
                return -1;
        }
        *out = w;
        return 0;
}

int pool_stream_write(struct pool_stream *w, const void *buf, size_t n, struct gear_err *e)
{
        const char *at = buf;

        digest_update(&w->dg, buf, n);
        w->size += n;
        while (n) {
                size_t k;

                if (!w->cur && !(w->cur = chunk_new()))
                        return gear_err_sys(e, ENOMEM, "cannot stage object");
                k = STORE_CHUNK - w->cur->n;
                if (k > n)
                        k = n;
                memcpy((char *)w->cur->in + w->cur->n, at, k);
                w->cur->n += k;
                at += k;
                n -= k;
                if (w->cur->n == STORE_CHUNK && stream_send(w, e) < 0)
                        return -1;
        }
        return 0;
}

int pool_stream_finish(struct pool_stream *w, struct store_blob *blob, struct gear_err *e)
{
        int r = -1;

        /* the last frame, unless the content ended on a chunk's end (an empty content has one) */
        if (!w->size && !(w->cur = chunk_new()))
                gear_err_sys(e, ENOMEM, "cannot stage object");
        else if ((!w->cur || stream_send(w, e) == 0) && stream_drain(w, 0, e) == 0) {
                digest_final(&w->dg, blob->hex);
                blob->size = w->size;
                r = stage_stream_finish(w->w, blob->hex, w->size, e);
                w->w = NULL;
        }
        pool_stream_free(w);
        return r;
}

void pool_stream_free(struct pool_stream *w)
{
        struct chunk *c;

        if (!w)
                return;
        /* the workers may still hold them */
        while ((c = stream_pop(w)))
                chunk_free(c);
        chunk_free(w->cur);
        stage_stream_free(w->w);
        digest_done(&w->dg);
        free(w);
}

int pool_wait(struct store_pool *p, struct gear_err *e)
{
        int r = 0;

        pthread_mutex_lock(&p->mu);
        while (p->head || p->chead || p->busy)
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
        pthread_cond_destroy(&p->chunk);
        free(p->threads);
        free(p);
}
