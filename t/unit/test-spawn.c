/* unit tests of common/base/spawn.c: the table spawn_kill_all signals; TAP on stdout */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "../../common/base/spawn.h"

int main(void)
{
        char *true_argv[] = { "/bin/true", NULL }, *sleep_argv[] = { "/bin/sleep", "5", NULL };
        struct gear_err e = {0};
        int status = 0, all = 1;
        pid_t pid;

        /* more children than the table holds, each reaped by the caller and forgotten */
        for (int i = 0; i < 100; i++) {
                pid = spawn_fds(true_argv, -1, -1, -1, 0, &e);
                if (pid < 0 || waitpid(pid, &status, 0) != pid)
                        all = 0;
                spawn_forget(pid);
        }
        ok(all, "100 children reaped and forgotten");
        pid = spawn_fds(sleep_argv, -1, -1, -1, SPAWN_OWN_GROUP, &e);
        ok(pid > 0 && getpgid(pid) == pid, "SPAWN_OWN_GROUP: a process group of its own");
        spawn_kill_all(SIGTERM);
        ok(pid > 0 && spawn_wait(pid, "sleep", &e) < 0 && e.code,
           "the next child is in the table still: spawn_kill_all ends it");
        pid = spawn_fork(0, &e);
        if (pid == 0)
                _exit(7);
        ok(pid > 0 && spawn_wait(pid, "child", &e) == 7, "spawn_fork: the child's exit status");
        printf("1..%d\n", count);
        return failed ? 1 : 0;
}
