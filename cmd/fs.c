/* gear-fs: mounts a Gear image read-only with FUSE, fetching file contents on first open */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/gearfs/gearfs.h"
#include "../common/image/image.h"

static const char usage[] =
"usage: gear-fs [-f] [--prefetch] [-o allow_other] NAME[:TAG] MOUNTPOINT\n";

static void log_line(const char *msg)
{
        gear_warn("%s", msg);
}

int cmd_fs(int argc, char **argv)
{
        static const struct option options[] = {
                { "foreground", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { "prefetch", no_argument, NULL, 'p' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct gearfs_opts o = { .log = log_line };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":fho:", options, NULL)) != -1) {
                switch (c) {
                case 'f':
                        o.foreground = true;
                        break;
                case 'h':
                        return gear_help(usage);
                case 'p':
                        o.prefetch = true;
                        break;
                case 'o':
                        if (strcmp(optarg, "allow_other"))
                                return gear_usage_error(usage, "unknown mount option '%s'", optarg);
                        o.allow_other = true;
                        break;
                case ':':
                        return gear_usage_error(usage, "option '-%c' needs an argument", optopt);
                default:
                        return gear_bad_option(usage, argv);
                }
        }
        if (argc - optind != 2)
                return gear_usage_error(usage, argc - optind < 2 ? "missing NAME or MOUNTPOINT" : "too many arguments");
        o.mountpoint = argv[optind + 1];
        if (image_ref_parse(argv[optind], &o.ref, &err) < 0 || tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (image_root_open(&tree.img, &o.ref, &err) < 0)
                return gear_fail(&err, NULL);
        if (gearfs_run(&tree.img, &o, &err) < 0)
                return gear_fail(&err, "cannot mount '%s:%s'", o.ref.name, o.ref.tag);
        return GEAR_EXIT_OK;
}
