#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "fsutil.h"
#include "macro.h"
#include "tree.h"

static int root_set(struct gear_root *r, const char *sysroot, const char *path, bool private,
                    struct gear_err *e)
{
        r->fd = -1;
        r->private = private;
        if ((size_t)snprintf(r->path, sizeof r->path, "%s%s", sysroot, path) >= sizeof r->path)
                return gear_err_set(e, GEAR_EXIT_USAGE, "GEAR_SYSROOT is too long");
        return 0;
}

int tree_init(struct gear_tree *t, struct gear_err *e)
{
        const char *env = getenv("GEAR_SYSROOT");
        char *sysroot = t->sysroot;
        size_t n;

        sysroot[0] = 0;
        if (env && *env) {
                if (*env != '/') {
                        while (env[0] == '.' && env[1] == '/')
                                env += 2 + strspn(env + 2, "/");
                        if (!getcwd(sysroot, sizeof t->sysroot - 1))
                                return gear_err_sys(e, errno, "cannot resolve GEAR_SYSROOT '%s'", env);
                        strcat(sysroot, "/");
                }
                n = strlen(sysroot);
                if (n + strlen(env) >= sizeof t->sysroot)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "GEAR_SYSROOT is too long");
                strcpy(sysroot + n, env);
                for (n = strlen(sysroot); n > 1 && sysroot[n - 1] == '/'; n--)
                        sysroot[n - 1] = 0;
                if (!strcmp(sysroot, "/"))
                        sysroot[0] = 0;
        }
        /* the container tree is shared with the container engine and read by sshd's
           command: only its volumes and environments are root-only */
        if (root_set(&t->ctr, sysroot, GEAR_CTR_TREE, false, e) < 0 ||
            root_set(&t->img, sysroot, GEAR_IMG_TREE, true, e) < 0 ||
            root_set(&t->units, sysroot, GEAR_UNIT_DIR, false, e) < 0)
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

static int root_make(const struct gear_root *r, struct gear_err *e)
{
        if (!r->private)
                return mkdir_p_at(AT_FDCWD, r->path, 0755, e);
        return mkdir_private_at(AT_FDCWD, r->path, e);
}

int root_open(struct gear_root *r, int flags, struct gear_err *e)
{
        struct stat st;

        if (r->fd >= 0)
                return r->fd;
        if ((flags & ROOT_CREATE) && root_make(r, e) < 0)
                return -1;
        r->fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->fd < 0) {
                int err = errno;
                gear_err_sys(e, err, "cannot open '%s'", r->path);
                if (err == ENOENT)
                        e->code = GEAR_EXIT_NO;
                return -err;
        }
        /* a tree of an older gear: fixed by whatever root command uses it first */
        if (r->private && fstat(r->fd, &st) == 0 && (st.st_mode & 077) && fchmod(r->fd, 0700) < 0 &&
            (flags & ROOT_CREATE)) {
                int err = errno;
                root_close(r);
                return gear_err_sys(e, err, "cannot make '%s' root-only", r->path);
        }
        return r->fd;
}

int root_open_maybe(struct gear_root *r, struct gear_err *e)
{
        int k = root_open(r, 0, e);

        if (k == -ENOENT) {
                gear_err_clear(e);
                return 0;
        }
        return k < 0 ? -1 : 1;
}

/* relative to each root: what must stay root-only even if the root itself is opened up */
static const char *const img_private[] = { "containers", "mnt", "objects", "build", "public", "private" };
static const char *const ctr_private[] = { "data", "env" };

static int fix_dirs(struct gear_root *r, const char *const *dirs, size_t n, struct gear_err *e)
{
        if (root_open(r, 0, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                if (dir_private_at(r->fd, dirs[i], e) < 0)
                        return gear_err_wrap(e, "in '%s'", r->path);
        return 0;
}

int tree_make_private(struct gear_tree *t, struct gear_err *e)
{
        if (fix_dirs(&t->img, img_private, ELEMENTSOF(img_private), e) < 0 ||
            fix_dirs(&t->ctr, ctr_private, ELEMENTSOF(ctr_private), e) < 0)
                return -1;
        return 0;
}
