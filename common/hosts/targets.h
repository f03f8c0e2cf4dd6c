/*
 * HOST/ID targets: a container command aimed at other hosts runs there over
 * ssh (hosts.h). A target is ID, localhost/ID or local/ID (here), or
 * HOST/ID with HOST [USER@]NAME[:PORT] (port: ssh's).
 */
#ifndef GEAR_TARGETS_H
#define GEAR_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/err.h"

/*
 * Called by a command after its option parsing, with argv as getopt left it
 * (the options first, the operands from optind); gear_prog names the
 * command. The operands [first, first + n) (n < 0: to the end) that hold no
 * '=' are targets. Every target is checked before any host is reached (100
 * when one is invalid). When every target is here, returns -1: the command
 * goes on (id_parse takes the localhost/ forms). Else gear-CMD runs once on
 * each host named, in the order first named, with the command's options and
 * operands, its targets replaced by that host's ids (the local ones here, as
 * this binary), their output streamed; returns the first failure's exit
 * status, and when more than one host was reached and some failed, says
 * which on standard error.
 */
int targets_run(int argc, char **argv, int first, int n);

/* what a command that is not a plain container command gives each host */
struct targets_opts {
        const char *verb;      /* the first argument on every host ("add"); NULL: none */
        char *const *options;  /* the options each host gets (NULL-terminated); NULL: the command's own */
        bool schemes;          /* targets may be ctr://[HOST/]ID and repo://[HOST/]ID (gear-keys) */
        const char *input;     /* standard input of each host's command; NULL: /dev/null */
        size_t input_len;
};

/* targets_run with o */
int targets_run_opts(int argc, char **argv, int first, int n, const struct targets_opts *o);
/*
 * Whether a target of [first, first + n) names another host: 1 or 0, or -1
 * (e set, code 100) when one is invalid. Nothing is run.
 */
int targets_remote(int argc, char **argv, int first, int n, const struct targets_opts *o, struct gear_err *e);

/*
 * The same for a command whose operands are HOSTs (gear-list-units): -1
 * when there are none, else each host runs the command with its options
 * only, each line of its output after "HOST<tab>" when more than one is named.
 */
int targets_run_hosts(int argc, char **argv);

#endif
