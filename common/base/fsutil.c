#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"

/* fsync of the directory holding path (below dfd, or absolute) */
static int fsync_dir_of(int dfd, const char *path)
{
        char dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        _cleanup_close_ int fd = -1;

        if (!slash)
                snprintf(dir, sizeof dir, ".");
        else if (slash == path)
                snprintf(dir, sizeof dir, "/");
        else
                snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        fd = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

int mkdir_synced_at(int dfd, const char *path, mode_t mode, struct gear_err *e)
{
        int r;

        if (mkdirat(dfd, path, mode) < 0)
                return errno == EEXIST ? 0 : gear_err_sys(e, errno, "cannot create directory '%s'", path);
        /* the new entry survives a crash before anything is written below it */
        if ((r = fsync_dir_of(dfd, path)) < 0)
                return gear_err_sys(e, -r, "cannot sync the directory holding '%s'", path);
        return 1;
}

int mkdir_p_at(int dfd, const char *path, mode_t mode, struct gear_err *e)
{
        char buf[PATH_MAX];
        char *p;

        if (strlen(path) >= sizeof buf)
                return gear_err_set(e, GEAR_EXIT_USAGE, "path too long '%s'", path);
        strcpy(buf, path);
        /* fast path: the directory usually exists, or only its last component is missing */
        if (mkdirat(dfd, buf, mode) == 0) {
                int r = fsync_dir_of(dfd, buf);
                return r < 0 ? gear_err_sys(e, -r, "cannot sync the directory holding '%s'", buf) : 0;
        }
        if (errno == EEXIST)
                return 0;
        for (p = buf + 1; ; p++) {
                if (*p != '/' && *p)
                        continue;
                char c = *p;
                *p = 0;
                if (mkdir_synced_at(dfd, buf, mode, e) < 0)
                        return -1;
                if (!c)
                        break;
                *p = c;
        }
        return 0;
}

int dir_private_at(int dfd, const char *rel, struct gear_err *e)
{
        _cleanup_close_ int fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd < 0 || fstat(fd, &st) < 0)
                return gear_err_sys(e, errno, "cannot open directory '%s'", rel);
        if ((st.st_mode & 077) && fchmod(fd, 0700) < 0)
                return gear_err_sys(e, errno, "cannot make directory '%s' root-only", rel);
        return 0;
}

int mkdir_private_at(int dfd, const char *rel, struct gear_err *e)
{
        char dir[PATH_MAX];

        path_dirname(rel, dir, sizeof dir);
        if (strcmp(dir, ".") && mkdir_p_at(dfd, dir, 0755, e) < 0)
                return -1;
        if (mkdir_synced_at(dfd, rel, 0700, e) < 0)
                return -1;
        return dir_private_at(dfd, rel, e);
}

void path_dirname(const char *rel, char *buf, size_t n)
{
        const char *slash = strrchr(rel, '/');

        if (!slash)
                snprintf(buf, n, ".");
        else
                snprintf(buf, n, "%.*s", (int)(slash - rel), rel);
}

int mkparent(const struct gear_root *r, const char *rel, struct gear_err *e)
{
        char dir[PATH_MAX];

        path_dirname(rel, dir, sizeof dir);
        if (!strcmp(dir, "."))
                return 0;
        if (mkdir_p_at(r->fd, dir, 0755, e) < 0)
                return gear_err_wrap(e, "in '%s'", r->path);
        return 0;
}

int fsync_parent(const struct gear_root *r, const char *rel, struct gear_err *e)
{
        char dir[PATH_MAX];
        _cleanup_close_ int fd = -1;

        path_dirname(rel, dir, sizeof dir);
        fd = openat(r->fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s/%s'", r->path, dir);
        return 0;
}

/* write(2), or pwrite(2) at off with at, of all len bytes, through EINTR */
static int all(int fd, const void *data, size_t len, off_t off, bool at)
{
        const char *buf = data;

        while (len) {
                ssize_t n = at ? pwrite(fd, buf, len, off) : write(fd, buf, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= n;
                off += n;
        }
        return 0;
}

int write_all(int fd, const void *data, size_t len)
{
        return all(fd, data, len, 0, false);
}

int pwrite_all(int fd, const void *data, size_t len, off_t off)
{
        return all(fd, data, len, off, true);
}

int atomic_write(const struct gear_root *r, const char *rel, const void *buf, size_t len,
                 mode_t mode, struct gear_err *e)
{
        char dir[PATH_MAX], tmp[PATH_MAX];
        const char *base = strrchr(rel, '/');
        _cleanup_close_ int fd = -1;
        unsigned long long rnd;
        int err;

        base = base ? base + 1 : rel;
        path_dirname(rel, dir, sizeof dir);
        if (mkparent(r, rel, e) < 0)
                return -1;
        for (int tries = 0; fd < 0; tries++) {
                if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                        rnd = (unsigned long long)getpid() << 32 ^ (unsigned long long)time(NULL) ^ tries;
                if ((size_t)snprintf(tmp, sizeof tmp, "%s/" GEAR_TMP_PREFIX "%.64s.%016llx", dir, base, rnd) >= sizeof tmp)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "path too long '%s/%s'", r->path, rel);
                fd = openat(r->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
                if (fd < 0 && (errno != EEXIST || tries > 8))
                        return gear_err_sys(e, errno, "cannot create '%s/%s'", r->path, tmp);
        }
        /* held until the rename: tells gear-clean this temp file is live */
        flock(fd, LOCK_EX);
        err = write_all(fd, buf, len);
        if (!err && fchmod(fd, mode) < 0)
                err = -errno;
        if (!err && fsync(fd) < 0)
                err = -errno;
        if (!err && renameat(r->fd, tmp, r->fd, rel) < 0)
                err = -errno;
        if (err) {
                unlinkat(r->fd, tmp, 0);
                return gear_err_sys(e, -err, "cannot write '%s/%s'", r->path, rel);
        }
        return fsync_parent(r, rel, e);
}

int read_file(const struct gear_root *r, const char *rel, size_t max, char **out, size_t *len,
              struct gear_err *e)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap = 0;
        struct stat st;

        /* O_NONBLOCK: a fifo planted in a tree must not hang a reader */
        fd = openat(r->fd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
                int err = errno;
                gear_err_sys(e, err, "cannot open '%s/%s'", r->path, rel);
                if (err == ENOENT)
                        e->code = GEAR_EXIT_NO;
                return -err;
        }
        if (fstat(fd, &st) < 0)
                return gear_err_sys(e, errno, "cannot stat '%s/%s'", r->path, rel);
        if (!S_ISREG(st.st_mode))
                return gear_err_set(e, GEAR_EXIT_SYS, "'%s/%s' is not a regular file", r->path, rel), -EINVAL;
        for (;;) {
                if (n + 1 >= cap) {
                        if (cap > max)
                                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s/%s' is larger than %zu bytes", r->path, rel, max), -EFBIG;
                        cap = cap ? cap * 2 : 4096;
                        char *p = realloc(buf, cap);
                        if (!p)
                                return gear_err_sys(e, ENOMEM, "cannot read '%s/%s'", r->path, rel);
                        buf = p;
                }
                ssize_t k = read(fd, buf + n, cap - n - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, rel);
                }
                if (k == 0)
                        break;
                n += k;
                if (n > max)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "'%s/%s' is larger than %zu bytes", r->path, rel, max), -EFBIG;
        }
        buf[n] = 0;
        if (len)
                *len = n;
        *out = TAKE_PTR(buf);
        return 0;
}

static int lock_fd(const struct gear_root *r, const char *rel, int fd, int op, struct gear_err *e)
{
        _cleanup_close_ int lfd = fd;

        if (fd < 0)
                return gear_err_sys(e, errno, "cannot open lock '%s/%s'", r->path, rel);
        while (flock(lfd, op) < 0) {
                if (errno == EINTR)
                        continue;
                if (errno == EWOULDBLOCK)
                        return gear_err_set(e, GEAR_EXIT_NO, "'%s/%s' is locked", r->path, rel);
                return gear_err_sys(e, errno, "cannot lock '%s/%s'", r->path, rel);
        }
        return TAKE_FD(lfd);
}

int lock_file(const struct gear_root *r, const char *rel, int op, struct gear_err *e)
{
        if (mkparent(r, rel, e) < 0)
                return -1;
        return lock_fd(r, rel, openat(r->fd, rel, O_RDONLY | O_CREAT | O_CLOEXEC, 0644), op, e);
}

int lock_dir(const struct gear_root *r, const char *rel, int op, struct gear_err *e)
{
        if (mkdir_p_at(r->fd, rel, 0755, e) < 0)
                return gear_err_wrap(e, "in '%s'", r->path);
        return lock_fd(r, rel, openat(r->fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), op, e);
}

bool is_tmp_name(const char *name)
{
        return !strncmp(name, GEAR_TMP_PREFIX, strlen(GEAR_TMP_PREFIX));
}

bool tmp_is_stale(int dfd, const char *name, unsigned age)
{
        _cleanup_close_ int fd = -1;
        struct stat st;

        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        if (st.st_mtime + (time_t)age > time(NULL))
                return false;
        return flock(fd, LOCK_EX | LOCK_NB) == 0;
}

/* openat_beneath without openat2 (ENOSYS, or a filter that refuses it): one component at a time */
static int open_by_components(int dfd, const char *rel, int flags)
{
        char buf[PATH_MAX], *p, *slash;
        int cur = dfd, fd;

        if ((size_t)snprintf(buf, sizeof buf, "%s", rel) >= sizeof buf)
                return errno = ENAMETOOLONG, -1;
        for (p = buf; (slash = strchr(p, '/')); p = slash + 1) {
                *slash = 0;
                if (!strcmp(p, ".."))
                        fd = (errno = EXDEV, -1);
                else
                        fd = openat(cur, *p ? p : ".", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cur != dfd) {
                        int err = errno;
                        close(cur);
                        errno = err;
                }
                if (fd < 0)
                        return -1;
                cur = fd;
        }
        if (!strcmp(p, ".."))
                fd = (errno = EXDEV, -1);
        else
                fd = openat(cur, *p ? p : ".", flags | O_NOFOLLOW | O_CLOEXEC);
        if (cur != dfd) {
                int err = errno;
                close(cur);
                errno = err;
        }
        return fd;
}

int openat_beneath(int dfd, const char *rel, int flags)
{
        struct open_how how = {
                .flags = (unsigned)(flags | O_NOFOLLOW | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, dfd, rel, &how, sizeof how);

        if (fd < 0 && (errno == ENOSYS || errno == EPERM))
                return open_by_components(dfd, rel, flags);
        return (int)fd;
}

void test_pause_point(const char *point)
{
        const char *at = getenv("GEAR_TEST_PAUSE"), *flag = getenv("GEAR_TEST_PAUSE_FILE");
        int fd;

        if (!at || !flag || strcmp(at, point))
                return;
        fd = open(flag, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        close(fd);
        for (int i = 0; i < 12000 && access(flag, F_OK) == 0; i++)
                usleep(10000);
}

int dir_open_at(const struct gear_root *r, int dfd, const char *rel, DIR **d, struct gear_err *e)
{
        int fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        *d = NULL;
        if (fd < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot open '%s/%s'", r->path, rel);
        if (!(*d = fdopendir(fd)))
                return close(fd), gear_err_sys(e, errno, "cannot open '%s/%s'", r->path, rel);
        return 0;
}

int mem_append(char **buf, size_t *len, const void *p, size_t n)
{
        char *b = realloc(*buf, *len + n + 1);

        if (!b)
                return -ENOMEM;
        memcpy(b + *len, p, n);
        *len += n;
        b[*len] = 0;
        *buf = b;
        return 0;
}

void fd_limit_raise(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int array_room(void **v, size_t *cap, size_t n, size_t size)
{
        size_t c;
        void *p;

        if (n < *cap)
                return 0;
        c = *cap ? 2 * *cap : 256;
        if (c > SIZE_MAX / size || !(p = realloc(*v, c * size)))
                return -ENOMEM;
        *v = p;
        *cap = c;
        return 0;
}
