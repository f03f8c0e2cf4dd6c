/* gear-status: a container's unit state and its recent log */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "../common/container/container-run.h"
#include "../common/hosts/targets.h"

static const char usage[] =
"usage: gear-status [-n LINES] ID\n";

static void print_status(const struct ctr_status *s)
{
        const struct systemd_unit_info *i = &s->info;

        printf("id:\t%s\n", s->id);
        printf("unit:\t%s\n", i->id);
        printf("path:\t%s\n", s->unit_path);
        printf("load:\t%s\n", i->load_state);
        printf("state:\t%s (%s)\n", i->active_state, i->sub_state);
        printf("since:\t%s\n", s->since);
        if (i->main_pid)
                printf("pid:\t%d\n", (int)i->main_pid);
        else
                printf("pid:\t-\n");
        if (*i->result && strcmp(i->result, "success"))
                printf("result:\t%s (status %d)\n", i->result, i->exec_main_status);
        printf("boot:\t%s\n", s->boot ? "yes" : "no");
        printf("image:\t%s\n", s->meta.image);
        printf("version:\t%s\n", s->meta.request_id);
        if (*s->meta.user)
                printf("user:\t%s\n", s->meta.user);
        for (size_t k = 0; k < s->meta.n_ports; k++)
                printf("port:\t%u:%u\n", s->meta.ports[k].internal, s->meta.ports[k].external);
        /* an idle-capable container: whether it idles, when it idles itself, its loopback ports */
        if (s->meta.n_backends)
                printf("idle:\t%s\nidle-timeout:\t%s\n", s->idle ? "yes" : "no",
                       *s->meta.idle_timeout ? s->meta.idle_timeout : "-");
        for (size_t k = 0; k < s->meta.n_backends; k++)
                printf("backend:\t%u:%u\n", s->meta.backends[k].internal, s->meta.backends[k].external);
        for (size_t k = 0; k < s->nlinks; k++)
                printf("link:\t%s:%u:%s:%u\n", s->links[k].local_ip, s->links[k].local_port, s->links[k].host,
                       s->links[k].port);
        /* the image mount's counters, "fs.KEY:<TAB>VALUE" */
        for (const char *p = s->fs_stats; p && *p;) {
                size_t k = strcspn(p, " \n"), l = strcspn(p, "\n");
                if (k < l)
                        printf("fs.%.*s:\t%.*s\n", (int)k, p, (int)(l - k - 1), p + k + 1);
                p += l + (p[l] == '\n');
        }
        if (s->log && *s->log)
                printf("\n%s", s->log);
}

int cmd_status(int argc, char **argv)
{
        static const struct option options[] = {
                { "help",  no_argument,       NULL, 'h' },
                { "lines", required_argument, NULL, 'n' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        _cleanup_(ctr_status_done) struct ctr_status s = {0};
        unsigned long lines = 10;
        char *end;
        gear_id id;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hn:", options, NULL)) != -1)
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'n':
                        lines = strtoul(optarg, &end, 10);
                        if (*end || end == optarg || lines > 10000)
                                return gear_usage_error(usage, "invalid number of lines '%s'", optarg);
                        break;
                case ':':
                default:
                        return gear_option_error(usage, argv, c);
                }
        if ((c = targets_run(argc, argv, 0, -1)) >= 0)
                return c;
        if (argc - optind != 1)
                return gear_usage_error(usage, argc == optind ? "missing ID" : "too many arguments");
        if (id_parse(argv[optind], id, &err) < 0)
                return gear_fail(&err, NULL);
        if (tree_init(&tree, &err) < 0 || systemd_open(&m, &err) < 0 ||
            container_status(&tree, m, id, lines, &s, &err) < 0)
                return gear_fail(&err, "cannot show '%s'", id);
        print_status(&s);
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
