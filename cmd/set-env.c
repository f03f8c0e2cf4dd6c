#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>

#include "commands.h"
#include "../common/base/id.h"
#include "../common/env/env.h"
#include "../common/hosts/targets.h"

static const char usage[] =
"usage: gear-set-env ID [--reset] [--env-file FILE]... [NAME[=VALUE]]...\n";

int cmd_set_env(int argc, char **argv)
{
        static const struct option options[] = {
                { "env-file", required_argument, NULL, 'f' },
                { "help",     no_argument,       NULL, 'h' },
                { "reset",    no_argument,       NULL, 'r' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_(env_free) struct env changes = {0};
        _cleanup_free_ const char **files = NULL;
        size_t nfiles = 0;
        bool reset = false;
        gear_id id;
        int c;

        files = calloc(argc, sizeof *files);
        if (!files) {
                gear_err_sys(&err, ENOMEM, "cannot parse arguments");
                return gear_fail(&err, NULL);
        }
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
                switch (c) {
                case 'f':
                        files[nfiles++] = optarg;
                        break;
                case 'h':
                        return gear_help(usage);
                case 'r':
                        reset = true;
                        break;
                case ':':
                default:
                        return gear_option_error(usage, argv, c);
                }
        if ((c = targets_run(argc, argv, 0, 1)) >= 0)
                return c;
        if (optind == argc)
                return gear_usage_error(usage, "missing ID");
        if (optind + 1 == argc && !nfiles && !reset)
                return gear_usage_error(usage, "no variables given");

        if (id_parse(argv[optind], id, &err) < 0)
                return gear_fail(&err, NULL);
        /* all input is checked before the tree is touched; the files come first, arguments win */
        for (size_t i = 0; i < nfiles; i++)
                if (env_parse_file(&changes, files[i], getenv, &err) < 0)
                        return gear_fail(&err, NULL);
        for (int i = optind + 1; i < argc; i++)
                if (env_parse_arg(&changes, argv[i], i - optind, getenv, &err) < 0)
                        return gear_fail(&err, NULL);

        if (tree_init(&tree, &err) < 0 || env_update(&tree, id, &changes, reset, &err) < 0)
                return gear_fail(&err, "cannot set environment '%s'", id);
        return GEAR_EXIT_OK;
}
