/* a build's staging area: new objects wait in build/.gear-tmp.TOKEN/ until the build succeeds */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "../base/fsutil.h"

#define TOKEN_LEN 16

struct store_stage {
        const struct gear_root *img;
        int dfd, lockfd;
        char rel[64];
        char token[TOKEN_LEN + 1];
        pthread_mutex_t mu;
        /* digests this build has seen: open addressing over the first 8 bytes */
        digest_hex *set;
        size_t set_n, set_cap;
        /* objects staged here, to be moved into objects/ */
        struct staged {
                digest_hex hex;
                uint64_t size, stored;
        } *staged;
        size_t staged_n, staged_cap;
        unsigned long seq;
        bool made[256]; /* subdirectories made, one per first byte: writers do not share a lock */
        size_t synced;  /* staged objects stage_sync synced: the first ones */
        struct store_stats st;
};

struct stage_stream {
        struct store_stage *s;
        int fd;
        char name[32];
        uint64_t stored;
};

/*
 * starts writing a large staged content's new bytes to disk (a MiB or more),
 * without waiting: the commit's syncfs then finds less left to do (a failure
 * here is the syncfs's to report). Not for each small object: one request
 * each costs more than the syncfs saves.
 */
static void writeback(int fd, uint64_t off, uint64_t n)
{
        sync_file_range(fd, (off_t)off, (off_t)n, SYNC_FILE_RANGE_WRITE);
}

static uint64_t set_key(const char *hex)
{
        uint64_t k = 0;

        for (int i = 0; i < 16; i++)
                k = k << 4 | (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
        return k;
}

/* "ab/rest": where a staged object lives, its subdirectory made when needed */
static int staged_name(struct store_stage *s, const char *hex, char name[DIGEST_HEX_LEN + 2])
{
        unsigned b = set_key(hex) >> 56;
        int r = 0;

        snprintf(name, DIGEST_HEX_LEN + 2, "%.2s/%s", hex, hex + 2);
        pthread_mutex_lock(&s->mu);
        if (!s->made[b]) {
                char dir[3] = { hex[0], hex[1], 0 };
                if (mkdirat(s->dfd, dir, 0700) < 0 && errno != EEXIST)
                        r = -errno;
                else
                        s->made[b] = true;
        }
        pthread_mutex_unlock(&s->mu);
        return r;
}

/* true when hex was not in the set yet; caller holds mu */
static int set_insert(struct store_stage *s, const char *hex, bool *added)
{
        if (2 * (s->set_n + 1) > s->set_cap) {
                size_t cap = s->set_cap ? s->set_cap * 2 : 256;
                digest_hex *t = calloc(cap, sizeof *t);
                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < s->set_cap; i++) {
                        if (!s->set[i][0])
                                continue;
                        size_t j = set_key(s->set[i]) & (cap - 1);
                        while (t[j][0])
                                j = (j + 1) & (cap - 1);
                        memcpy(t[j], s->set[i], sizeof t[j]);
                }
                free(s->set);
                s->set = t;
                s->set_cap = cap;
        }
        size_t j = set_key(hex) & (s->set_cap - 1);
        while (s->set[j][0]) {
                if (!strcmp(s->set[j], hex)) {
                        *added = false;
                        return 0;
                }
                j = (j + 1) & (s->set_cap - 1);
        }
        memcpy(s->set[j], hex, DIGEST_HEX_LEN + 1);
        s->set_n++;
        *added = true;
        return 0;
}

static int staged_add(struct store_stage *s, const char *hex, uint64_t size, uint64_t stored)
{
        if (s->staged_n == s->staged_cap) {
                size_t cap = s->staged_cap ? s->staged_cap * 2 : 1024;
                void *t = realloc(s->staged, cap * sizeof *s->staged);
                if (!t)
                        return -ENOMEM;
                s->staged = t;
                s->staged_cap = cap;
        }
        memcpy(s->staged[s->staged_n].hex, hex, DIGEST_HEX_LEN + 1);
        s->staged[s->staged_n].size = size;
        s->staged[s->staged_n++].stored = stored;
        return 0;
}

int stage_begin(const struct gear_root *img, struct store_stage **out, struct gear_err *e)
{
        static const char xd[] = "0123456789abcdef";
        struct store_stage *s = calloc(1, sizeof *s);
        unsigned char rnd[TOKEN_LEN / 2];

        if (!s)
                return gear_err_sys(e, ENOMEM, "cannot start staging");
        s->img = img;
        s->dfd = s->lockfd = -1;
        pthread_mutex_init(&s->mu, NULL);
        if (mkdir_private_at(img->fd, STORE_BUILD_DIR, e) < 0 || mkdir_private_at(img->fd, STORE_DIR, e) < 0)
                goto fail;
        for (int tries = 0;; tries++) {
                if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
                        gear_err_sys(e, errno, "cannot get random bytes");
                        goto fail;
                }
                for (size_t i = 0; i < sizeof rnd; i++) {
                        s->token[2 * i] = xd[rnd[i] >> 4];
                        s->token[2 * i + 1] = xd[rnd[i] & 15];
                }
                snprintf(s->rel, sizeof s->rel, STORE_BUILD_DIR "/" GEAR_TMP_PREFIX "%s", s->token);
                int k = mkdir_synced_at(img->fd, s->rel, 0700, e);
                if (k > 0)
                        break;
                if (k < 0) {
                        gear_err_wrap(e, "in '%s'", img->path);
                        goto fail;
                }
                if (tries > 8) {
                        gear_err_sys(e, EEXIST, "cannot create '%s/%s'", img->path, s->rel);
                        goto fail;
                }
        }
        s->dfd = openat(img->fd, s->rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dfd >= 0)
                s->lockfd = openat(s->dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX) < 0) {
                gear_err_sys(e, errno, "cannot lock '%s/%s'", img->path, s->rel);
                goto fail;
        }
        *out = s;
        return 0;
fail:
        stage_free(s);
        return -1;
}

bool stage_token_stale(const struct gear_root *img, const char *token)
{
        char rel[PATH_MAX];
        _cleanup_close_ int fd = -1;

        snprintf(rel, sizeof rel, STORE_BUILD_DIR "/" GEAR_TMP_PREFIX "%s/lock", token);
        fd = openat(img->fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT;
        return flock(fd, LOCK_EX | LOCK_NB) == 0;
}

/* the digest is new to this build and to the store: the caller stages it */
static int claim(struct store_stage *s, const char *hex, uint64_t size, bool *is_new)
{
        bool added;
        int r;

        pthread_mutex_lock(&s->mu);
        s->st.files++;
        s->st.bytes_in += size;
        r = set_insert(s, hex, &added);
        pthread_mutex_unlock(&s->mu);
        if (r < 0)
                return r;
        *is_new = added && !store_has(s->img, hex);
        if (!*is_new) {
                pthread_mutex_lock(&s->mu);
                s->st.objects_reused++;
                pthread_mutex_unlock(&s->mu);
        }
        return 0;
}

static int staged(struct store_stage *s, const char *hex, uint64_t size, uint64_t stored)
{
        int r;

        pthread_mutex_lock(&s->mu);
        r = staged_add(s, hex, size, stored);
        s->st.objects_new++;
        s->st.bytes_new += size;
        s->st.bytes_stored += stored;
        pthread_mutex_unlock(&s->mu);
        return r;
}

int stage_put(struct store_stage *s, const char *hex, const void *buf, size_t n, struct gear_err *e)
{
        char name[DIGEST_HEX_LEN + 2];
        _cleanup_close_ int fd = -1;
        void *enc = NULL;
        size_t encn;
        bool is_new;
        int r;

        if ((r = claim(s, hex, n, &is_new)) < 0)
                return gear_err_sys(e, -r, "cannot stage object");
        if (!is_new)
                return 0;
        if (store_encode(buf, n, &enc, &encn, e) < 0)
                return -1;
        r = staged_name(s, hex, name);
        if (r == 0) {
                fd = openat(s->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, STORE_FILE_MODE);
                r = fd < 0 ? -errno : write_all(fd, enc, encn);
                if (r == 0 && encn >= STORE_CHUNK)
                        writeback(fd, 0, encn);
        }
        if (enc != buf)
                free(enc);
        if (r < 0)
                return gear_err_sys(e, -r, "cannot write '%s/%s/%s'", s->img->path, s->rel, name);
        if ((r = staged(s, hex, n, encn)) < 0)
                return gear_err_sys(e, -r, "cannot stage object");
        return 0;
}

void stage_stream_free(struct stage_stream *w)
{
        if (!w)
                return;
        if (w->fd >= 0) {
                close(w->fd);
                unlinkat(w->s->dfd, w->name, 0);
        }
        free(w);
}

int stage_stream_open(struct store_stage *s, struct stage_stream **out, struct gear_err *e)
{
        struct stage_stream *w = calloc(1, sizeof *w);
        unsigned long seq;

        if (!w)
                return gear_err_sys(e, ENOMEM, "cannot stage object");
        w->s = s;
        pthread_mutex_lock(&s->mu);
        seq = s->seq++;
        pthread_mutex_unlock(&s->mu);
        snprintf(w->name, sizeof w->name, "stream.%lu", seq);
        w->fd = openat(s->dfd, w->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, STORE_FILE_MODE);
        if (w->fd < 0) {
                gear_err_sys(e, errno, "cannot create '%s/%s/%s'", s->img->path, s->rel, w->name);
                free(w);
                return -1;
        }
        *out = w;
        return 0;
}

int stage_stream_append(struct stage_stream *w, const void *buf, size_t n, struct gear_err *e)
{
        int r = write_all(w->fd, buf, n);

        if (r < 0)
                return gear_err_sys(e, -r, "cannot write '%s/%s/%s'", w->s->img->path, w->s->rel, w->name);
        writeback(w->fd, w->stored, n);
        w->stored += n;
        return 0;
}

int stage_stream_finish(struct stage_stream *w, const char *hex, uint64_t size, struct gear_err *e)
{
        struct store_stage *s = w->s;
        bool is_new;
        int r;

        if ((r = claim(s, hex, size, &is_new)) < 0) {
                gear_err_sys(e, -r, "cannot stage object");
                goto fail;
        }
        if (is_new) {
                char name[DIGEST_HEX_LEN + 2];
                if ((r = staged_name(s, hex, name)) < 0) {
                        gear_err_sys(e, -r, "cannot stage object");
                        goto fail;
                }
                if (renameat(s->dfd, w->name, s->dfd, name) < 0) {
                        gear_err_sys(e, errno, "cannot rename '%s/%s/%s'", s->img->path, s->rel, w->name);
                        goto fail;
                }
                close(w->fd);
                w->fd = -1;
                if ((r = staged(s, hex, size, w->stored)) < 0) {
                        gear_err_sys(e, -r, "cannot stage object");
                        goto fail;
                }
        }
        stage_stream_free(w);
        return 0;
fail:
        stage_stream_free(w);
        return -1;
}

void stage_stats(struct store_stage *s, struct store_stats *st)
{
        pthread_mutex_lock(&s->mu);
        *st = s->st;
        pthread_mutex_unlock(&s->mu);
}

int stage_sync(struct store_stage *s, struct gear_err *e)
{
        size_t n;

        pthread_mutex_lock(&s->mu);
        n = s->staged_n;
        pthread_mutex_unlock(&s->mu);
        if (syncfs(s->dfd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s'", s->img->path);
        s->synced = n;
        return 0;
}

int stage_commit(struct store_stage *s, stage_keep_fn keep, void *ud, struct gear_err *e)
{
        char rel[STORE_REL_MAX];
        bool made[256] = { false };

        /* one sync for every staged file before any of them becomes visible (again if more came) */
        if (s->synced < s->staged_n && stage_sync(s, e) < 0)
                return -1;
        for (size_t i = 0; i < s->staged_n; i++) {
                const struct staged *o = &s->staged[i];
                unsigned b = set_key(o->hex) >> 56;

                if (!keep(o->hex, ud)) {
                        pthread_mutex_lock(&s->mu);
                        s->st.objects_new--;
                        s->st.bytes_new -= o->size;
                        s->st.bytes_stored -= o->stored;
                        pthread_mutex_unlock(&s->mu);
                        continue;
                }
                if (!made[b]) {
                        snprintf(rel, sizeof rel, STORE_DIR "/%.2s", o->hex);
                        if (mkdir_synced_at(s->img->fd, rel, 0755, e) < 0)
                                return gear_err_wrap(e, "in '%s'", s->img->path);
                        made[b] = true;
                }
                char name[DIGEST_HEX_LEN + 2];
                snprintf(name, sizeof name, "%.2s/%s", o->hex, o->hex + 2);
                store_object_rel(o->hex, rel);
                if (renameat2(s->dfd, name, s->img->fd, rel, RENAME_NOREPLACE) < 0 && errno != EEXIST)
                        return gear_err_sys(e, errno, "cannot move object into '%s/%s'", s->img->path, rel);
        }
        if (syncfs(s->img->fd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s'", s->img->path);
        return 0;
}

int stage_dirfd(struct store_stage *s)
{
        return s->dfd;
}

void stage_free(struct store_stage *s)
{
        if (!s)
                return;
        if (s->dfd >= 0) {
                close(s->dfd);
                store_rm_rf(s->img->fd, s->rel);
        }
        if (s->lockfd >= 0)
                close(s->lockfd);
        pthread_mutex_destroy(&s->mu);
        free(s->set);
        free(s->staged);
        free(s);
}
