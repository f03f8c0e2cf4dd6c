/* gear-purge: stop and disable every gear unit, target and slice of this host */
#include <getopt.h>
#include <stdio.h>

#include "../common/container-run.h"
#include "commands.h"

static const char usage[] =
"usage: gear-purge [-v]\n";

static void report(const char *unit, const char *what, const struct gear_err *e, void *ud)
{
        bool *verbose = ud;

        if (e)
                gear_fail(e, "cannot %s '%s'", what, unit);
        else if (*verbose)
                printf("%s\t%s\n", unit, what);
}

int cmd_purge(int argc, char **argv)
{
        static const struct option options[] = {
                { "help",    no_argument, NULL, 'h' },
                { "verbose", no_argument, NULL, 'v' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        bool verbose = false;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "hv", options, NULL)) != -1)
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'v':
                        verbose = true;
                        break;
                default:
                        if (optopt)
                                return gear_usage_error(usage, "unknown option '-%c'", optopt);
                        return gear_usage_error(usage, "unknown option '%s'", argv[optind - 1]);
                }
        if (optind != argc)
                return gear_usage_error(usage, "too many arguments");
        if (tree_init(&tree, &err) < 0 || systemd_open(&m, &err) < 0)
                return gear_fail(&err, NULL);
        r = container_purge(&tree, m, report, &verbose, &err);
        if (r < 0)
                return gear_fail(&err, "cannot purge");
        if (fflush(stdout))
                return GEAR_EXIT_SYS;
        return r ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
