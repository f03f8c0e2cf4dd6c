/* reading a directory store's files: regular files only, bounded in bytes and in time */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store-read.h"
#include "../base/fsutil.h"

#define CHUNK (128u << 10)

unsigned fetch_timeout(void)
{
        const char *s = getenv("GEAR_FETCH_TIMEOUT");
        char *end;
        long v;

        if (!s || !*s)
                return FETCH_TIMEOUT_DEFAULT;
        v = strtol(s, &end, 10);
        if (*end || v < 0)
                return FETCH_TIMEOUT_DEFAULT;
        return v > 1000000 ? 1000000 : (unsigned)v;
}

/* one job, shared by the caller and the helper thread; freed by the last of them */
struct sread {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int refs;
        bool done, abandoned;
        int (*job)(struct sread *s);
        int dfd, out;       /* the helper's own descriptors; out -1: into mem */
        int dir;            /* a store directory opened, until the caller takes it */
        char path[PATH_MAX]; /* its real path */
        char what[2 * PATH_MAX + 2];
        const char *rel;    /* in what */
        uint64_t max, n;
        char *mem;
        size_t cap;
        uint64_t progress;  /* CLOCK_MONOTONIC ns of the open or the last read */
        int rc;
        struct gear_err err;
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void sread_free(struct sread *s)
{
        if (s->dfd >= 0)
                close(s->dfd);
        if (s->out >= 0)
                close(s->out);
        if (s->dir >= 0)
                close(s->dir);
        free(s->mem);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

static void sread_put(struct sread *s)
{
        bool last;

        pthread_mutex_lock(&s->lock);
        last = --s->refs == 0;
        pthread_mutex_unlock(&s->lock);
        if (last)
                sread_free(s);
}

static int keep(struct sread *s, const char *buf, size_t k)
{
        int r;

        if (s->out >= 0) {
                if ((r = write_all(s->out, buf, k)) < 0)
                        return gear_err_sys(&s->err, -r, "cannot write what '%s' holds", s->what);
                return 0;
        }
        if (s->n + k + 1 > s->cap) {
                size_t cap = s->cap ? s->cap : 4096;
                char *p;
                while (cap < s->n + k + 1)
                        cap *= 2;
                if (!(p = realloc(s->mem, cap)))
                        return gear_err_sys(&s->err, ENOMEM, "cannot read '%s'", s->what);
                s->mem = p;
                s->cap = cap;
        }
        memcpy(s->mem + s->n, buf, k);
        s->mem[s->n + k] = 0;
        return 0;
}

static int run(struct sread *s)
{
        _cleanup_close_ int in = -1;
        _cleanup_free_ char *buf = malloc(CHUNK);
        struct stat st;
        int fl;

        if (!buf)
                return gear_err_sys(&s->err, ENOMEM, "cannot read '%s'", s->what);
        /* O_NONBLOCK: opening a fifo waits for a writer, a device may wait too */
        in = openat(s->dfd, s->rel, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (in < 0) {
                int err = errno;
                gear_err_sys(&s->err, err, "cannot open '%s'", s->what);
                if (err == ENOENT || err == ENOTDIR)
                        s->err.code = GEAR_EXIT_NO;
                return -1;
        }
        __atomic_store_n(&s->progress, now_ns(), __ATOMIC_RELAXED);
        if (fstat(in, &st) < 0)
                return gear_err_sys(&s->err, errno, "cannot stat '%s'", s->what);
        if (!S_ISREG(st.st_mode))
                return gear_err_set(&s->err, GEAR_EXIT_SYS, "'%s' is not a regular file", s->what);
        if ((uint64_t)st.st_size > s->max)
                return gear_err_set(&s->err, GEAR_EXIT_SYS, "'%s' is larger than %llu bytes", s->what,
                                    (unsigned long long)s->max);
        if ((fl = fcntl(in, F_GETFL)) < 0 || fcntl(in, F_SETFL, fl & ~O_NONBLOCK) < 0)
                return gear_err_sys(&s->err, errno, "cannot read '%s'", s->what);
        for (;;) {
                uint64_t left = s->max - s->n;
                /* one byte past the bound tells a longer file from one of exactly max bytes */
                ssize_t k = read(in, buf, left < CHUNK ? left + 1 : CHUNK);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return gear_err_sys(&s->err, errno, "cannot read '%s'", s->what);
                if (!k)
                        return 0;
                __atomic_store_n(&s->progress, now_ns(), __ATOMIC_RELAXED);
                if ((uint64_t)k > left)
                        return gear_err_set(&s->err, GEAR_EXIT_SYS, "'%s' is larger than %llu bytes", s->what,
                                            (unsigned long long)s->max);
                if (__atomic_load_n(&s->abandoned, __ATOMIC_RELAXED))
                        return -1;
                if (keep(s, buf, k) < 0)
                        return -1;
                s->n += k;
        }
}

static int run_open_dir(struct sread *s)
{
        if (!realpath(s->what, s->path) || (s->dir = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return gear_err_sys(&s->err, errno, "cannot open store '%s'", s->what);
        return 0;
}

static void *helper(void *ud)
{
        struct sread *s = ud;
        int rc = s->job(s);

        pthread_mutex_lock(&s->lock);
        s->rc = rc;
        s->done = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        sread_put(s);
        return NULL;
}

/* runs s on a helper thread, waiting while it makes progress; 0 when it finished (s->rc its result) */
static int wait_helper(struct sread *s, unsigned timeout)
{
        pthread_attr_t attr;
        pthread_t th;
        int k;

        if (pthread_attr_init(&attr) != 0)
                return s->rc = s->job(s), 0;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        s->refs = 2;
        k = pthread_create(&th, &attr, helper, s);
        pthread_attr_destroy(&attr);
        if (k != 0) {
                s->refs = 1;
                return s->rc = s->job(s), 0;
        }
        pthread_mutex_lock(&s->lock);
        while (!s->done) {
                uint64_t limit = __atomic_load_n(&s->progress, __ATOMIC_RELAXED) + timeout * 1000000000ull;
                struct timespec ts = { .tv_sec = limit / 1000000000u, .tv_nsec = limit % 1000000000u };
                if (now_ns() >= limit) {
                        __atomic_store_n(&s->abandoned, true, __ATOMIC_RELAXED);
                        break;
                }
                pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        }
        k = s->done ? 0 : -1;
        pthread_mutex_unlock(&s->lock);
        return k;
}

static struct sread *sread_new(int (*job)(struct sread *s))
{
        struct sread *s = calloc(1, sizeof *s);
        pthread_condattr_t ca;

        if (!s)
                return NULL;
        pthread_mutex_init(&s->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cond, &ca);
        pthread_condattr_destroy(&ca);
        s->refs = 1;
        s->job = job;
        s->dfd = s->out = s->dir = -1;
        s->progress = now_ns();
        return s;
}

/* runs s's job within the timeout: its result, or -1 with e set when it did not answer */
static int sread_run(struct sread *s, struct gear_err *e)
{
        unsigned timeout = fetch_timeout();

        if (!timeout)
                s->rc = s->job(s);
        else if (wait_helper(s, timeout) < 0)
                return gear_err_set(e, GEAR_EXIT_SYS, "'%s' did not answer within %u seconds", s->what, timeout);
        /* the helper is done: what it left is ours */
        if (s->rc < 0)
                *e = s->err;
        return s->rc;
}

static int read_bounded(const struct gear_root *root, const char *rel, int out, uint64_t max, char **buf, uint64_t *n,
                        struct gear_err *e)
{
        struct sread *s = sread_new(run);
        int rc;

        if (!s)
                return gear_err_sys(e, ENOMEM, "cannot read '%s/%s'", root->path, rel);
        s->max = max;
        snprintf(s->what, sizeof s->what, "%s/%s", root->path, rel);
        s->rel = s->what + strlen(root->path) + 1;
        if ((s->dfd = fcntl(root->fd, F_DUPFD_CLOEXEC, 3)) < 0 ||
            (out >= 0 && (s->out = fcntl(out, F_DUPFD_CLOEXEC, 3)) < 0)) {
                rc = gear_err_sys(e, errno, "cannot read '%s'", s->what);
                sread_put(s);
                return rc;
        }
        rc = sread_run(s, e);
        if (rc == 0) {
                if (n)
                        *n = s->n;
                if (buf)
                        *buf = s->mem ? TAKE_PTR(s->mem) : strdup("");
                if (buf && !*buf)
                        rc = gear_err_sys(e, ENOMEM, "cannot read '%s'", s->what);
        }
        sread_put(s);
        return rc;
}

int store_dir_open(const char *dir, struct gear_root *root, struct gear_err *e)
{
        struct sread *s = sread_new(run_open_dir);
        int rc;

        if (!s)
                return gear_err_sys(e, ENOMEM, "cannot open store '%s'", dir);
        snprintf(s->what, sizeof s->what, "%s", dir);
        rc = sread_run(s, e);
        if (rc == 0) {
                snprintf(root->path, sizeof root->path, "%s", s->path);
                root->fd = TAKE_FD(s->dir);
        }
        sread_put(s);
        return rc;
}

int store_file_copy(const struct gear_root *root, const char *rel, int out, uint64_t max, uint64_t *n,
                    struct gear_err *e)
{
        return read_bounded(root, rel, out, max, NULL, n, e);
}

int store_file_read(const struct gear_root *root, const char *rel, size_t max, char **buf, size_t *n,
                    struct gear_err *e)
{
        uint64_t got = 0;
        int rc = read_bounded(root, rel, -1, max, buf, &got, e);

        if (rc == 0 && n)
                *n = got;
        return rc;
}
