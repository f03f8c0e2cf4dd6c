/* gear-deploy: geard's deployment files, carried out on this host or on others over ssh */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "../common/deploy/deploy-run.h"

static const char usage[] =
"usage: gear-deploy [--port-range LO-HI] FILE [HOST...]\n";

static void report(const struct deploy_host *h, const char *line, void *ud)
{
        (void)ud;
        printf("%s: %s\n", h->r.name, line);
        fflush(stdout);
}

int cmd_deploy(int argc, char **argv)
{
        static const struct option options[] = {
                { "help",       no_argument,       NULL, 'h' },
                { "port-range", required_argument, NULL, 'r' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_(deployment_done) struct deployment d = {0}, next = {0};
        _cleanup_free_ struct deploy_host *hosts = NULL;
        _cleanup_free_ const char **names = NULL;
        struct deploy_instance *removed = NULL;
        struct deploy_job job = { .report = report };
        char written[4096];
        size_t nremoved = 0;
        int c, failed, code = GEAR_EXIT_OK;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'r':
                        if (port_range_parse(optarg, &job.range, &err) < 0)
                                return gear_fail(&err, NULL);
                        break;
                default:
                        return gear_option_error(usage, argv, c);
                }
        if (optind == argc)
                return gear_usage_error(usage, "want a FILE");
        job.nhosts = argc - optind - 1 ? (size_t)(argc - optind - 1) : 1;
        hosts = calloc(job.nhosts, sizeof *hosts);
        names = calloc(job.nhosts, sizeof *names);
        if (!hosts || !names) {
                gear_err_set(&err, GEAR_EXIT_SYS, "out of memory");
                return gear_fail(&err, NULL);
        }
        job.hosts = hosts;
        for (size_t i = 0; i < job.nhosts; i++) {
                if (host_parse(argc - optind > 1 ? argv[optind + 1 + i] : DEPLOY_LOCAL, false, &hosts[i].r, &err) < 0)
                        return gear_fail(&err, NULL);
                names[i] = hosts[i].r.name;
                for (size_t k = 0; k < i; k++)
                        if (!strcmp(names[k], names[i])) {
                                gear_err_set(&err, GEAR_EXIT_USAGE, "host '%s' given twice", names[i]);
                                return gear_fail(&err, NULL);
                        }
        }
        for (size_t i = 0; i < job.nhosts; i++)
                if (hosts[i].r.local && job.nhosts > 1) {
                        gear_err_set(&err, GEAR_EXIT_USAGE, "'%s' cannot be given with other hosts: they would not "
                                     "know its address", DEPLOY_LOCAL);
                        return gear_fail(&err, NULL);
                }
        if (deploy_load(argv[optind], &d, &err) < 0 ||
            deploy_plan(&d, names, job.nhosts, &next, &removed, &nremoved, &err) < 0 ||
            deploy_check(&job, &next, &err) < 0 || tree_init(&tree, &err) < 0) {
                deploy_instances_free(removed, nremoved);
                return gear_fail(&err, "cannot deploy '%s'", argv[optind]);
        }
        failed = deploy_run(&job, &tree, &next, removed, nremoved, &d, &err);
        deploy_instances_free(removed, nremoved);
        if (failed < 0)
                return gear_fail(&err, "cannot deploy '%s'", argv[optind]);
        if (deploy_write(argv[optind], &next, written, sizeof written, &err) < 0)
                return gear_fail(&err, "cannot record the deployment");
        for (size_t i = 0; i < job.nhosts; i++)
                if (hosts[i].code) {
                        fprintf(stderr, "%s: %s: failed: %s\n", gear_prog, hosts[i].r.name, hosts[i].why);
                        if (!code)
                                code = hosts[i].code;
                } else {
                        printf("%s: done\n", hosts[i].r.name);
                }
        printf("%s\n", written);
        if (failed)
                fprintf(stderr, "%s: %d of %zu hosts failed; what was done is recorded in '%s'\n", gear_prog,
                        failed, job.nhosts, written);
        return code;
}
