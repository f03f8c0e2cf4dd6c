/* gear-ports: the host port allocator of the container tree */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "../common/ports/ports.h"

static const char usage[] =
"usage: gear-ports alloc [--range LO-HI] ID INTERNAL[:EXTERNAL]...\n"
"       gear-ports release ID\n"
"       gear-ports list\n"
"       gear-ports check [--repair]\n";

static void report(unsigned port, const char *id, const char *problem, const char *action, void *ud)
{
        printf("%u\t%s\t%s%s%s\n", port, id, problem, action ? "\t" : "", action ? action : "");
}

static int do_alloc(struct gear_tree *t, struct port_range range, int argc, char **argv)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_free_ struct port_map *maps = NULL;
        gear_id id;
        size_t n = argc - 1;

        if (argc < 2)
                return gear_usage_error(usage, "alloc needs an ID and at least one port");
        if (id_parse(argv[0], id, &err) < 0)
                return gear_fail(&err, NULL);
        maps = calloc(n, sizeof *maps);
        if (!maps)
                return gear_fail(&err, "out of memory");
        for (size_t i = 0; i < n; i++)
                if (port_spec_parse(argv[i + 1], &maps[i], &err) < 0)
                        return gear_fail(&err, NULL);
        if (ports_alloc(t, id, maps, n, range, &err) < 0)
                return gear_fail(&err, "cannot allocate ports for '%s'", id);
        for (size_t i = 0; i < n; i++)
                printf("%u\t%u\n", maps[i].internal, maps[i].external);
        return GEAR_EXIT_OK;
}

static int do_list(struct gear_tree *t)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_free_ struct port_link *links = NULL;
        size_t n;

        if (ports_list(t, &links, &n, &err) < 0)
                return gear_fail(&err, "cannot list ports");
        for (size_t i = 0; i < n; i++) {
                printf("%u\t%s\t", links[i].external, links[i].id);
                if (links[i].internal)
                        printf("%u\t%s\n", links[i].internal, port_link_state(links[i].state));
                else
                        printf("-\t%s\n", port_link_state(links[i].state));
        }
        return GEAR_EXIT_OK;
}

int cmd_ports(int argc, char **argv)
{
        static const struct option opts[] = {
                { "help", no_argument, NULL, 'h' },
                { "range", required_argument, NULL, 'r' },
                { "repair", no_argument, NULL, 'R' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        struct port_range range = PORT_RANGE_DEFAULT;
        struct gear_tree tree;
        const char *sub;
        bool repair = false, has_range = false;
        int c, k;

        if (argc < 2)
                return gear_usage_error(usage, NULL);
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
                return gear_help(usage);
        sub = argv[1];
        argc--, argv++;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'r':
                        if (port_range_parse(optarg, &range, &err) < 0)
                                return gear_fail(&err, NULL);
                        has_range = true;
                        break;
                case 'R':
                        repair = true;
                        break;
                default:
                        return gear_usage_error(usage, NULL);
                }
        }
        argc -= optind, argv += optind;
        if ((has_range && strcmp(sub, "alloc")) || (repair && strcmp(sub, "check")))
                return gear_usage_error(usage, "option not valid for '%s'", sub);
        if (tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (!strcmp(sub, "alloc"))
                k = do_alloc(&tree, range, argc, argv);
        else if (!strcmp(sub, "release")) {
                gear_id id;
                if (argc != 1)
                        return gear_usage_error(usage, "release needs one ID");
                if (id_parse(argv[0], id, &err) < 0)
                        return gear_fail(&err, NULL);
                k = ports_release(&tree, id, &err) < 0 ? gear_fail(&err, "cannot release ports of '%s'", id) : 0;
        } else if (!strcmp(sub, "list")) {
                k = argc ? gear_usage_error(usage, "list takes no arguments") : do_list(&tree);
        } else if (!strcmp(sub, "check")) {
                if (argc)
                        return gear_usage_error(usage, "check takes no arguments");
                k = ports_check(&tree, repair ? CHECK_REPAIR : 0, report, NULL, &err);
                k = k < 0 ? gear_fail(&err, "cannot check ports") : k ? GEAR_EXIT_NO : GEAR_EXIT_OK;
        } else
                k = gear_usage_error(usage, "unknown subcommand '%s'", sub);
        tree_done(&tree);
        if (fflush(stdout) && !k)
                k = GEAR_EXIT_SYS;
        return k;
}
