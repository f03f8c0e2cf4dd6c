/* gear-list-units: the containers of this host and their unit states */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "commands.h"
#include "../common/container/container-run.h"
#include "../common/hosts/targets.h"

static const char usage[] =
"usage: gear-list-units [--all] [HOST...]\n";

int cmd_list_units(int argc, char **argv)
{
        static const struct option options[] = {
                { "all",  no_argument, NULL, 'a' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        _cleanup_free_ struct ctr_row *rows = NULL;
        bool all = false, tty = isatty(STDOUT_FILENO);
        size_t n = 0;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "ah", options, NULL)) != -1)
                switch (c) {
                case 'a':
                        all = true;
                        break;
                case 'h':
                        return gear_help(usage);
                default:
                        return gear_bad_option(usage, argv);
                }
        if ((c = targets_run_hosts(argc, argv)) >= 0)
                return c;
        if (tree_init(&tree, &err) < 0 || systemd_open(&m, &err) < 0 ||
            container_list_units(&tree, m, all, &rows, &n, &err) < 0)
                return gear_fail(&err, "cannot list containers");
        /* a table for people, tab-separated records for scripts */
        if (tty)
                printf("%-24s %-12s %-12s %s\n", "ID", "ACTIVE", "SUB", "LOAD");
        for (size_t i = 0; i < n; i++)
                printf(tty ? "%-24s %-12s %-12s %s\n" : "%s\t%s\t%s\t%s\n", rows[i].id, rows[i].active,
                       rows[i].sub, rows[i].load);
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
