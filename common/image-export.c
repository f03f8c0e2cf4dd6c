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

struct deferred {
        char *path;
        struct inode *ino;
};

struct exporter {
        const struct gear_root *img;
        int dfd;
        const char *dir;
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

/* xattrs go through the path: there is no fd for symlinks and devices */
static int set_xattrs(struct exporter *x, const char *path, struct inode *ino)
{
        char full[PATH_MAX * 2];

        if (!ino->nxattrs)
                return 0;
        snprintf(full, sizeof full, "%s/%s", x->dir, path);
        for (size_t i = 0; i < ino->nxattrs; i++) {
                struct xattr *a = &ino->xattrs[i];
                if (lsetxattr(full, a->name, a->value, a->len, 0) < 0 && errno != ENOTSUP)
                        return gear_err_sys(x->e, errno, "cannot set xattr '%s' of '%s'", a->name, full);
        }
        return 0;
}

/* owner before mode (chown clears setuid), xattrs after owner (it clears capabilities), times last */
static int set_meta(struct exporter *x, const char *path, struct inode *ino)
{
        int at = strcmp(path, ".") ? AT_SYMLINK_NOFOLLOW : 0;
        struct timespec ts[2] = { { ino->mtime, ino->mtime_nsec }, { ino->mtime, ino->mtime_nsec } };

        if (fchownat(x->dfd, path, ino->uid, ino->gid, at) < 0)
                return gear_err_sys(x->e, errno, "cannot change owner of '%s/%s'", x->dir, path);
        if (!S_ISLNK(ino->mode) && fchmodat(x->dfd, path, ino->mode & 07777, 0) < 0)
                return gear_err_sys(x->e, errno, "cannot change mode of '%s/%s'", x->dir, path);
        if (set_xattrs(x, path, ino) < 0)
                return -1;
        if (utimensat(x->dfd, path, ts, at) < 0)
                return gear_err_sys(x->e, errno, "cannot set times of '%s/%s'", x->dir, path);
        return 0;
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

static int content(struct exporter *x, const char *path, struct inode *ino)
{
        _cleanup_close_ int fd = openat(x->dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

        if (fd < 0)
                return gear_err_sys(x->e, errno, "cannot create '%s/%s'", x->dir, path);
        if (store_copy_to_fd(x->img, ino->blob->hex, ino->blob->size, fd, x->e) < 0)
                return gear_err_wrap(x->e, "cannot export '%s'", path);
        return 0;
}

static int put(struct tnode *n, const char *path, void *ud)
{
        struct exporter *x = ud;
        struct inode *ino = n->ino;
        mode_t type = ino->mode & S_IFMT;

        if (!strcmp(path, "."))
                return 0;
        if (ino->first_path) {
                if (linkat(x->dfd, ino->first_path, x->dfd, path, 0) < 0)
                        return gear_err_sys(x->e, errno, "cannot link '%s/%s'", x->dir, path);
                return 0;
        }
        if (type != S_IFDIR && !(ino->first_path = strdup(path)))
                return gear_err_sys(x->e, ENOMEM, "cannot export");
        switch (type) {
        case S_IFDIR:
                if (mkdirat(x->dfd, path, 0700) < 0)
                        return gear_err_sys(x->e, errno, "cannot create '%s/%s'", x->dir, path);
                return defer(x, path, ino);
        case S_IFREG:
                if (content(x, path, ino) < 0)
                        return -1;
                break;
        case S_IFLNK:
                if (symlinkat(ino->target, x->dfd, path) < 0)
                        return gear_err_sys(x->e, errno, "cannot create '%s/%s'", x->dir, path);
                break;
        case S_IFCHR: case S_IFBLK: case S_IFIFO:
                if (mknodat(x->dfd, path, type | 0600, ino->rdev) < 0)
                        return gear_err_sys(x->e, errno, "cannot create '%s/%s'", x->dir, path);
                break;
        default:
                return gear_err_set(x->e, GEAR_EXIT_USAGE, "'%s' has an unknown type", path);
        }
        return set_meta(x, path, ino);
}

static int open_empty(const char *dir, struct gear_err *e)
{
        int fd;
        DIR *d;
        struct dirent *de;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return gear_err_sys(e, errno, "cannot create '%s'", dir);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

        if ((x.dfd = open_empty(dir, e)) < 0)
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
                if (set_meta(&x, d->path, d->ino) < 0)
                        goto out;
                free(d->path);
                x.ndirs--;
        }
        if (set_meta(&x, ".", itree_root(t)->ino) < 0)
                goto out;
        r = 0;
out:
        for (size_t i = 0; i < x.ndirs; i++)
                free(x.dirs[i].path);
        free(x.dirs);
        close(x.dfd);
        return r;
}
