/* gear-link: links from inside a container to services outside it, applied with nftables */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/container/container.h"
#include "../common/hosts/targets.h"

static const char usage[] =
"usage: gear-link ID [-n|--net-links [LOCALIP:]LOCALPORT:HOST:PORT[,...]]\n"
"       gear-link --apply ID\n";

int cmd_link(int argc, char **argv)
{
        static const struct option options[] = {
                { "apply",     no_argument,       NULL, 'a' },
                { "help",      no_argument,       NULL, 'h' },
                { "net-links", required_argument, NULL, 'n' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_free_ struct net_link *links = NULL;
        const char *spec = "", *id;
        bool apply = false, applied;
        size_t n = 0;
        int c;

        opterr = 0;
        /* options anywhere: geard wrote "gear link ID -n ..." */
        while ((c = getopt_long(argc, argv, "hn:", options, NULL)) != -1)
                switch (c) {
                case 'a':
                        apply = true;
                        break;
                case 'n':
                        spec = optarg;
                        break;
                case 'h':
                        return gear_help(usage);
                default:
                        return gear_bad_option(usage, argv);
                }
        if ((c = targets_run(argc, argv, 0, 1)) >= 0)
                return c;
        if (argc - optind != 1)
                return gear_usage_error(usage, argc == optind ? "want an ID" : "too many arguments");
        id = argv[optind];
        if (apply && *spec)
                return gear_usage_error(usage, "'--apply' takes no links");
        if (!id_valid(id)) {
                gear_err_set(&err, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
                return gear_fail(&err, NULL);
        }
        if (links_parse(spec, &links, &n, &err) < 0 || tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (apply) {
                if (container_links_apply(&tree, id, true, &applied, &err) < 0)
                        return gear_fail(&err, "cannot apply the links of '%s'", id);
                if (!applied) {
                        gear_err_set(&err, GEAR_EXIT_NO, "container '%s' is not running", id);
                        return gear_fail(&err, NULL);
                }
                return GEAR_EXIT_OK;
        }
        if (container_links_set(&tree, id, links, n, &applied, &err) < 0)
                return gear_fail(&err, "cannot link '%s'", id);
        return GEAR_EXIT_OK;
}
