/*
 * Generations of an image directory. A build, pull or push writes a new
 * images/NAME/TAG under the temp name images/NAME/.gear-tmp.TAG.RANDOM and
 * renames it into place; the generation it replaces leaves under that temp
 * name and is removed, unless a gear-fs still serves it.
 *
 * One lock tells live from dead: fs.lock in the directory, held shared by
 * whoever uses that generation (the command writing it, from its mkdir to
 * its rename; every gear-fs serving it). A temp directory whose fs.lock
 * nobody holds (and whose build, if its name carries a build's token, is
 * gone) was left by a kill: image_tmp_claim takes it for removal.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include "image.h"
#include "../base/fsutil.h"
#include "../store/cache.h"

static bool same_file(const struct stat *a, const struct stat *b)
{
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* flock through EINTR */
static int lock_wait(int fd, int op)
{
        while (flock(fd, op) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

/* fd holds dir/fs.lock, and dir/fs.lock is still that file (nobody removed the directory meanwhile) */
static bool lock_still_there(int dfd, const char *lock, int fd)
{
        struct stat a, b;

        return fstat(fd, &a) == 0 && fstatat(dfd, lock, &b, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&a, &b);
}

/* dir/.gear-tmp.TAG.RANDOM: 16 hex digits of randomness */
static int tmp_dir_name(const char *dir, const char *tag, char *buf, size_t n, struct gear_err *e)
{
        unsigned char rnd[8];

        if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
                return gear_err_sys(e, errno, "cannot get random bytes");
        if ((size_t)snprintf(buf, n, "%s/" GEAR_TMP_PREFIX "%s.%02x%02x%02x%02x%02x%02x%02x%02x", dir, tag, rnd[0],
                             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) >= n)
                return gear_err_set(e, GEAR_EXIT_USAGE, "image name too long");
        return 0;
}

int image_tmp_begin(const struct gear_root *root, const struct image_ref *ref, char *tmp, size_t n,
                    struct gear_err *e)
{
        char dir[PATH_MAX], lock[PATH_MAX + 16];

        if (image_check_free(root, ref, e) < 0)
                return -1;
        snprintf(dir, sizeof dir, IMAGES_DIR "/%s", ref->name);
        for (int tries = 0; tries < 16; tries++) {
                _cleanup_close_ int fd = -1;
                int k;

                /* again each time: a gear-rmi of the name's last tag removes the empty directory */
                if (mkdir_p_at(root->fd, dir, 0755, e) < 0)
                        return gear_err_wrap(e, "in '%s'", root->path);
                if (tmp_dir_name(dir, ref->tag, tmp, n, e) < 0)
                        return -1;
                if ((k = mkdir_synced_at(root->fd, tmp, 0755, e)) < 0 && errno == ENOENT) {
                        gear_err_clear(e);
                        continue;
                }
                if (k < 0)
                        return gear_err_wrap(e, "in '%s'", root->path);
                if (!k)
                        continue;
                snprintf(lock, sizeof lock, "%s/" CACHE_MOUNT_LOCK, tmp);
                fd = openat(root->fd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd < 0 && errno != ENOENT)
                        return gear_err_sys(e, errno, "cannot create '%s/%s'", root->path, lock);
                if (fd < 0)
                        continue; /* a gear-fsck --repair took it for a leftover: another name */
                if ((k = lock_wait(fd, LOCK_SH)) < 0)
                        return gear_err_sys(e, -k, "cannot lock '%s/%s'", root->path, lock);
                if (lock_still_there(root->fd, lock, fd))
                        return TAKE_FD(fd);
        }
        return gear_err_set(e, GEAR_EXIT_SYS, "cannot create a temporary directory in '%s/%s'", root->path, dir);
}

/* a temp directory's build token: the last 16 hex digits of its name */
static const char *token_of(const char *rel)
{
        const char *base = strrchr(rel, '/');
        size_t n;

        base = base ? base + 1 : rel;
        n = strlen(base);
        if (n < 16 || strspn(base + n - 16, "0123456789abcdef") != 16)
                return NULL;
        return base + n - 16;
}

int image_tmp_claim(const struct gear_root *root, const char *rel, int *lockfd)
{
        char lock[PATH_MAX + 16];
        const char *tok = token_of(rel);
        _cleanup_close_ int fd = -1;
        struct stat st;

        *lockfd = -1;
        if (tok && !stage_token_stale(root, tok))
                return 0;
        if (fstatat(root->fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        snprintf(lock, sizeof lock, "%s/" CACHE_MOUNT_LOCK, rel);
        fd = openat(root->fd, lock, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT; /* nobody ever locked it: its writer died before */
        /* a lock that cannot be taken (held, or a file system that cannot tell) is live */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 || !lock_still_there(root->fd, lock, fd))
                return 0;
        *lockfd = TAKE_FD(fd);
        return 1;
}

/* a replaced generation, now at tmp: removed unless a mount still serves it */
static void retire(const struct gear_root *root, const char *tmp)
{
        int fd;

        if (image_tmp_claim(root, tmp, &fd) == 1)
                store_rm_rf(root->fd, tmp);
        if (fd >= 0)
                close(fd);
}

/* the directory entries of an image layout written under tmp, on disk before it gets its name */
static int sync_layout(const struct gear_root *root, const char *tmp, struct gear_err *e)
{
        static const char *const dirs[] = { "blobs/sha256", "blobs", "." };
        char rel[PATH_MAX + 16];

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_close_ int fd = -1;
                snprintf(rel, sizeof rel, "%s/%s", tmp, dirs[i]);
                fd = openat(root->fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 && errno == ENOENT && i < 2)
                        continue;
                if (fd < 0 || fsync(fd) < 0)
                        return gear_err_sys(e, errno, "cannot sync '%s/%s'", root->path, rel);
        }
        return 0;
}

/* images/NAME locked: a commit and a removal of one of its tags take turns */
static int name_lock(const struct gear_root *root, const struct image_ref *ref, struct gear_err *e)
{
        char dir[PATH_MAX];

        snprintf(dir, sizeof dir, IMAGES_DIR "/%s", ref->name);
        return lock_dir(root, dir, LOCK_EX, e);
}

int image_commit(const struct gear_root *root, const struct image_ref *ref, const char *tmp,
                 struct gear_err *e)
{
        char rel[PATH_MAX], old[PATH_MAX], dir[PATH_MAX];
        _cleanup_close_ int lock = -1;
        struct stat st;

        image_rel(ref, rel, sizeof rel);
        if (sync_layout(root, tmp, e) < 0)
                return -1;
        if ((lock = name_lock(root, ref, e)) < 0)
                return -1;
        if (renameat2(root->fd, tmp, root->fd, rel, RENAME_NOREPLACE) == 0)
                return fsync_parent(root, rel, e);
        if (errno != EEXIST && errno != EINVAL && errno != ENOSYS)
                return gear_err_sys(e, errno, "cannot rename '%s' to '%s'", tmp, rel);
        if (fstatat(root->fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return gear_err_sys(e, errno, "cannot stat '%s'", rel);
                if (renameat(root->fd, tmp, root->fd, rel) < 0)
                        return gear_err_sys(e, errno, "cannot rename '%s' to '%s'", tmp, rel);
                return fsync_parent(root, rel, e);
        }
        if (image_check_free(root, ref, e) < 0)
                return -1;
        /* swap in the new generation; the old one leaves under the temp name */
        if (renameat2(root->fd, tmp, root->fd, rel, RENAME_EXCHANGE) == 0) {
                retire(root, tmp);
                return fsync_parent(root, rel, e);
        }
        if (errno != EINVAL && errno != ENOSYS)
                return gear_err_sys(e, errno, "cannot replace '%s'", rel);
        /* no exchange here (NFS): the old one aside, then the new one in */
        path_dirname(rel, dir, sizeof dir);
        if (tmp_dir_name(dir, ref->tag, old, sizeof old, e) < 0)
                return -1;
        if (renameat(root->fd, rel, root->fd, old) < 0)
                return gear_err_sys(e, errno, "cannot replace '%s'", rel);
        if (renameat(root->fd, tmp, root->fd, rel) < 0) {
                int err = errno;
                renameat(root->fd, old, root->fd, rel);
                return gear_err_sys(e, err, "cannot replace '%s'", rel);
        }
        retire(root, old);
        return fsync_parent(root, rel, e);
}

int image_gen_attach(const struct gear_root *img, const struct image_ref *ref, struct image *im, int *lockfd,
                     struct gear_err *e)
{
        char rel[PATH_MAX];
        struct stat a, b;

        *lockfd = -1;
        image_rel(ref, rel, sizeof rel);
        for (int tries = 0; tries < 16; tries++) {
                _cleanup_close_ int fd = -1;
                int k;

                if (image_open(img, ref, im, e) < 0)
                        return -1;
                fd = openat(im->dfd, CACHE_MOUNT_LOCK, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd < 0 && errno != ENOENT) {
                        gear_err_sys(e, errno, "cannot open lock '%s/%s/" CACHE_MOUNT_LOCK "'", img->path, rel);
                        image_close(im);
                        return -1;
                }
                if (fd >= 0 && (k = lock_wait(fd, LOCK_SH)) < 0) {
                        gear_err_sys(e, -k, "cannot lock '%s/%s/" CACHE_MOUNT_LOCK "'", img->path, rel);
                        image_close(im);
                        return -1;
                }
                /* held, and still the tag's generation: a later replacement leaves it to us */
                if (fd >= 0 && lock_still_there(im->dfd, CACHE_MOUNT_LOCK, fd) && fstat(im->dfd, &a) == 0 &&
                    fstatat(img->fd, rel, &b, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&a, &b)) {
                        *lockfd = TAKE_FD(fd);
                        return 0;
                }
                image_close(im);
        }
        return gear_err_set(e, GEAR_EXIT_SYS, "image '%s:%s' keeps being replaced", ref->name, ref->tag);
}

void image_gen_detach(const struct gear_root *img, const struct image_ref *ref, int dfd, int lockfd)
{
        char dir[PATH_MAX], rel[PATH_MAX];
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        struct stat a, b;
        int fd;

        if (lockfd < 0)
                return;
        image_rel(ref, rel, sizeof rel);
        /* still the tag's generation: it stays */
        if (fstat(dfd, &a) < 0 || (fstatat(img->fd, rel, &b, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&a, &b)))
                goto out;
        snprintf(dir, sizeof dir, IMAGES_DIR "/%s", ref->name);
        fd = openat(img->fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                goto out;
        }
        /* replaced while served: its temp name is found by its inode; the last mount removes it */
        while ((de = readdir(d))) {
                if (!is_tmp_name(de->d_name) || fstatat(dirfd(d), de->d_name, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !same_file(&a, &b))
                        continue;
                snprintf(rel, sizeof rel, "%s/%s", dir, de->d_name);
                close(lockfd);
                lockfd = -1;
                retire(img, rel);
                break;
        }
out:
        if (lockfd >= 0)
                close(lockfd);
}

/* images/NAME and its parents up to images/, each removed when empty */
static void prune_name_dirs(const struct gear_root *root, const struct image_ref *ref)
{
        char dir[PATH_MAX];
        char *slash;

        snprintf(dir, sizeof dir, IMAGES_DIR "/%s", ref->name);
        do {
                if (unlinkat(root->fd, dir, AT_REMOVEDIR) < 0)
                        return;
                slash = strrchr(dir, '/');
                *slash = 0;
        } while (strcmp(dir, IMAGES_DIR));
}

/* " on 'DIR', 'DIR2'": where this namespace has the image mounted (fsname gear:NAME:TAG), or "" */
static void mount_points(const struct image_ref *ref, char *buf, size_t n)
{
        _cleanup_fclose_ FILE *f = setmntent("/proc/self/mounts", "re");
        char fsname[IMAGE_NAME_MAX + IMAGE_TAG_MAX + 8];
        struct mntent *m;
        size_t len = 0;

        *buf = 0;
        snprintf(fsname, sizeof fsname, "gear:%s:%s", ref->name, ref->tag);
        while (f && (m = getmntent(f)) && len < n)
                if (!strcmp(m->mnt_type, "fuse.gear") && !strcmp(m->mnt_fsname, fsname))
                        len += snprintf(buf + len, n - len, "%s'%s'", len ? ", " : " on ", m->mnt_dir);
}

int image_remove(const struct gear_root *root, const struct image_ref *ref, struct gear_err *e)
{
        char rel[PATH_MAX], lock[PATH_MAX + 16], dir[PATH_MAX], tmp[PATH_MAX];
        _cleanup_close_ int nlock = -1, fd = -1;
        struct stat st;
        int r;

        image_rel(ref, rel, sizeof rel);
        snprintf(lock, sizeof lock, "%s/oci-layout", rel);
        if (fstatat(root->fd, lock, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return gear_err_set(e, GEAR_EXIT_NO, "no image '%s:%s'", ref->name, ref->tag);
                return gear_err_sys(e, errno, "cannot stat '%s/%s'", root->path, lock);
        }
        if ((nlock = name_lock(root, ref, e)) < 0)
                return -1;
        /* a mount of this generation holds its fs.lock shared; one starting now waits, then finds no tag */
        snprintf(lock, sizeof lock, "%s/" CACHE_MOUNT_LOCK, rel);
        fd = openat(root->fd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
                if (errno == ENOENT)
                        return gear_err_set(e, GEAR_EXIT_NO, "no image '%s:%s'", ref->name, ref->tag);
                return gear_err_sys(e, errno, "cannot open '%s/%s'", root->path, lock);
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK) {
                        char where[PATH_MAX];
                        mount_points(ref, where, sizeof where);
                        return gear_err_set(e, GEAR_EXIT_NO, "image '%s:%s' is in use by a mount (gear-fs)%s",
                                            ref->name, ref->tag, where);
                }
                return gear_err_sys(e, errno, "cannot lock '%s/%s'", root->path, lock);
        }
        /* out of the tag's name in one rename; the rest is a leftover any later run may finish */
        path_dirname(rel, dir, sizeof dir);
        if (tmp_dir_name(dir, ref->tag, tmp, sizeof tmp, e) < 0)
                return -1;
        if (renameat(root->fd, rel, root->fd, tmp) < 0)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", root->path, rel);
        if (fsync_parent(root, rel, e) < 0)
                return -1;
        r = store_rm_rf(root->fd, tmp);
        if (r < 0)
                return gear_err_sys(e, -r, "cannot remove '%s/%s'", root->path, tmp);
        close(TAKE_FD(nlock));
        prune_name_dirs(root, ref);
        return 0;
}
