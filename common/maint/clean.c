#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "clean.h"
#include "../base/fsutil.h"
#include "../keys/keys.h"
#include "../ports/ports.h"
#include "../repo/repo.h"

/* the parts of each tree gear writes; podman's storage/ and volumes in data/ are never walked */
static const char *const ctr_dirs[] = { "units", "env", "ports", "keys", "access", "targets", "slices" };
static const char *const img_dirs[] = { "images", "objects", "public", "private" };

struct clean_ctx {
        bool dry_run;
        clean_report_fn report;
        void *ud;
};

static int clean_temps(int dfd, const char *path, int depth, struct clean_ctx *c, struct gear_err *e)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : gear_err_sys(e, errno, "cannot open '%s'", path);
        if (!(d = fdopendir(fd)))
                return close(fd), gear_err_sys(e, errno, "cannot open '%s'", path);
        while ((de = readdir(d))) {
                char sub[PATH_MAX];

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) >= sizeof sub)
                        continue;
                if (de->d_type == DT_DIR) {
                        /*
                         * a temporary directory goes whole once its writer is gone (gear-fsck
                         * for the image tree, the access step for access/): a file taken out
                         * of it here would race its writer or make it look fresh again
                         */
                        if (depth < 8 && !is_tmp_name(de->d_name) && clean_temps(dfd, sub, depth + 1, c, e) < 0)
                                return -1;
                        continue;
                }
                if (!is_tmp_name(de->d_name) || !tmp_is_stale(dirfd(d), de->d_name, CLEAN_TMP_AGE))
                        continue;
                if (!c->dry_run && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                        return gear_err_sys(e, errno, "cannot remove '%s'", sub);
                c->report("temp", sub, c->ud);
        }
        return 0;
}

static int clean_root(struct gear_root *r, const char *const *dirs, size_t n, struct clean_ctx *c,
                      struct gear_err *e)
{
        if (root_open(r, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        for (size_t i = 0; i < n; i++) {
                char path[PATH_MAX];
                snprintf(path, sizeof path, "%s/%s", r->path, dirs[i]);
                if (clean_temps(AT_FDCWD, path, 0, c, e) < 0)
                        return -1;
        }
        return 0;
}

struct port_ctx {
        struct gear_tree *t;
        struct clean_ctx *c;
};

static void port_gone(unsigned port, const char *id, const char *problem, const char *action, void *ud)
{
        struct port_ctx *p = ud;
        char path[PATH_MAX];

        snprintf(path, sizeof path, "%s/ports/interfaces/1/%u/%u", p->t->ctr.path, port / 100, port);
        p->c->report("port", path, p->c->ud);
}

static void key_gone(const char *kind, const char *rel, void *ud)
{
        struct port_ctx *p = ud;
        char path[PATH_MAX];

        snprintf(path, sizeof path, "%s/%s", p->t->ctr.path, rel);
        p->c->report(kind, path, p->c->ud);
}

int clean_tree(struct gear_tree *t, bool dry_run, clean_report_fn report, void *ud, struct gear_err *e)
{
        struct clean_ctx c = { dry_run, report, ud };
        struct port_ctx p = { t, &c };

        /* access of gone containers first: the keys only they linked go in the same run */
        if (keys_clean_access(t, dry_run, key_gone, &p, e) < 0)
                return -1;
        if (keys_clean(t, dry_run, key_gone, &p, e) < 0)
                return -1;
        /* what killed repository creates and deletes left: temporary directories, users */
        if (repo_clean(t, dry_run, report, ud, e) < 0)
                return -1;
        /* before the ports, whose lock waits for the commit of every install that runs */
        if (clean_installs(t, dry_run, report, ud, e) < 0 || clean_idle(t, dry_run, report, ud, e) < 0)
                return -1;
        if (ports_check(t, CHECK_GONE_ONLY | (dry_run ? CHECK_DRY_RUN : 0), port_gone, &p, e) < 0)
                return -1;
        if (clean_root(&t->ctr, ctr_dirs, ELEMENTSOF(ctr_dirs), &c, e) < 0 ||
            clean_root(&t->img, img_dirs, ELEMENTSOF(img_dirs), &c, e) < 0)
                return -1;
        return 0;
}
