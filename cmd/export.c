/* gear-export: writes a Gear image's full tree into a directory, contents from the store */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/image/image.h"

static const char usage[] =
"usage: gear-export NAME[:TAG] DIR\n";

int cmd_export(int argc, char **argv)
{
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct image_ref ref;
        struct itree *t = NULL;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                if (c == 'h')
                        return gear_help(usage);
                return gear_bad_option(usage, argv);
        }
        if (argc - optind != 2)
                return gear_usage_error(usage, argc - optind < 2 ? "missing NAME or DIR" : "too many arguments");
        if (image_ref_parse(argv[optind], &ref, &err) < 0 || tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (image_load(&tree.img, &ref, &t, &err) < 0)
                return gear_fail(&err, NULL);
        r = image_export(&tree.img, t, argv[optind + 1], &err);
        itree_free(t);
        if (r < 0)
                return gear_fail(&err, "cannot export '%s:%s'", ref.name, ref.tag);
        return GEAR_EXIT_OK;
}
