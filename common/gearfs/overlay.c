/*
 * gear-fs --overlay: the overlay a container of a Gear image runs on. Its
 * lower layer is the image's gear-fs mount, and below that the host's
 * public/ cache as a data-only lower layer (lowerdir=MOUNT::PUBLIC,
 * metacopy=on; Linux 6.5 and later): a file whose content was fetched
 * already is a metacopy file in the mount that redirects to its public/
 * copy (gearfs-ops.c), so the overlay reads that copy directly, at the
 * speed of the disk's file system, without FUSE. A file fetched later stays
 * on the FUSE path until the overlay looks it up again. A kernel that knows
 * no data-only layers refuses the options with EINVAL: then the overlay is
 * mounted as before, over the mount alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
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

/* whether the overlay mounted on dir runs with metacopy=on (its options in /proc/self/mountinfo) */
static bool has_metacopy(const char *dir)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        _cleanup_free_ char *line = NULL;
        char mp[PATH_MAX + 1];
        size_t cap = 0;
        bool on = false;

        if (!f)
                return false;
        while (getline(&line, &cap, f) > 0) {
                char *sep = strstr(line, " - overlay ");
                /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": the last overlay on dir counts */
                if (sep && sscanf(line, "%*s %*s %*s %*s %4096s", mp) == 1 && !strcmp(mp, dir))
                        on = strstr(sep, ",metacopy=on") != NULL;
        }
        return on;
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
        snprintf(opts, sizeof opts, "lowerdir=%s::%s,upperdir=%s,workdir=%s,metacopy=on", ov->lower, data,
                 ov->upper, ov->work);
        *direct = true;
        if (mount("overlay", ov->merged, "overlay", 0, opts) == 0) {
                if (has_metacopy(ov->merged))
                        return 0;
                /* an upper file system without xattrs turns metacopy off: a --direct mount's files would fail */
                umount2(ov->merged, MNT_DETACH);
                return gear_err_set(e, GEAR_EXIT_SYS,
                                    "the overlay on '%s' came up without metacopy (does '%s' take trusted xattrs?)",
                                    ov->merged, ov->upper);
        }
        if (errno != EINVAL)
                return gear_err_sys(e, errno, "cannot mount the overlay on '%s'", ov->merged);
        snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", ov->lower, ov->upper, ov->work);
        *direct = false;
        if (mount("overlay", ov->merged, "overlay", 0, opts) < 0)
                return gear_err_sys(e, errno, "cannot mount the overlay on '%s'", ov->merged);
        return 0;
}

bool gearfs_overlay_direct_works(void)
{
        const char *tmp = getenv("TMPDIR");
        char top[PATH_MAX], l[PATH_MAX + 8], d[PATH_MAX + 8], m[PATH_MAX + 8], opts[3 * PATH_MAX + 64];
        bool ok = false;

        if ((size_t)snprintf(top, sizeof top, "%s/gear-probe.XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp") >=
                    sizeof top ||
            !mkdtemp(top))
                return false;
        snprintf(l, sizeof l, "%s/l", top);
        snprintf(d, sizeof d, "%s/d", top);
        snprintf(m, sizeof m, "%s/m", top);
        snprintf(opts, sizeof opts, "lowerdir=%s::%s,metacopy=on", l, d);
        if (mkdir(l, 0700) == 0 && mkdir(d, 0700) == 0 && mkdir(m, 0700) == 0 && !strpbrk(top, ",:\\") &&
            mount("overlay", m, "overlay", MS_RDONLY, opts) == 0) {
                ok = true;
                umount2(m, MNT_DETACH);
        }
        rmdir(m);
        rmdir(d);
        rmdir(l);
        rmdir(top);
        return ok;
}
