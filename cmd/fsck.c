/*
 * gear-fsck: checks the image tree (or a directory store): each object's and
 * each cached file's content against its name, each image's blobs and the
 * objects its index names, and what killed commands left. One line per finding.
 */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/image/image.h"
#include "../common/remote/remote.h"

static const char usage[] =
"usage: gear-fsck [-q] [--repair] [STORE]\n";

static void report(const char *kind, const char *what, const char *detail, void *ud)
{
        char esc[2048];

        path_escape(what, esc, sizeof esc);
        if (detail)
                printf("%s\t%s\t%s\n", kind, esc, detail);
        else
                printf("%s\t%s\n", kind, esc);
}

int cmd_fsck(int argc, char **argv)
{
        static const struct option options[] = {
                { "help",   no_argument, NULL, 'h' },
                { "quiet",  no_argument, NULL, 'q' },
                { "repair", no_argument, NULL, 'r' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct fsck_counts c;
        struct fsck_opts o = {0};
        struct remote *store = NULL;
        const struct gear_root *root = &tree.img;
        bool quiet = false;
        int opt;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":hqr", options, NULL)) != -1) {
                switch (opt) {
                case 'h':
                        return gear_help(usage);
                case 'q':
                        quiet = true;
                        break;
                case 'r':
                        o.repair = true;
                        break;
                default:
                        return gear_bad_option(usage, argv);
                }
        }
        if (argc > optind + 1)
                return gear_usage_error(usage, "too many arguments");
        if (argc == optind + 1) {
                /* a directory store: its objects and images, and what killed pushes left in it */
                if (remote_open(argv[optind], &store, &err) < 0)
                        return gear_fail(&err, NULL);
                if (!(root = remote_dir(store))) {
                        remote_free(store);
                        return gear_usage_error(usage, "'%s' is not a directory store", argv[optind]);
                }
                o.store = true;
        } else {
                if (tree_init(&tree, &err) < 0)
                        return gear_fail(&err, NULL);
                if (root_open(&tree.img, 0, &err) < 0) {
                        if (err.code == GEAR_EXIT_NO)
                                return GEAR_EXIT_OK; /* nothing to check */
                        return gear_fail(&err, NULL);
                }
        }
        if (image_fsck(root, &o, report, NULL, &c, &err) < 0) {
                int k = gear_fail(&err, "cannot check '%s'", root->path);
                remote_free(store);
                return k;
        }
        remote_free(store);
        if (!quiet)
                fprintf(stderr, "%s: %llu objects, %llu cached files, %llu images: %llu corrupt, %llu missing, "
                        "%llu bad images, %llu stale, %llu repaired\n", gear_prog, (unsigned long long)c.objects,
                        (unsigned long long)c.cached, (unsigned long long)c.images, (unsigned long long)c.corrupt,
                        (unsigned long long)c.missing, (unsigned long long)c.bad_images,
                        (unsigned long long)c.stale, (unsigned long long)c.repaired);
        if (fflush(stdout))
                return GEAR_EXIT_SYS;
        return c.corrupt || c.missing || c.bad_images ? GEAR_EXIT_NO : GEAR_EXIT_OK;
}
