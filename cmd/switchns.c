/*
 * gear-switchns: sshd's forced command for the users gear makes. For the
 * users of containers (ctr-ID): runs the login, or the command it asked for,
 * inside the running container, through the join service
 * (common/join/join.h); with --serve it is that service, on the connection
 * systemd accepted for it (standard input). With --git or --git-ro, for the
 * user of a repository (git-ID): serves git clone, fetch and (with --git)
 * push of that user's repository only (common/repo/repo.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/join/join.h"
#include "../common/repo/repo.h"

static const char usage[] =
"usage: gear-switchns\n"
"       gear-switchns --serve\n"
"       gear-switchns --git\n"
"       gear-switchns --git-ro\n";

int cmd_switchns(int argc, char **argv)
{
        static const struct option options[] = {
                { "git",    no_argument, NULL, 'w' },
                { "git-ro", no_argument, NULL, 'r' },
                { "help",   no_argument, NULL, 'h' },
                { "serve",  no_argument, NULL, 's' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        int c, status, mode = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1)
                switch (c) {
                case 's':
                case 'w':
                case 'r':
                        if (mode && mode != c)
                                return gear_usage_error(usage, "one of '--serve', '--git' and '--git-ro'");
                        mode = c;
                        break;
                case 'h':
                        return gear_help(usage);
                default:
                        return gear_bad_option(usage, argv);
                }
        if (optind != argc)
                return gear_usage_error(usage, "too many arguments");
        if (mode == 's') {
                struct join_session s = {0};

                /* what the caller was told goes to the journal too, and a
                   line for each session; the service itself did its job */
                join_serve(STDIN_FILENO, &s, &err);
                if (err.code)
                        gear_warn("%s", err.msg);
                if (s.how)
                        gear_warn("%s: a session by %s ended with exit status %d", s.user, s.how, s.status);
                return GEAR_EXIT_OK;
        }
        if (tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (mode) {
                /* returns only when it does not run git */
                repo_serve(&tree, mode == 'w', &err);
                return gear_fail(&err, NULL);
        }
        status = join_client(tree.sysroot, &err);
        return status < 0 ? gear_fail(&err, NULL) : status;
}
