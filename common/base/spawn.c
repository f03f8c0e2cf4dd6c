#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "fsutil.h"
#include "macro.h"

extern char **environ;

/* the children started and not reaped yet, for spawn_kill_all; 0: a free slot */
static volatile pid_t children[64];

static void child_add(pid_t pid)
{
        for (size_t i = 0; i < ELEMENTSOF(children); i++)
                if (__sync_bool_compare_and_swap(&children[i], 0, pid))
                        return;
}

static void child_del(pid_t pid)
{
        for (size_t i = 0; i < ELEMENTSOF(children); i++)
                __sync_bool_compare_and_swap(&children[i], pid, 0);
}

void spawn_kill_all(int sig)
{
        for (size_t i = 0; i < ELEMENTSOF(children); i++) {
                pid_t pid = children[i];
                if (pid > 0)
                        kill(pid, sig);
        }
}

/* in the child, between fork and exec: only async-signal-safe calls */
static void child(char *const argv[], const struct spawn_opts *o, int in, int out)
{
        if (o && o->netns_fd >= 0) {
                if (setns(o->netns_fd, CLONE_NEWNET) < 0)
                        _exit(126);
                if (o->sysctl) {
                        const char *eq = strchr(o->sysctl, '=');
                        char path[256];
                        int fd;

                        if (!eq || (size_t)(eq - o->sysctl) >= sizeof path)
                                _exit(126);
                        memcpy(path, o->sysctl, eq - o->sysctl);
                        path[eq - o->sysctl] = 0;
                        fd = open(path, O_WRONLY | O_CLOEXEC);
                        if (fd < 0 || write(fd, eq + 1, strlen(eq + 1)) < 0)
                                _exit(126);
                        close(fd);
                }
        }
        if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
                _exit(126);
        execve(argv[0], argv, environ);
        _exit(127);
}

int spawn_run(char *const argv[], const struct spawn_opts *o, char *out, size_t n, struct gear_err *e)
{
        _cleanup_close_ int in_r = -1, in_w = -1, out_r = -1, out_w = -1;
        int p[2];
        size_t len = 0;
        pid_t pid;

        if (o && o->input) {
                if (pipe2(p, O_CLOEXEC) < 0)
                        return gear_err_sys(e, errno, "cannot run '%s'", argv[0]);
                in_r = p[0], in_w = p[1];
        } else if ((in_r = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
                return gear_err_sys(e, errno, "cannot run '%s'", argv[0]);
        if (pipe2(p, O_CLOEXEC) < 0)
                return gear_err_sys(e, errno, "cannot run '%s'", argv[0]);
        out_r = p[0], out_w = p[1];
        pid = fork();
        if (pid < 0)
                return gear_err_sys(e, errno, "cannot run '%s'", argv[0]);
        if (pid == 0)
                child(argv, o, in_r, out_w);
        child_add(pid);
        close(TAKE_FD(out_w));
        close(TAKE_FD(in_r));
        if (in_w >= 0) {
                /* small inputs (a ruleset): more than a pipe holds would need a poll loop */
                struct sigaction ign = { .sa_handler = SIG_IGN }, old;
                sigaction(SIGPIPE, &ign, &old);
                int r = write_all(in_w, o->input, o->input_len);
                sigaction(SIGPIPE, &old, NULL);
                close(TAKE_FD(in_w));
                (void)r;
        }
        for (;;) {
                char buf[512];
                ssize_t k = read(out_r, buf, sizeof buf);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                for (ssize_t i = 0; i < k; i++)
                        if (len + 1 < n)
                                out[len++] = buf[i];
        }
        if (n) {
                while (len && out[len - 1] == '\n')
                        len--;
                out[len] = 0;
        }
        return spawn_wait(pid, argv[0], e);
}

pid_t spawn_pipe(char *const argv[], int *out_fd, int *err_fd, struct gear_err *e)
{
        _cleanup_close_ int out_r = -1, out_w = -1, err = -1;
        int p[2];
        pid_t pid;

        if ((err = memfd_create("stderr", MFD_CLOEXEC)) < 0 || pipe2(p, O_CLOEXEC) < 0)
                return gear_err_sys(e, errno, "cannot run '%s'", argv[0]);
        out_r = p[0], out_w = p[1];
        pid = spawn_fds(argv, -1, out_w, err, 0, e);
        if (pid < 0)
                return -1;
        *out_fd = TAKE_FD(out_r);
        *err_fd = TAKE_FD(err);
        return pid;
}

pid_t spawn_fork(unsigned flags, struct gear_err *e)
{
        pid_t pid = fork();

        if (pid < 0)
                return gear_err_sys(e, errno, "cannot fork");
        if (pid == 0) {
                sigset_t none;

                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, SIG_DFL);
                if (flags & SPAWN_OWN_GROUP)
                        setpgid(0, 0);
                return 0;
        }
        if (flags & SPAWN_OWN_GROUP)
                setpgid(pid, pid);
        child_add(pid);
        return pid;
}

pid_t spawn_fds(char *const argv[], int in, int out, int err, unsigned flags, struct gear_err *e)
{
        _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        pid_t pid;

        if (null < 0)
                return gear_err_sys(e, errno, "cannot run '%s'", argv[0]);
        pid = spawn_fork(flags, e);
        if (pid < 0)
                return gear_err_wrap(e, "cannot run '%s'", argv[0]);
        if (pid == 0) {
                if (dup2(in >= 0 ? in : null, STDIN_FILENO) < 0 || dup2(out >= 0 ? out : null, STDOUT_FILENO) < 0 ||
                    dup2(err >= 0 ? err : null, STDERR_FILENO) < 0)
                        _exit(126);
                execve(argv[0], argv, environ);
                _exit(127);
        }
        return pid;
}

void spawn_forget(pid_t pid)
{
        child_del(pid);
}

int spawn_wait(pid_t pid, const char *name, struct gear_err *e)
{
        siginfo_t si;
        int status;

        /* out of the table before the pid can be reused, not before it ended */
        while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
                ;
        child_del(pid);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return gear_err_sys(e, errno, "cannot wait for '%s'", name);
        if (!WIFEXITED(status))
                return gear_err_set(e, GEAR_EXIT_SYS, "'%s' was killed by signal %d", name, WTERMSIG(status));
        return WEXITSTATUS(status);
}
