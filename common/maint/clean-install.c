/*
 * gear-clean: what an interrupted install or delete left of a container that
 * does not exist (its units/<ab>/ctr-<ID>.service is missing):
 *
 *   install  a new install killed before its commit (see gear-install(1)):
 *            its units/<ab>/<ID>/ holds the .installing flag, which tells
 *            its leftovers from anything else. Its versions, the links into
 *            the unit directory, its volumes under data/, its links
 *            ports/links/<ab>/<ID>, and the environment file when the flag
 *            says the install made it.
 *   unit     a gear-delete killed after it removed the unit (or a unit
 *            removed by hand): the versions units/<ab>/<ID>/, the idle flag,
 *            the links into the unit directory and ports/links/<ab>/<ID>. Volumes and the
 *            environment stay: an environment may be shared (--env-id),
 *            and gear-delete ID removes both.
 *
 * And of any container, existing or not, the copy units/<ab>/<ID>/.env-before
 * of an environment an install killed before its commit had changed
 * (ctr_env_settle: put back when that install did not commit), as "install".
 *
 * Each ID is checked again under its container lock, taken without waiting:
 * an install that runs holds it from before it writes anything to its end,
 * so what it wrote is never taken for leftovers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clean.h"
#include "../ports/links.h"
#include "../base/fsutil.h"
#include "../container/container.h"
#include "../env/env.h"

struct leftovers {
        struct gear_tree *t;
        bool dry_run;
        clean_report_fn report;
        void *ud;
        const char *kind;       /* of the id being cleaned */
        gear_id *ids;           /* the candidates */
        size_t n, cap;
};

/*
 * rel below r reported and, but in a dry run, removed (a directory with all
 * below it); 0 when missing. A link is removed only when it leads nowhere:
 * an administrator's file, or a link to one, stays.
 */
static int drop(struct leftovers *l, struct gear_root *r, const char *rel, bool link, struct gear_err *e)
{
        char path[PATH_MAX * 2];
        struct stat st, to;

        if (fstatat(r->fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, rel);
        if (link && (!S_ISLNK(st.st_mode) || fstatat(r->fd, rel, &to, 0) == 0 || errno != ENOENT))
                return 0;
        if (!l->dry_run && S_ISDIR(st.st_mode) && rm_tree(r->fd, rel, e) < 0)
                return gear_err_wrap(e, "in '%s'", r->path);
        if (!l->dry_run && !S_ISDIR(st.st_mode) && unlinkat(r->fd, rel, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", r->path, rel);
        snprintf(path, sizeof path, "%s/%s", r->path, rel);
        l->report(l->kind, path, l->ud);
        return 0;
}

/* whether an install left its flag (1), and made the container's environment (*made): a line of the flag */
static int install_flag(struct gear_tree *t, const char *id, bool *made, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        char rel[CTR_PATH_MAX];
        struct stat st;
        size_t len;

        *made = false;
        container_flag_rel(id, rel);
        if (fstatat(t->ctr.fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                return 0;
        if (read_file(&t->ctr, rel, 4096, &text, &len, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (!strncmp(p, CTR_FLAG_ENV "\n", strlen(CTR_FLAG_ENV) + 1))
                        *made = true;
        return 1;
}

/*
 * The copy of an environment an interrupted install changed (see
 * ctr_env_settle): the environment put back from it when that install did
 * not commit, then the copy removed. The caller holds the container lock.
 */
static int settle(struct leftovers *l, const char *id, struct gear_err *e)
{
        char rel[CTR_PATH_MAX], path[PATH_MAX + CTR_PATH_MAX];
        int r = ctr_env_settle(l->t, id, l->dry_run, e);

        if (r <= 0)
                return r;
        container_env_before_rel(id, rel);
        snprintf(path, sizeof path, "%s/%s", l->t->ctr.path, rel);
        l->report("install", path, l->ud);
        return 0;
}

/* the leftovers of id; the caller holds its container lock and saw no container */
static int clean_one(struct leftovers *l, const char *id, struct gear_err *e)
{
        struct gear_tree *t = l->t;
        char rel[PATH_MAX], name[CTR_PATH_MAX];
        bool made;
        int flagged = install_flag(t, id, &made, e);

        if (flagged < 0 || settle(l, id, e) < 0)
                return -1;
        l->kind = flagged ? "install" : "unit";
        /* the boot link before the other, as gear-delete does */
        if (root_open(&t->units, 0, e) >= 0) {
                container_unit_name(id, name);
                snprintf(rel, sizeof rel, CTR_WANTS "/%s", name);
                if (drop(l, &t->units, rel, true, e) < 0 || drop(l, &t->units, name, true, e) < 0)
                        return -1;
        } else if (e->code != GEAR_EXIT_NO) {
                return -1;
        }
        gear_err_clear(e);
        container_idle_rel(id, rel);
        if (drop(l, &t->ctr, rel, false, e) < 0)
                return -1;
        if (made) {
                /* under the lock gear-set-env takes: none of its writes is lost in between */
                _cleanup_close_ int lock = env_lock(t, id, e);

                env_path(id, rel);
                if (lock < 0 || drop(l, &t->ctr, rel, false, e) < 0)
                        return -1;
        }
        snprintf(rel, sizeof rel, "data/%.2s/%s", id, id);
        if (flagged && drop(l, &t->ctr, rel, false, e) < 0)
                return -1;
        links_rel(id, rel, sizeof rel);
        if (drop(l, &t->ctr, rel, false, e) < 0)
                return -1;
        /* the versions (and the flag) last: a kill before leaves what tells the next run */
        container_versions_rel(id, rel);
        return drop(l, &t->ctr, rel, false, e);
}

/* id a candidate when its container does not exist, or an install of it left the environment it changed */
static int add_candidate(struct leftovers *l, const char *id, struct gear_err *e)
{
        int r = container_exists(l->t, id, e);
        char rel[CTR_PATH_MAX];
        struct stat st;

        container_env_before_rel(id, rel);
        if (r < 0)
                return -1;
        if (r > 0 && fstatat(l->t->ctr.fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (l->n == l->cap) {
                gear_id *p = realloc(l->ids, (l->cap = l->cap ? 2 * l->cap : 8) * sizeof *p);
                if (!p)
                        return gear_err_sys(e, ENOMEM, "cannot clean");
                l->ids = p;
        }
        snprintf(l->ids[l->n++], sizeof *l->ids, "%s", id);
        return 0;
}

/* the ids of shard ab with versions (units/<ab>/<ID>/) or an idle flag */
static int shard_candidates(struct leftovers *l, DIR *shard, const char *ab, struct gear_err *e)
{
        struct dirent *de;

        while ((de = readdir(shard))) {
                mode_t type = S_IFREG;
                struct stat st;
                gear_id id;

                if (container_id_of_idle(de->d_name, id) < 0) {
                        if (!id_valid(de->d_name))
                                continue;
                        strcpy(id, de->d_name);
                        type = S_IFDIR;
                }
                if (strncmp(id, ab, 2) || fstatat(dirfd(shard), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    (st.st_mode & S_IFMT) != type)
                        continue;
                if (add_candidate(l, id, e) < 0)
                        return -1;
        }
        return 0;
}

static int link_candidate(struct gear_tree *t, const char *dir, int dfd, const char *name, const char *id,
                          void *ud, struct gear_err *e)
{
        return add_candidate(ud, id, e);
}

static int by_id(const void *a, const void *b)
{
        return strcmp(a, b);
}

/*
 * The container lock of id, taken without waiting, into *fd: 0 when an
 * install or a delete holds it. A dry run makes no shard to lock (*fd -1).
 */
static int try_lock(struct leftovers *l, const char *id, int *fd, struct gear_err *e)
{
        char rel[CTR_PATH_MAX];
        struct stat st;

        snprintf(rel, sizeof rel, "units/%.2s", id);
        if (l->dry_run && fstatat(l->t->ctr.fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 1 : gear_err_sys(e, errno, "cannot read '%s/%s'", l->t->ctr.path, rel);
        *fd = lock_dir(&l->t->ctr, rel, LOCK_EX | LOCK_NB, e);
        if (*fd >= 0)
                return 1;
        if (e->code != GEAR_EXIT_NO)
                return -1;
        gear_err_clear(e);
        return 0;
}

int clean_installs(struct gear_tree *t, bool dry_run, clean_report_fn report, void *ud, struct gear_err *e)
{
        struct leftovers l = { .t = t, .dry_run = dry_run, .report = report, .ud = ud };
        _cleanup_closedir_ DIR *units = NULL;
        _cleanup_free_ gear_id *ids = NULL;
        struct dirent *s;
        int r = 0;

        if (ctr_dir_open(t, "units", &units, e) < 0)
                return -1;
        while (r == 0 && units && (s = readdir(units))) {
                _cleanup_closedir_ DIR *shard = ctr_shard_open(units, s->d_name);

                if (shard)
                        r = shard_candidates(&l, shard, s->d_name, e);
        }
        if (r == 0 && t->ctr.fd >= 0)
                r = container_links_each(t, ".", link_candidate, &l, e) < 0 ||
                    container_links_each(t, CTR_WANTS, link_candidate, &l, e) < 0 ? -1 : 0;
        ids = l.ids;
        if (r < 0)
                return -1;
        if (l.n)
                qsort(ids, l.n, sizeof *ids, by_id);
        for (size_t i = 0; i < l.n; i++) {
                _cleanup_close_ int lock = -1;

                if (i && !strcmp(ids[i], ids[i - 1]))
                        continue;
                /* held by an install that runs (or a delete): not leftovers */
                if ((r = try_lock(&l, ids[i], &lock, e)) <= 0) {
                        if (r < 0)
                                return -1;
                        continue;
                }
                r = container_exists(t, ids[i], e);
                if (r < 0 || (r == 0 ? clean_one(&l, ids[i], e) : settle(&l, ids[i], e)) < 0)
                        return gear_err_wrap(e, "cannot clean what an install or delete of '%s' left", ids[i]);
        }
        return 0;
}
