/*
 * gear-auth-keys-command: sshd's AuthorizedKeysCommand. Prints the keys of
 * the user's container (ctr-ID) or repository (git-ID) with forced commands;
 * reads only that container's or repository's files and never writes.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "../common/base/config.h"
#include "../common/base/err.h"
#include "../common/base/fsutil.h"
#include "../common/base/tree.h"
#include "../common/keys/keys.h"

static const char usage[] =
"usage: gear-auth-keys-command USER\n"
"       gear-auth-keys-command --forced-command\n";

/* gear-bin= of the host's gear.conf, root's file: nothing in sshd's or a user's environment moves it */
static int forced_command(const struct gear_tree *t, char *buf, size_t n, struct gear_err *e)
{
        _cleanup_(config_done) struct gear_config c = {0};

        if (config_load(&c, t, e) < 0)
                return -1;
        if ((size_t)snprintf(buf, n, "%s/gear-switchns", c.gear_bin) >= n)
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s: gear-bin is too long", c.path);
        return 0;
}

int cmd_auth_keys_command(int argc, char **argv)
{
        static const struct option options[] = {
                { "forced-command", no_argument, NULL, 'c' },
                { "help",           no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_free_ char *out = NULL;
        char switchns[PATH_MAX + 16];
        size_t len = 0;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1)
                switch (c) {
                case 'c':
                        if (optind != argc)
                                return gear_usage_error(usage, "'--forced-command' takes no arguments");
                        if (tree_init(&tree, &err) < 0 || forced_command(&tree, switchns, sizeof switchns, &err) < 0)
                                return gear_fail(&err, NULL);
                        printf("%s\n", switchns);
                        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
                case 'h':
                        return gear_help(usage);
                default:
                        return gear_bad_option(usage, argv);
                }
        if (argc - optind != 1)
                return gear_usage_error(usage, "want one USER");
        /* the whole answer or nothing: sshd must never see half a list */
        if (tree_init(&tree, &err) < 0 || forced_command(&tree, switchns, sizeof switchns, &err) < 0 ||
            keys_authorized(&tree, argv[optind], switchns, &out, &len, &err) < 0)
                return gear_fail(&err, "cannot list keys of '%s'", argv[optind]);
        if (write_all(STDOUT_FILENO, out, len) < 0) {
                gear_warn("cannot write keys of '%s'", argv[optind]);
                return GEAR_EXIT_SYS;
        }
        return GEAR_EXIT_OK;
}
