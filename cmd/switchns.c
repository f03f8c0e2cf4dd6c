/*
 * gear-switchns: sshd's forced command for the users of containers (ctr-ID):
 * runs the login, or the command it asked for, inside the running container,
 * through the join service (common/join/join.h). With --serve it is that
 * service, on the connection systemd accepted for it (standard input).
 */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/join/join.h"

static const char usage[] =
"usage: gear-switchns\n"
"       gear-switchns --serve\n";

int cmd_switchns(int argc, char **argv)
{
        static const struct option options[] = {
                { "help",  no_argument, NULL, 'h' },
                { "serve", no_argument, NULL, 's' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        bool serve = false;
        int c, status;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1)
                switch (c) {
                case 's':
                        serve = true;
                        break;
                case 'h':
                        return gear_help(usage);
                default:
                        return gear_bad_option(usage, argv);
                }
        if (optind != argc)
                return gear_usage_error(usage, "too many arguments");
        if (serve) {
                /* what the caller was told goes to the journal too; the
                   service itself did its job */
                join_serve(STDIN_FILENO, &err);
                if (err.code)
                        gear_warn("%s", err.msg);
                return GEAR_EXIT_OK;
        }
        if (tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        status = join_client(tree.sysroot, &err);
        return status < 0 ? gear_fail(&err, NULL) : status;
}
