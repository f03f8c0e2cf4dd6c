/*
 * gear-index: prints a Gear image's index, one line per path:
 * TYPE MODE UID GID SIZE DIGEST PATH, tab separated.
 */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/image/image.h"
#include "../common/image/index.h"

static const char usage[] =
"usage: gear-index [-l] NAME[:TAG]\n";

static int print_line(const char *line, void *ud)
{
        puts(line);
        return 0;
}

int cmd_index(int argc, char **argv)
{
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "long", no_argument, NULL, 'l' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct image_ref ref;
        struct itree *t = NULL;
        bool lng = false;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hl", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'l':
                        lng = true;
                        break;
                default:
                        return gear_bad_option(usage, argv);
                }
        }
        if (argc - optind != 1)
                return gear_usage_error(usage, argc - optind < 1 ? "missing NAME" : "too many arguments");
        if (image_ref_parse(argv[optind], &ref, &err) < 0 || tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (image_load(&tree.img, &ref, &t, &err) < 0)
                return gear_fail(&err, NULL);
        r = index_lines(t, lng, print_line, NULL, &err);
        itree_free(t);
        if (r < 0)
                return gear_fail(&err, NULL);
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
