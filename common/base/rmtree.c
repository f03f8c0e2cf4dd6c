/*
 * rm -rf for trees that others wrote (volumes, upper directories,
 * repositories), which may nest deeper than PATH_MAX and deeper than the
 * descriptors a process may hold: the walk goes down one directory at a time and back up through "..",
 * checked against the device and inode recorded on the way down, so it holds
 * two or three descriptors whatever the depth. It never follows a symbolic
 * link and never enters another mount: a file system mounted inside is
 * refused (EBUSY), not emptied, since it may be anything the host bound there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

/* how much of a path a message shows: its start and its end */
#define SHOWN_HEAD 96
#define SHOWN_TAIL 160

struct level {
        dev_t dev;
        ino_t ino;
        size_t off; /* where "/name" of this level starts in the path */
};

struct walk {
        struct level *lv;
        size_t n, cap;
        char *path; /* rel/a/b/...: for messages and the name of each level */
        size_t len, pcap;
        uint64_t mnt;
};

static void walk_done(struct walk *w)
{
        free(w->lv);
        free(w->path);
}

/* w->path, or its start and end around "..." when it is long */
static const char *shown(const struct walk *w, char buf[static SHOWN_HEAD + SHOWN_TAIL + 8])
{
        if (w->len <= SHOWN_HEAD + SHOWN_TAIL)
                return w->path;
        snprintf(buf, SHOWN_HEAD + SHOWN_TAIL + 8, "%.*s/.../%s", SHOWN_HEAD, w->path,
                 w->path + w->len - SHOWN_TAIL);
        return buf;
}

static int fail(const struct walk *w, int err, const char *what, const char *name, struct gear_err *e)
{
        char buf[SHOWN_HEAD + SHOWN_TAIL + 8];

        return gear_err_sys(e, err, "cannot %s '%s%s%s'", what, shown(w, buf), name ? "/" : "", name ? name : "");
}

static int mount_id(int fd, uint64_t *id)
{
        struct statx sx;

        if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0)
                return -errno;
        *id = sx.stx_mask & STATX_MNT_ID ? sx.stx_mnt_id : 0;
        return 0;
}

/* the directory fd (opened as name) becomes the deepest level */
static int push(struct walk *w, int fd, const char *name, struct gear_err *e)
{
        size_t k = strlen(name);
        struct stat st;
        uint64_t mnt;

        if (fstat(fd, &st) < 0 || mount_id(fd, &mnt) < 0)
                return fail(w, errno, "read", name, e);
        if (w->n && (st.st_dev != w->lv[w->n - 1].dev || mnt != w->mnt))
                return fail(w, EBUSY, "remove", name, e); /* a mount point */
        if (w->n == w->cap) {
                struct level *v = reallocarray(w->lv, w->cap = w->cap ? 2 * w->cap : 64, sizeof *v);
                if (!v)
                        return fail(w, ENOMEM, "remove", name, e);
                w->lv = v;
        }
        if (w->len + k + 2 > w->pcap) {
                char *p = realloc(w->path, w->pcap = 2 * (w->len + k + 2) + 256);
                if (!p)
                        return fail(w, ENOMEM, "remove", name, e);
                w->path = p;
        }
        w->lv[w->n++] = (struct level){ st.st_dev, st.st_ino, w->len };
        w->len += sprintf(w->path + w->len, "%s%s", w->n > 1 ? "/" : "", name);
        return 0;
}

/*
 * Removes every entry of dir but its subdirectories; 1 and the name of one
 * of them in sub when there is one, 0 when dir is empty.
 */
static int empty_files(const struct walk *w, int dir, char sub[static 256], struct gear_err *e)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd = dup(dir), found = 0;

        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return fail(w, errno, "read", NULL, e);
        }
        while ((errno = 0, de = readdir(d))) {
                struct stat st;
                bool is_dir = de->d_type == DT_DIR;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (de->d_type == DT_UNKNOWN) {
                        if (fstatat(dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno == ENOENT)
                                        continue;
                                return fail(w, errno, "read", de->d_name, e);
                        }
                        is_dir = S_ISDIR(st.st_mode);
                }
                if (!is_dir && unlinkat(dir, de->d_name, 0) == 0)
                        continue;
                if (!is_dir && errno != EISDIR) {
                        if (errno == ENOENT)
                                continue;
                        return fail(w, errno, "remove", de->d_name, e);
                }
                if (!found)
                        snprintf(sub, 256, "%s", de->d_name);
                found = 1;
        }
        if (errno)
                return fail(w, errno, "read", NULL, e);
        return found;
}

/* from the deepest level (cur) back to its parent, which it is removed from; the parent's fd */
static int pop(struct walk *w, int cur, struct gear_err *e)
{
        const struct level *up = &w->lv[w->n - 2];
        const char *name = w->path + w->lv[w->n - 1].off + 1;
        int fd = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0) {
                int err = errno;
                if (fd >= 0)
                        close(fd);
                return fail(w, err, "read", "..", e);
        }
        /* moved meanwhile: its parent is no longer ours to remove from */
        if (st.st_dev != up->dev || st.st_ino != up->ino) {
                close(fd);
                return fail(w, EXDEV, "remove", NULL, e);
        }
        if (unlinkat(fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
                int err = errno;
                close(fd);
                return fail(w, err, "remove", NULL, e);
        }
        w->len = w->lv[--w->n].off;
        w->path[w->len] = 0;
        return fd;
}

static int rm_dir(int dfd, const char *rel, struct gear_err *e)
{
        _cleanup_(walk_done) struct walk w = {0};
        _cleanup_close_ int cur = -1, up = -1;
        char sub[256];
        uint64_t top;
        int r;

        cur = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cur < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot open '%s'", rel);
        /* a mount point itself is refused: its parent (rel's last directory,
         * not dfd, which an absolute or deeper rel leaves behind) is on another mount */
        up = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (up < 0 || mount_id(up, &top) < 0 || mount_id(cur, &w.mnt) < 0)
                return gear_err_sys(e, errno, "cannot read '%s'", rel);
        if (top != w.mnt)
                return gear_err_sys(e, EBUSY, "cannot remove '%s'", rel);
        if (push(&w, cur, rel, e) < 0)
                return -1;
        for (;;) {
                r = empty_files(&w, cur, sub, e);
                if (r < 0)
                        return -1;
                if (r > 0) {
                        int fd = openat(cur, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        if (fd < 0) {
                                /* gone or replaced meanwhile: the next pass sees what is there */
                                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
                                        continue;
                                return fail(&w, errno, "open", sub, e);
                        }
                        if (push(&w, fd, sub, e) < 0) {
                                close(fd);
                                return -1;
                        }
                        close(cur);
                        cur = fd;
                        continue;
                }
                if (w.n == 1)
                        break;
                r = pop(&w, cur, e);
                if (r < 0)
                        return -1;
                close(cur);
                cur = r;
        }
        if (unlinkat(dfd, rel, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s'", rel);
        return 0;
}

int rm_tree(int dfd, const char *rel, struct gear_err *e)
{
        struct stat st;

        if (fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot read '%s'", rel);
        if (S_ISDIR(st.st_mode))
                return rm_dir(dfd, rel, e);
        if (unlinkat(dfd, rel, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s'", rel);
        return 0;
}
