/*
 * A container's SSH access lives and dies with the container:
 * access/containers/<ab>/<ID>/ is linked only while ctr-<ID>.service exists
 * (under the container lock), and is removed before the unit.
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

/* ---- container targets of an add ---- */

static int containers_check(struct gear_tree *t, const struct gear_target *targets, size_t n,
                            struct gear_err *e)
{
        for (size_t i = 0; i < n; i++) {
                int k;

                if (targets[i].kind != TARGET_CONTAINER)
                        continue;
                k = container_exists(t, targets[i].id, e);
                if (k < 0)
                        return -1;
                if (!k)
                        return gear_err_set(e, GEAR_EXIT_NO, "no container '%s'", targets[i].id);
        }
        return 0;
}

static int shard_cmp(const void *a, const void *b)
{
        return strncmp(*(const char *const *)a, *(const char *const *)b, 2);
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
static int containers_lock(struct gear_tree *t, const struct gear_target *targets, size_t n,
                           struct key_locks *l, struct gear_err *e)
{
        _cleanup_free_ const char **ids = calloc(n ? n : 1, sizeof *ids);
        size_t m = 0;

        l->fd = calloc(n ? n : 1, sizeof *l->fd);
        if (!ids || !l->fd)
                return gear_err_sys(e, ENOMEM, "cannot lock containers");
        for (size_t i = 0; i < n; i++)
                if (targets[i].kind == TARGET_CONTAINER)
                        ids[m++] = targets[i].id;
        qsort(ids, m, sizeof *ids, shard_cmp);
        for (size_t i = 0; i < m; i++) {
                int fd;

                if (i && !strncmp(ids[i - 1], ids[i], 2))
                        continue;
                fd = container_lock(t, ids[i], e);
                if (fd < 0)
                        return -1;
                l->fd[l->n++] = fd;
        }
        return 0;
}

int keys_lock_containers(struct gear_tree *t, const struct gear_target *targets, size_t n,
                         struct key_locks *l, struct gear_err *e)
{
        /* first without a lock: an unknown id must leave the tree as it was */
        if (containers_check(t, targets, n, e) < 0)
                return -1;
        if (containers_lock(t, targets, n, l, e) < 0)
                return -1;
        /* again under the locks: a delete may have run in between */
        return containers_check(t, targets, n, e);
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

int keys_drop_container(struct gear_tree *t, const char *id, struct gear_err *e)
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
        snprintf(shard, sizeof shard, "access/containers/%.2s", id);
        pfd = open_shard(r, shard, e);
        if (pfd == -ENOENT)
                return 0;
        if (pfd < 0)
                return -1;
        return drop_in(r, pfd, shard, id, e);
}

/* ---- clean ---- */

struct access_clean {
        struct gear_tree *t;
        bool dry_run;
        void (*report)(const char *kind, const char *relpath, void *ud);
        void *ud;
};

/* one id's directory whose container is gone: checked again under its lock */
static int clean_orphan(struct access_clean *c, int pfd, const char *shard, const char *id,
                        struct gear_err *e)
{
        _cleanup_close_ int lock = -1;
        char rel[PATH_MAX];
        int k;

        if (!c->dry_run) {
                lock = container_lock(c->t, id, e);
                if (lock < 0)
                        return -1;
                k = container_exists(c->t, id, e);
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

/* ids of the shard whose container is gone; temporary directories removed on the way */
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
                k = container_exists(c->t, de->d_name, e);
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

        snprintf(shard, sizeof shard, "access/containers/%s", name);
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

int keys_clean_access(struct gear_tree *t, bool dry_run,
                      void (*report)(const char *kind, const char *relpath, void *ud), void *ud,
                      struct gear_err *e)
{
        struct access_clean c = { t, dry_run, report, ud };
        _cleanup_closedir_ DIR *top = NULL;
        struct dirent *de;
        int fd, k;

        k = root_open_maybe(&t->ctr, e);
        if (k <= 0)
                return k;
        fd = open_shard(&t->ctr, "access/containers", e);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return -1;
        if (!(top = fdopendir(fd))) {
                close(fd);
                return gear_err_sys(e, errno, "cannot read '%s/access/containers'", t->ctr.path);
        }
        while ((errno = 0, de = readdir(top)))
                if (strlen(de->d_name) == 2 && de->d_name[0] != '.' && clean_shard(&c, de->d_name, e) < 0)
                        return -1;
        if (errno)
                return gear_err_sys(e, errno, "cannot read '%s/access/containers'", t->ctr.path);
        return 0;
}
