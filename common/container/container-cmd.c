#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container-cmd.h"
#include "container-idle.h"
#include "container-run.h"
#include "../hosts/targets.h"

static const char *const verb_name[] = {
        [VERB_START] = "start", [VERB_STOP] = "stop", [VERB_RESTART] = "restart", [VERB_IDLE] = "idle",
        [VERB_UNIDLE] = "unidle",
};

struct cmd_opts {
        bool flag;               /* -n, -v */
        char timeout[UNIT_TIMESPAN_MAX];
        bool timeout_set;
        struct port_range range;
};

/*
 * getopt over the options in shorts ("h" always; "t" and "r" are gear-idle's
 * --timeout and --port-range); returns -1 to go on, else an exit code
 */
static int parse_opts(int argc, char **argv, const char *usage, const char *shorts, struct cmd_opts *o)
{
        static const struct option options[] = {
                { "help",       no_argument,       NULL, 'h' },
                { "no-block",   no_argument,       NULL, 'n' },
                { "port-range", required_argument, NULL, 'r' },
                { "timeout",    required_argument, NULL, 't' },
                { "verbose",    no_argument,       NULL, 'v' },
                {}
        };
        struct gear_err err = {0};
        int c;

        opterr = 0;
        o->range = PORT_RANGE_DEFAULT;
        while ((c = getopt_long(argc, argv, shorts, options, NULL)) != -1) {
                if (c == 'h')
                        return gear_help(usage);
                if (c == ':')
                        return gear_usage_error(usage, "option '%s' needs an argument", argv[optind - 1]);
                if (c == '?' || !strchr(shorts, c))
                        return gear_bad_option(usage, argv);
                if (c == 't' && unit_timespan_parse(optarg, o->timeout, &err) < 0)
                        return gear_fail(&err, NULL);
                if (c == 'r' && port_range_parse(optarg, &o->range, &err) < 0)
                        return gear_fail(&err, NULL);
                o->timeout_set |= c == 't';
                o->flag |= c == 'n' || c == 'v';
        }
        return -1;
}

int container_act(struct gear_tree *t, struct gear_systemd *m, const char *id, enum ctr_verb verb,
                  const char *timeout, struct port_range range, struct gear_err *e)
{
        switch (verb) {
        case VERB_START:
                return container_start(t, m, id, e);
        case VERB_STOP:
                return container_stop(t, m, id, false, e);
        case VERB_IDLE:
                return container_make_idle(t, m, id, timeout, range, e);
        case VERB_UNIDLE:
                return container_unidle(t, m, id, e);
        default:
                return container_restart(t, m, id, e);
        }
}

static int act(struct gear_tree *t, struct gear_systemd *m, const char *id, enum ctr_verb verb,
               const struct cmd_opts *o, struct gear_err *e)
{
        /* gear-stop --no-block returns once the job is queued */
        if (verb == VERB_STOP && o->flag)
                return container_stop(t, m, id, true, e);
        return container_act(t, m, id, verb, o->timeout_set ? o->timeout : NULL, o->range, e);
}

int container_cmd_ids(int argc, char **argv, const char *usage, enum ctr_verb verb)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        _cleanup_free_ gear_id *ids = NULL;
        struct cmd_opts o = {0};
        int k = 0, n;

        k = parse_opts(argc, argv, usage, verb == VERB_STOP ? "hn" : verb == VERB_IDLE ? ":ht:r:" : "h", &o);
        if (k >= 0)
                return k;
        if ((k = targets_run(argc, argv, 0, -1)) >= 0)
                return k;
        k = 0;
        if (optind == argc)
                return gear_usage_error(usage, "missing ID");
        n = argc - optind;
        argv += optind;
        ids = calloc(n, sizeof *ids);
        if (!ids)
                return gear_fail(&err, "out of memory");
        for (int i = 0; i < n; i++)
                if (id_parse(argv[i], ids[i], &err) < 0)
                        return gear_fail(&err, NULL);
        if (tree_init(&tree, &err) < 0 || systemd_open(&m, &err) < 0)
                return gear_fail(&err, NULL);
        for (int i = 0; i < n; i++) {
                int r = act(&tree, m, ids[i], verb, &o, &err);

                if (r == 0)
                        continue;
                r = gear_fail(&err, "cannot %s '%s'", verb_name[verb], ids[i]);
                if (!k)
                        k = r;
                /* a job that failed: show why */
                if (r == GEAR_EXIT_SYS) {
                        _cleanup_free_ char *why = NULL;
                        size_t len;

                        if (container_failure_text(m, ids[i], &why, &len) == 0 && why)
                                fputs(why, stderr);
                }
                gear_err_clear(&err);
        }
        return k;
}

static void report(const char *unit, const char *what, const struct gear_err *e, void *ud)
{
        bool *verbose = ud;

        if (e)
                gear_fail(e, "cannot %s '%s'", what, unit);
        else if (*verbose)
                printf("%s\t%s\n", unit, what);
}

int container_cmd_host(int argc, char **argv, const char *usage, enum host_verb verb)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        struct cmd_opts o = {0};
        bool *verbose = &o.flag;
        int r;

        r = parse_opts(argc, argv, usage, "hv", &o);
        if (r >= 0)
                return r;
        if (optind != argc)
                return gear_usage_error(usage, "too many arguments");
        if (tree_init(&tree, &err) < 0 || systemd_open(&m, &err) < 0)
                return gear_fail(&err, NULL);
        if (verb == VERB_INIT)
                r = container_init(&tree, m, report, verbose, &err);
        else
                r = container_purge(&tree, m, report, verbose, &err);
        if (r < 0)
                return gear_fail(&err, verb == VERB_INIT ? "cannot start the containers" : "cannot purge");
        if (fflush(stdout))
                return GEAR_EXIT_SYS;
        return r ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
