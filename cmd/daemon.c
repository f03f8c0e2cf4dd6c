/* gear-daemon: geard's HTTP API on a Unix socket (gear-daemon(1)) */
#include <getopt.h>
#include <string.h>

#include "commands.h"
#include "../common/daemon/daemon.h"

static const char usage[] =
"usage: gear-daemon [--listen unix:PATH] [--group GROUP]\n";

int cmd_daemon(int argc, char **argv)
{
        static const struct option options[] = {
                { "group",  required_argument, NULL, 'g' },
                { "help",   no_argument,       NULL, 'h' },
                { "listen", required_argument, NULL, 'l' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        struct daemon_opts o = {0};
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
                switch (c) {
                case 'g':
                        o.group = optarg;
                        break;
                case 'h':
                        return gear_help(usage);
                case 'l':
                        if (strncmp(optarg, "unix:", 5))
                                return gear_usage_error(usage, "'--listen' takes unix:PATH, not '%s'", optarg);
                        o.listen = optarg + 5;
                        break;
                case ':':
                default:
                        return gear_option_error(usage, argv, c);
                }
        if (optind != argc)
                return gear_usage_error(usage, "too many arguments");
        if (daemon_run(&o, &err) < 0)
                return gear_fail(&err, "cannot serve");
        return GEAR_EXIT_OK;
}
