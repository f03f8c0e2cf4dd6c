/* the public/ cache: verified contents, fetched once per host */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "store.h"
#include "../base/fsutil.h"

#define COPY_BUF (256u << 10)
/* fetched stored bytes up to this size wait for decoding in memory, larger ones in an unnamed file */
#define CACHE_MEM_MAX (1u << 20)

void cache_rel(const char *hex, char rel[CACHE_REL_MAX])
{
        snprintf(rel, CACHE_REL_MAX, CACHE_DIR "/%.2s/%s", hex, hex + 2);
}

static bool hex_valid(const char *hex)
{
        size_t i;

        for (i = 0; hex[i]; i++)
                if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
                        return false;
        return i == 64;
}

bool cache_has(const struct gear_root *img, const char *hex, uint64_t size)
{
        char rel[CACHE_REL_MAX];
        struct stat st;

        if (!hex_valid(hex))
                return false;
        cache_rel(hex, rel);
        return fstatat(img->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
               (uint64_t)st.st_size == size;
}

/* the cached file, when present and of the right size; -1 with errno else */
static int open_present(int dfd, const char *name, uint64_t size, struct gear_err *e)
{
        struct stat st;
        /* O_NONBLOCK: whatever sits there, opening it does not wait */
        int fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return errno == ENOENT ? -ENOENT : gear_err_sys(e, errno, "cannot open cached '%s'", name);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size ||
            fcntl(fd, F_SETFL, O_RDONLY) < 0) {
                close(fd);
                return gear_err_set(e, GEAR_EXIT_SYS, "cached '%s' is not a file of %llu bytes", name,
                                    (unsigned long long)size);
        }
        return fd;
}

/* decodes a stored object from r into out, checking digest and size */
static int decode(struct store_reader *r, uint64_t size, int out, struct gear_err *e)
{
        _cleanup_free_ char *buf = malloc(COPY_BUF);
        ssize_t n;

        if (!buf) {
                store_reader_free(r);
                return gear_err_sys(e, ENOMEM, "cannot decode");
        }
        store_reader_expect_size(r, size);
        while ((n = store_reader_read(r, buf, COPY_BUF, e)) > 0)
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, buf + off, n - off);
                        if (w < 0) {
                                store_reader_free(r);
                                return gear_err_sys(e, errno, "cannot write cache file");
                        }
                        off += w;
                }
        store_reader_free(r);
        return n < 0 ? -1 : 0;
}

/* a temporary file for size bytes: in memory when small, else unnamed in dfd */
int cache_temp(int dfd, uint64_t size)
{
        int fd = size <= CACHE_MEM_MAX ? memfd_create("gear-fetch", MFD_CLOEXEC) : -1;

        return fd >= 0 ? fd : openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

static int fill(const struct gear_root *img, int dfd, const char *hex, uint64_t size, cache_fetch_fn fetch,
                void *ud, int out, struct cache_result *res, struct gear_err *e)
{
        struct store_reader *r;

        if (!fetch) {
                if (store_reader_open(img, hex, &r, e) < 0)
                        return -1;
        } else {
                _cleanup_close_ int raw = cache_temp(dfd, store_stored_max(size));
                off_t end;
                if (raw < 0)
                        return gear_err_sys(e, errno, "cannot create a temporary file in '%s'", CACHE_DIR);
                if (fetch(hex, size, raw, ud, e) < 0)
                        return -1;
                if ((end = lseek(raw, 0, SEEK_CUR)) < 0 || lseek(raw, 0, SEEK_SET) < 0)
                        return gear_err_sys(e, errno, "cannot rewind fetched object");
                res->wire = end;
                if (store_reader_fdopen(TAKE_FD(raw), hex, "fetched object", &r, e) < 0)
                        return -1;
        }
        return decode(r, size, out, e);
}

/* public/<ab> of content hex, made when missing */
static int shard_open(const struct gear_root *img, const char *hex, struct gear_err *e)
{
        char sub[sizeof CACHE_DIR + 3];
        int dfd;

        snprintf(sub, sizeof sub, CACHE_DIR "/%.2s", hex);
        dfd = openat(img->fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                return dfd;
        if (errno != ENOENT)
                return gear_err_sys(e, errno, "cannot open '%s/%s'", img->path, sub);
        if (mkdir_private_at(img->fd, CACHE_DIR, e) < 0)
                return gear_err_wrap(e, "in '%s'", img->path);
        if (mkdir_synced_at(img->fd, sub, 0755, e) < 0)
                return gear_err_wrap(e, "in '%s'", img->path);
        if ((dfd = openat(img->fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return gear_err_sys(e, errno, "cannot open '%s/%s'", img->path, sub);
        return dfd;
}

/* the right to fetch one content: public/<ab> and the lock file, held */
struct cache_claim {
        const struct gear_root *img;
        digest_hex hex;
        uint64_t size;
        int dfd, lfd;
        int out;        /* the content, staged: verified, not yet synced nor named (-1 before) */
        char lock[64 + 8];
};

void cache_claim_free(struct cache_claim *c)
{
        if (!c)
                return;
        if (c->out >= 0)
                close(c->out);
        if (c->lfd >= 0) {
                unlinkat(c->dfd, c->lock, 0);
                close(c->lfd);
        }
        if (c->dfd >= 0)
                close(c->dfd);
        free(c);
}

/*
 * The lock of c's content, once nobody else holds it (or, with nb, only if
 * nobody does): 1 held, 0 busy (nb), -1. The lock file is unlinked by its
 * holder when done, so one that was removed while we waited is not ours.
 */
static int claim_lock(struct cache_claim *c, bool nb, struct gear_err *e)
{
        for (;;) {
                struct stat a, b;
                int k;

                if (c->lfd >= 0)
                        close(c->lfd);
                c->lfd = openat(c->dfd, c->lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (c->lfd < 0)
                        return gear_err_sys(e, errno, "cannot open lock '%s'", c->lock);
                while ((k = flock(c->lfd, LOCK_EX | (nb ? LOCK_NB : 0))) < 0 && errno == EINTR)
                        ;
                if (k < 0 || fstat(c->lfd, &a) < 0) {
                        int err = errno;
                        /* not ours: closed, not removed */
                        close(c->lfd);
                        c->lfd = -1;
                        if (k < 0 && nb && err == EWOULDBLOCK)
                                return 0;
                        return gear_err_sys(e, err, "cannot lock '%s'", c->lock);
                }
                if (fstatat(c->dfd, c->lock, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
                    a.st_dev == b.st_dev)
                        return 1;
        }
}

/* the claim of content hex: 1 with *cp, or 0 with *fd the cached file (present, or nb and fetched by another) */
static int claim(const struct gear_root *img, const char *hex, uint64_t size, bool nb, struct cache_claim **cp,
                 int *fd, struct gear_err *e)
{
        struct cache_claim *c;
        int k;

        *cp = NULL;
        *fd = -1;
        if (!hex_valid(hex))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid digest '%s'", hex);
        if (!(c = calloc(1, sizeof *c)))
                return gear_err_sys(e, ENOMEM, "cannot open '%s'", hex);
        *c = (struct cache_claim){ .img = img, .size = size, .lfd = -1, .out = -1 };
        memcpy(c->hex, hex, sizeof c->hex);
        snprintf(c->lock, sizeof c->lock, ".%s.lock", hex + 2);
        if ((c->dfd = shard_open(img, hex, e)) < 0) {
                cache_claim_free(c);
                return -1;
        }
        /* present, or (after the lock) fetched meanwhile by the holder we waited for */
        if ((*fd = open_present(c->dfd, hex + 2, size, e)) == -ENOENT) {
                if ((k = claim_lock(c, nb, e)) <= 0) {
                        cache_claim_free(c);
                        *fd = -1;
                        return k;
                }
                if ((*fd = open_present(c->dfd, hex + 2, size, e)) == -ENOENT) {
                        *fd = -1;
                        *cp = c;
                        return 1;
                }
        }
        cache_claim_free(c);
        if (*fd < 0) {
                *fd = -1;
                return -1;
        }
        return 0;
}

int cache_claim(const struct gear_root *img, const char *hex, uint64_t size, struct cache_claim **c,
                struct gear_err *e)
{
        int fd, r = claim(img, hex, size, true, c, &fd, e);

        if (fd >= 0)
                close(fd);
        return r;
}

int cache_stage(struct cache_claim *c, cache_fetch_fn fetch, void *ud, struct cache_result *res, struct gear_err *e)
{
        *res = (struct cache_result){0};
        if (c->out >= 0)
                close(c->out);
        if ((c->out = openat(c->dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, CACHE_FILE_MODE)) < 0)
                return gear_err_sys(e, errno, "cannot create a temporary file in '%s/" CACHE_DIR "/%.2s'",
                                    c->img->path, c->hex);
        if (fill(c->img, c->dfd, c->hex, c->size, fetch, ud, c->out, res, e) < 0) {
                close(c->out);
                c->out = -1;
                return -1;
        }
        res->fetched = true;
        if (!fetch)
                res->wire = c->size;
        return 0;
}

int cache_staged_fd(const struct cache_claim *c)
{
        return c->out;
}

/* names a staged content whose bytes are on disk */
static int link_staged(struct cache_claim *c, struct gear_err *e)
{
        char proc[64];

        snprintf(proc, sizeof proc, "/proc/self/fd/%d", c->out);
        if (linkat(AT_FDCWD, proc, c->dfd, c->hex + 2, AT_SYMLINK_FOLLOW) < 0 && errno != EEXIST)
                return gear_err_sys(e, errno, "cannot link '%s/" CACHE_DIR "/%.2s/%s'", c->img->path, c->hex,
                                    c->hex + 2);
        return 0;
}

void cache_publish(struct cache_claim **v, size_t n, cache_published_fn fn, void *ud)
{
        struct gear_err *errs = n > 1 ? calloc(n, sizeof *errs) : NULL, one = {0};
        unsigned wait = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;

        /*
         * A batch costs about one journal commit, not one each: the writes
         * of all are started, then waited for, then each is synced (the first
         * sync commits what they all changed, the others find it done), and
         * only then are they named (a name between two syncs would make the
         * second commit again). Its bytes are on disk before its name is: a
         * crash never leaves a cached file of wrong bytes.
         */
        test_pause_point("cache:publish");
        for (int pass = 0; n > 1 && pass < 2; pass++)
                for (size_t i = 0; i < n; i++)
                        if (v[i] && v[i]->out >= 0)
                                sync_file_range(v[i]->out, 0, 0, pass ? wait : SYNC_FILE_RANGE_WRITE);
        for (size_t i = 0; i < n; i++) {
                struct gear_err *e = errs ? &errs[i] : &one;
                if (!v[i])
                        continue;
                if (v[i]->out < 0)
                        gear_err_set(e, GEAR_EXIT_SYS, "content %.12s was not staged", v[i]->hex);
                else if (fdatasync(v[i]->out) < 0)
                        gear_err_sys(e, errno, "cannot sync cache file");
                /* a batch whose report cannot be kept is reported failed whole */
                if (!errs && n > 1)
                        gear_err_set(e, GEAR_EXIT_SYS, "cannot publish: out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                struct gear_err *e = errs ? &errs[i] : &one;
                struct cache_claim *c = v[i];

                if (!c)
                        continue;
                v[i] = NULL;
                /*
                 * The name is not synced: one a crash loses is a content fetched
                 * again, and a sync of the directory costs a lazy open as much as
                 * the fetch itself.
                 */
                if (!e->code)
                        link_staged(c, e);
                cache_claim_free(c);
                if (fn)
                        fn(ud, i, e->code ? e : NULL);
        }
        free(errs);
}

static void published_one(void *ud, size_t i, const struct gear_err *e)
{
        (void)i;
        if (e)
                *(struct gear_err *)ud = *e;
}

int cache_fill(struct cache_claim *c, cache_fetch_fn fetch, void *ud, struct cache_result *res, struct gear_err *e)
{
        struct gear_err pe = {0};
        _cleanup_close_ int dfd = -1;
        char name[DIGEST_HEX_LEN];
        uint64_t size = c->size;
        int fd;

        if (cache_stage(c, fetch, ud, res, e) < 0) {
                cache_claim_free(c);
                return -1;
        }
        memcpy(name, c->hex + 2, sizeof name - 2);
        name[sizeof name - 2] = 0;
        /* the shard stays open past the claim, to open the file it names */
        if ((dfd = fcntl(c->dfd, F_DUPFD_CLOEXEC, 3)) < 0) {
                gear_err_sys(e, errno, "cannot open '" CACHE_DIR "/%.2s'", c->hex);
                cache_claim_free(c);
                return -1;
        }
        cache_publish(&c, 1, published_one, &pe);
        if (pe.code) {
                *e = pe;
                return -1;
        }
        fd = open_present(dfd, name, size, e);
        if (fd == -ENOENT)
                fd = gear_err_sys(e, ENOENT, "cannot open cached '%s'", name);
        return fd;
}

int cache_partial(const struct gear_root *img, const char *hex, uint64_t size, struct gear_err *e)
{
        _cleanup_close_ int dfd = -1;
        int fd;

        if (!hex_valid(hex))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid digest '%s'", hex);
        if ((dfd = shard_open(img, hex, e)) < 0)
                return -1;
        if ((fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, CACHE_FILE_MODE)) < 0)
                return gear_err_sys(e, errno, "cannot create a temporary file in '%s/" CACHE_DIR "/%.2s'",
                                    img->path, hex);
        if (ftruncate(fd, (off_t)size) < 0) {
                close(fd);
                return gear_err_sys(e, errno, "cannot size a temporary file in '%s/" CACHE_DIR "/%.2s'",
                                    img->path, hex);
        }
        return fd;
}

int cache_adopt(const struct gear_root *img, const char *hex, uint64_t size, int fd, bool *mismatch,
                struct gear_err *e)
{
        struct cache_claim *c = NULL;
        struct gear_err pe = {0};
        digest_hex got;
        uint64_t n = 0;
        int present = -1, k;
        _cleanup_close_ int rd = -1;
        char proc[64];

        *mismatch = false;
        /* read through an fd of its own: fd's offset is the caller's */
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if ((rd = open(proc, O_RDONLY | O_CLOEXEC)) < 0)
                return gear_err_sys(e, errno, "cannot read back content %.12s", hex);
        if (digest_fd(rd, got, &n, e) < 0)
                return -1;
        *mismatch = strcmp(got, hex) || n != size;
        if (*mismatch)
                return gear_err_set(e, GEAR_EXIT_SYS, "content %.12s does not match its digest (sha256:%.12s..., %llu bytes)",
                                    hex, got, (unsigned long long)n);
        if ((k = claim(img, hex, size, false, &c, &present, e)) <= 0) {
                /* present already: fetched by another meanwhile */
                if (present >= 0)
                        close(present);
                return k;
        }
        if ((c->out = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
                gear_err_sys(e, errno, "cannot publish content %.12s", hex);
                cache_claim_free(c);
                return -1;
        }
        cache_publish(&c, 1, published_one, &pe);
        if (pe.code) {
                *e = pe;
                return -1;
        }
        return 0;
}

int cache_open(const struct gear_root *img, const char *hex, uint64_t size, cache_fetch_fn fetch, void *ud,
               struct cache_result *res, struct gear_err *e)
{
        struct cache_claim *c;
        int fd, r;

        *res = (struct cache_result){0};
        /* fetch once: the first opener holds the content's lock, the others wait and find it */
        if ((r = claim(img, hex, size, false, &c, &fd, e)) <= 0)
                return r < 0 ? -1 : fd;
        return cache_fill(c, fetch, ud, res, e);
}

bool cache_lock_name(const char *name)
{
        size_t n = strlen(name);

        return n == 1 + 62 + 5 && name[0] == '.' && !strcmp(name + 63, ".lock") &&
               strspn(name + 1, "0123456789abcdef") == 62;
}

int cache_lock_claim(int dfd, const char *name)
{
        _cleanup_close_ int fd = -1;
        struct stat a, b;

        fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &a) < 0 || !S_ISREG(a.st_mode) || flock(fd, LOCK_EX | LOCK_NB) < 0)
                return -1;
        /* its holder may have finished and removed it meanwhile: then it is not ours to remove */
        if (fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
                return -1;
        return TAKE_FD(fd);
}

int cache_use_begin(const struct gear_root *img, struct gear_err *e)
{
        if (mkdir_private_at(img->fd, CACHE_DIR, e) < 0)
                return gear_err_wrap(e, "in '%s'", img->path);
        return lock_dir(img, CACHE_GC_LOCK, LOCK_SH, e);
}

int cache_use(const struct gear_root *img, const char *image_dir, struct gear_err *e)
{
        _cleanup_close_ int gc = -1;
        char rel[PATH_MAX + 16];

        if ((gc = cache_use_begin(img, e)) < 0)
                return -1;
        snprintf(rel, sizeof rel, "%s/" CACHE_MOUNT_LOCK, image_dir);
        return lock_file(img, rel, LOCK_SH, e);
}
