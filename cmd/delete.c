/* gear-delete: stop containers and remove every trace of them */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "../common/container/container-run.h"
#include "../common/hosts/targets.h"

static const char usage[] =
"usage: gear-delete ID...\n";

static int delete_one(struct gear_tree *tree, struct gear_systemd *m, const char *id)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        bool removed;

        if (container_delete(tree, m, id, &removed, &err) < 0)
                return gear_fail(&err, removed ? "deleted '%s' but" : "cannot delete '%s'", id);
        return 0;
}

int cmd_delete(int argc, char **argv)
{
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        _cleanup_free_ gear_id *ids = NULL;
        int c, n, k = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1)
                switch (c) {
                case 'h':
                        return gear_help(usage);
                default:
                        return gear_bad_option(usage, argv);
                }
        if ((n = targets_run(argc, argv, 0, -1)) >= 0)
                return n;
        n = argc - optind;
        if (!n)
                return gear_usage_error(usage, "missing ID");
        ids = calloc(n, sizeof *ids);
        if (!ids)
                return gear_fail(&err, "out of memory");
        for (int i = 0; i < n; i++)
                if (id_parse(argv[optind + i], ids[i], &err) < 0)
                        return gear_fail(&err, NULL);
        if (tree_init(&tree, &err) < 0 || systemd_open(&m, &err) < 0)
                return gear_fail(&err, NULL);
        for (int i = 0; i < n; i++) {
                int r = delete_one(&tree, m, ids[i]);
                if (r && !k)
                        k = r;
        }
        return k;
}
