/* HOST/ID targets of the container commands (targets.h) */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "targets.h"
#include "hosts.h"
#include "../base/fsutil.h"
#include "../base/id.h"
#include "../base/macro.h"

struct group {
        struct remote_host h;
        char **args; /* the command's arguments on h, NULL-terminated */
        size_t nargs;
};

/* a target as its host gets it: [ctr:// or repo://]ID */
typedef char target_id[sizeof "repo://" + GEAR_ID_MAX];

struct plan {
        struct group *g;
        size_t ng;
        int *of;        /* for each operand: its group when it is a target, else -1 */
        target_id *ids; /* for each operand that is a target: its id there */
        const struct targets_opts *o;
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

/* [SCHEME]HOST/ID into its group and [SCHEME]ID, or -1 */
static int target_split(struct plan *p, const char *arg, size_t k, struct gear_err *e)
{
        static const char *const schemes[] = { "ctr://", "repo://" };
        const char *scheme = "", *rest = arg, *slash;
        char host[HOST_MAX + 1];
        gear_id bad;
        int g;

        for (size_t i = 0; p->o->schemes && i < ELEMENTSOF(schemes); i++)
                if (!strncmp(arg, schemes[i], strlen(schemes[i]))) {
                        scheme = schemes[i];
                        rest = arg + strlen(scheme);
                }
        slash = strchr(rest, '/');
        if (slash && (size_t)(slash - rest) > HOST_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid host in '%.64s'", arg);
        snprintf(host, sizeof host, "%.*s", slash ? (int)(slash - rest) : (int)strlen(HOST_LOCAL),
                 slash ? rest : HOST_LOCAL);
        if ((g = group_of(p, host, e)) < 0)
                return -1;
        /* id_parse's message, with the whole target after its scheme */
        if (!id_valid(slash ? slash + 1 : rest))
                return id_parse(rest, bad, e);
        snprintf(p->ids[k], sizeof p->ids[k], "%s%s", scheme, slash ? slash + 1 : rest);
        return g;
}

/* each group's arguments: the verb, the options, "--", the operands with the group's own targets */
static int plan_args(struct plan *p, int argc, char **argv, struct gear_err *e)
{
        int nopt = optind - 1 - (optind > 1 && !strcmp(argv[optind - 1], "--"));
        size_t nown = 0;

        while (p->o->options && p->o->options[nown])
                nown++;
        for (size_t i = 0; i < p->ng; i++) {
                struct group *g = &p->g[i];

                g->args = calloc(argc + nown + 3, sizeof *g->args);
                if (!g->args)
                        return gear_err_sys(e, ENOMEM, "cannot reach the hosts");
                if (p->o->verb)
                        g->args[g->nargs++] = (char *)p->o->verb;
                if (p->o->options)
                        for (size_t k = 0; k < nown; k++)
                                g->args[g->nargs++] = p->o->options[k];
                else
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

/* the input of every host's command, in a file each reads from its start; -1 without one */
static int input_file(const struct targets_opts *o, struct gear_err *e)
{
        int fd;

        if (!o->input)
                return -1;
        fd = memfd_create("gear-input", MFD_CLOEXEC);
        if (fd < 0 || write_all(fd, o->input, o->input_len) < 0) {
                gear_err_sys(e, errno, "cannot keep the input");
                if (fd >= 0)
                        close(fd);
                return -2;
        }
        return fd;
}

/* runs each group's command, prefixed when asked; the first failure's status */
static int plan_run(struct plan *p, bool prefixed)
{
        const char *cmd = strncmp(gear_prog, "gear-", 5) ? gear_prog : gear_prog + 5;
        _cleanup_(gear_err_clear) struct gear_err ierr = {0};
        _cleanup_free_ char *failed = NULL;
        _cleanup_close_ int in = input_file(p->o, &ierr);
        size_t nfailed = 0, flen = 0;
        FILE *f;
        int code = 0;

        if (in == -2)
                return gear_fail(&ierr, NULL);
        f = open_memstream(&failed, &flen);
        for (size_t i = 0; i < p->ng; i++) {
                _cleanup_(gear_err_clear) struct gear_err err = {0};
                _cleanup_free_ char *line = NULL, *prefix = NULL;
                char self[PATH_MAX], **argv = calloc(p->g[i].nargs + 8, sizeof *argv);
                int r = -1;

                if (in >= 0 && lseek(in, 0, SEEK_SET) < 0)
                        gear_err_sys(&err, errno, "cannot read the input again");
                else if (argv && (!prefixed || asprintf(&prefix, "%s\t", p->g[i].h.name) >= 0) &&
                         host_command(&p->g[i].h, cmd, p->g[i].args, &line, argv, self, &err) == 0)
                        r = host_stream(argv, prefix, in, &err);
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

/* the targets into p's groups: 1 when one is on another host */
static int plan_targets(struct plan *p, int argc, char **argv, int first, int n, struct gear_err *e)
{
        bool remote = false;

        if (plan_alloc(p, argc) < 0)
                return gear_err_sys(e, ENOMEM, "cannot parse arguments");
        for (int k = 0; k < argc - optind; k++) {
                const char *arg = argv[optind + k];

                p->of[k] = -1;
                if (k < first || (n >= 0 && k >= first + n) || strchr(arg, '='))
                        continue;
                if ((p->of[k] = target_split(p, arg, k, e)) < 0)
                        return -1;
                remote |= !p->g[p->of[k]].h.local;
        }
        return remote;
}

int targets_remote(int argc, char **argv, int first, int n, const struct targets_opts *o, struct gear_err *e)
{
        _cleanup_(plan_done) struct plan p = { .o = o };

        return plan_targets(&p, argc, argv, first, n, e);
}

int targets_run_opts(int argc, char **argv, int first, int n, const struct targets_opts *o)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(plan_done) struct plan p = { .o = o };
        int k = plan_targets(&p, argc, argv, first, n, &err);

        if (k < 0)
                return gear_fail(&err, NULL);
        /* all here: the command checks and acts on its own */
        if (!k)
                return -1;
        if (plan_args(&p, argc, argv, &err) < 0)
                return gear_fail(&err, NULL);
        return plan_run(&p, false);
}

int targets_run(int argc, char **argv, int first, int n)
{
        static const struct targets_opts plain = {0};

        return targets_run_opts(argc, argv, first, n, &plain);
}

int targets_run_hosts(int argc, char **argv)
{
        static const struct targets_opts plain = {0};
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(plan_done) struct plan p = { .o = &plain };

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
