/* gear-rmi: removes Gear images from the image tree; gear-gc frees their objects */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/container/container-gear.h"
#include "../common/image/image.h"

static const char usage[] =
"usage: gear-rmi NAME[:TAG]...\n";

/* refused (code 1) while a container runs from it or a gear-fs serves it */
static int remove_one(struct gear_tree *tree, const char *arg, struct gear_err *e)
{
        struct image_ref ref;
        char users[1024];
        int r;

        if (image_ref_parse(arg, &ref, e) < 0)
                return -1;
        if (root_open(&tree->img, 0, e) < 0) {
                if (e->code == GEAR_EXIT_NO)
                        return gear_err_set(e, GEAR_EXIT_NO, "no image '%s:%s'", ref.name, ref.tag);
                return -1;
        }
        if ((r = ctr_gear_users(tree, &ref, NULL, users, sizeof users, NULL, e)) < 0)
                return -1;
        if (r)
                return gear_err_set(e, GEAR_EXIT_NO, "image '%s:%s' is in use by container %s", ref.name, ref.tag,
                                    users);
        return image_remove(&tree->img, &ref, e);
}

int cmd_rmi(int argc, char **argv)
{
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        int c, ret = GEAR_EXIT_OK;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return gear_help(usage);
                default:
                        return gear_bad_option(usage, argv);
                }
        }
        if (argc == optind)
                return gear_usage_error(usage, "no image given");
        if (tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        /* each one on its own; the exit status is the gravest failure */
        for (int i = optind; i < argc; i++) {
                int code;

                if (remove_one(&tree, argv[i], &err) < 0) {
                        code = gear_fail(&err, "cannot remove image");
                        if (code > ret)
                                ret = code;
                        gear_err_clear(&err);
                }
        }
        return ret;
}
