/*
 * gear-clean: what a new install killed before its commit left (see
 * gear-install(1)): units/<ab>/<ID>/ with its version and .installing flag
 * (the flag is what tells an install's leftovers from anything else),
 * the dangling links into the unit directory, the volumes under data/, and
 * the environment file when the flag says the install made it. Only for an
 * ID whose container does not exist, checked under its container lock, which
 * a running install holds from before it writes anything to its end.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clean.h"
#include "../base/fsutil.h"
#include "../container/container.h"
#include "../env/env.h"

struct leftovers {
        struct gear_tree *t;
        bool dry_run;
        clean_report_fn report;
        void *ud;
};

/* rel below r reported and, but in a dry run, removed (a directory with all below it); 0 when missing */
static int drop(struct leftovers *l, struct gear_root *r, const char *rel, bool link_only, struct gear_err *e)
{
        char path[PATH_MAX * 2];
        struct stat st;

        if (fstatat(r->fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, rel);
        if (link_only && !S_ISLNK(st.st_mode))
                return 0;
        if (!l->dry_run && S_ISDIR(st.st_mode) && rm_tree(r->fd, rel, e) < 0)
                return gear_err_wrap(e, "in '%s'", r->path);
        if (!l->dry_run && !S_ISDIR(st.st_mode) && unlinkat(r->fd, rel, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", r->path, rel);
        snprintf(path, sizeof path, "%s/%s", r->path, rel);
        l->report("install", path, l->ud);
        return 0;
}

/* whether the install made the container's environment: a line of its flag */
static int env_made(struct gear_tree *t, const char *id, bool *made, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        char rel[CTR_PATH_MAX + 16];
        size_t len;

        *made = false;
        container_versions_rel(id, rel);
        strcat(rel, "/" CTR_FLAG);
        if (read_file(&t->ctr, rel, 4096, &text, &len, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (!strncmp(p, CTR_FLAG_ENV "\n", strlen(CTR_FLAG_ENV) + 1))
                        *made = true;
        return 0;
}

/* the leftovers of id; the caller holds its container lock and saw no container */
static int clean_one(struct leftovers *l, const char *id, struct gear_err *e)
{
        struct gear_tree *t = l->t;
        char rel[PATH_MAX], name[CTR_PATH_MAX];
        bool made;

        if (env_made(t, id, &made, e) < 0)
                return -1;
        if (root_open(&t->units, 0, e) >= 0) {
                container_unit_name(id, name);
                snprintf(rel, sizeof rel, "%s.wants/%s", CTR_ACTIVE_TARGET, name);
                if (drop(l, &t->units, rel, true, e) < 0 || drop(l, &t->units, name, true, e) < 0)
                        return -1;
        } else if (e->code != GEAR_EXIT_NO) {
                return -1;
        }
        gear_err_clear(e);
        if (made) {
                /* under the lock gear-set-env takes: none of its writes is lost in between */
                _cleanup_close_ int lock = env_lock(t, id, e);

                env_path(id, rel);
                if (lock < 0 || drop(l, &t->ctr, rel, false, e) < 0)
                        return -1;
        }
        snprintf(rel, sizeof rel, "data/%.2s/%s", id, id);
        if (drop(l, &t->ctr, rel, false, e) < 0)
                return -1;
        /* the flag last: a kill before leaves what tells the next run */
        container_versions_rel(id, rel);
        return drop(l, &t->ctr, rel, false, e);
}

/*
 * The IDs of shard that have a units/<ab>/<ID>/.installing but no container.
 * Without the flag it is not an install's: a container whose unit went by
 * hand, say, keeps its versions and volumes.
 */
static int shard_candidates(struct gear_tree *t, DIR *shard, const char *ab, gear_id **ids, size_t *n,
                            struct gear_err *e)
{
        struct dirent *de;
        size_t cap = 0;

        while ((de = readdir(shard))) {
                struct stat st;
                gear_id *p;
                int r;

                char flag[CTR_PATH_MAX];

                snprintf(flag, sizeof flag, "%s/" CTR_FLAG, de->d_name);
                if (!id_valid(de->d_name) || strncmp(de->d_name, ab, 2) ||
                    fstatat(dirfd(shard), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    fstatat(dirfd(shard), flag, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if ((r = container_exists(t, de->d_name, e)) != 0) {
                        if (r < 0)
                                return -1;
                        continue;
                }
                if (*n == cap) {
                        if (!(p = realloc(*ids, (cap = cap ? 2 * cap : 8) * sizeof *p)))
                                return gear_err_sys(e, ENOMEM, "cannot clean");
                        *ids = p;
                }
                snprintf((*ids)[(*n)++], sizeof **ids, "%s", de->d_name);
        }
        return 0;
}

int clean_installs(struct gear_tree *t, bool dry_run, clean_report_fn report, void *ud, struct gear_err *e)
{
        struct leftovers l = { t, dry_run, report, ud };
        _cleanup_closedir_ DIR *units = NULL;
        struct dirent *s;

        if (ctr_dir_open(t, "units", &units, e) < 0)
                return -1;
        while (units && (s = readdir(units))) {
                _cleanup_closedir_ DIR *shard = NULL;
                _cleanup_free_ gear_id *ids = NULL;
                _cleanup_close_ int lock = -1;
                char rel[64];
                size_t n = 0;

                if (!(shard = ctr_shard_open(units, s->d_name)))
                        continue;
                if (shard_candidates(t, shard, s->d_name, &ids, &n, e) < 0)
                        return -1;
                if (!n)
                        continue;
                /* held by an install that runs (or a delete): its files are not leftovers */
                snprintf(rel, sizeof rel, "units/%s", s->d_name);
                lock = lock_dir(&t->ctr, rel, LOCK_EX | LOCK_NB, e);
                if (lock < 0) {
                        if (e->code != GEAR_EXIT_NO)
                                return -1;
                        gear_err_clear(e);
                        continue;
                }
                for (size_t i = 0; i < n; i++) {
                        int r = container_exists(t, ids[i], e);

                        if (r < 0 || (r == 0 && clean_one(&l, ids[i], e) < 0))
                                return gear_err_wrap(e, "cannot clean what an install of '%s' left", ids[i]);
                }
        }
        return 0;
}
