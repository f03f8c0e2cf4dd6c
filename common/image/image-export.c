/* gear-export: an image's tree materialised from its index and the store */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image.h"
#include "../base/fsutil.h"

struct deferred {
        char *path;
        struct inode *ino;
};

struct exporter {
        const struct gear_root *img;
        int dfd;
        const char *dir;
        bool created;           /* DIR was made here: it takes the image root's metadata */
        struct deferred *dirs;
        size_t ndirs, cap;
        struct gear_err *e;
};

static int clear_first(struct tnode *n, const char *path, void *ud)
{
        free(n->ino->first_path);
        n->ino->first_path = NULL;
        return 0;
}

/*
 * The directory holding path, reached without following any symbolic link,
 * so that nothing (a link the tree holds, or one put in DIR while the export
 * runs) makes it write outside DIR; *base is the last component.
 */
static int open_parent(struct exporter *x, const char *path, const char **base)
{
        const char *slash = strrchr(path, '/');
        char dir[PATH_MAX];
        int fd;

        *base = slash ? slash + 1 : path;
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        fd = slash ? openat_beneath(x->dfd, dir, O_PATH | O_DIRECTORY) : fcntl(x->dfd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
                return gear_err_sys(x->e, errno, "cannot open '%s/%s'", x->dir, dir);
        return fd;
}

/*
 * Metadata through a descriptor of the very file written (an O_PATH one
 * but for regular files), by its /proc/self/fd name where no f*() call
 * takes it: never through a name that could have been swapped meanwhile.
 * Owner before mode (chown clears setuid), xattrs after owner (it clears
 * capabilities), times last.
 */
static int set_meta(struct exporter *x, int fd, const char *path, struct inode *ino)
{
        struct timespec ts[2] = { { ino->mtime, ino->mtime_nsec }, { ino->mtime, ino->mtime_nsec } };
        char self[64];

        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        if (fchownat(fd, "", ino->uid, ino->gid, AT_EMPTY_PATH) < 0)
                return gear_err_sys(x->e, errno, "cannot change owner of '%s/%s'", x->dir, path);
        if (!S_ISLNK(ino->mode) && chmod(self, ino->mode & 07777) < 0)
                return gear_err_sys(x->e, errno, "cannot change mode of '%s/%s'", x->dir, path);
        for (size_t i = 0; i < ino->nxattrs; i++) {
                struct xattr *a = &ino->xattrs[i];
                if (setxattr(self, a->name, a->value, a->len, 0) < 0 && errno != ENOTSUP)
                        return gear_err_sys(x->e, errno, "cannot set xattr '%s' of '%s/%s'", a->name, x->dir, path);
        }
        if (utimensat(AT_FDCWD, self, ts, 0) < 0)
                return gear_err_sys(x->e, errno, "cannot set times of '%s/%s'", x->dir, path);
        return 0;
}

/* base below pfd, as just made: of type type, not a link put in its place */
static int open_made(struct exporter *x, int pfd, const char *base, const char *path, mode_t type)
{
        struct stat st;
        int fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return gear_err_sys(x->e, errno, "cannot open '%s/%s'", x->dir, path);
        if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != type) {
                close(fd);
                return gear_err_set(x->e, GEAR_EXIT_SYS, "'%s/%s' changed while it was written", x->dir, path);
        }
        return fd;
}

static int defer(struct exporter *x, const char *path, struct inode *ino)
{
        if (x->ndirs == x->cap) {
                size_t cap = x->cap ? 2 * x->cap : 256;
                void *p = realloc(x->dirs, cap * sizeof *x->dirs);
                if (!p)
                        return gear_err_sys(x->e, ENOMEM, "cannot export");
                x->dirs = p;
                x->cap = cap;
        }
        if (!(x->dirs[x->ndirs].path = strdup(path)))
                return gear_err_sys(x->e, ENOMEM, "cannot export");
        x->dirs[x->ndirs++].ino = ino;
        return 0;
}

static int content(struct exporter *x, int pfd, const char *base, const char *path, struct inode *ino)
{
        _cleanup_close_ int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

        if (fd < 0)
                return gear_err_sys(x->e, errno, "cannot create '%s/%s'", x->dir, path);
        if (store_copy_to_fd(x->img, ino->blob->hex, ino->blob->size, fd, x->e) < 0)
                return gear_err_wrap(x->e, "cannot export '%s'", path);
        return set_meta(x, fd, path, ino);
}

/* a hardlink to the first path of its inode, both reached without following links */
static int hardlink(struct exporter *x, int pfd, const char *base, const char *path, struct inode *ino)
{
        const char *obase;
        _cleanup_close_ int ofd = open_parent(x, ino->first_path, &obase);

        if (ofd < 0)
                return -1;
        if (linkat(ofd, obase, pfd, base, 0) < 0)
                return gear_err_sys(x->e, errno, "cannot link '%s/%s'", x->dir, path);
        return 0;
}

/* test hook: GEAR_TEST_PAUSE=export:PATH waits once directory PATH is made */
static void pause_after(const char *path)
{
        const char *at = getenv("GEAR_TEST_PAUSE");

        if (at && !strncmp(at, "export:", 7) && !strcmp(at + 7, path))
                test_pause_point(at);
}

static int put(struct tnode *n, const char *path, void *ud)
{
        struct exporter *x = ud;
        struct inode *ino = n->ino;
        mode_t type = ino->mode & S_IFMT;
        _cleanup_close_ int pfd = -1, fd = -1;
        const char *base;

        if (!strcmp(path, "."))
                return 0;
        if ((pfd = open_parent(x, path, &base)) < 0)
                return -1;
        if (ino->first_path)
                return hardlink(x, pfd, base, path, ino);
        if (type != S_IFDIR && !(ino->first_path = strdup(path)))
                return gear_err_sys(x->e, ENOMEM, "cannot export");
        switch (type) {
        case S_IFDIR:
                if (mkdirat(pfd, base, 0700) < 0)
                        return gear_err_sys(x->e, errno, "cannot create '%s/%s'", x->dir, path);
                pause_after(path);
                return defer(x, path, ino);
        case S_IFREG:
                return content(x, pfd, base, path, ino);
        case S_IFLNK:
                if (symlinkat(ino->target, pfd, base) < 0)
                        return gear_err_sys(x->e, errno, "cannot create '%s/%s'", x->dir, path);
                break;
        case S_IFCHR: case S_IFBLK: case S_IFIFO:
                if (mknodat(pfd, base, type | 0600, ino->rdev) < 0)
                        return gear_err_sys(x->e, errno, "cannot create '%s/%s'", x->dir, path);
                break;
        default:
                return gear_err_set(x->e, GEAR_EXIT_USAGE, "'%s' has an unknown type", path);
        }
        if ((fd = open_made(x, pfd, base, path, type)) < 0)
                return -1;
        return set_meta(x, fd, path, ino);
}

/* a directory's metadata, once its entries are made */
static int dir_meta(struct exporter *x, const char *path, struct inode *ino)
{
        _cleanup_close_ int fd = strcmp(path, ".") ? openat_beneath(x->dfd, path, O_PATH | O_DIRECTORY)
                                                   : fcntl(x->dfd, F_DUPFD_CLOEXEC, 0);

        if (fd < 0)
                return gear_err_sys(x->e, errno, "cannot open '%s/%s'", x->dir, path);
        return set_meta(x, fd, path, ino);
}

/* DIR, made when missing (*created) and empty otherwise */
static int open_empty(const char *dir, bool *created, struct gear_err *e)
{
        int fd;
        DIR *d;
        struct dirent *de;

        *created = mkdir(dir, 0700) == 0;
        if (!*created && errno != EEXIST)
                return gear_err_sys(e, errno, "cannot create '%s'", dir);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (*created ? O_NOFOLLOW : 0));
        if (fd < 0)
                return gear_err_set(e, errno == ENOTDIR ? GEAR_EXIT_USAGE : GEAR_EXIT_SYS, "cannot open '%s': %s",
                                    dir, strerror(errno));
        if (!(d = fdopendir(dup(fd)))) {
                close(fd);
                return gear_err_sys(e, errno, "cannot read '%s'", dir);
        }
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        break;
        closedir(d);
        if (de) {
                close(fd);
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is not empty", dir);
        }
        return fd;
}

int image_export(const struct gear_root *img, struct itree *t, const char *dir, struct gear_err *e)
{
        struct exporter x = { .img = img, .dir = dir, .e = e };
        int r = -1;

        if ((x.dfd = open_empty(dir, &x.created, e)) < 0)
                return -1;
        itree_walk(t, clear_first, NULL);
        if (itree_walk(t, put, &x) < 0) {
                if (!e->code)
                        gear_err_sys(e, ENAMETOOLONG, "cannot export");
                goto out;
        }
        /* directories last, deepest first: creating their entries changed their times */
        while (x.ndirs > 0) {
                struct deferred *d = &x.dirs[x.ndirs - 1];
                if (dir_meta(&x, d->path, d->ino) < 0)
                        goto out;
                free(d->path);
                x.ndirs--;
        }
        /* the image root's owner and mode go to a DIR made here, never to one that was there */
        if (x.created && dir_meta(&x, ".", itree_root(t)->ino) < 0)
                goto out;
        r = 0;
out:
        for (size_t i = 0; i < x.ndirs; i++)
                free(x.dirs[i].path);
        free(x.dirs);
        close(x.dfd);
        return r;
}
