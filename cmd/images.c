/* gear-images: lists the Gear images of the image tree: NAME TAG FILES BYTES DIGEST */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/image/image.h"

static const char usage[] =
"usage: gear-images [-q]\n";

struct opts {
        bool quiet;
        int ret;
};

static int print_image(const struct image_ref *r, const struct image *im, const struct gear_err *why, void *ud)
{
        struct opts *o = ud;

        if (!im) {
                gear_warn("%s", why->msg);
                o->ret = GEAR_EXIT_SYS;
                return 0;
        }
        if (o->quiet)
                printf("%s:%s\n", r->name, r->tag);
        else
                printf("%s\t%s\t%llu\t%llu\tsha256:%s\n", r->name, r->tag, (unsigned long long)im->files,
                       (unsigned long long)im->bytes, im->manifest);
        return 0;
}

int cmd_images(int argc, char **argv)
{
        static const struct option options[] = {
                { "help",  no_argument, NULL, 'h' },
                { "quiet", no_argument, NULL, 'q' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct opts o = { .ret = GEAR_EXIT_OK };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hq", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'q':
                        o.quiet = true;
                        break;
                default:
                        return gear_bad_option(usage, argv);
                }
        }
        if (argc != optind)
                return gear_usage_error(usage, "too many arguments");
        if (tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (root_open(&tree.img, 0, &err) < 0) {
                if (err.code == GEAR_EXIT_NO)
                        return GEAR_EXIT_OK; /* no image tree: no images */
                return gear_fail(&err, NULL);
        }
        if (image_list(&tree.img, print_image, &o, &err) < 0)
                return gear_fail(&err, "cannot list images");
        if (fflush(stdout))
                return GEAR_EXIT_SYS;
        return o.ret;
}
