/* the container tree's names: unit paths, existence, the container lock, the list */
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

int container_exists(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char rel[CTR_PATH_MAX];
        struct stat st;

        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        container_unit_rel(id, rel);
        if (fstatat(t->ctr.fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return 1;
        if (errno == ENOENT)
                return 0;
        return gear_err_sys(e, errno, "cannot read '%s/%s'", t->ctr.path, rel);
}

int container_lock(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char rel[CTR_PATH_MAX];

        if (root_open(&t->ctr, ROOT_CREATE, e) < 0)
                return -1;
        snprintf(rel, sizeof rel, "units/%.2s", id);
        return lock_dir(&t->ctr, rel, LOCK_EX, e);
}

static int by_id(const void *a, const void *b)
{
        return strcmp(a, b);
}

int container_units_open(struct gear_tree *t, DIR **units, struct gear_err *e)
{
        int fd;

        *units = NULL;
        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        fd = openat(t->ctr.fd, "units", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot open '%s/units'", t->ctr.path);
        if (!(*units = fdopendir(fd)))
                return close(fd), gear_err_sys(e, errno, "cannot open '%s/units'", t->ctr.path);
        return 0;
}

DIR *container_shard_open(DIR *units, const char *name)
{
        DIR *shard;
        int fd;

        if (name[0] == '.' || strlen(name) != 2)
                return NULL;
        fd = openat(dirfd(units), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        if (!(shard = fdopendir(fd)))
                close(fd);
        return shard;
}

int container_list(struct gear_tree *t, gear_id **ids, size_t *n, struct gear_err *e)
{
        _cleanup_closedir_ DIR *units = NULL;
        _cleanup_free_ gear_id *v = NULL;
        size_t cap = 0, len = 0;
        struct dirent *s;

        *ids = NULL;
        *n = 0;
        if (container_units_open(t, &units, e) < 0)
                return -1;
        while (units && (s = readdir(units))) {
                _cleanup_closedir_ DIR *shard = NULL;
                struct dirent *de;

                if (!(shard = container_shard_open(units, s->d_name)))
                        continue;
                while ((de = readdir(shard))) {
                        gear_id id;

                        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
                                continue;
                        if (container_id_of_unit(de->d_name, id) < 0 || strncmp(id, s->d_name, 2))
                                continue;
                        if (len == cap) {
                                gear_id *p = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
                                if (!p)
                                        return gear_err_sys(e, ENOMEM, "cannot list containers");
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
