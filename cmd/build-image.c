/*
 * gear-build-image: a Git source built into a container image by a
 * source-to-image builder, through podman; with --gear a Gear image too.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/build/build.h"

static const char usage[] =
"usage: gear-build-image [--gear] [--env NAME=VALUE]... [--ref REF] SOURCE BUILDER TAG\n"
"       gear-build-image --stdin-args\n";

/* the most --stdin-args reads */
#define STDIN_ARGS_MAX (4u << 20)

/*
 * --stdin-args: the arguments, each ended by a NUL, from standard input,
 * where no other user can read them as they can a command line. *argv
 * becomes argv[0] and them (malloc'd, into *buf).
 */
static int stdin_args(int *argc, char ***argv, char **buf, struct gear_err *e)
{
        size_t len = 0, cap = 0, n = 1;
        char **v;

        for (;;) {
                ssize_t k;

                if (len == cap) {
                        char *b = cap >= STDIN_ARGS_MAX ? NULL : realloc(*buf, cap = cap ? 2 * cap : 4096);
                        if (!b)
                                return gear_err_set(e, GEAR_EXIT_USAGE, "--stdin-args: more than %u bytes",
                                                    STDIN_ARGS_MAX);
                        *buf = b;
                }
                k = read(STDIN_FILENO, *buf + len, cap - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return gear_err_sys(e, errno, "cannot read the arguments");
                if (k == 0)
                        break;
                len += k;
        }
        if (len && (*buf)[len - 1])
                return gear_err_set(e, GEAR_EXIT_USAGE, "--stdin-args: the last argument has no NUL at its end");
        for (size_t i = 0; i < len; i++)
                n += !(*buf)[i];
        if (!(v = calloc(n + 1, sizeof *v)))
                return gear_err_sys(e, ENOMEM, "cannot read the arguments");
        v[0] = (*argv)[0];
        n = 1;
        for (size_t i = 0; i < len; i += strlen(*buf + i) + 1)
                v[n++] = *buf + i;
        *argc = n;
        *argv = v;
        return 0;
}

int cmd_build_image(int argc, char **argv)
{
        static const struct option options[] = {
                { "env",  required_argument, NULL, 'e' },
                { "gear", no_argument,       NULL, 'g' },
                { "help", no_argument,       NULL, 'h' },
                { "ref",  required_argument, NULL, 'r' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_free_ char **env = NULL, **args = NULL, *buf = NULL;
        struct build_image_opts o = { .out = STDOUT_FILENO };
        struct build_image_result res;
        int c, k;

        if (argc == 2 && !strcmp(argv[1], "--stdin-args")) {
                if (stdin_args(&argc, &argv, &buf, &err) < 0)
                        return gear_fail(&err, NULL);
                args = argv;
        }
        o.env = env = calloc(argc + 1, sizeof *env);
        if (!env) {
                gear_err_sys(&err, ENOMEM, "cannot parse arguments");
                return gear_fail(&err, NULL);
        }
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":he:gr:", options, NULL)) != -1)
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'e':
                        env[o.n_env++] = optarg;
                        break;
                case 'g':
                        o.gear = true;
                        break;
                case 'r':
                        o.ref = optarg;
                        break;
                case ':':
                default:
                        return gear_option_error(usage, argv, c);
                }
        if (argc - optind != 3)
                return gear_usage_error(usage, argc - optind < 3 ? "missing SOURCE, BUILDER or TAG" : "too many arguments");
        o.source = argv[optind];
        o.builder = argv[optind + 1];
        o.tag = argv[optind + 2];
        if (build_image_check(&o, &res.ref, &err) < 0 || tree_init(&tree, &err) < 0)
                return gear_fail(&err, "cannot build '%s'", o.tag);
        fflush(stdout);
        image_build_malloc();
        k = build_image(&tree, &o, &res, &err);
        if (k < 0) {
                k = gear_fail(&err, "cannot build '%s:%s'", res.ref.name, res.ref.tag);
                /* stopped by a signal: it ends this process too, once the build is cleaned up */
                if (res.signal) {
                        signal(res.signal, SIG_DFL);
                        raise(res.signal);
                }
                return k;
        }
        printf("image\t%s:%s\n", res.ref.name, res.ref.tag);
        printf("id\t%s\n", res.id);
        printf("commit\t%s\n", res.commit);
        if (o.gear)
                printf("manifest\tsha256:%s\n", res.manifest);
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
