#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "../common/base/id.h"
#include "../common/env/env.h"
#include "../common/hosts/targets.h"

static const char usage[] =
"usage: gear-env ID\n";

int cmd_env(int argc, char **argv)
{
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_free_ char *text = NULL;
        gear_id id;
        size_t len;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1)
                switch (c) {
                case 'h':
                        return gear_help(usage);
                default:
                        return gear_bad_option(usage, argv);
                }
        if ((c = targets_run(argc, argv, 0, -1)) >= 0)
                return c;
        if (optind == argc)
                return gear_usage_error(usage, "missing ID");
        if (optind + 1 < argc)
                return gear_usage_error(usage, "too many arguments");

        if (id_parse(argv[optind], id, &err) < 0 || tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (env_read(&tree, id, &text, &len, &err) < 0)
                return err.code == GEAR_EXIT_NO ? gear_fail(&err, NULL)
                                                : gear_fail(&err, "cannot read environment '%s'", id);
        if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
                gear_err_sys(&err, errno, "cannot write output");
                return gear_fail(&err, NULL);
        }
        return GEAR_EXIT_OK;
}
