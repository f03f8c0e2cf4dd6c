/*
 * gear-fs --overlay: the overlay a container of a Gear image runs on. Its
 * lower layer is the image's gear-fs mount, and below that the host's
 * public/ cache as a data-only lower layer (lowerdir=MOUNT::PUBLIC): a file
 * whose content was fetched already is, in a --direct mount, a metacopy
 * file that redirects to its public/ copy (gearfs-ops.c), so the overlay
 * reads that copy directly, at the speed of the disk's file system, without
 * FUSE. A file fetched later stays on the FUSE path until the overlay looks
 * it up again.
 *
 * No metacopy=on: the kernel follows a lower layer's redirect into a
 * data-only layer without it (Linux 6.16 and later), and without it a
 * copy-up (chmod, chown of a file of the image) copies the whole file, so
 * the container's upper directory never depends on the image's data. Where
 * the kernel does not (gearfs_overlay_direct_works, a probe of exactly
 * this), the overlay is mounted over the mount alone, and a --direct mount
 * answers no metacopy: the same probe decides both.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "gearfs.h"
#include "../base/fsutil.h"
#include "../store/cache.h"

static int path_ok(const char *p, const char *what, struct gear_err *e)
{
        if (*p != '/' || strpbrk(p, ",:\\ \t\n") || strlen(p) >= PATH_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s '%s'", what, p);
        return 0;
}

int gearfs_overlay_mount(const struct gear_root *img, const struct gearfs_overlay *ov, bool *direct,
                         struct gear_err *e)
{
        char opts[4 * PATH_MAX + 128], data[PATH_MAX + 16];

        if (path_ok(ov->lower, "lower directory", e) < 0 || path_ok(ov->upper, "upper directory", e) < 0 ||
            path_ok(ov->work, "work directory", e) < 0 || path_ok(ov->merged, "mount point", e) < 0)
                return -1;
        snprintf(data, sizeof data, "%s/" CACHE_DIR, img->path);
        if (path_ok(data, "image tree", e) < 0 || mkdir_private_at(img->fd, CACHE_DIR, e) < 0)
                return -1;
        *direct = gearfs_overlay_direct_works(NULL, 0);
        if (*direct)
                snprintf(opts, sizeof opts, "lowerdir=%s::%s,upperdir=%s,workdir=%s", ov->lower, data, ov->upper,
                         ov->work);
        else
                snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", ov->lower, ov->upper, ov->work);
        if (mount("overlay", ov->merged, "overlay", 0, opts) < 0)
                return gear_err_sys(e, errno, "cannot mount the overlay on '%s'", ov->merged);
        return 0;
}

/* the probe, in a child with a mount namespace of its own: 0 when the redirect was followed */
static int probe(const char *top)
{
        char opts[2 * PATH_MAX + 32], buf[16];
        static const char want[] = "gear probe\n";
        int fd;
        ssize_t n;

        if (unshare(CLONE_NEWNS) < 0)
                return 10;
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return 11;
        /* a tmpfs of its own, seen by nobody else: nothing is written to the host's temporary directory */
        if (mount("tmpfs", top, "tmpfs", 0, "size=64k,mode=0700") < 0 || chdir(top) < 0)
                return 13;
        if (mkdir("l", 0700) < 0 || mkdir("d", 0700) < 0 || mkdir("d/ab", 0700) < 0 || mkdir("m", 0700) < 0)
                return 14;
        if ((fd = open("d/ab/cd", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
            write(fd, want, sizeof want - 1) != sizeof want - 1 || close(fd) < 0)
                return 15;
        if ((fd = open("l/f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
            ftruncate(fd, sizeof want - 1) < 0 || fsetxattr(fd, "trusted.overlay.metacopy", "", 0, 0) < 0 ||
            fsetxattr(fd, "trusted.overlay.redirect", "/ab/cd", 6, 0) < 0 || close(fd) < 0)
                return 16;
        snprintf(opts, sizeof opts, "lowerdir=%s/l::%s/d", top, top);
        if (mount("overlay", "m", "overlay", MS_RDONLY, opts) < 0)
                return 17;
        if ((fd = open("m/f", O_RDONLY | O_CLOEXEC)) < 0)
                return 18;
        n = read(fd, buf, sizeof buf);
        close(fd);
        return n == sizeof want - 1 && !memcmp(buf, want, n) ? 0 : 19;
}

bool gearfs_overlay_direct_works(char *why, size_t n)
{
        static const char *const reasons[] = {
                [10] = "cannot make a mount namespace",
                [11] = "cannot make the mounts private",
                [12] = "cannot make a temporary directory",
                [13] = "cannot mount a tmpfs",
                [14] = "cannot make directories",
                [15] = "cannot write a file",
                [16] = "cannot set trusted xattrs",
                [17] = "the kernel refuses a data-only overlay layer",
                [18] = "the kernel does not follow a redirect into a data-only layer without metacopy=on",
                [19] = "the kernel reads a redirected file wrong",
        };
        const char *tmp = getenv("TMPDIR");
        char top[PATH_MAX];
        int status, r;
        pid_t pid;

        if ((size_t)snprintf(top, sizeof top, "%s/gear-probe.XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp") >=
                    sizeof top ||
            !mkdtemp(top)) {
                if (why)
                        snprintf(why, n, "%s", reasons[12]);
                return false;
        }
        if ((pid = fork()) == 0)
                _exit(probe(top));
        r = pid < 0 || waitpid(pid, &status, 0) < 0 ? -errno : WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        rmdir(top);
        if (r < 0 && why)
                snprintf(why, n, "cannot start the probe: %s", strerror(-r));
        else if (r && why)
                snprintf(why, n, "%s", r >= 10 && r <= 19 ? reasons[r] : "the probe failed");
        return r == 0;
}
