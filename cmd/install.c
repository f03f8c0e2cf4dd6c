/* gear-install: a container image as a systemd unit, installed or updated */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "../common/container/container-run.h"
#include "../common/env/env.h"
#include "../common/hosts/targets.h"

static const char usage[] =
"usage: gear-install [-p PORTS] [--port-range LO-HI] [-n LINKS] [-v VOLUMES] [--env-file FILE]... [--env-id ENVID] [--slice SLICE] [--isolate] [--idle-timeout DURATION] [--start] IMAGE ID... [NAME=VALUE...]\n";

/* "a,b,c" appended to *v */
static int volumes_parse(const char *arg, struct ctr_volume **v, size_t *n, struct gear_err *e)
{
        _cleanup_free_ char *copy = strdup(arg);
        char *save = NULL;

        if (!copy)
                return gear_err_sys(e, ENOMEM, "cannot parse volumes");
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                struct ctr_volume *p = realloc(*v, (*n + 1) * sizeof **v);
                if (!p)
                        return gear_err_sys(e, ENOMEM, "cannot parse volumes");
                *v = p;
                if (ctr_volume_parse(tok, &p[*n], e) < 0)
                        return -1;
                (*n)++;
        }
        return 0;
}

static void volumes_free(struct ctr_volume *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                ctr_volume_done(&v[i]);
        free(v);
}

static int install_one(struct gear_tree *tree, struct gear_systemd *m, struct ctr_install *tmpl,
                       const struct port_map *ports, const char *id)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_free_ struct port_map *mine = NULL;
        struct ctr_install in = *tmpl;
        bool installed;
        int r;

        mine = calloc(in.nports ? in.nports : 1, sizeof *mine);
        if (!mine)
                return gear_fail(&err, "out of memory");
        memcpy(mine, ports, in.nports * sizeof *mine);
        in.ports = mine;
        in.id = id;
        r = container_install_start(tree, m, &in, &installed, &err);
        if (!installed)
                return gear_fail(&err, "cannot install '%s'", id);
        for (size_t i = 0; i < in.nports; i++)
                printf("%s\t%u\t%u\n", id, mine[i].internal, mine[i].external);
        fflush(stdout);
        if (r < 0) {
                _cleanup_free_ char *why = NULL;
                size_t len;
                int code = gear_fail(&err, "installed '%s' but cannot start it", id);

                if (container_failure_text(m, id, &why, &len) == 0 && why)
                        fputs(why, stderr);
                return code;
        }
        return 0;
}

int cmd_install(int argc, char **argv)
{
        static const struct option options[] = {
                { "env-file", required_argument, NULL, 'f' },
                { "env-id",   required_argument, NULL, 'E' },
                { "help",     no_argument,       NULL, 'h' },
                { "idle-timeout", required_argument, NULL, 'i' },
                { "isolate",  no_argument,       NULL, 'I' },
                { "net-links", required_argument, NULL, 'n' },
                { "ports",    required_argument, NULL, 'p' },
                { "port-range", required_argument, NULL, 'r' },
                { "slice",    required_argument, NULL, 'S' },
                { "start",    no_argument,       NULL, 's' },
                { "volumes",  required_argument, NULL, 'v' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        _cleanup_(env_free) struct env env = {0};
        _cleanup_free_ struct port_map *ports = NULL;
        _cleanup_free_ struct net_link *links = NULL;
        _cleanup_free_ const char **files = NULL;
        _cleanup_free_ gear_id *ids = NULL;
        struct ctr_volume *volumes = NULL;
        struct ctr_install in = { .range = PORT_RANGE_DEFAULT };
        size_t nports = 0, nfiles = 0, nvolumes = 0, nids = 0, nvars = 0;
        char idle_timeout[UNIT_TIMESPAN_MAX];
        gear_id env_id;
        int c, k = 0;

        files = calloc(argc, sizeof *files);
        ids = calloc(argc, sizeof *ids);
        if (!files || !ids) {
                gear_err_sys(&err, ENOMEM, "cannot parse arguments");
                return gear_fail(&err, NULL);
        }
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hn:p:v:", options, NULL)) != -1)
                switch (c) {
                case 'f':
                        files[nfiles++] = optarg;
                        break;
                case 'E':
                        if (id_parse(optarg, env_id, &err) < 0)
                                return gear_fail(&err, "invalid --env-id");
                        in.env_id = env_id;
                        break;
                case 'h':
                        volumes_free(volumes, nvolumes);
                        return gear_help(usage);
                case 'I':
                        in.isolate = true;
                        break;
                case 'i':
                        if (unit_timespan_parse(optarg, idle_timeout, &err) < 0) {
                                volumes_free(volumes, nvolumes);
                                return gear_fail(&err, NULL);
                        }
                        in.idle = true;
                        in.idle_timeout = idle_timeout;
                        break;
                case 'n':
                        free(links);
                        if (links_parse(optarg, &links, &in.nlinks, &err) < 0) {
                                volumes_free(volumes, nvolumes);
                                return gear_fail(&err, NULL);
                        }
                        in.links = links;
                        in.set_links = true;
                        break;
                case 'p':
                        if (port_specs_parse(optarg, &ports, &nports, &err) < 0)
                                return gear_fail(&err, NULL);
                        break;
                case 'r':
                        if (port_range_parse(optarg, &in.range, &err) < 0) {
                                volumes_free(volumes, nvolumes);
                                return gear_fail(&err, NULL);
                        }
                        break;
                case 'S':
                        in.slice = optarg;
                        break;
                case 's':
                        in.start = true;
                        break;
                case 'v':
                        if (volumes_parse(optarg, &volumes, &nvolumes, &err) < 0) {
                                volumes_free(volumes, nvolumes);
                                return gear_fail(&err, NULL);
                        }
                        break;
                case ':':
                        volumes_free(volumes, nvolumes);
                        return gear_usage_error(usage, "option '%s' needs an argument", argv[optind - 1]);
                default:
                        volumes_free(volumes, nvolumes);
                        return gear_bad_option(usage, argv);
                }
        in.volumes = volumes;
        in.nvolumes = nvolumes;
        if (argc - optind < 2) {
                k = gear_usage_error(usage, argc == optind ? "missing IMAGE and ID" : "missing ID");
                goto out;
        }
        if ((k = targets_run(argc, argv, 1, -1)) >= 0)
                goto out;
        k = 0;
        in.image = argv[optind];
        /* everything is checked before anything is touched */
        for (int i = optind + 1; i < argc; i++) {
                if (strchr(argv[i], '='))
                        continue;
                if (id_parse(argv[i], ids[nids], &err) < 0)
                        goto fail;
                if (!strcmp(in.image, argv[i]) || !strcmp(in.image, ids[nids])) {
                        gear_err_set(&err, GEAR_EXIT_USAGE, "the image '%s' is the same as the id", in.image);
                        goto fail;
                }
                nids++;
        }
        if (!nids) {
                k = gear_usage_error(usage, "missing ID");
                goto out;
        }
        /* the files first, then the arguments, which win */
        for (size_t i = 0; i < nfiles; i++)
                if (env_parse_file(&env, files[i], getenv, &err) < 0)
                        goto fail;
        for (int i = optind + 1; i < argc; i++)
                if (strchr(argv[i], '=') && env_parse_arg(&env, argv[i], ++nvars, getenv, &err) < 0)
                        goto fail;
        in.env = nfiles || nvars ? &env : NULL;
        in.nports = nports;
        if (tree_init(&tree, &err) < 0 || systemd_open(&m, &err) < 0)
                goto fail;
        for (size_t i = 0; i < nids; i++) {
                int r = install_one(&tree, m, &in, ports, ids[i]);
                if (r && !k)
                        k = r;
        }
        goto out;
fail:
        k = gear_fail(&err, NULL);
out:
        volumes_free(volumes, nvolumes);
        if (fflush(stdout) && !k)
                k = GEAR_EXIT_SYS;
        return k;
}
