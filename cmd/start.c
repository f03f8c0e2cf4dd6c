/* gear-start: start containers and have them start on boot */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "../common/container-run.h"
#include "commands.h"

static const char usage[] =
"usage: gear-start ID...\n";

/* every ID is checked before any is started */
static int start_all(int n, char **args)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        _cleanup_free_ gear_id *ids = calloc(n, sizeof *ids);
        int k = 0;

        if (!ids)
                return gear_fail(&err, "out of memory");
        for (int i = 0; i < n; i++)
                if (id_parse(args[i], ids[i], &err) < 0)
                        return gear_fail(&err, NULL);
        if (tree_init(&tree, &err) < 0 || systemd_open(&m, &err) < 0)
                return gear_fail(&err, NULL);
        for (int i = 0; i < n; i++) {
                int r = container_start(&tree, m, ids[i], &err);

                if (r == 0)
                        continue;
                r = gear_fail(&err, "cannot start '%s'", ids[i]);
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

int cmd_start(int argc, char **argv)
{
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1)
                switch (c) {
                case 'h':
                        return gear_help(usage);
                default:
                        if (optopt)
                                return gear_usage_error(usage, "unknown option '-%c'", optopt);
                        return gear_usage_error(usage, "unknown option '%s'", argv[optind - 1]);
                }
        if (optind == argc)
                return gear_usage_error(usage, "missing ID");
        return start_all(argc - optind, argv + optind);
}
