/*
 * gear-repo: bare Git repositories in the container tree, each with a host
 * user git-ID that serves it over SSH (gear-switchns --git).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "../common/base/ctr-tree.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/repo/repo.h"

static const char usage[] =
"usage: gear-repo create ID [--from URL|DIR]\n"
"       gear-repo delete ID\n"
"       gear-repo list\n"
"       gear-repo archive [--format zip|tar|tar.gz] ID [REF]\n";

static int list(struct gear_tree *t)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_free_ gear_id *ids = NULL;
        char path[PATH_MAX];
        size_t n;

        if (repo_list(t, &ids, &n, &err) < 0)
                return gear_fail(&err, "cannot list repositories");
        for (size_t i = 0; i < n; i++) {
                repo_path(t, ids[i], path);
                printf("%s\t%s\n", ids[i], path);
        }
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}

int cmd_repo(int argc, char **argv)
{
        static const char *const verbs[] = { "create", "delete", "list", "archive", NULL };
        static const struct option options[] = {
                { "format", required_argument, NULL, 'F' },
                { "from",   required_argument, NULL, 'f' },
                { "help",   no_argument,       NULL, 'h' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        const char *verb, *from = NULL, *format = NULL;
        enum repo_format fmt = REPO_TAR;
        gear_id id;
        int c, n;

        if ((c = gear_verb(argc, argv, usage, verbs, &n)) < 0)
                return n;
        verb = verbs[c];
        argc--, argv++;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'f':
                        from = optarg;
                        break;
                case 'F':
                        format = optarg;
                        break;
                case ':':
                default:
                        return gear_option_error(usage, argv, c);
                }
        }
        n = argc - optind;
        if ((from && strcmp(verb, "create")) || (format && strcmp(verb, "archive")))
                return gear_usage_error(usage, "'%s' applies to %s only", from ? "--from" : "--format",
                                        from ? "create" : "archive");
        if (!strcmp(verb, "list")) {
                if (n)
                        return gear_usage_error(usage, "'list' takes no arguments");
        } else if (n < 1 || n > (strcmp(verb, "archive") ? 1 : 2)) {
                return gear_usage_error(usage, n < 1 ? "missing ID" : "too many arguments");
        }
        if ((n && repo_id_parse(argv[optind], id, &err) < 0) ||
            (format && repo_format_parse(format, &fmt, &err) < 0) || tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (!strcmp(verb, "list"))
                return list(&tree);
        if (!strcmp(verb, "create")) {
                if (repo_create(&tree, id, from, &err) < 0)
                        return gear_fail(&err, NULL);
                return GEAR_EXIT_OK;
        }
        if (!strcmp(verb, "delete")) {
                if (repo_delete(&tree, id, &err) < 0)
                        return gear_fail(&err, NULL);
                return GEAR_EXIT_OK;
        }
        /* a reader that goes away (| head) ends it as it ends git archive, but after its cleanup */
        signal(SIGPIPE, SIG_IGN);
        c = repo_archive(&tree, id, n == 2 ? argv[optind + 1] : NULL, fmt, STDOUT_FILENO, &err);
        if (c == -EPIPE) {
                signal(SIGPIPE, SIG_DFL);
                raise(SIGPIPE);
        }
        if (c < 0)
                return gear_fail(&err, NULL);
        return GEAR_EXIT_OK;
}
