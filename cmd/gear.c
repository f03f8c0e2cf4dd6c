/*
 * gear: one binary, many commands. "gear-NAME ARGS" and "gear NAME ARGS"
 * are the same call; the table below is sorted so it can be searched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "../common/base/err.h"

static const char usage[] =
"usage: gear NAME [ARGS...]\n"
"       gear --list\n"
"       gear --help\n";

struct command {
        const char *name;
        int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
        { "auth-keys-command", cmd_auth_keys_command },
        { "build",             cmd_build },
        { "build-image",       cmd_build_image },
        { "clean",             cmd_clean },
        { "daemon",            cmd_daemon },
        { "delete",            cmd_delete },
        { "deploy",            cmd_deploy },
        { "env",               cmd_env },
        { "export",            cmd_export },
        { "fs",                cmd_fs },
        { "fsck",              cmd_fsck },
        { "gc",                cmd_gc },
        { "idle",              cmd_idle },
        { "images",            cmd_images },
        { "index",             cmd_index },
        { "init",              cmd_init },
        { "install",           cmd_install },
        { "keys",              cmd_keys },
        { "link",              cmd_link },
        { "list-units",        cmd_list_units },
        { "ports",             cmd_ports },
        { "pull",              cmd_pull },
        { "purge",             cmd_purge },
        { "push",              cmd_push },
        { "recompress",        cmd_recompress },
        { "repo",              cmd_repo },
        { "restart",           cmd_restart },
        { "rmi",               cmd_rmi },
        { "set-env",           cmd_set_env },
        { "start",             cmd_start },
        { "status",            cmd_status },
        { "stop",              cmd_stop },
        { "switchns",          cmd_switchns },
        { "unidle",            cmd_unidle },
};

static int compare(const void *key, const void *elem)
{
        return strcmp(key, ((const struct command *)elem)->name);
}

static int run(const char *name, int argc, char **argv)
{
        static char prog[64];
        const struct command *c;

        c = bsearch(name, commands, ELEMENTSOF(commands), sizeof commands[0], compare);
        if (!c) {
                gear_warn("'%s' is not a gear command; see 'gear --list'", name);
                return GEAR_EXIT_UNKNOWN;
        }
        snprintf(prog, sizeof prog, "gear-%s", c->name);
        gear_prog = prog;
        argv[0] = prog;
        return c->run(argc, argv);
}

int main(int argc, char **argv)
{
        const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

        base = base ? base + 1 : argc > 0 ? argv[0] : "gear";
        if (!strncmp(base, "gear-", 5))
                return run(base + 5, argc, argv);
        if (argc < 2)
                return gear_usage_error(usage, NULL);
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
                return gear_help(usage);
        if (!strcmp(argv[1], "--list")) {
                for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                        printf("%s\n", commands[i].name);
                return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
        }
        if (argv[1][0] == '-')
                return gear_usage_error(usage, "unknown option '%s'", argv[1]);
        return run(argv[1], argc - 1, argv + 1);
}
