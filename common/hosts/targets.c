/* HOST/ID targets of the container commands (targets.h) */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets.h"
#include "hosts.h"
#include "../base/id.h"
#include "../base/macro.h"

struct group {
        struct remote_host h;
        char **args; /* the command's arguments on h, NULL-terminated */
        size_t nargs;
};

struct plan {
        struct group *g;
        size_t ng;
        int *of;      /* for each operand: its group when it is a target, else -1 */
        gear_id *ids; /* for each operand that is a target: its id there */
};

static void plan_done(struct plan *p)
{
        for (size_t i = 0; i < p->ng; i++)
                free(p->g[i].args);
        free(p->g);
        free(p->of);
        free(p->ids);
}

/* the group of host arg, added when new */
static int group_of(struct plan *p, const char *arg, struct gear_err *e)
{
        struct remote_host h;

        if (host_parse(arg, true, &h, e) < 0)
                return -1;
        if (h.local)
                strcpy(h.name, HOST_LOCAL);
        for (size_t i = 0; i < p->ng; i++)
                if (!strcmp(p->g[i].h.name, h.name))
                        return (int)i;
        p->g[p->ng].h = h;
        return (int)p->ng++;
}

/* HOST/ID into its group and id, or -1 */
static int target_split(struct plan *p, const char *arg, size_t k, struct gear_err *e)
{
        const char *slash = strchr(arg, '/');
        char host[HOST_MAX + 1];
        int g;

        if (slash && (size_t)(slash - arg) > HOST_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid host in '%.64s'", arg);
        snprintf(host, sizeof host, "%.*s", slash ? (int)(slash - arg) : (int)strlen(HOST_LOCAL),
                 slash ? arg : HOST_LOCAL);
        if ((g = group_of(p, host, e)) < 0)
                return -1;
        /* id_parse's message, with the whole target */
        if (!id_valid(slash ? slash + 1 : arg))
                return id_parse(arg, p->ids[k], e);
        strcpy(p->ids[k], slash ? slash + 1 : arg);
        return g;
}

/* each group's arguments: the options, "--", the operands with the group's own targets */
static int plan_args(struct plan *p, int argc, char **argv, struct gear_err *e)
{
        int nopt = optind - 1 - (optind > 1 && !strcmp(argv[optind - 1], "--"));

        for (size_t i = 0; i < p->ng; i++) {
                struct group *g = &p->g[i];

                g->args = calloc(argc + 2, sizeof *g->args);
                if (!g->args)
                        return gear_err_sys(e, ENOMEM, "cannot reach the hosts");
                for (int k = 0; k < nopt; k++)
                        g->args[g->nargs++] = argv[1 + k];
                g->args[g->nargs++] = "--";
                for (int k = optind; k < argc; k++)
                        if (p->of[k - optind] < 0)
                                g->args[g->nargs++] = argv[k];
                        else if (p->of[k - optind] == (int)i)
                                g->args[g->nargs++] = p->ids[k - optind];
        }
        return 0;
}

/* runs each group's command, prefixed when asked; the first failure's status */
static int plan_run(struct plan *p, bool prefixed)
{
        const char *cmd = strncmp(gear_prog, "gear-", 5) ? gear_prog : gear_prog + 5;
        _cleanup_free_ char *failed = NULL;
        size_t nfailed = 0, flen = 0;
        FILE *f = open_memstream(&failed, &flen);
        int code = 0;

        for (size_t i = 0; i < p->ng; i++) {
                _cleanup_(gear_err_clear) struct gear_err err = {0};
                _cleanup_free_ char *line = NULL, *prefix = NULL;
                char self[PATH_MAX], **argv = calloc(p->g[i].nargs + 8, sizeof *argv);
                int r = -1;

                if (argv && (!prefixed || asprintf(&prefix, "%s\t", p->g[i].h.name) >= 0) &&
                    host_command(&p->g[i].h, cmd, p->g[i].args, &line, argv, self, &err) == 0)
                        r = host_stream(argv, prefix, &err);
                free(argv);
                if (r < 0)
                        r = gear_fail(&err, "%s", p->g[i].h.name);
                if (r && !code)
                        code = r;
                if (r && f)
                        fprintf(f, "%s%s", nfailed++ ? " " : "", p->g[i].h.name);
        }
        if (f && !fclose(f) && nfailed && p->ng > 1)
                fprintf(stderr, "%s: %zu of %zu hosts failed: %s\n", gear_prog, nfailed, p->ng, failed);
        return code;
}

static int plan_alloc(struct plan *p, int argc)
{
        p->g = calloc(argc + 1, sizeof *p->g);
        p->of = calloc(argc + 1, sizeof *p->of);
        p->ids = calloc(argc + 1, sizeof *p->ids);
        return p->g && p->of && p->ids ? 0 : -1;
}

int targets_run(int argc, char **argv, int first, int n)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(plan_done) struct plan p = {0};
        bool remote = false;

        if (plan_alloc(&p, argc) < 0) {
                gear_err_sys(&err, ENOMEM, "cannot parse arguments");
                return gear_fail(&err, NULL);
        }
        for (int k = 0; k < argc - optind; k++) {
                const char *arg = argv[optind + k];

                p.of[k] = -1;
                if (k < first || (n >= 0 && k >= first + n) || strchr(arg, '='))
                        continue;
                if ((p.of[k] = target_split(&p, arg, k, &err)) < 0)
                        return gear_fail(&err, NULL);
                remote |= !p.g[p.of[k]].h.local;
        }
        /* all here: the command checks and acts on its own */
        if (!remote)
                return -1;
        if (plan_args(&p, argc, argv, &err) < 0)
                return gear_fail(&err, NULL);
        return plan_run(&p, false);
}

int targets_run_hosts(int argc, char **argv)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(plan_done) struct plan p = {0};

        if (optind == argc)
                return -1;
        if (plan_alloc(&p, argc) < 0) {
                gear_err_sys(&err, ENOMEM, "cannot parse arguments");
                return gear_fail(&err, NULL);
        }
        for (int k = 0; k < argc - optind; k++)
                if ((p.of[k] = group_of(&p, argv[optind + k], &err)) < 0)
                        return gear_fail(&err, NULL);
        if (plan_args(&p, optind, argv, &err) < 0)
                return gear_fail(&err, NULL);
        return plan_run(&p, p.ng > 1);
}
