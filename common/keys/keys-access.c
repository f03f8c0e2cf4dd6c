/*
 * A container's SSH access lives and dies with the container:
 * access/containers/<ab>/<ID>/ is linked only while ctr-<ID>.service exists
 * (under the container lock), and is removed before the unit. A
 * repository's, access/git/read|write/<ab>/<ID>/, the same with
 * git/<ab>/<ID>.git and the lock of git/<ab>.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "../base/ctr-tree.h"
#include "../base/fsutil.h"

/* ---- the targets of an add ---- */

static int targets_check(struct gear_tree *t, const struct gear_target *targets, size_t n,
                         struct gear_err *e)
{
        for (size_t i = 0; i < n; i++) {
                int k = target_exists(t, &targets[i], e);

                if (k < 0)
                        return -1;
                if (!k)
                        return gear_err_set(e, GEAR_EXIT_NO, "no %s '%s'",
                                            targets[i].kind == TARGET_REPO ? "repository" : "container",
                                            targets[i].id);
        }
        return 0;
}

/* containers before repositories, each by shard: the order of their locks */
static int shard_cmp(const void *a, const void *b)
{
        const struct gear_target *x = *(const struct gear_target *const *)a;
        const struct gear_target *y = *(const struct gear_target *const *)b;

        if (x->kind != y->kind)
                return x->kind == TARGET_CONTAINER ? -1 : 1;
        return strncmp(x->id, y->id, 2);
}

void key_locks_done(struct key_locks *l)
{
        for (size_t i = 0; i < l->n; i++)
                close(l->fd[i]);
        free(l->fd);
        l->fd = NULL;
        l->n = 0;
}

/*
 * The lock of each shard once (flock does not nest across opens), in shard
 * order so that two adds never wait for each other.
 */
static int targets_lock(struct gear_tree *t, const struct gear_target *targets, size_t n,
                        struct key_locks *l, struct gear_err *e)
{
        _cleanup_free_ const struct gear_target **v = calloc(n ? n : 1, sizeof *v);

        l->fd = calloc(n ? n : 1, sizeof *l->fd);
        if (!v || !l->fd)
                return gear_err_sys(e, ENOMEM, "cannot lock targets");
        for (size_t i = 0; i < n; i++)
                v[i] = &targets[i];
        qsort(v, n, sizeof *v, shard_cmp);
        for (size_t i = 0; i < n; i++) {
                int fd;

                if (i && !shard_cmp(&v[i - 1], &v[i]))
                        continue;
                fd = target_lock(t, v[i], e);
                if (fd < 0)
                        return -1;
                l->fd[l->n++] = fd;
        }
        return 0;
}

int keys_lock_targets(struct gear_tree *t, const struct gear_target *targets, size_t n,
                      struct key_locks *l, struct gear_err *e)
{
        /* first without a lock: an unknown id must leave the tree as it was */
        if (targets_check(t, targets, n, e) < 0)
                return -1;
        if (targets_lock(t, targets, n, l, e) < 0)
                return -1;
        /* again under the locks: a delete may have run in between */
        return targets_check(t, targets, n, e);
}

/* ---- removal ---- */

/* a directory of links and the links in it; -errno */
static int rm_links_dir(int pfd, const char *name)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                if (errno != ENOTDIR && errno != ELOOP)
                        return -errno;
                return unlinkat(pfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        }
        if (!(d = fdopendir(fd))) {
                close(fd);
                return -errno;
        }
        while ((errno = 0, de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
                        continue;
                /* an empty directory someone made there goes too; anything else is reported */
                if (errno != EISDIR || (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT))
                        return -errno;
        }
        if (errno)
                return -errno;
        return unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

static void tmp_name(const char *id, char *buf, size_t n)
{
        uint64_t rnd = 0;

        if (getrandom(&rnd, sizeof rnd, 0) < 0)
                rnd = (uint64_t)getpid() << 20 ^ (uintptr_t)&rnd;
        snprintf(buf, n, GEAR_TMP_PREFIX "%s.%016llx", id, (unsigned long long)rnd);
}

static int open_shard(struct gear_root *r, const char *shard, struct gear_err *e)
{
        int fd = openat(r->fd, shard, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd >= 0)
                return fd;
        if (errno == ENOENT || errno == ENOTDIR)
                return -ENOENT;
        return gear_err_sys(e, errno, "cannot open '%s/%s'", r->path, shard);
}

/*
 * Renamed out of sshd's sight first, so that a kill leaves the access either
 * whole or under a temporary name that keys_clean_access removes.
 */
static int drop_in(struct gear_root *r, int pfd, const char *shard, const char *id, struct gear_err *e)
{
        char tmp[128];
        int k;

        tmp_name(id, tmp, sizeof tmp);
        if (renameat(pfd, id, pfd, tmp) < 0)
                return errno == ENOENT ? 0 :
                       gear_err_sys(e, errno, "cannot remove '%s/%s/%s'", r->path, shard, id);
        if (fsync(pfd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s/%s'", r->path, shard);
        container_crash_point("access");
        k = rm_links_dir(pfd, tmp);
        if (k < 0)
                return gear_err_sys(e, -k, "cannot remove '%s/%s/%s'", r->path, shard, tmp);
        if (fsync(pfd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s/%s'", r->path, shard);
        return 1;
}

/* base/<ab>/<id> */
static int drop(struct gear_tree *t, const char *base, const char *id, struct gear_err *e)
{
        struct gear_root *r = &t->ctr;
        _cleanup_close_ int pfd = -1;
        char shard[64];
        int k;

        if (!id_valid(id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
        k = root_open_maybe(r, e);
        if (k <= 0)
                return k;
        snprintf(shard, sizeof shard, "%s/%.2s", base, id);
        pfd = open_shard(r, shard, e);
        if (pfd == -ENOENT)
                return 0;
        if (pfd < 0)
                return -1;
        return drop_in(r, pfd, shard, id, e);
}

int keys_drop_container(struct gear_tree *t, const char *id, struct gear_err *e)
{
        return drop(t, "access/containers", id, e);
}

int keys_drop_repo(struct gear_tree *t, const char *id, struct gear_err *e)
{
        int w, r;

        /* write access first: a kill in between leaves a repository that is read-only, never one writable */
        w = drop(t, "access/git/write", id, e);
        if (w < 0)
                return -1;
        r = drop(t, "access/git/read", id, e);
        if (r < 0)
                return -1;
        return w || r;
}

/* ---- clean ---- */

/* the access directories of one kind of target */
struct access_base {
        const char *dir;
        enum target_kind kind;
};

static const struct access_base access_bases[] = {
        { "access/containers", TARGET_CONTAINER },
        { "access/git/read", TARGET_REPO },
        { "access/git/write", TARGET_REPO },
};

struct access_clean {
        struct gear_tree *t;
        bool dry_run;
        void (*report)(const char *kind, const char *relpath, void *ud);
        void *ud;
        const struct access_base *base;
};

static int exists(struct access_clean *c, const char *id, struct gear_err *e)
{
        struct gear_target tg = { .kind = c->base->kind };

        strcpy(tg.id, id);
        return target_exists(c->t, &tg, e);
}

/* one id's directory whose container or repository is gone: checked again under its lock */
static int clean_orphan(struct access_clean *c, int pfd, const char *shard, const char *id,
                        struct gear_err *e)
{
        _cleanup_close_ int lock = -1;
        char rel[PATH_MAX];
        int k;

        if (!c->dry_run) {
                struct gear_target tg = { .kind = c->base->kind };

                strcpy(tg.id, id);
                lock = target_lock(c->t, &tg, e);
                if (lock < 0)
                        return -1;
                k = exists(c, id, e);
                if (k != 0)
                        return k < 0 ? -1 : 0;
                k = drop_in(&c->t->ctr, pfd, shard, id, e);
                if (k <= 0)
                        return k;
        }
        snprintf(rel, sizeof rel, "%s/%s", shard, id);
        c->report("access", rel, c->ud);
        return 0;
}

/* ids of the shard whose container or repository is gone; temporary directories removed on the way */
static int scan_shard(struct access_clean *c, DIR *d, const char *shard, const char *name,
                      gear_id **ids, size_t *n, struct gear_err *e)
{
        struct gear_root *r = &c->t->ctr;
        struct dirent *de;
        char rel[PATH_MAX];
        size_t cap = 0;
        int k;

        while ((errno = 0, de = readdir(d))) {
                if (is_tmp_name(de->d_name)) {
                        /* what a killed delete renamed away; never in sshd's sight again */
                        k = c->dry_run ? 0 : rm_links_dir(dirfd(d), de->d_name);
                        if (k < 0)
                                return gear_err_sys(e, -k, "cannot remove '%s/%s/%s'", r->path, shard,
                                                    de->d_name);
                        snprintf(rel, sizeof rel, "%s/%s", shard, de->d_name);
                        c->report("access", rel, c->ud);
                        continue;
                }
                if (!id_valid(de->d_name) || strncmp(de->d_name, name, 2))
                        continue;
                k = exists(c, de->d_name, e);
                if (k < 0)
                        return -1;
                if (k)
                        continue;
                if (*n == cap) {
                        gear_id *p = realloc(*ids, (cap = cap ? cap * 2 : 16) * sizeof *p);
                        if (!p)
                                return gear_err_sys(e, ENOMEM, "cannot read '%s/%s'", r->path, shard);
                        *ids = p;
                }
                strcpy((*ids)[(*n)++], de->d_name);
        }
        if (errno)
                return gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, shard);
        return 0;
}

static int clean_shard(struct access_clean *c, const char *name, struct gear_err *e)
{
        struct gear_root *r = &c->t->ctr;
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ gear_id *ids = NULL;
        char shard[64];
        size_t n = 0;
        int pfd;

        snprintf(shard, sizeof shard, "%s/%s", c->base->dir, name);
        pfd = open_shard(r, shard, e);
        if (pfd == -ENOENT)
                return 0;
        if (pfd < 0)
                return -1;
        if (!(d = fdopendir(pfd))) {
                close(pfd);
                return gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, shard);
        }
        /* all names first: the renames of the removal add entries to the directory */
        if (scan_shard(c, d, shard, name, &ids, &n, e) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (clean_orphan(c, dirfd(d), shard, ids[i], e) < 0)
                        return -1;
        return 0;
}

static int clean_base(struct access_clean *c, struct gear_err *e)
{
        _cleanup_closedir_ DIR *top = NULL;
        const char *dir = c->base->dir;
        struct dirent *de;
        int fd;

        fd = open_shard(&c->t->ctr, dir, e);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return -1;
        if (!(top = fdopendir(fd))) {
                close(fd);
                return gear_err_sys(e, errno, "cannot read '%s/%s'", c->t->ctr.path, dir);
        }
        while ((errno = 0, de = readdir(top)))
                if (strlen(de->d_name) == 2 && de->d_name[0] != '.' && clean_shard(c, de->d_name, e) < 0)
                        return -1;
        if (errno)
                return gear_err_sys(e, errno, "cannot read '%s/%s'", c->t->ctr.path, dir);
        return 0;
}

int keys_clean_access(struct gear_tree *t, bool dry_run,
                      void (*report)(const char *kind, const char *relpath, void *ud), void *ud,
                      struct gear_err *e)
{
        struct access_clean c = { t, dry_run, report, ud, NULL };
        int k;

        k = root_open_maybe(&t->ctr, e);
        if (k <= 0)
                return k;
        for (size_t i = 0; i < ELEMENTSOF(access_bases); i++) {
                c.base = &access_bases[i];
                if (clean_base(&c, e) < 0)
                        return -1;
        }
        return 0;
}
