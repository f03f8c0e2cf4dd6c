#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "tree.h"

static int root_set(struct gear_root *r, const char *sysroot, const char *path, struct gear_err *e)
{
        r->fd = -1;
        if ((size_t)snprintf(r->path, sizeof r->path, "%s%s", sysroot, path) >= sizeof r->path)
                return gear_err_set(e, GEAR_EXIT_USAGE, "GEAR_SYSROOT is too long");
        return 0;
}

int tree_init(struct gear_tree *t, struct gear_err *e)
{
        const char *env = getenv("GEAR_SYSROOT");
        char sysroot[PATH_MAX] = "";
        size_t n;

        if (env && *env) {
                if (*env != '/') {
                        if (!getcwd(sysroot, sizeof sysroot - 1))
                                return gear_err_sys(e, errno, "cannot resolve GEAR_SYSROOT '%s'", env);
                        strcat(sysroot, "/");
                }
                n = strlen(sysroot);
                if (n + strlen(env) >= sizeof sysroot)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "GEAR_SYSROOT is too long");
                strcpy(sysroot + n, env);
                for (n = strlen(sysroot); n > 1 && sysroot[n - 1] == '/'; n--)
                        sysroot[n - 1] = 0;
                if (!strcmp(sysroot, "/"))
                        sysroot[0] = 0;
        }
        if (root_set(&t->ctr, sysroot, GEAR_CTR_TREE, e) < 0 ||
            root_set(&t->img, sysroot, GEAR_IMG_TREE, e) < 0 ||
            root_set(&t->units, sysroot, GEAR_UNIT_DIR, e) < 0)
                return -1;
        return 0;
}

static void root_close(struct gear_root *r)
{
        if (r->fd >= 0)
                close(r->fd);
        r->fd = -1;
}

void tree_done(struct gear_tree *t)
{
        root_close(&t->ctr);
        root_close(&t->img);
        root_close(&t->units);
}

int root_open(struct gear_root *r, int flags, struct gear_err *e)
{
        if (r->fd >= 0)
                return r->fd;
        if ((flags & ROOT_CREATE) && mkdir_p_at(AT_FDCWD, r->path, 0755, e) < 0)
                return -1;
        r->fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->fd < 0) {
                int err = errno;
                gear_err_sys(e, err, "cannot open '%s'", r->path);
                if (err == ENOENT)
                        e->code = GEAR_EXIT_NO;
                return -err;
        }
        return r->fd;
}
