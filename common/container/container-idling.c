/* containers that idle, with the service manager: gear-idle, gear-unidle and the hooks of the proxies */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "container-idle.h"
#include "container-run.h"
#include "../base/fsutil.h"

/* the idle units of id the manager holds in memory */
static int idle_units_held(struct gear_systemd *m, const char *id, struct systemd_unit_state **units, size_t *n,
                           struct gear_err *e)
{
        char pattern[64];

        snprintf(pattern, sizeof pattern, "ctr-%s:*", id);
        return systemd_list_units(m, pattern, units, n, e);
}

/* stop, ignoring a unit the manager does not know */
static int stop_unit(struct gear_systemd *m, const char *unit, struct gear_err *e)
{
        if (systemd_stop(m, unit, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
        }
        return 0;
}

int container_idle_sockets(struct gear_tree *t, struct gear_systemd *m, const char *id, bool start, bool wait,
                           struct gear_err *e)
{
        _cleanup_free_ struct systemd_unit_state *units = NULL;
        _cleanup_free_ unsigned *ports = NULL;
        char sock[64], proxy[64];
        size_t n = 0;

        if (start) {
                if (container_idle_ports(t, id, &ports, &n, e) < 0)
                        return -1;
                for (size_t i = 0; i < n; i++) {
                        unit_idle_names(id, ports[i], sock, proxy);
                        if (systemd_start(m, sock, e) < 0)
                                return -1;
                }
                return 0;
        }
        /* what the manager holds, files or not: the sockets, so that nothing starts again, then the proxies */
        if (idle_units_held(m, id, &units, &n, e) < 0)
                return -1;
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < n; i++) {
                        gear_id owner;
                        unsigned port;
                        bool socket;

                        if (unit_idle_of_name(units[i].id, owner, &port, &socket) < 0 || socket != (pass == 0))
                                continue;
                        if (!wait) {
                                if (systemd_queue(m, SYSTEMD_STOP, units[i].id, e) < 0)
                                        return -1;
                                continue;
                        }
                        if (stop_unit(m, units[i].id, e) < 0 || systemd_reset_failed(m, units[i].id, e) < 0)
                                return -1;
                }
        return 0;
}

int container_idle_held(struct gear_systemd *m, const char *id, struct gear_err *e)
{
        _cleanup_free_ struct systemd_unit_state *units = NULL;
        size_t n = 0;

        return idle_units_held(m, id, &units, &n, e) < 0 ? -1 : n > 0;
}

int container_idle_check_loads(struct gear_systemd *sd, const struct unit_meta *m, struct gear_err *e)
{
        char sock[64], proxy[64];

        for (size_t i = 0; unit_meta_idle(m) && i < m->n_ports; i++) {
                unit_idle_names(m->id, m->ports[i].external, sock, proxy);
                if (container_must_load(sd, proxy, e) < 0 || container_must_load(sd, sock, e) < 0)
                        return -1;
        }
        return 0;
}

int container_idle_update(struct gear_tree *t, struct gear_systemd *m, const char *id, const struct unit_meta *old,
                          struct gear_err *e)
{
        _cleanup_free_ unsigned *now = NULL;
        char sock[64], proxy[64];
        size_t n = 0;
        int flagged;

        if (container_idle_ports(t, id, &now, &n, e) < 0)
                return -1;
        for (size_t i = 0; i < old->n_ports; i++) {
                bool kept = false;

                if (!unit_meta_backend(old, &old->ports[i]))
                        continue;
                for (size_t k = 0; k < n; k++)
                        kept |= now[k] == old->ports[i].external;
                unit_idle_names(id, old->ports[i].external, sock, proxy);
                if (!kept && (stop_unit(m, proxy, e) < 0 || stop_unit(m, sock, e) < 0))
                        return -1;
        }
        flagged = container_idle_flagged(t, id, e);
        return flagged <= 0 ? flagged : container_idle_sockets(t, m, id, true, true, e);
}

/*
 * Recorded as started, linked to listen on boot and not to run, then
 * flagged: a boot after a kill anywhere finds the links of a container that
 * runs or of one that idles, and gear-init what it trusts. The manager is
 * told when the unit changed. The caller holds the lock.
 */
static int mark_idle(struct gear_tree *t, struct gear_systemd *m, const char *id, struct gear_err *e)
{
        int r = container_set_boot(t, id, true, e);

        if (r < 0 || container_idle_boot(t, id, true, e) < 0 || container_unlink_boot(t, id, e) < 0 ||
            container_idle_flag(t, id, true, e) < 0)
                return -1;
        container_crash_point("idle-flag");
        return r > 0 ? container_reload_if_loaded(m, id, NULL, e) : 0;
}

/* the caller holds the lock and saw the container idle-capable */
static int idle_locked(struct gear_tree *t, struct gear_systemd *m, const char *id, struct gear_err *e)
{
        char unit[CTR_PATH_MAX];

        if (mark_idle(t, m, id, e) < 0)
                return -1;
        container_unit_name(id, unit);
        if (stop_unit(m, unit, e) < 0)
                return -1;
        container_crash_point("idle-stop");
        /* a container that held its ports itself until now has freed them */
        return container_idle_sockets(t, m, id, true, true, e);
}

static int read_meta(struct gear_tree *t, const char *id, struct unit_meta *meta, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        int r = container_read_unit(t, id, &text, e);

        if (r < 0)
                return r;
        if (unit_parse_meta(text, meta, e) < 0)
                return gear_err_wrap(e, "in the unit of '%s'", id);
        return 0;
}

int container_idle(struct gear_tree *t, struct gear_systemd *m, const char *id, struct gear_err *e)
{
        _cleanup_close_ int lock = container_lock_existing(t, id, e);
        struct unit_meta meta;
        int r;

        if (lock < 0)
                return lock;
        if ((r = container_must_exist(t, id, e)) < 0 || (r = read_meta(t, id, &meta, e)) < 0)
                return r;
        if (!unit_meta_idle(&meta))
                return gear_err_set(e, GEAR_EXIT_SYS, "'%s' was changed meanwhile: it is not idle-capable", id);
        return idle_locked(t, m, id, e);
}

/* an install of id was interrupted: units/<ab>/<ID>/.installing is there */
static bool install_interrupted(struct gear_tree *t, const char *id)
{
        char rel[CTR_PATH_MAX + 16];
        struct stat st;

        container_versions_rel(id, rel);
        strcat(rel, "/" CTR_FLAG);
        return fstatat(t->ctr.fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int container_make_idle(struct gear_tree *t, struct gear_systemd *m, const char *id, const char *timeout,
                        struct port_range range, struct gear_err *e)
{
        struct unit_meta meta;

        if (read_meta(t, id, &meta, e) < 0)
                return -1;
        /* installed again when it changes, and to finish an install a kill interrupted */
        if (!unit_meta_idle(&meta) || (timeout && strcmp(timeout, meta.idle_timeout)) ||
            install_interrupted(t, id)) {
                struct ctr_install in = { .id = id, .range = range, .idle = true, .idle_timeout = timeout,
                                          .reuse_unit = true, .manager = m };

                if (container_install(t, &in, e) < 0)
                        return -1;
        }
        return container_idle(t, m, id, e);
}

int container_unidle(struct gear_tree *t, struct gear_systemd *m, const char *id, struct gear_err *e)
{
        _cleanup_close_ int lock = container_lock_existing(t, id, e);
        int r;

        if (lock < 0)
                return lock;
        if ((r = container_must_exist(t, id, e)) < 0 || (r = container_idle_flagged(t, id, e)) < 0)
                return r < 0 ? r : -1;
        if (!r)
                return gear_err_set(e, GEAR_EXIT_NO, "'%s' is not idle", id);
        /* the flag stays until it runs: a start that fails leaves it idle */
        r = container_set_boot(t, id, true, e);
        if (r < 0 || (r > 0 && container_reload_if_loaded(m, id, NULL, e) < 0))
                return -1;
        if (container_start_unit(m, id, false, e) < 0 || container_idle_sockets(t, m, id, true, true, e) < 0)
                return -1;
        if (container_idle_flag(t, id, false, e) < 0)
                return -1;
        return container_idle_boot_sync(t, id, e);
}

int container_idle_wake(struct gear_tree *t, const char *id, unsigned backend, struct gear_err *e)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(backend),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct timespec start, now;
        int r;

        {
                _cleanup_close_ int lock = container_lock_existing(t, id, e);

                if (lock < 0 || (r = container_must_exist(t, id, e)) < 0 || (r = container_idle_flagged(t, id, e)) < 0)
                        return -1;
                if (r && (container_idle_flag(t, id, false, e) < 0 || container_idle_boot_sync(t, id, e) < 0))
                        return -1;
        }
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                int err = 0;
                socklen_t len = sizeof err;

                if (fd < 0)
                        return gear_err_sys(e, errno, "cannot make a socket");
                if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
                        return 0;
                if (errno == EINPROGRESS && poll(&p, 1, 1000) == 1 &&
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
                        return 0;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec >= CTR_IDLE_WAKE_SECONDS)
                        return gear_err_set(e, GEAR_EXIT_SYS,
                                            "'%s' accepts no connection on 127.0.0.1:%u after %d seconds", id,
                                            backend, CTR_IDLE_WAKE_SECONDS);
                usleep(10000);
        }
}

int container_idle_prime(const char *address, struct gear_err *e)
{
        char host[64];
        const char *colon = strrchr(address, ':');
        struct sockaddr_storage ss = {0};
        socklen_t len;
        unsigned long port;
        char *end;

        if (!colon || (size_t)(colon - address) >= sizeof host)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid address '%s'", address);
        port = strtoul(colon + 1, &end, 10);
        memcpy(host, address, colon - address);
        host[colon - address] = 0;
        if (*end || !port || port > 65535)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid address '%s'", address);
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

                host[strlen(host) - 1] = 0;
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(port);
                if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid address '%s'", address);
                len = sizeof *s6;
        } else {
                struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

                s4->sin_family = AF_INET;
                s4->sin_port = htons(port);
                if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid address '%s'", address);
                len = sizeof *s4;
        }
        _cleanup_close_ int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
                return gear_err_sys(e, errno, "cannot connect to '%s'", address);
        return 0;
}

/*
 * The container lock for a proxy's stop hook, without waiting for a command
 * that waits for this very stop: 0 and no lock when the manager meanwhile
 * queued a job for the proxy (someone else acts on the container).
 */
static int lock_unless_stopped(struct gear_tree *t, struct gear_systemd *m, const char *id, const char *proxy,
                               struct gear_err *e)
{
        char rel[16];

        snprintf(rel, sizeof rel, "units/%.2s", id);
        for (int tries = 0; tries < 600; tries++) {
                _cleanup_free_ struct systemd_unit_state *units = NULL;
                size_t n = 0;
                int fd = lock_dir(&t->ctr, rel, LOCK_EX | LOCK_NB, e);

                if (fd >= 0 || e->code != GEAR_EXIT_NO)
                        return fd;
                gear_err_clear(e);
                if (systemd_list_units(m, proxy, &units, &n, e) < 0)
                        return -1;
                if (n && units[0].job_id)
                        return 0;
                usleep(50000);
        }
        return gear_err_set(e, GEAR_EXIT_SYS, "the lock of '%s' stayed busy for 30 seconds", id);
}

/* nothing of id but its socket units stays up: not when a proxy runs, or a socket is down */
static int quiet(struct gear_systemd *m, const char *id, const char *proxy, struct gear_err *e)
{
        _cleanup_free_ struct systemd_unit_state *units = NULL;
        size_t n = 0;

        if (idle_units_held(m, id, &units, &n, e) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                gear_id owner;
                unsigned port;
                bool socket;

                if (unit_idle_of_name(units[i].id, owner, &port, &socket) < 0 || !strcmp(units[i].id, proxy))
                        continue;
                if (socket ? strcmp(units[i].active_state, "active") :
                             !strcmp(units[i].active_state, "active") || !strcmp(units[i].active_state, "activating"))
                        return 0;
        }
        return 1;
}

int container_idle_ended(struct gear_tree *t, struct gear_systemd *m, const char *id, unsigned port,
                         const char *exit_code, const char *exit_status, struct gear_err *e)
{
        _cleanup_close_ int lock = -1;
        struct systemd_unit_info info;
        struct unit_meta meta;
        char sock[64], proxy[64], unit[CTR_PATH_MAX];
        int r;

        /* stopped (SIGTERM) or failed: only a quiet exit idles the container */
        if (!exit_code || strcmp(exit_code, "exited") || !exit_status || strcmp(exit_status, "0"))
                return 0;
        unit_idle_names(id, port, sock, proxy);
        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        lock = lock_unless_stopped(t, m, id, proxy, e);
        if (lock <= 0)
                return lock;
        if ((r = container_exists(t, id, e)) <= 0 || (r = read_meta(t, id, &meta, e)) < 0)
                return r < 0 ? -1 : 0;
        container_unit_name(id, unit);
        if (!unit_meta_idle(&meta) || (r = quiet(m, id, proxy, e)) <= 0 ||
            systemd_unit_info(m, unit, &info, e) < 0)
                return r < 0 ? -1 : 0;
        if (strcmp(info.active_state, "active"))
                return 0;
        if (mark_idle(t, m, id, e) < 0)
                return -1;
        /* queued, not waited for: the stop of the container waits for this proxy's */
        return systemd_queue(m, SYSTEMD_STOP, unit, e);
}
