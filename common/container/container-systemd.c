/* containers and the service manager: start, stop, restart, boot recovery, purge */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container-idle.h"
#include "container-run.h"
#include "../base/account.h"
#include "../base/dl-systemd.h"
#include "../base/fsutil.h"

static int loaded(struct gear_systemd *m, const char *unit, struct gear_err *e)
{
        _cleanup_free_ struct systemd_unit_state *units = NULL;
        size_t n = 0;

        if (systemd_list_units(m, unit, &units, &n, e) < 0)
                return -1;
        return n > 0;
}

int container_reload_if_loaded(struct gear_systemd *m, const char *id, const char *also, struct gear_err *e)
{
        char unit[CTR_PATH_MAX];
        int r;

        container_unit_name(id, unit);
        if ((r = loaded(m, unit, e)) == 0 && also && *also)
                r = loaded(m, also, e);
        return r < 0 ? -1 : r ? systemd_reload(m, e) : 0;
}

int container_must_load(struct gear_systemd *m, const char *unit, struct gear_err *e)
{
        struct systemd_unit_info info;

        if (systemd_unit_info(m, unit, &info, e) < 0)
                return -1;
        if (strcmp(info.load_state, "loaded"))
                return gear_err_set(e, GEAR_EXIT_SYS,
                                    "the service manager cannot load '%s': %s (systemd-analyze verify tells why)",
                                    unit, info.load_state);
        return 0;
}

int container_check_loads(struct gear_systemd *m, const char *id, const char *mount_unit, bool mount_changed,
                          bool reload, struct gear_err *e)
{
        char unit[CTR_PATH_MAX];

        container_unit_name(id, unit);
        if (reload ? systemd_reload(m, e) < 0 : container_reload_if_loaded(m, id, mount_changed ? mount_unit : NULL, e) < 0)
                return -1;
        if (mount_unit && *mount_unit && container_must_load(m, mount_unit, e) < 0)
                return -1;
        return container_must_load(m, unit, e);
}

int container_must_exist(struct gear_tree *t, const char *id, struct gear_err *e)
{
        int r = container_exists(t, id, e);

        if (r == 0) {
                gear_err_set(e, GEAR_EXIT_NO, "no container '%s'", id);
                return -ENOENT;
        }
        return r < 0 ? -1 : 0;
}

int container_lock_existing(struct gear_tree *t, const char *id, struct gear_err *e)
{
        if (root_open(&t->ctr, 0, e) < 0) {
                if (e->code == GEAR_EXIT_NO)
                        gear_err_set(e, GEAR_EXIT_NO, "no container '%s'", id);
                return e->code == GEAR_EXIT_NO ? -ENOENT : -1;
        }
        return container_lock(t, id, e);
}

/* the boot record and link set, the manager told when the unit changed; under the lock */
static int set_boot(struct gear_tree *t, struct gear_systemd *m, const char *id, bool on, struct gear_err *e)
{
        int r = container_must_exist(t, id, e);

        if (r < 0)
                return r;
        r = container_set_boot(t, id, on, e);
        if (r < 0)
                return r;
        return r > 0 ? container_reload_if_loaded(m, id, NULL, e) : 0;
}

int container_start_unit(struct gear_systemd *m, const char *id, bool restart, struct gear_err *e)
{
        struct systemd_unit_info info;
        char unit[CTR_PATH_MAX];

        container_unit_name(id, unit);
        if ((restart ? systemd_restart(m, unit, e) : systemd_start(m, unit, e)) < 0)
                return -1;
        /* the job is done once the engine is up; a container that died at once shows here */
        if (systemd_unit_info(m, unit, &info, e) < 0)
                return -1;
        if (strcmp(info.active_state, "active") && strcmp(info.active_state, "reloading") &&
            !(!strcmp(info.active_state, "activating") && strcmp(info.sub_state, "auto-restart")))
                return gear_err_set(e, GEAR_EXIT_SYS, "'%s' is %s (%s) after its %s", unit, info.active_state,
                                    info.sub_state, restart ? "restart" : "start");
        return 0;
}

static int start_locked(struct gear_tree *t, struct gear_systemd *m, const char *id, bool restart,
                        struct gear_err *e)
{
        _cleanup_close_ int lock = container_lock_existing(t, id, e);
        int r;

        if (lock < 0)
                return lock;
        r = set_boot(t, m, id, true, e);
        if (r < 0 || (r = container_start_unit(m, id, restart, e)) < 0)
                return r;
        /* it runs: it listens, and is not idle */
        if (container_idle_sockets(t, m, id, true, true, e) < 0 || container_idle_flag(t, id, false, e) < 0)
                return -1;
        return container_idle_boot_sync(t, id, e);
}

int container_start(struct gear_tree *t, struct gear_systemd *m, const char *id, struct gear_err *e)
{
        return start_locked(t, m, id, false, e);
}

int container_restart(struct gear_tree *t, struct gear_systemd *m, const char *id, struct gear_err *e)
{
        return start_locked(t, m, id, true, e);
}

int container_install_start(struct gear_tree *t, struct gear_systemd *m, struct ctr_install *in, bool *installed,
                            struct gear_err *e)
{
        *installed = false;
        in->manager = m;
        if (container_install(t, in, e) < 0)
                return -1;
        *installed = true;
        return in->start ? container_start(t, m, in->id, e) : 0;
}

int container_stop_no_block(struct gear_systemd *m, const char *unit, struct gear_err *e)
{
        _cleanup_(sym_sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        sd_bus_error be = SD_BUS_ERROR_NULL;
        int r;

        r = systemd_scope(m) == SYSTEMD_USER ? sym_sd_bus_open_user(&bus) : sym_sd_bus_open_system(&bus);
        if (r < 0)
                return gear_err_sys(e, -r, "cannot connect to the service manager");
        r = sym_sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "StopUnit", &be, NULL, "ss", unit, "replace");
        if (r < 0) {
                bool missing = sym_sd_bus_error_has_name(&be, "org.freedesktop.systemd1.NoSuchUnit") ||
                               sym_sd_bus_error_has_name(&be, "org.freedesktop.systemd1.LoadFailed");

                gear_err_set(e, missing ? GEAR_EXIT_NO : GEAR_EXIT_SYS, "cannot stop '%s': %s", unit,
                             be.message ? be.message : strerror(-r));
                sym_sd_bus_error_free(&be);
                return -1;
        }
        return 0;
}

int container_stop(struct gear_tree *t, struct gear_systemd *m, const char *id, bool no_block, struct gear_err *e)
{
        _cleanup_close_ int lock = container_lock_existing(t, id, e);
        char unit[CTR_PATH_MAX];
        int r;

        if (lock < 0)
                return lock;
        r = set_boot(t, m, id, false, e);
        if (r < 0)
                return r;
        /* stopped is not idle: no flag, no socket on boot, none listening, then no container */
        if (container_idle_flag(t, id, false, e) < 0 || container_idle_boot(t, id, false, e) < 0 ||
            container_idle_sockets(t, m, id, false, !no_block, e) < 0)
                return -1;
        container_unit_name(id, unit);
        r = no_block ? container_stop_no_block(m, unit, e) : systemd_stop(m, unit, e);
        /* a unit the manager cannot load is not running */
        if (r < 0 && e->code == GEAR_EXIT_NO) {
                gear_err_clear(e);
                return 0;
        }
        return r;
}

int container_delete(struct gear_tree *t, struct gear_systemd *m, const char *id, bool *removed,
                     struct gear_err *e)
{
        _cleanup_free_ struct systemd_unit_state *units = NULL;
        _cleanup_close_ int lock = -1;
        char unit[CTR_PATH_MAX];
        size_t n = 0;
        int r;

        *removed = false;
        if (!id_valid(id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
        /* held from before the stop to the end: a start meanwhile would run a unit that is gone */
        lock = container_lock_existing(t, id, e);
        if (lock == -ENOENT)
                gear_err_clear(e);
        else if (lock < 0)
                return -1;
        container_unit_name(id, unit);
        r = container_exists(t, id, e);
        if (r < 0 || systemd_list_units(m, unit, &units, &n, e) < 0)
                return -1;
        /* stopped while its unit file is still there: its sockets first */
        if (container_idle_sockets(t, m, id, false, true, e) < 0)
                return -1;
        if ((r > 0 || n) && systemd_stop(m, unit, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
        }
        container_pause_point("delete:after-stop");
        if (container_remove(t, id, e) < 0)
                return -1;
        *removed = true;
        /* the manager forgets it */
        if (n && (systemd_reload(m, e) < 0 || systemd_reset_failed(m, unit, e) < 0))
                return -1;
        return r;
}

static void report_err(ctr_report_fn report, void *ud, const char *unit, const char *what, struct gear_err *e)
{
        if (report)
                report(unit, what, e, ud);
        gear_err_clear(e);
}

/* a ctr-*.service link of the unit directory whose container is gone */
static int unlink_gone(struct gear_tree *t, const char *dir, int dfd, const char *name, const char *id, void *ud,
                       struct gear_err *e)
{
        int r = container_exists(t, id, e);

        if (r != 0)
                return r < 0 ? -1 : 0;
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s/%s'", t->units.path, dir, name);
        return 0;
}

/* one container of gear-init: its idle units from its unit, its links from its record and flag */
static int init_one(struct gear_tree *t, const char *id, const char **what, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        struct unit_meta meta;
        bool changed;
        int boot, idle;

        if (container_read_unit(t, id, &text, e) < 0 || unit_parse_meta(text, &meta, e) < 0 ||
            container_idle_units_write(t, &meta, &changed, e) < 0 || container_enable(t, id, false, e) < 0 ||
            container_idle_flag_settle(t, id, e) < 0 || container_idle_boot_sync(t, id, e) < 0)
                return -1;
        if ((boot = container_boot_recorded(t, id, e)) < 0 || (idle = container_idle_flagged(t, id, e)) < 0)
                return -1;
        *what = !boot ? "enabled" : idle ? "enabled, listens on boot, idle" : "enabled, starts on boot";
        return 0;
}

int container_init(struct gear_tree *t, struct gear_systemd *m, ctr_report_fn report, void *ud, struct gear_err *e)
{
        _cleanup_free_ gear_id *ids = NULL;
        size_t n = 0;
        int failed = 0;

        if (root_open(&t->ctr, ROOT_CREATE, e) < 0 || root_open(&t->units, ROOT_CREATE, e) < 0)
                return -1;
        /* a tree an older gear left open to other users */
        if (tree_make_private(t, e) < 0)
                return -1;
        /* gear-daemon.socket's SocketGroup= */
        if (account_group_ensure(UNIT_DAEMON_GROUP, e) < 0 || container_link_shared(t, e) < 0 ||
            container_link_join(t, e) < 0 || container_list(t, &ids, &n, e) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                char unit[CTR_PATH_MAX];
                const char *what;

                container_unit_name(ids[i], unit);
                if (init_one(t, ids[i], &what, e) < 0) {
                        report_err(report, ud, unit, "enable", e);
                        failed++;
                        continue;
                }
                if (report)
                        report(unit, what, NULL, ud);
        }
        if (container_links_each(t, ".", unlink_gone, NULL, e) < 0 ||
            container_links_each(t, CTR_WANTS, unlink_gone, NULL, e) < 0 ||
            container_idle_unlink_gone(t, ".", e) < 0 || container_idle_unlink_gone(t, CTR_WANTS, e) < 0)
                return -1;
        if (systemd_reload(m, e) < 0 || systemd_start(m, CTR_ACTIVE_TARGET, e) < 0 ||
            systemd_start(m, UNIT_SWITCHNS_SOCKET_NAME, e) < 0 || systemd_start(m, UNIT_DAEMON_SOCKET_NAME, e) < 0)
                return -1;
        return failed;
}

int container_purge(struct gear_tree *t, struct gear_systemd *m, ctr_report_fn report, void *ud, struct gear_err *e)
{
        static const char *const shared[] = {
                CTR_ACTIVE_TARGET, CTR_TARGET, CTR_SLICE_DEFAULT ".slice", "container.slice",
                UNIT_SWITCHNS_SOCKET_NAME, UNIT_DAEMON_SOCKET_NAME, UNIT_DAEMON_SERVICE_NAME,
        };
        _cleanup_free_ struct systemd_unit_state *units = NULL, *socks = NULL;
        _cleanup_free_ gear_id *ids = NULL;
        size_t nunits = 0, nids = 0, nsocks = 0;
        int failed = 0;

        if (systemd_list_units(m, "ctr-*.service", &units, &nunits, e) < 0 || container_list(t, &ids, &nids, e) < 0)
                return -1;
        /* the sockets of idle-capable containers first: no connection starts anything again
           (their proxies stop with their containers) */
        if (systemd_list_units(m, "ctr-*:*.socket", &socks, &nsocks, e) < 0)
                return -1;
        for (size_t i = 0; i < nsocks; i++) {
                if (systemd_stop(m, socks[i].id, e) < 0 && e->code != GEAR_EXIT_NO) {
                        report_err(report, ud, socks[i].id, "stop", e);
                        failed++;
                        continue;
                }
                gear_err_clear(e);
                if (report)
                        report(socks[i].id, "stopped", NULL, ud);
        }
        for (size_t i = 0; i < nunits + nids; i++) {
                char unit[CTR_PATH_MAX];
                gear_id id;
                bool seen = false;

                if (i < nunits) {
                        if (container_id_of_unit(units[i].id, id) < 0)
                                continue;
                } else {
                        snprintf(id, sizeof id, "%s", ids[i - nunits]);
                        /* stopped above when the manager holds it */
                        for (size_t k = 0; k < nunits && !seen; k++) {
                                gear_id held;
                                seen = container_id_of_unit(units[k].id, held) == 0 && !strcmp(held, id);
                        }
                        if (seen)
                                continue;
                }
                container_unit_name(id, unit);
                if (systemd_stop(m, unit, e) < 0 && e->code != GEAR_EXIT_NO) {
                        report_err(report, ud, unit, "stop", e);
                        failed++;
                        continue;
                }
                gear_err_clear(e);
                if (report)
                        report(unit, "stopped", NULL, ud);
        }
        for (size_t i = 0; i < ELEMENTSOF(shared); i++) {
                if (systemd_stop(m, shared[i], e) < 0 && e->code != GEAR_EXIT_NO) {
                        report_err(report, ud, shared[i], "stop", e);
                        failed++;
                        continue;
                }
                gear_err_clear(e);
                if (report)
                        report(shared[i], "stopped", NULL, ud);
        }
        if (container_unlink_all(t, e) < 0 || systemd_reload(m, e) < 0)
                return -1;
        for (size_t i = 0; i < nunits; i++)
                systemd_reset_failed(m, units[i].id, e), gear_err_clear(e);
        return failed;
}
