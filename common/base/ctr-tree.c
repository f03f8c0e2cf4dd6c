/* the container tree's names: unit and repository paths, existence, locks, the list */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctr-tree.h"
#include "fsutil.h"

void container_unit_rel(const char *id, char buf[static CTR_PATH_MAX])
{
        snprintf(buf, CTR_PATH_MAX, "units/%.2s/ctr-%s.service", id, id);
}

void container_versions_rel(const char *id, char buf[static CTR_PATH_MAX])
{
        snprintf(buf, CTR_PATH_MAX, "units/%.2s/%s", id, id);
}

void container_unit_name(const char *id, char buf[static CTR_PATH_MAX])
{
        snprintf(buf, CTR_PATH_MAX, "ctr-%s.service", id);
}

void container_flag_rel(const char *id, char buf[static CTR_PATH_MAX])
{
        snprintf(buf, CTR_PATH_MAX, "units/%.2s/%s/" CTR_FLAG, id, id);
}

void container_env_before_rel(const char *id, char buf[static CTR_PATH_MAX])
{
        snprintf(buf, CTR_PATH_MAX, "units/%.2s/%s/" CTR_ENV_BEFORE, id, id);
}

void container_idle_rel(const char *id, char buf[static CTR_PATH_MAX])
{
        snprintf(buf, CTR_PATH_MAX, "units/%.2s/ctr-%s.idle", id, id);
}

/* the id of "ctr-<id><suffix>"; -1 when name is not one */
static int id_of_name(const char *name, const char *suffix, gear_id id)
{
        size_t len = strlen(name), tail = strlen(suffix);

        if (len < 4 + GEAR_ID_MIN + tail || len > 4 + GEAR_ID_MAX + tail || strncmp(name, "ctr-", 4) ||
            strcmp(name + len - tail, suffix))
                return -1;
        memcpy(id, name + 4, len - 4 - tail);
        id[len - 4 - tail] = 0;
        return id_valid(id) ? 0 : -1;
}

int container_id_of_unit(const char *name, gear_id id)
{
        return id_of_name(name, ".service", id);
}

int container_id_of_idle(const char *name, gear_id id)
{
        return id_of_name(name, ".idle", id);
}

int container_request_id(char buf[static CTR_REQUEST_ID_MAX], struct gear_err *e)
{
        struct timespec ts;
        struct tm tm;
        unsigned rnd;
        char stamp[32];

        if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm))
                return gear_err_sys(e, errno, "cannot read the clock");
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                rnd = (unsigned)getpid() ^ (unsigned)ts.tv_nsec;
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
        snprintf(buf, CTR_REQUEST_ID_MAX, "%s.%09ldZ-%08x", stamp, ts.tv_nsec, rnd);
        return 0;
}

void container_crash_point(const char *step)
{
        const char *at = getenv("GEAR_TEST_CRASH_AT");

        if (at && !strcmp(at, step))
                raise(SIGKILL);
}

void container_pause_point(const char *point)
{
        test_pause_point(point);
}

/* 1 when rel is in the container tree (and a directory, with dir), 0 when not */
static int ctr_has(struct gear_tree *t, const char *rel, bool dir, struct gear_err *e)
{
        struct stat st;

        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        if (fstatat(t->ctr.fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return !dir || S_ISDIR(st.st_mode);
        if (errno == ENOENT)
                return 0;
        return gear_err_sys(e, errno, "cannot read '%s/%s'", t->ctr.path, rel);
}

int container_exists(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char rel[CTR_PATH_MAX];

        container_unit_rel(id, rel);
        return ctr_has(t, rel, false, e);
}

/* flock of the shard <dir>/<ab> of id */
static int shard_lock(struct gear_tree *t, const char *dir, const char *id, struct gear_err *e)
{
        char rel[CTR_PATH_MAX];

        if (root_open(&t->ctr, ROOT_CREATE, e) < 0)
                return -1;
        snprintf(rel, sizeof rel, "%s/%.2s", dir, id);
        return lock_dir(&t->ctr, rel, LOCK_EX, e);
}

int container_lock(struct gear_tree *t, const char *id, struct gear_err *e)
{
        return shard_lock(t, "units", id, e);
}

void repo_rel(const char *id, char buf[static CTR_PATH_MAX])
{
        snprintf(buf, CTR_PATH_MAX, "git/%.2s/%s.git", id, id);
}

int repo_exists(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char rel[CTR_PATH_MAX];

        repo_rel(id, rel);
        return ctr_has(t, rel, true, e);
}

int repo_lock(struct gear_tree *t, const char *id, struct gear_err *e)
{
        return shard_lock(t, "git", id, e);
}

int target_exists(struct gear_tree *t, const struct gear_target *tg, struct gear_err *e)
{
        return tg->kind == TARGET_REPO ? repo_exists(t, tg->id, e) : container_exists(t, tg->id, e);
}

int target_lock(struct gear_tree *t, const struct gear_target *tg, struct gear_err *e)
{
        return tg->kind == TARGET_REPO ? repo_lock(t, tg->id, e) : container_lock(t, tg->id, e);
}

static int by_id(const void *a, const void *b)
{
        return strcmp(a, b);
}

int ctr_dir_open(struct gear_tree *t, const char *dir, DIR **d, struct gear_err *e)
{
        int fd;

        *d = NULL;
        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        fd = openat(t->ctr.fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot open '%s/%s'", t->ctr.path, dir);
        if (!(*d = fdopendir(fd)))
                return close(fd), gear_err_sys(e, errno, "cannot open '%s/%s'", t->ctr.path, dir);
        return 0;
}

DIR *ctr_shard_open(DIR *dir, const char *name)
{
        DIR *shard;
        int fd;

        if (name[0] == '.' || strlen(name) != 2)
                return NULL;
        fd = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        if (!(shard = fdopendir(fd)))
                close(fd);
        return shard;
}

/* the ids id_of finds among the entries of the shards of dir (each in its own shard), sorted */
static int list_ids(struct gear_tree *t, const char *dir, int (*id_of)(const struct dirent *de, gear_id id),
                    gear_id **ids, size_t *n, struct gear_err *e)
{
        _cleanup_closedir_ DIR *top = NULL;
        _cleanup_free_ gear_id *v = NULL;
        size_t cap = 0, len = 0;
        struct dirent *s;

        *ids = NULL;
        *n = 0;
        if (ctr_dir_open(t, dir, &top, e) < 0)
                return -1;
        while (top && (s = readdir(top))) {
                _cleanup_closedir_ DIR *shard = NULL;
                struct dirent *de;

                if (!(shard = ctr_shard_open(top, s->d_name)))
                        continue;
                while ((de = readdir(shard))) {
                        gear_id id;

                        if (id_of(de, id) < 0 || strncmp(id, s->d_name, 2))
                                continue;
                        if (len == cap) {
                                gear_id *p = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
                                if (!p)
                                        return gear_err_sys(e, ENOMEM, "cannot read '%s/%s'", t->ctr.path, dir);
                                v = p;
                        }
                        strcpy(v[len++], id);
                }
        }
        if (len)
                qsort(v, len, sizeof *v, by_id);
        *ids = TAKE_PTR(v);
        *n = len;
        return 0;
}

static int unit_entry_id(const struct dirent *de, gear_id id)
{
        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
                return -1;
        return container_id_of_unit(de->d_name, id);
}

int container_list(struct gear_tree *t, gear_id **ids, size_t *n, struct gear_err *e)
{
        return list_ids(t, "units", unit_entry_id, ids, n, e);
}

/* the id of a directory "<id>.git" */
static int repo_entry_id(const struct dirent *de, gear_id id)
{
        size_t len = strlen(de->d_name);

        if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) || len < GEAR_ID_MIN + 4 ||
            len > GEAR_ID_MAX + 4 || strcmp(de->d_name + len - 4, ".git"))
                return -1;
        memcpy(id, de->d_name, len - 4);
        id[len - 4] = 0;
        return id_valid(id) ? 0 : -1;
}

int repo_list(struct gear_tree *t, gear_id **ids, size_t *n, struct gear_err *e)
{
        return list_ids(t, "git", repo_entry_id, ids, n, e);
}
