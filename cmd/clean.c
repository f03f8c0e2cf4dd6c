/* gear-clean: removes what the tree no longer needs */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "../common/maint/clean.h"

static const char usage[] =
"usage: gear-clean [--dry-run]\n";

static void report(const char *kind, const char *path, void *ud)
{
        printf("%s\t%s\n", kind, path);
}

int cmd_clean(int argc, char **argv)
{
        static const struct option opts[] = {
                { "help", no_argument, NULL, 'h' },
                { "dry-run", no_argument, NULL, 'n' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        struct gear_tree tree;
        bool dry_run = false;
        int c, k;

        while ((c = getopt_long(argc, argv, "hn", opts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'n':
                        dry_run = true;
                        break;
                default:
                        return gear_usage_error(usage, NULL);
                }
        }
        if (optind != argc)
                return gear_usage_error(usage, "unexpected argument '%s'", argv[optind]);
        if (tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        k = clean_tree(&tree, dry_run, report, NULL, &err);
        tree_done(&tree);
        if (k < 0)
                return gear_fail(&err, "cannot clean");
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
