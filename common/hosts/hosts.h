/*
 * Other hosts reached over ssh: gear-deploy's hosts and the HOST/ID targets
 * of the container commands. Uses base/ only. A gear command runs on
 * another host as "ssh -oBatchMode=yes [-p PORT] -- [USER@]NAME gear-CMD
 * ARG..." with the system's ssh (GEAR_SSH names another), so the user's
 * keys and ~/.ssh/config apply and no new network service is needed; every
 * argument is quoted for the remote shell, which sees it verbatim. On
 * "localhost" it runs here, as this binary.
 */
#ifndef GEAR_HOSTS_H
#define GEAR_HOSTS_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/err.h"

#define HOST_MAX 255
#define HOST_LOCAL "localhost"

struct remote_host {
        char name[HOST_MAX + 1]; /* as given: "localhost", or [USER@]NAME[:PORT] */
        char dest[HOST_MAX + 1]; /* [USER@]NAME, for ssh */
        char port[8];            /* ssh's -p, "" for its default */
        char addr[HOST_MAX + 1]; /* what a container of another host connects to: NAME */
        bool local;
};

/* "localhost", "local" (with allow_local), [USER@]NAME or [USER@]NAME:PORT; 100 when invalid */
int host_parse(const char *arg, bool allow_local, struct remote_host *h, struct gear_err *e);

/*
 * What runs gear-CMD ARGS on h: *line is "gear-CMD ARG..." with each ARG
 * quoted for a shell (what ssh hands the remote one, and what a report
 * shows); argv (room for n + 8 entries with n ARGS) is this binary's or
 * ssh's command line, pointing into h, args, line and self
 * (PATH_MAX bytes).
 */
int host_command(const struct remote_host *h, const char *cmd, char *const *args, char **line, char **argv,
                 char *self, struct gear_err *e);

/*
 * Runs argv (from host_command) with standard input in (a file read from
 * where it is; -1: /dev/null), standard error this process's and standard
 * output streamed to this process's, each line preceded by prefix when it
 * is not NULL. Returns the exit status as gear's table has it (another
 * status, a signal or an ssh failure: 111), or -1 when it could not be run.
 */
int host_stream(char *const *argv, const char *prefix, int in, struct gear_err *e);

/* a command's exit status as gear's table has it: 0, 1, 100, or 111 for any other */
int host_status(int r);

#endif
