#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "systemd.h"
#include "../base/dl-systemd.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT "org.freedesktop.systemd1.Unit"
#define SD_SERVICE "org.freedesktop.systemd1.Service"

struct gear_systemd {
        sd_bus *bus;
        enum systemd_scope scope;
        bool subscribed;
};

/* "CONTEXT: bus message" with the code the D-Bus error name implies */
static int bus_fail(struct gear_err *e, const sd_bus_error *be, int r, const char *fmt, ...) _printf_(4, 5);
static int bus_fail(struct gear_err *e, const sd_bus_error *be, int r, const char *fmt, ...)
{
        char ctx[512], msg[512];
        int code = GEAR_EXIT_SYS;
        size_t n;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(ctx, sizeof ctx, fmt, ap);
        va_end(ap);
        if (be && sym_sd_bus_error_is_set(be)) {
                snprintf(msg, sizeof msg, "%s", be->message ? be->message : be->name);
                if (sym_sd_bus_error_has_name(be, "org.freedesktop.systemd1.NoSuchUnit") ||
                    sym_sd_bus_error_has_name(be, "org.freedesktop.systemd1.LoadFailed"))
                        code = GEAR_EXIT_NO;
                else if (sym_sd_bus_error_has_name(be, SD_BUS_ERROR_INVALID_ARGS))
                        code = GEAR_EXIT_USAGE;
        } else {
                snprintf(msg, sizeof msg, "%s", strerror(r < 0 ? -r : r));
        }
        /* systemd's messages are sentences; ours are not */
        n = strlen(msg);
        if (n && msg[n - 1] == '.')
                msg[n - 1] = 0;
        return gear_err_set(e, code, "%s: %s", ctx, msg);
}

int systemd_scope_from_env(enum systemd_scope *scope, struct gear_err *e)
{
        const char *v = getenv("GEAR_SYSTEMD");

        if (!v || !*v || !strcmp(v, "system"))
                *scope = SYSTEMD_SYSTEM;
        else if (!strcmp(v, "user"))
                *scope = SYSTEMD_USER;
        else
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid GEAR_SYSTEMD '%s' (want 'system' or 'user')", v);
        return 0;
}

/* the manager's own socket, which needs no bus daemon; NULL when we may not use it */
static bool private_socket(enum systemd_scope scope, char *buf, size_t size)
{
        const char *rt = getenv("XDG_RUNTIME_DIR");
        struct stat st;
        int n;

        if (scope == SYSTEMD_SYSTEM)
                n = geteuid() == 0 ? snprintf(buf, size, "/run/systemd/private") : -1;
        else
                n = rt && *rt == '/' ? snprintf(buf, size, "%s/systemd/private", rt) : -1;
        if (n < 0 || (size_t)n >= size || n > 100) /* sun_path */
                return false;
        return stat(buf, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == geteuid();
}

static int connect_private(sd_bus **out, const char *path)
{
        _cleanup_(sym_sd_bus_unrefp) sd_bus *bus = NULL;
        char addr[160];
        int r;

        snprintf(addr, sizeof addr, "unix:path=%s", path);
        r = sym_sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sym_sd_bus_set_address(bus, addr);
        if (r < 0)
                return r;
        r = sym_sd_bus_start(bus);
        if (r < 0)
                return r;
        *out = TAKE_PTR(bus);
        return 0;
}

int systemd_open_scope(struct gear_systemd **out, enum systemd_scope scope, struct gear_err *e)
{
        _cleanup_(sym_sd_bus_unrefp) sd_bus *bus = NULL;
        struct gear_systemd *m;
        char path[128];
        int r = -1;

        if (dl_systemd(e) < 0)
                return -1;
        if (private_socket(scope, path, sizeof path))
                r = connect_private(&bus, path);
        if (r < 0) {
                r = scope == SYSTEMD_USER ? sym_sd_bus_open_user(&bus) : sym_sd_bus_open_system(&bus);
                if (r < 0)
                        return gear_err_sys(e, -r, "cannot connect to the %s manager",
                                            scope == SYSTEMD_USER ? "user" : "system");
        }
        m = calloc(1, sizeof *m);
        if (!m)
                return gear_err_sys(e, ENOMEM, "cannot connect to the service manager");
        m->bus = TAKE_PTR(bus);
        m->scope = scope;
        *out = m;
        return 0;
}

int systemd_open(struct gear_systemd **out, struct gear_err *e)
{
        enum systemd_scope scope;

        if (systemd_scope_from_env(&scope, e) < 0)
                return -1;
        return systemd_open_scope(out, scope, e);
}

void systemd_close(struct gear_systemd *m)
{
        if (!m)
                return;
        sym_sd_bus_flush_close_unref(m->bus);
        free(m);
}

enum systemd_scope systemd_scope(const struct gear_systemd *m)
{
        return m->scope;
}

static int call(struct gear_systemd *m, const char *member, uint64_t timeout_usec, sd_bus_message **reply,
                sd_bus_error *be, const char *types, ...)
{
        _cleanup_(sym_sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        va_list ap;
        int r;

        r = sym_sd_bus_message_new_method_call(m->bus, &msg, SD_DEST, SD_PATH, SD_MANAGER, member);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sym_sd_bus_message_appendv(msg, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        return sym_sd_bus_call(m->bus, msg, timeout_usec, be, reply);
}

int systemd_reload(struct gear_systemd *m, struct gear_err *e)
{
        _cleanup_(sym_sd_bus_error_freep) sd_bus_error be = SD_BUS_ERROR_NULL;
        int r;

        r = call(m, "Reload", SYSTEMD_TIMEOUT_USEC, NULL, &be, NULL);
        if (r < 0)
                return bus_fail(e, &be, r, "cannot reload the service manager");
        return 0;
}

/* JobRemoved is only sent to subscribers */
static int subscribe(struct gear_systemd *m, struct gear_err *e)
{
        _cleanup_(sym_sd_bus_error_freep) sd_bus_error be = SD_BUS_ERROR_NULL;
        int r;

        if (m->subscribed)
                return 0;
        r = call(m, "Subscribe", 0, NULL, &be, NULL);
        if (r < 0 && !sym_sd_bus_error_has_name(&be, "org.freedesktop.systemd1.AlreadySubscribed"))
                return bus_fail(e, &be, r, "cannot subscribe to the service manager");
        m->subscribed = true;
        return 0;
}

struct job_wait {
        const char *path; /* set once StartUnit... answered */
        bool done;
        char result[32];
};

static int on_job_removed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
        struct job_wait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sym_sd_bus_message_read(msg, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (w->path && !strcmp(path, w->path)) {
                w->done = true;
                snprintf(w->result, sizeof w->result, "%s", result);
        }
        return 0;
}

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *verb_method(enum systemd_verb verb)
{
        switch (verb) {
        case SYSTEMD_START:
                return "StartUnit";
        case SYSTEMD_STOP:
                return "StopUnit";
        default:
                return "RestartUnit";
        }
}

static const char *verb_name(enum systemd_verb verb)
{
        switch (verb) {
        case SYSTEMD_START:
                return "start";
        case SYSTEMD_STOP:
                return "stop";
        default:
                return "restart";
        }
}

int systemd_job(struct gear_systemd *m, enum systemd_verb verb, const char *unit, uint64_t timeout_usec,
                char *result, size_t result_size, struct gear_err *e)
{
        _cleanup_(sym_sd_bus_error_freep) sd_bus_error be = SD_BUS_ERROR_NULL;
        _cleanup_(sym_sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sym_sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        struct job_wait w = {0};
        uint64_t deadline = timeout_usec ? now_usec() + timeout_usec : UINT64_MAX;
        const char *path;
        int r;

        if (result && result_size)
                *result = 0;
        if (subscribe(m, e) < 0)
                return -1;
        /* match first: the job may end before its StartUnit call returns */
        r = sym_sd_bus_match_signal(m->bus, &slot, sym_sd_bus_is_bus_client(m->bus) ? SD_DEST : NULL, SD_PATH,
                                SD_MANAGER, "JobRemoved", on_job_removed, &w);
        if (r < 0)
                return bus_fail(e, NULL, r, "cannot watch the jobs of the service manager");
        r = call(m, verb_method(verb), SYSTEMD_TIMEOUT_USEC, &reply, &be, "ss", unit, "replace");
        if (r < 0)
                return bus_fail(e, &be, r, "cannot %s '%s'", verb_name(verb), unit);
        r = sym_sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return bus_fail(e, NULL, r, "cannot %s '%s': bad answer", verb_name(verb), unit);
        w.path = path;
        while (!w.done) {
                uint64_t now;

                r = sym_sd_bus_process(m->bus, NULL);
                if (r < 0)
                        return bus_fail(e, NULL, r, "cannot wait for the %s job of '%s'", verb_name(verb),
                                        unit);
                if (r > 0)
                        continue;
                now = now_usec();
                if (now >= deadline)
                        return gear_err_set(e, GEAR_EXIT_SYS, "timed out waiting for the %s job of '%s'",
                                            verb_name(verb), unit);
                r = sym_sd_bus_wait(m->bus, deadline == UINT64_MAX ? UINT64_MAX : deadline - now);
                if (r < 0)
                        return bus_fail(e, NULL, r, "cannot wait for the %s job of '%s'", verb_name(verb),
                                        unit);
        }
        if (result && result_size)
                snprintf(result, result_size, "%s", w.result);
        if (strcmp(w.result, "done"))
                return gear_err_set(e, GEAR_EXIT_SYS, "%s job for '%s' failed: result '%s'", verb_name(verb),
                                    unit, w.result);
        return 0;
}

int systemd_queue(struct gear_systemd *m, enum systemd_verb verb, const char *unit, struct gear_err *e)
{
        _cleanup_(sym_sd_bus_error_freep) sd_bus_error be = SD_BUS_ERROR_NULL;
        int r;

        r = call(m, verb_method(verb), SYSTEMD_TIMEOUT_USEC, NULL, &be, "ss", unit, "replace");
        if (r < 0)
                return bus_fail(e, &be, r, "cannot %s '%s'", verb_name(verb), unit);
        return 0;
}

int systemd_start(struct gear_systemd *m, const char *unit, struct gear_err *e)
{
        return systemd_job(m, SYSTEMD_START, unit, SYSTEMD_TIMEOUT_USEC, NULL, 0, e);
}

int systemd_stop(struct gear_systemd *m, const char *unit, struct gear_err *e)
{
        return systemd_job(m, SYSTEMD_STOP, unit, SYSTEMD_TIMEOUT_USEC, NULL, 0, e);
}

int systemd_restart(struct gear_systemd *m, const char *unit, struct gear_err *e)
{
        return systemd_job(m, SYSTEMD_RESTART, unit, SYSTEMD_TIMEOUT_USEC, NULL, 0, e);
}

int systemd_reset_failed(struct gear_systemd *m, const char *unit, struct gear_err *e)
{
        _cleanup_(sym_sd_bus_error_freep) sd_bus_error be = SD_BUS_ERROR_NULL;
        int r;

        r = call(m, "ResetFailedUnit", 0, NULL, &be, "s", unit);
        if (r < 0 && !sym_sd_bus_error_has_name(&be, "org.freedesktop.systemd1.NoSuchUnit"))
                return bus_fail(e, &be, r, "cannot reset the state of '%s'", unit);
        return 0;
}

/* one property GetAll may carry */
struct prop {
        const char *name;
        char type; /* 's', 'u', 'i' or 't' */
        void *dst;
        size_t size; /* of a string buffer */
};

static int read_props(sd_bus_message *reply, const struct prop *props, size_t n)
{
        int r;

        r = sym_sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sym_sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const struct prop *p = NULL;
                const char *name;

                r = sym_sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (!strcmp(props[i].name, name))
                                p = &props[i];
                if (!p) {
                        r = sym_sd_bus_message_skip(reply, "v");
                } else if (p->type == 's') {
                        const char *s;

                        r = sym_sd_bus_message_read(reply, "v", "s", &s);
                        if (r >= 0)
                                snprintf(p->dst, p->size, "%s", s);
                } else {
                        char sig[2] = { p->type, 0 };

                        r = sym_sd_bus_message_read(reply, "v", sig, p->dst);
                }
                if (r < 0)
                        return r;
                r = sym_sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sym_sd_bus_message_exit_container(reply);
}

static int get_all(struct gear_systemd *m, const char *path, const char *iface, const struct prop *props,
                   size_t n, sd_bus_error *be)
{
        _cleanup_(sym_sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sym_sd_bus_call_method(m->bus, SD_DEST, path, "org.freedesktop.DBus.Properties", "GetAll", be, &reply,
                               "s", iface);
        if (r < 0)
                return r;
        return read_props(reply, props, n);
}

int systemd_unit_info(struct gear_systemd *m, const char *unit, struct systemd_unit_info *info,
                      struct gear_err *e)
{
        _cleanup_(sym_sd_bus_error_freep) sd_bus_error be = SD_BUS_ERROR_NULL;
        _cleanup_(sym_sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint32_t main_pid = 0, n_restarts = 0;
        int32_t status = 0;
        const char *path;
        size_t len = strlen(unit);
        int r;

        memset(info, 0, sizeof *info);
        struct prop unit_props[] = {
                { "Id", 's', info->id, sizeof info->id },
                { "LoadState", 's', info->load_state, sizeof info->load_state },
                { "ActiveState", 's', info->active_state, sizeof info->active_state },
                { "SubState", 's', info->sub_state, sizeof info->sub_state },
                { "FragmentPath", 's', info->fragment_path, sizeof info->fragment_path },
                { "ActiveEnterTimestamp", 't', &info->active_enter_usec, 0 },
                { "InactiveEnterTimestamp", 't', &info->inactive_enter_usec, 0 },
        };
        struct prop service_props[] = {
                { "MainPID", 'u', &main_pid, 0 },
                { "ExecMainStatus", 'i', &status, 0 },
                { "Result", 's', info->result, sizeof info->result },
                { "NRestarts", 'u', &n_restarts, 0 },
        };

        r = call(m, "LoadUnit", 0, &reply, &be, "s", unit);
        if (r < 0)
                return bus_fail(e, &be, r, "cannot load '%s'", unit);
        r = sym_sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return bus_fail(e, NULL, r, "cannot load '%s': bad answer", unit);
        r = get_all(m, path, SD_UNIT, unit_props, ELEMENTSOF(unit_props), &be);
        if (r < 0)
                return bus_fail(e, &be, r, "cannot read the state of '%s'", unit);
        if (len > 8 && !strcmp(unit + len - 8, ".service") && strcmp(info->load_state, "not-found")) {
                r = get_all(m, path, SD_SERVICE, service_props, ELEMENTSOF(service_props), &be);
                if (r < 0)
                        return bus_fail(e, &be, r, "cannot read the state of '%s'", unit);
        }
        info->main_pid = main_pid;
        info->exec_main_status = status;
        info->n_restarts = n_restarts;
        return 0;
}

static int compare_state(const void *a, const void *b)
{
        return strcmp(((const struct systemd_unit_state *)a)->id, ((const struct systemd_unit_state *)b)->id);
}

int systemd_list_units(struct gear_systemd *m, const char *pattern, struct systemd_unit_state **out,
                       size_t *n, struct gear_err *e)
{
        _cleanup_(sym_sd_bus_error_freep) sd_bus_error be = SD_BUS_ERROR_NULL;
        _cleanup_(sym_sd_bus_message_unrefp) sd_bus_message *msg = NULL, *reply = NULL;
        _cleanup_free_ struct systemd_unit_state *v = NULL;
        size_t count = 0, alloc = 0;
        const char *id, *desc, *load, *active, *sub, *follow, *upath, *jtype, *jpath;
        uint32_t jid;
        int r;

        r = sym_sd_bus_message_new_method_call(m->bus, &msg, SD_DEST, SD_PATH, SD_MANAGER, "ListUnitsByPatterns");
        if (r >= 0)
                r = sym_sd_bus_message_append(msg, "as", 0);
        if (r >= 0)
                r = sym_sd_bus_message_append(msg, "as", 1, pattern);
        if (r < 0)
                return bus_fail(e, NULL, r, "cannot list units");
        r = sym_sd_bus_call(m->bus, msg, SYSTEMD_TIMEOUT_USEC, &be, &reply);
        if (r < 0)
                return bus_fail(e, &be, r, "cannot list units");
        r = sym_sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                return bus_fail(e, NULL, r, "cannot list units: bad answer");
        while ((r = sym_sd_bus_message_read(reply, "(ssssssouso)", &id, &desc, &load, &active, &sub, &follow,
                                        &upath, &jid, &jtype, &jpath)) > 0) {
                if (count == alloc) {
                        struct systemd_unit_state *nv;

                        alloc = alloc ? alloc * 2 : 16;
                        nv = reallocarray(v, alloc, sizeof *v);
                        if (!nv)
                                return gear_err_sys(e, ENOMEM, "cannot list units");
                        v = nv;
                }
                snprintf(v[count].id, sizeof v[count].id, "%s", id);
                snprintf(v[count].load_state, sizeof v[count].load_state, "%s", load);
                snprintf(v[count].active_state, sizeof v[count].active_state, "%s", active);
                snprintf(v[count].sub_state, sizeof v[count].sub_state, "%s", sub);
                v[count].job_id = jid;
                count++;
        }
        if (r < 0)
                return bus_fail(e, NULL, r, "cannot list units: bad answer");
        if (count)
                qsort(v, count, sizeof *v, compare_state);
        *out = TAKE_PTR(v);
        *n = count;
        return 0;
}
