/*
 * unit tests of common/base/rmtree.c: what rm_tree removes and the mounts it
 * refuses, with the tree on a file system other than the working directory's,
 * named by an absolute path as the temporary directories of builds are. Needs
 * root: it mounts tmpfs in a mount namespace of its own. TAP on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "../../common/base/fsutil.h"

static char top[64];

static int made(const char *rel)
{
        char p[256];

        snprintf(p, sizeof p, "%s/%s", top, rel);
        return mkdir(p, 0755);
}

static int put(const char *rel)
{
        char p[256];
        int fd;

        snprintf(p, sizeof p, "%s/%s", top, rel);
        fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
        return fd < 0 ? -1 : close(fd);
}

static int there(const char *rel)
{
        char p[256];
        struct stat st;

        snprintf(p, sizeof p, "%s/%s", top, rel);
        return lstat(p, &st) == 0;
}

static int removed(int dfd, const char *rel, int *err)
{
        struct gear_err e = {0};
        int r = rm_tree(dfd, rel, &e);

        /* the message ends in strerror of the errno that stopped it */
        *err = r < 0 && strstr(e.msg, strerror(EBUSY)) ? EBUSY : r < 0 ? -1 : 0;
        if (r < 0)
                printf("# rm_tree '%s': %s\n", rel, e.msg);
        gear_err_clear(&e);
        return r;
}

int main(void)
{
        char p[256], m[256];
        int err = 0, dfd;

        snprintf(top, sizeof top, "/tmp/gear-test-rmtree.XXXXXX");
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || !mkdtemp(top) ||
            mount("tmpfs", top, "tmpfs", 0, "size=4m") < 0) {
                printf("Bail out! cannot mount a tmpfs in a mount namespace of its own (root needed): %s\n",
                       strerror(errno));
                return 1;
        }
        /* the working directory on another mount than the tree */
        if (chdir("/") < 0)
                return 1;

        made("a"), made("a/b"), made("a/b/c"), put("a/f"), put("a/b/c/g"), made("a/b/d");
        snprintf(p, sizeof p, "%s/a/b/link", top);
        symlink("/etc", p);
        snprintf(p, sizeof p, "%s/a", top);
        ok(removed(AT_FDCWD, p, &err) == 0 && !there("a"),
           "an absolute path on another mount than the working directory: removed, links not followed");
        ok(access("/etc/passwd", F_OK) == 0, "what a link pointed to is there still");

        ok(removed(AT_FDCWD, top, &err) < 0 && err == EBUSY && there("."), "a mount point itself: EBUSY, left");

        made("x"), made("x/m"), put("x/f");
        snprintf(m, sizeof m, "%s/x/m", top);
        if (mount("tmpfs", m, "tmpfs", 0, "size=1m") < 0) {
                printf("Bail out! cannot mount a tmpfs inside: %s\n", strerror(errno));
                return 1;
        }
        put("x/m/kept");
        snprintf(p, sizeof p, "%s/x", top);
        ok(removed(AT_FDCWD, p, &err) < 0 && err == EBUSY && there("x/m/kept"),
           "a mount inside the tree: EBUSY, what is mounted there untouched");
        ok(removed(AT_FDCWD, m, &err) < 0 && err == EBUSY && there("x/m/kept"),
           "that mount named itself: EBUSY");
        umount(m);

        made("y"), made("y/z"), made("y/z/w"), put("y/z/w/h");
        dfd = open(top, O_RDONLY | O_DIRECTORY);
        ok(dfd >= 0 && removed(dfd, "y/z", &err) == 0 && !there("y/z") && there("y"),
           "a path of two names under a directory descriptor: the last one removed");
        ok(removed(dfd, "nothing", &err) == 0, "a name that is not there: nothing to do");
        close(dfd);

        umount(top);
        rmdir(top);
        printf("1..%d\n", count);
        return failed ? 1 : 0;
}
