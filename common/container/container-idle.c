/* containers that idle, in the trees: the flag, and the socket and proxy units derived from the unit */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container-idle.h"
#include "../base/config.h"
#include "../base/fsutil.h"

int container_idle_flagged(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char rel[CTR_PATH_MAX];
        struct stat st;

        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        container_idle_rel(id, rel);
        if (fstatat(t->ctr.fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return 1;
        return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot read '%s/%s'", t->ctr.path, rel);
}

int container_idle_flag(struct gear_tree *t, const char *id, bool on, struct gear_err *e)
{
        char rel[CTR_PATH_MAX];

        container_idle_rel(id, rel);
        if (on)
                return atomic_write(&t->ctr, rel, "", 0, 0644, e);
        if (unlinkat(t->ctr.fd, rel, 0) < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, rel);
        return fsync_parent(&t->ctr, rel, e);
}

static int by_port(const void *a, const void *b)
{
        unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

        return (x > y) - (x < y);
}

int container_idle_ports(struct gear_tree *t, const char *id, unsigned **ports, size_t *n, struct gear_err *e)
{
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ unsigned *v = NULL;
        struct dirent *de;
        char shard[16];
        size_t len = 0;

        *ports = NULL;
        *n = 0;
        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        snprintf(shard, sizeof shard, "units/%.2s", id);
        if (dir_open_at(&t->ctr, t->ctr.fd, shard, &d, e) < 0)
                return -1;
        while (d && (de = readdir(d))) {
                gear_id owner;
                unsigned port;
                bool socket, seen = false;

                if (unit_idle_of_name(de->d_name, owner, &port, &socket) < 0 || strcmp(owner, id))
                        continue;
                for (size_t i = 0; i < len && !seen; i++)
                        seen = v[i] == port;
                if (seen)
                        continue;
                unsigned *p = realloc(v, (len + 1) * sizeof *v);
                if (!p)
                        return gear_err_sys(e, ENOMEM, "cannot list the idle units of '%s'", id);
                v = p;
                v[len++] = port;
        }
        if (len > 1)
                qsort(v, len, sizeof *v, by_port);
        *ports = TAKE_PTR(v);
        *n = len;
        return 0;
}

/* UNITDIR/[wants/]name removed, then units/<ab>/name */
static int remove_unit(struct gear_tree *t, const char *id, const char *name, struct gear_err *e)
{
        char rel[CTR_PATH_MAX + 64];

        if (container_boot_link(t, name, false, e) < 0)
                return -1;
        if (root_open_maybe(&t->units, e) < 0 ||
            (t->units.fd >= 0 && container_unlink_unit(&t->units, name, e) < 0))
                return -1;
        snprintf(rel, sizeof rel, "units/%.2s/%s", id, name);
        if (unlinkat(t->ctr.fd, rel, 0) < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, rel);
        return fsync_parent(&t->ctr, rel, e);
}

int container_idle_port_remove(struct gear_tree *t, const char *id, unsigned port, struct gear_err *e)
{
        char sock[64], proxy[64];

        unit_idle_names(id, port, sock, proxy);
        return remove_unit(t, id, sock, e) < 0 || remove_unit(t, id, proxy, e) < 0 ? -1 : 0;
}

int container_idle_units_remove(struct gear_tree *t, const char *id, struct gear_err *e)
{
        _cleanup_free_ unsigned *ports = NULL;
        size_t n;

        if (container_idle_ports(t, id, &ports, &n, e) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (container_idle_port_remove(t, id, ports[i], e) < 0)
                        return -1;
        return 0;
}

/* units/<ab>/name holding text: written when it differs, and linked into UNITDIR */
static int put_unit(struct gear_tree *t, const char *id, const char *name, const char *text, size_t len,
                    bool *changed, struct gear_err *e)
{
        _cleanup_free_ char *old = NULL;
        char rel[CTR_PATH_MAX + 64];
        size_t old_len = 0;

        snprintf(rel, sizeof rel, "units/%.2s/%s", id, name);
        if (read_file(&t->ctr, rel, 65536, &old, &old_len, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
        }
        if (!old || old_len != len || memcmp(old, text, len)) {
                if (atomic_write(&t->ctr, rel, text, len, 0644, e) < 0)
                        return -1;
                *changed = true;
        }
        return container_link_unit(t, name, rel, e);
}

/* [ADDRESS:]PORT for a socket (no address: every one), or where to connect to it */
static void listen_value(char *buf, size_t n, const char *address, unsigned port, bool connect)
{
        if (!*address)
                snprintf(buf, n, connect ? "127.0.0.1:%u" : "%u", port);
        else if (strchr(address, ':'))
                snprintf(buf, n, "[%s]:%u", address, port);
        else
                snprintf(buf, n, "%s:%u", address, port);
}

static int write_port(struct gear_tree *t, const struct gear_config *c, const struct unit_meta *m,
                      const struct unit_port *p, unsigned backend, bool *changed, struct gear_err *e)
{
        _cleanup_free_ char *socket_text = NULL, *proxy_text = NULL;
        char sock[64], proxy[64], listen[96], prime[96];
        size_t socket_len, proxy_len;
        struct unit_idle_port ip = {
                .id = m->id, .external = p->external, .backend = backend, .listen = listen, .prime = prime,
                .timeout = m->idle_timeout, .proxyd = c->socket_proxyd, .gear_bin = c->gear_bin,
                .sysroot = t->sysroot, .manager = getenv("GEAR_SYSTEMD"),
        };

        listen_value(listen, sizeof listen, c->publish_address, p->external, false);
        listen_value(prime, sizeof prime, c->publish_address, p->external, true);
        unit_idle_names(m->id, p->external, sock, proxy);
        if (unit_render_idle(unit_idle_socket_template, &ip, &socket_text, &socket_len, e) < 0 ||
            unit_render_idle(unit_idle_proxy_template, &ip, &proxy_text, &proxy_len, e) < 0)
                return gear_err_wrap(e, "port %u of '%s'", p->external, m->id);
        /* the proxy first: a socket in the unit directory always finds its service */
        if (put_unit(t, m->id, proxy, proxy_text, proxy_len, changed, e) < 0 ||
            put_unit(t, m->id, sock, socket_text, socket_len, changed, e) < 0)
                return -1;
        return 0;
}

int container_idle_units_write(struct gear_tree *t, const struct unit_meta *m, bool *changed, struct gear_err *e)
{
        _cleanup_(config_done) struct gear_config c = {0};
        _cleanup_free_ unsigned *have = NULL;
        size_t n = 0;

        *changed = false;
        if (container_idle_ports(t, m->id, &have, &n, e) < 0)
                return -1;
        /* most containers: nothing to write, nothing to remove, no gear.conf to read */
        if (!unit_meta_idle(m) && !n)
                return 0;
        if (config_load(&c, t, e) < 0)
                return -1;
        for (size_t i = 0; unit_meta_idle(m) && i < m->n_ports; i++) {
                unsigned backend = unit_meta_backend(m, &m->ports[i]);

                if (!backend)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "the unit of '%s' has no X-PortBackend for port %u",
                                            m->id, m->ports[i].internal);
                if (write_port(t, &c, m, &m->ports[i], backend, changed, e) < 0)
                        return -1;
        }
        /* ports the unit no longer publishes through a socket */
        for (size_t k = 0; k < n; k++) {
                bool wanted = false;

                for (size_t i = 0; unit_meta_idle(m) && i < m->n_ports; i++)
                        wanted |= m->ports[i].external == have[k];
                if (wanted)
                        continue;
                if (container_idle_port_remove(t, m->id, have[k], e) < 0)
                        return -1;
                *changed = true;
        }
        return 0;
}

int container_idle_boot(struct gear_tree *t, const char *id, bool on, struct gear_err *e)
{
        _cleanup_free_ unsigned *ports = NULL;
        char sock[64], proxy[64];
        size_t n;

        if (container_idle_ports(t, id, &ports, &n, e) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                unit_idle_names(id, ports[i], sock, proxy);
                if (container_boot_link(t, sock, on, e) < 0)
                        return -1;
        }
        return 0;
}

/* a flag that does not stand: the container is not idle-capable, or is recorded as stopped */
static int flag_stale(struct gear_tree *t, const char *id, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        struct unit_meta m;
        int r = container_idle_flagged(t, id, e);

        if (r <= 0)
                return r;
        if (container_read_unit(t, id, &text, e) < 0 || unit_parse_meta(text, &m, e) < 0)
                return -1;
        if (!unit_meta_idle(&m))
                return 1;
        r = container_boot_recorded(t, id, e);
        return r < 0 ? -1 : !r;
}

int container_idle_flag_settle(struct gear_tree *t, const char *id, struct gear_err *e)
{
        _cleanup_close_ int lock = -1;
        int r = flag_stale(t, id, e);

        if (r <= 0)
                return r;
        /* again under the lock: a gear-idle records the container as started before it flags it */
        if ((lock = container_lock(t, id, e)) < 0 || (r = flag_stale(t, id, e)) <= 0)
                return lock < 0 ? -1 : r;
        return container_idle_flag(t, id, false, e) < 0 ? -1 : 1;
}

int container_idle_boot_sync(struct gear_tree *t, const char *id, struct gear_err *e)
{
        int boot = container_boot_recorded(t, id, e), idle;

        if (boot < 0 || (idle = container_idle_flagged(t, id, e)) < 0)
                return -1;
        /* the sockets first: a kill in between leaves the container listening */
        if (container_idle_boot(t, id, boot, e) < 0)
                return -1;
        return boot && !idle ? container_enable(t, id, true, e) : container_unlink_boot(t, id, e);
}

/* the link of an idle unit whose file or container is gone */
static int unlink_gone(struct gear_tree *t, const char *dir, int dfd, const char *name, const char *id,
                       void *ud, struct gear_err *e)
{
        struct stat st;
        int r = fstatat(dfd, name, &st, 0) == 0 ? container_exists(t, id, e) : errno == ENOENT ? 0 : 1;

        if (r != 0)
                return r < 0 ? -1 : 0;
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s/%s'", t->units.path, dir, name);
        return 0;
}

int container_idle_unlink_gone(struct gear_tree *t, const char *dir, struct gear_err *e)
{
        return container_idle_links_each(t, dir, unlink_gone, NULL, e);
}
