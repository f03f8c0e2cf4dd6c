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
"usage: gear-fs [-f] [--prefetch] [--direct] [--no-read-around] [-o allow_other] NAME[:TAG] MOUNTPOINT\n"
"       gear-fs --overlay MOUNTPOINT UPPER WORK MERGED\n";

/* the overlay of a container's unit: MOUNTPOINT is the image's gear-fs mount */
static int overlay(char **argv)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct gearfs_overlay ov = { argv[0], argv[1], argv[2], argv[3] };
        bool direct;

        if (tree_init(&tree, &err) < 0 || root_open(&tree.img, 0, &err) < 0 ||
            gearfs_overlay_mount(&tree.img, &ov, &direct, &err) < 0)
                return gear_fail(&err, NULL);
        if (!direct)
                gear_warn("the kernel has no data-only overlay layers: '%s' reads every file through FUSE",
                          ov.merged);
        return GEAR_EXIT_OK;
}

static void log_line(const char *msg)
{
        gear_warn("%s", msg);
}

int cmd_fs(int argc, char **argv)
{
        static const struct option options[] = {
                { "direct", no_argument, NULL, 'D' },
                { "foreground", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { "no-read-around", no_argument, NULL, 'A' },
                { "overlay", no_argument, NULL, 'O' },
                { "prefetch", no_argument, NULL, 'p' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct gearfs_opts o = { .log = log_line };
        bool ov = false;
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
                case 'D':
                        o.direct = true;
                        break;
                case 'A':
                        o.no_around = true;
                        break;
                case 'O':
                        ov = true;
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
        if (ov) {
                if (o.foreground || o.prefetch || o.direct || o.no_around || o.allow_other)
                        return gear_usage_error(usage, "--overlay takes no other option");
                if (argc - optind != 4)
                        return gear_usage_error(usage, argc - optind < 4 ? "missing MOUNTPOINT, UPPER, WORK or MERGED" :
                                                                        "too many arguments");
                return overlay(argv + optind);
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
