/* running a helper program (podman, nft, useradd) and collecting what it says */
#ifndef GEAR_SPAWN_H
#define GEAR_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

struct spawn_opts {
        const char *input;   /* written to its standard input (NULL: /dev/null) */
        size_t input_len;
        int netns_fd;        /* >= 0: run it in that network namespace */
        const char *sysctl;  /* with netns_fd: "PATH=VALUE" under /proc/sys written there first */
};

/*
 * Runs argv (argv[0] an absolute path) with standard output and error
 * collected into out (at most n - 1 bytes kept, NUL-terminated; trailing
 * newlines dropped). Returns its exit status, or -1 when it could not be run
 * or was killed.
 */
int spawn_run(char *const argv[], const struct spawn_opts *o, char *out, size_t n, struct gear_err *e);

/*
 * Starts argv (argv[0] an absolute path) with its standard output readable
 * from *out_fd and its standard error kept in a memory file (*err_fd, read
 * from offset 0 once it ended); standard input is /dev/null. Returns its
 * pid. As spawn_fds starts it.
 */
pid_t spawn_pipe(char *const argv[], int *out_fd, int *err_fd, struct gear_err *e);
/* the child in a process group of its own: SIGINT and SIGHUP sent to the caller's group do not reach it */
#define SPAWN_OWN_GROUP 1u
/*
 * fork() with the child listed for spawn_kill_all until spawn_wait or
 * spawn_forget: 0 in the child (its signal mask empty, SIGPIPE at its
 * default), its pid in the parent.
 */
pid_t spawn_fork(unsigned flags, struct gear_err *e);
/*
 * Starts argv (argv[0] an absolute path) with in, out and err as its
 * standard input, output and error (-1: /dev/null; out and err may be the
 * same), an empty signal mask and SIGPIPE at its default. Returns its pid.
 */
pid_t spawn_fds(char *const argv[], int in, int out, int err, unsigned flags, struct gear_err *e);
/* a child reaped otherwise than by spawn_wait: out of spawn_kill_all's list, before its pid can be reused */
void spawn_forget(pid_t pid);
/* its exit status, or -1 when it was killed (name in messages) */
int spawn_wait(pid_t pid, const char *name, struct gear_err *e);
/*
 * Sends sig to every child the functions above started and spawn_wait has
 * not reaped yet: for a signal handler (async-signal-safe), so that an
 * interrupted command ends its helpers without knowing which one runs.
 */
void spawn_kill_all(int sig);

#endif
