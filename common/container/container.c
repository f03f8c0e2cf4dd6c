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

#include "container.h"
#include "../base/config.h"
#include "../base/fsutil.h"
#include "../systemd/unit.h"

int path_relative(const char *from, const char *to, char *buf, size_t n)
{
        const char *f = from, *p = to;
        size_t used = 0;

        if (*from != '/' || *to != '/')
                return -EINVAL;
        /* skip the components both share */
        for (;;) {
                while (*f == '/')
                        f++;
                while (*p == '/')
                        p++;
                size_t lf = strcspn(f, "/"), lp = strcspn(p, "/");
                if (!lf || lf != lp || strncmp(f, p, lf))
                        break;
                f += lf;
                p += lp;
        }
        buf[0] = 0;
        while (*f) {
                size_t lf = strcspn(f, "/");
                if (lf && !(lf == 1 && *f == '.')) {
                        if (used + 3 >= n)
                                return -ENAMETOOLONG;
                        memcpy(buf + used, "../", 4);
                        used += 3;
                }
                f += lf;
                while (*f == '/')
                        f++;
        }
        if (used + strlen(p) + 1 > n)
                return -ENAMETOOLONG;
        strcpy(buf + used, p);
        return 0;
}

/* makes dfd/name a symbolic link to target, atomically replacing what is there */
static int symlink_replace(const struct gear_root *r, const char *name, const char *target, struct gear_err *e)
{
        char have[PATH_MAX], tmp[PATH_MAX], dir[PATH_MAX];
        const char *base = strrchr(name, '/');
        unsigned long long rnd;
        ssize_t k;

        k = readlinkat(r->fd, name, have, sizeof have - 1);
        if (k >= 0) {
                have[k] = 0;
                if (!strcmp(have, target))
                        return 0;
        }
        if (mkparent(r, name, e) < 0)
                return -1;
        path_dirname(name, dir, sizeof dir);
        base = base ? base + 1 : name;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                rnd = (unsigned long long)getpid() << 20 ^ (unsigned long long)time(NULL);
        snprintf(tmp, sizeof tmp, "%s/" GEAR_TMP_PREFIX "%.64s.%016llx", dir, base, rnd);
        if (symlinkat(target, r->fd, tmp) < 0)
                return gear_err_sys(e, errno, "cannot create '%s/%s'", r->path, tmp);
        if (renameat(r->fd, tmp, r->fd, name) < 0) {
                int err = errno;
                unlinkat(r->fd, tmp, 0);
                return gear_err_sys(e, err, "cannot create '%s/%s'", r->path, name);
        }
        return fsync_parent(r, name, e);
}

int container_unlink_unit(const struct gear_root *r, const char *name, struct gear_err *e)
{
        struct stat st;

        if (fstatat(r->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, name);
        if (!S_ISLNK(st.st_mode))
                return 0; /* the administrator's file: not ours to remove */
        if (unlinkat(r->fd, name, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", r->path, name);
        return 1;
}

static int units_open(struct gear_tree *t, struct gear_err *e)
{
        if (root_open(&t->ctr, ROOT_CREATE, e) < 0 || root_open(&t->units, ROOT_CREATE, e) < 0)
                return -1;
        return 0;
}

int container_link_unit(struct gear_tree *t, const char *name, const char *rel, struct gear_err *e)
{
        char abs[PATH_MAX], target[PATH_MAX];

        snprintf(abs, sizeof abs, "%s/%s", t->ctr.path, rel);
        if (path_relative(t->units.path, abs, target, sizeof target) < 0)
                return gear_err_set(e, GEAR_EXIT_USAGE, "path too long '%s'", abs);
        return symlink_replace(&t->units, name, target, e);
}

static const char *boot_wants_dir(void)
{
        const char *mode = getenv("GEAR_SYSTEMD");

        return mode && !strcmp(mode, "user") ? "default.target.wants" : "multi-user.target.wants";
}

int container_link_shared(struct gear_tree *t, struct gear_err *e)
{
        char rel[PATH_MAX], name[PATH_MAX];
        struct stat st;

        if (units_open(t, e) < 0)
                return -1;
        for (size_t i = 0; i < unit_static_count; i++) {
                const struct unit_file *f = &unit_static_files[i];
                const char *dot = strrchr(f->name, '.');

                snprintf(rel, sizeof rel, "%s/%s", dot && !strcmp(dot, ".slice") ? "slices" : "targets", f->name);
                /* an administrator may have tuned them: written only when missing */
                if (fstatat(t->ctr.fd, rel, &st, 0) < 0) {
                        if (errno != ENOENT)
                                return gear_err_sys(e, errno, "cannot read '%s/%s'", t->ctr.path, rel);
                        if (atomic_write(&t->ctr, rel, f->text, strlen(f->text), 0644, e) < 0)
                                return -1;
                }
                if (container_link_unit(t, f->name, rel, e) < 0)
                        return -1;
        }
        snprintf(name, sizeof name, "%s/" CTR_ACTIVE_TARGET, boot_wants_dir());
        return symlink_replace(&t->units, name, "../" CTR_ACTIVE_TARGET, e);
}

/* name in UNITDIR from tmpl, rewritten only when it changes */
static int write_host_unit(struct gear_tree *t, const struct gear_config *c, const char *tmpl, const char *socket,
                           const char *name, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL, *old = NULL;
        size_t len = 0, old_len = 0;

        if (unit_render_host(tmpl, socket, c->gear_bin, t->sysroot, getenv("GEAR_SYSTEMD"), &text, &len, e) < 0)
                return -1;
        if (read_file(&t->units, name, 65536, &old, &old_len, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
        } else if (old_len == len && !memcmp(old, text, len))
                return 0;
        return atomic_write(&t->units, name, text, len, 0644, e);
}

int container_link_join(struct gear_tree *t, struct gear_err *e)
{
        _cleanup_(config_done) struct gear_config c = {0};

        if (units_open(t, e) < 0 || config_load(&c, t, e) < 0)
                return -1;
        if (write_host_unit(t, &c, unit_switchns_service_template, UNIT_SWITCHNS_SOCKET, UNIT_SWITCHNS_SERVICE_NAME,
                            e) < 0 ||
            write_host_unit(t, &c, unit_switchns_socket_template, UNIT_SWITCHNS_SOCKET, UNIT_SWITCHNS_SOCKET_NAME,
                            e) < 0 ||
            write_host_unit(t, &c, unit_daemon_service_template, UNIT_DAEMON_SOCKET, UNIT_DAEMON_SERVICE_NAME, e) < 0 ||
            write_host_unit(t, &c, unit_daemon_socket_template, UNIT_DAEMON_SOCKET, UNIT_DAEMON_SOCKET_NAME, e) < 0)
                return -1;
        /* listening from boot on, as the manager starts sockets.target */
        return symlink_replace(&t->units, "sockets.target.wants/" UNIT_SWITCHNS_SOCKET_NAME,
                               "../" UNIT_SWITCHNS_SOCKET_NAME, e) < 0 ? -1 :
               symlink_replace(&t->units, "sockets.target.wants/" UNIT_DAEMON_SOCKET_NAME,
                               "../" UNIT_DAEMON_SOCKET_NAME, e);
}

int container_boot_link(struct gear_tree *t, const char *name, bool on, struct gear_err *e)
{
        char wants[PATH_MAX], target[PATH_MAX];

        if (on ? units_open(t, e) < 0 : root_open(&t->units, 0, e) < 0)
                return !on && e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        snprintf(wants, sizeof wants, CTR_WANTS "/%s", name);
        if (!on)
                return container_unlink_unit(&t->units, wants, e) < 0 ? -1 : 0;
        snprintf(target, sizeof target, "../%s", name);
        return symlink_replace(&t->units, wants, target, e);
}

int container_enable(struct gear_tree *t, const char *id, bool boot, struct gear_err *e)
{
        char rel[CTR_PATH_MAX], name[CTR_PATH_MAX];

        if (units_open(t, e) < 0)
                return -1;
        container_unit_rel(id, rel);
        container_unit_name(id, name);
        if (container_link_unit(t, name, rel, e) < 0)
                return -1;
        return boot ? container_boot_link(t, name, true, e) : 0;
}

int container_unlink_boot(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char name[CTR_PATH_MAX];

        container_unit_name(id, name);
        return container_boot_link(t, name, false, e);
}

/* the units links of id: boot link first, so a crash never leaves one without the other */
int container_unlink(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char name[CTR_PATH_MAX];

        if (container_unlink_boot(t, id, e) < 0)
                return -1;
        if (root_open(&t->units, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        container_unit_name(id, name);
        return container_unlink_unit(&t->units, name, e) < 0 ? -1 : 0;
}

/* removes the ctr-*.service links of dir (relative to UNITDIR), and those of idle units */
static int unlink_ctr_links(struct gear_tree *t, const char *dir, struct gear_err *e)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        char name[PATH_MAX];

        if (dir_open_at(&t->units, t->units.fd, dir, &d, e) < 0)
                return -1;
        while (d && (de = readdir(d))) {
                gear_id id;
                unsigned port;
                bool socket;

                if (container_id_of_unit(de->d_name, id) < 0 && unit_idle_of_name(de->d_name, id, &port, &socket) < 0 &&
                    !is_tmp_name(de->d_name))
                        continue;
                snprintf(name, sizeof name, "%s/%s", dir, de->d_name);
                if (container_unlink_unit(&t->units, name, e) < 0)
                        return -1;
        }
        return 0;
}

/* fn for each symbolic link of dir whose name match takes for one of id */
static int links_each(struct gear_tree *t, const char *dir, int (*match)(const char *name, gear_id id),
                      ctr_link_fn fn, void *ud, struct gear_err *e)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (root_open(&t->units, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        if (dir_open_at(&t->units, t->units.fd, dir, &d, e) < 0)
                return -1;
        while (d && (de = readdir(d))) {
                struct stat st;
                gear_id id;

                if (match(de->d_name, id) < 0 ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
                        continue;
                if (fn(t, dir, dirfd(d), de->d_name, id, ud, e) < 0)
                        return -1;
        }
        return 0;
}

int container_links_each(struct gear_tree *t, const char *dir, ctr_link_fn fn, void *ud, struct gear_err *e)
{
        return links_each(t, dir, container_id_of_unit, fn, ud, e);
}

static int idle_unit_id(const char *name, gear_id id)
{
        unsigned port;
        bool socket;

        return unit_idle_of_name(name, id, &port, &socket);
}

int container_idle_links_each(struct gear_tree *t, const char *dir, ctr_link_fn fn, void *ud, struct gear_err *e)
{
        return links_each(t, dir, idle_unit_id, fn, ud, e);
}

int container_unlink_all(struct gear_tree *t, struct gear_err *e)
{
        static const char *const host_units[] = {
                UNIT_SWITCHNS_SOCKET_NAME, UNIT_SWITCHNS_SERVICE_NAME, UNIT_DAEMON_SOCKET_NAME, UNIT_DAEMON_SERVICE_NAME,
        };
        char name[PATH_MAX];

        if (root_open(&t->units, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        if (unlink_ctr_links(t, CTR_WANTS, e) < 0 || unlink_ctr_links(t, ".", e) < 0)
                return -1;
        unlinkat(t->units.fd, CTR_WANTS, AT_REMOVEDIR);
        for (size_t i = 0; i < unit_static_count; i++)
                if (container_unlink_unit(&t->units, unit_static_files[i].name, e) < 0)
                        return -1;
        if (container_unlink_unit(&t->units, "sockets.target.wants/" UNIT_SWITCHNS_SOCKET_NAME, e) < 0 ||
            container_unlink_unit(&t->units, "sockets.target.wants/" UNIT_DAEMON_SOCKET_NAME, e) < 0)
                return -1;
        unlinkat(t->units.fd, "sockets.target.wants", AT_REMOVEDIR); /* only when empty */
        for (size_t i = 0; i < ELEMENTSOF(host_units); i++)
                if (unlinkat(t->units.fd, host_units[i], 0) < 0 && errno != ENOENT)
                        return gear_err_sys(e, errno, "cannot remove '%s/%s'", t->units.path, host_units[i]);
        const char *dirs[] = { "multi-user.target.wants", "default.target.wants" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(name, sizeof name, "%s/" CTR_ACTIVE_TARGET, dirs[i]);
                if (container_unlink_unit(&t->units, name, e) < 0)
                        return -1;
                unlinkat(t->units.fd, dirs[i], AT_REMOVEDIR); /* only when empty */
        }
        return 0;
}

/* ---- the start-on-boot record: the WantedBy= line of the unit's [Install] section ---- */

static const char *line_value(const char *text, const char *key)
{
        size_t n = strlen(key);

        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                if (!strncmp(l, key, n))
                        return l + n;
        return NULL;
}

static bool text_boot(const char *text)
{
        const char *v = line_value(text, "WantedBy=");

        return v && !strncmp(v, CTR_ACTIVE_TARGET, strlen(CTR_ACTIVE_TARGET)) &&
               (v[strlen(CTR_ACTIVE_TARGET)] == '\n' || !v[strlen(CTR_ACTIVE_TARGET)]);
}

/* text with the value of every "key" line replaced; appended to section when absent */
char *unit_text_set(const char *text, const char *key, const char *value, const char *section)
{
        size_t n = strlen(text), klen = strlen(key), cap = n + strlen(value) + klen + strlen(section) + 8;
        char *out = malloc(cap), *o = out;
        bool found = false;

        if (!out)
                return NULL;
        for (const char *l = text; *l;) {
                const char *nl = strchr(l, '\n');
                size_t len = nl ? (size_t)(nl - l + 1) : strlen(l);

                if (!strncmp(l, key, klen)) {
                        if (!found)
                                o += sprintf(o, "%s%s\n", key, value);
                        found = true;
                } else {
                        if ((size_t)(o - out) + len + 1 > cap) {
                                free(out);
                                return NULL;
                        }
                        memcpy(o, l, len);
                        o += len;
                }
                l += len;
        }
        if (!found) {
                if (o > out && o[-1] != '\n')
                        *o++ = '\n';
                o += sprintf(o, "\n%s\n%s%s\n", section, key, value);
        }
        *o = 0;
        return out;
}

char *unit_text_boot(const char *text, bool boot)
{
        return unit_text_set(text, "WantedBy=", boot ? CTR_ACTIVE_TARGET : CTR_TARGET, "[Install]");
}

int container_read_unit(struct gear_tree *t, const char *id, char **text, struct gear_err *e)
{
        char rel[CTR_PATH_MAX];
        int r;

        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? -ENOENT : -1;
        container_unit_rel(id, rel);
        r = read_file(&t->ctr, rel, 1 << 20, text, NULL, e);
        if (r == -ENOENT)
                gear_err_set(e, GEAR_EXIT_NO, "no container '%s'", id);
        return r;
}

int container_boot_recorded(struct gear_tree *t, const char *id, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        int r = container_read_unit(t, id, &text, e);

        return r < 0 ? r : text_boot(text);
}

/* the version file name into the tree, then the hardlink swapped to it */
int container_commit(struct gear_tree *t, const char *id, const char *request_id, struct gear_err *e)
{
        char unit[CTR_PATH_MAX], version[PATH_MAX], tmp[PATH_MAX];
        unsigned long long rnd;

        container_unit_rel(id, unit);
        snprintf(version, sizeof version, "units/%.2s/%s/%s", id, id, request_id);
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                rnd = (unsigned long long)getpid() << 20 ^ (unsigned long long)time(NULL);
        snprintf(tmp, sizeof tmp, "units/%.2s/" GEAR_TMP_PREFIX "ctr-%s.service.%016llx", id, id, rnd);
        if (linkat(t->ctr.fd, version, t->ctr.fd, tmp, 0) < 0)
                return gear_err_sys(e, errno, "cannot link '%s/%s'", t->ctr.path, version);
        if (renameat(t->ctr.fd, tmp, t->ctr.fd, unit) < 0) {
                int err = errno;
                unlinkat(t->ctr.fd, tmp, 0);
                return gear_err_sys(e, err, "cannot replace '%s/%s'", t->ctr.path, unit);
        }
        return fsync_parent(&t->ctr, unit, e);
}

/* a new version of id's unit holding text, made current */
int container_write_version(struct gear_tree *t, const char *id, const char *text, char *request_id,
                            struct gear_err *e)
{
        char version[PATH_MAX];

        snprintf(version, sizeof version, "units/%.2s/%s/%s", id, id, request_id);
        if (atomic_write(&t->ctr, version, text, strlen(text), 0664, e) < 0)
                return -1;
        container_crash_point("version");
        return 0;
}

int container_set_boot(struct gear_tree *t, const char *id, bool on, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL, *next = NULL, *next2 = NULL;
        char rid[CTR_REQUEST_ID_MAX];
        bool changed = false;
        int r;

        r = container_read_unit(t, id, &text, e);
        if (r < 0)
                return r;
        /* recorded first: the tree is what gear-init trusts */
        if (text_boot(text) != on) {
                if (container_request_id(rid, e) < 0)
                        return -1;
                if (!(next = unit_text_boot(text, on)) ||
                    !(next2 = unit_text_set(next, "X-ContainerRequestId=", rid, "[Unit]")))
                        return gear_err_sys(e, ENOMEM, "cannot rewrite the unit of '%s'", id);
                if (container_write_version(t, id, next2, rid, e) < 0 || container_commit(t, id, rid, e) < 0)
                        return -1;
                changed = true;
        }
        r = on ? container_enable(t, id, true, e) : container_unlink_boot(t, id, e);
        return r < 0 ? -1 : changed;
}
