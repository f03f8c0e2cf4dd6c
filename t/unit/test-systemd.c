/*
 * tests of the sd-bus layer in common/systemd/systemd.c.  Without arguments: the
 * parts that need no manager, as TAP.  With arguments it drives a manager
 * for t/t1000-systemd-lib.sh (scope from GEAR_SYSTEMD):
 *   test-systemd reload
 *   test-systemd start|stop|restart UNIT   prints the job result
 *   test-systemd reset-failed UNIT
 *   test-systemd info UNIT                 prints "KEY<TAB>VALUE" lines
 *   test-systemd list PATTERN              prints "UNIT<TAB>LOAD<TAB>ACTIVE<TAB>SUB" lines
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/systemd/systemd.h"

#include "tap.h"

static void scope_is(const char *value, int want)
{
        struct gear_err e = {0};
        enum systemd_scope scope = -1;
        char what[128];

        if (value)
                setenv("GEAR_SYSTEMD", value, 1);
        else
                unsetenv("GEAR_SYSTEMD");
        snprintf(what, sizeof what, "GEAR_SYSTEMD=%s is the %s manager", value ? value : "(unset)",
                 want == SYSTEMD_USER ? "user" : "system");
        ok(systemd_scope_from_env(&scope, &e) == 0 && (int)scope == want, what);
}

static int tests(void)
{
        struct gear_err e = {0};
        struct gear_systemd *m = NULL;
        enum systemd_scope scope;

        scope_is(NULL, SYSTEMD_SYSTEM);
        scope_is("", SYSTEMD_SYSTEM);
        scope_is("system", SYSTEMD_SYSTEM);
        scope_is("user", SYSTEMD_USER);
        setenv("GEAR_SYSTEMD", "session", 1);
        ok(systemd_scope_from_env(&scope, &e) == -1 && e.code == GEAR_EXIT_USAGE &&
           !strcmp(e.msg, "invalid GEAR_SYSTEMD 'session' (want 'system' or 'user')"), "GEAR_SYSTEMD=session refused");
        ok(systemd_open(&m, &e) == -1 && !m && e.code == GEAR_EXIT_USAGE, "open refuses it too");

        /* no user manager anywhere: a system failure, named */
        setenv("GEAR_SYSTEMD", "user", 1);
        setenv("XDG_RUNTIME_DIR", "/nonexistent/run", 1);
        unsetenv("DBUS_SESSION_BUS_ADDRESS");
        gear_err_clear(&e);
        ok(systemd_open(&m, &e) == -1 && !m && e.code == GEAR_EXIT_SYS &&
           !strcmp(e.msg, "cannot connect to the user manager: No such file or directory"),
           "no user manager: 111 and a message");
        if (e.code != GEAR_EXIT_SYS)
                printf("# got %d '%s'\n", e.code, e.msg);
        printf("1..%d\n", count);
        return failed ? 1 : 0;
}

static int drive(int argc, char **argv)
{
        _cleanup_(gear_err_clear) struct gear_err e = {0};
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        const char *verb = argv[1], *arg = argc > 2 ? argv[2] : NULL;
        char result[32];

        if ((!strcmp(verb, "reload") && argc != 2) || (strcmp(verb, "reload") && argc != 3))
                return GEAR_EXIT_USAGE;
        if (systemd_open(&m, &e) < 0)
                return gear_fail(&e, NULL);
        if (!strcmp(verb, "reload")) {
                if (systemd_reload(m, &e) < 0)
                        return gear_fail(&e, NULL);
        } else if (!strcmp(verb, "start") || !strcmp(verb, "stop") || !strcmp(verb, "restart")) {
                enum systemd_verb v = *verb == 's' ? (verb[2] == 'a' ? SYSTEMD_START : SYSTEMD_STOP) : SYSTEMD_RESTART;
                int r = systemd_job(m, v, arg, SYSTEMD_TIMEOUT_USEC, result, sizeof result, &e);

                if (*result)
                        printf("%s\n", result);
                fflush(stdout);
                if (r < 0)
                        return gear_fail(&e, NULL);
        } else if (!strcmp(verb, "reset-failed")) {
                if (systemd_reset_failed(m, arg, &e) < 0)
                        return gear_fail(&e, NULL);
        } else if (!strcmp(verb, "info")) {
                struct systemd_unit_info i;

                if (systemd_unit_info(m, arg, &i, &e) < 0)
                        return gear_fail(&e, NULL);
                printf("id\t%s\nload\t%s\nactive\t%s\nsub\t%s\nfragment\t%s\nresult\t%s\nmain-pid\t%d\n"
                       "status\t%d\nrestarts\t%u\nactive-enter\t%llu\ninactive-enter\t%llu\n",
                       i.id, i.load_state, i.active_state, i.sub_state, i.fragment_path, i.result, (int)i.main_pid,
                       i.exec_main_status, i.n_restarts, (unsigned long long)i.active_enter_usec,
                       (unsigned long long)i.inactive_enter_usec);
        } else if (!strcmp(verb, "list")) {
                _cleanup_free_ struct systemd_unit_state *v = NULL;
                size_t n;

                if (systemd_list_units(m, arg, &v, &n, &e) < 0)
                        return gear_fail(&e, NULL);
                for (size_t k = 0; k < n; k++)
                        printf("%s\t%s\t%s\t%s\n", v[k].id, v[k].load_state, v[k].active_state, v[k].sub_state);
        } else {
                return GEAR_EXIT_USAGE;
        }
        return fflush(stdout) ? GEAR_EXIT_SYS : 0;
}

int main(int argc, char **argv)
{
        gear_prog = "test-systemd";
        if (argc > 1)
                return drive(argc, argv);
        return tests();
}
