/*
 * gear-index: prints a Gear image's index, one line per path:
 * TYPE MODE UID GID SIZE DIGEST PATH, tab separated; with -m, the object
 * map of an image pulled from a registry, as text.
 */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/image/image.h"
#include "../common/image/index.h"
#include "../common/remote/remote.h"

static const char usage[] =
"usage: gear-index [-l] NAME[:TAG]\n"
"       gear-index -m NAME[:TAG]\n";

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
                { "map", no_argument, NULL, 'm' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct image_ref ref;
        struct itree *t = NULL;
        char rel[PATH_MAX];
        bool lng = false, map = false;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hlm", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'l':
                        lng = true;
                        break;
                case 'm':
                        map = true;
                        break;
                default:
                        return gear_bad_option(usage, argv);
                }
        }
        if (map && lng)
                return gear_usage_error(usage, "-l and -m do not go together");
        if (argc - optind != 1)
                return gear_usage_error(usage, argc - optind < 1 ? "missing NAME" : "too many arguments");
        if (image_ref_parse(argv[optind], &ref, &err) < 0 || tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (map) {
                struct image im;
                /* there is an image; its map and the index that expands it are read together (object_map_show) */
                if (image_root_open(&tree.img, &ref, &err) < 0 || image_open(&tree.img, &ref, &im, &err) < 0)
                        return gear_fail(&err, NULL);
                image_close(&im);
                image_rel(&ref, rel, sizeof rel);
                r = object_map_show(&tree.img, rel, NULL, stdout, &err);
                if (r < 0 && err.code == GEAR_EXIT_NO)
                        gear_err_set(&err, GEAR_EXIT_NO, "'%s:%s' has no object map: it was not pulled from a registry",
                                     ref.name, ref.tag);
        } else {
                if (image_load(&tree.img, &ref, &t, &err) < 0)
                        return gear_fail(&err, NULL);
                r = index_lines(t, lng, print_line, NULL, &err);
        }
        itree_free(t);
        if (r < 0)
                return gear_fail(&err, NULL);
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
