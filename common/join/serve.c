/* gear-switchns --serve: the root side of a join, one connection (join.h) */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "join.h"
#include "../base/config.h"
#include "../base/fsutil.h"
#include "../base/tree.h"
#include "../container/container.h"
#include "../systemd/systemd.h"
#include "../systemd/unit.h"

extern char **environ;

struct request {
        struct join_request h;
        int fds[3]; /* the caller's stdin, stdout, stderr; -1 until received */
        char *cmd;
};

static void request_done(struct request *r)
{
        for (int i = 0; i < 3; i++)
                if (r->fds[i] >= 0)
                        close(r->fds[i]);
        free(r->cmd);
}

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* waits until fd is readable or the deadline passes */
static int wait_readable(int fd, long long deadline, struct gear_err *e)
{
        for (;;) {
                struct pollfd p = { fd, POLLIN, 0 };
                long long left = deadline - now_ms();
                int k;

                if (left <= 0)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "no request within %d ms", JOIN_REQUEST_TIMEOUT_MS);
                k = poll(&p, 1, (int)left);
                if (k > 0)
                        return 0;
                if (k < 0 && errno != EINTR)
                        return gear_err_sys(e, errno, "cannot read the request");
        }
}

/* the descriptors of one SCM_RIGHTS message: exactly three, all closed otherwise */
static int take_fds(struct msghdr *msg, struct request *r, struct gear_err *e)
{
        int n = 0;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
                int *p = (int *)CMSG_DATA(c);
                size_t k;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        if (n < 3 && r->fds[n] < 0)
                                r->fds[n] = p[i];
                        else
                                close(p[i]);
                        n++;
                }
        }
        if (n != 3 || (msg->msg_flags & MSG_CTRUNC))
                return gear_err_set(e, GEAR_EXIT_USAGE, "the request carries %d descriptors, not 3", n);
        return 0;
}

static int read_request(int fd, struct request *r, struct gear_err *e)
{
        long long deadline = now_ms() + JOIN_REQUEST_TIMEOUT_MS;
        size_t have = 0;

        while (have < sizeof r->h) {
                union {
                        char buf[CMSG_SPACE(4 * sizeof(int))];
                        struct cmsghdr align;
                } u;
                struct iovec iov = { (char *)&r->h + have, sizeof r->h - have };
                struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                                      .msg_control = u.buf, .msg_controllen = sizeof u.buf };
                ssize_t n;

                if (wait_readable(fd, deadline, e) < 0)
                        return -1;
                n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return gear_err_sys(e, errno, "cannot read the request");
                if (n == 0)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "the caller hung up before its request");
                /* the descriptors come with the first bytes, and only then */
                if (have == 0 && take_fds(&msg, r, e) < 0)
                        return -1;
                if (have > 0 && msg.msg_controllen) {
                        take_fds(&msg, &(struct request){ .fds = { -1, -1, -1 } }, e);
                        return gear_err_set(e, GEAR_EXIT_USAGE, "descriptors after the start of the request");
                }
                have += n;
        }
        if (r->h.magic != JOIN_MAGIC || (r->h.flags & ~JOIN_TTY) || r->h.cmd_len > JOIN_CMD_MAX ||
            !memchr(r->h.term, 0, sizeof r->h.term))
                return gear_err_set(e, GEAR_EXIT_USAGE, "a malformed request");
        if (strspn(r->h.term, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+_-") !=
            strlen(r->h.term))
                return gear_err_set(e, GEAR_EXIT_USAGE, "an invalid TERM");
        r->cmd = malloc(r->h.cmd_len + 1);
        if (!r->cmd)
                return gear_err_sys(e, ENOMEM, "cannot read the request");
        for (have = 0; have < r->h.cmd_len;) {
                ssize_t n;

                if (wait_readable(fd, deadline, e) < 0)
                        return -1;
                n = recv(fd, r->cmd + have, r->h.cmd_len - have, MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return gear_err_sys(e, errno, "cannot read the request");
                if (n == 0)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "the caller hung up in its request");
                have += n;
        }
        r->cmd[have] = 0;
        if (strlen(r->cmd) != have)
                return gear_err_set(e, GEAR_EXIT_USAGE, "the command holds a NUL byte");
        return 0;
}

/* the container of the caller uid, which must run as that user; 0, or -1 with e set */
static int caller_container(struct gear_tree *t, uid_t uid, gear_id id, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        struct isolate_user u;
        struct unit_meta meta;
        char want[64];
        int k;

        if (isolate_user_of_uid(uid, id, &u, e) < 0)
                return -1;
        k = container_read_unit(t, id, &text, e);
        if (k < 0) {
                if (k == -ENOENT)
                        gear_err_set(e, GEAR_EXIT_NO, "no container '%s'", id);
                return -1;
        }
        if (unit_parse_meta(text, &meta, e) < 0)
                return gear_err_wrap(e, "in the unit of '%s'", id);
        /* the unit, root's file, says which user the container runs as */
        snprintf(want, sizeof want, "%u:", (unsigned)uid);
        if (strncmp(meta.user, want, strlen(want)))
                return gear_err_set(e, GEAR_EXIT_NO, "container '%s' does not run as '%s'", id, u.name);
        return 0;
}

static int check_running(const char *id, struct gear_err *e)
{
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        struct systemd_unit_info info;
        char unit[CTR_PATH_MAX];

        container_unit_name(id, unit);
        if (systemd_open(&m, e) < 0 || systemd_unit_info(m, unit, &info, e) < 0)
                return -1;
        if (strcmp(info.active_state, "active"))
                return gear_err_set(e, GEAR_EXIT_NO, "container '%s' is not running (%s)", id, info.active_state);
        return 0;
}

/* podman [global args] exec -i [-t] --detach-keys= [--env TERM=...] ctr-ID /bin/sh [-c CMD] */
static int build_argv(struct gear_tree *t, const char *id, const struct request *r, struct gear_strv *argv,
                      struct gear_err *e)
{
        _cleanup_(config_done) struct gear_config c = {0};
        char name[CTR_PATH_MAX], term[JOIN_TERM_MAX + 16];
        bool ok;

        if (config_load(&c, t, e) < 0 || config_podman_argv(&c, argv, e) < 0)
                return -1;
        snprintf(name, sizeof name, "ctr-%s", id);
        ok = strv_push(argv, "exec") == 0 && strv_push(argv, "--interactive") == 0 &&
             strv_push(argv, "--detach-keys=") == 0;
        if (ok && (r->h.flags & JOIN_TTY)) {
                ok = strv_push(argv, "--tty") == 0;
                if (ok && *r->h.term) {
                        snprintf(term, sizeof term, "--env=TERM=%s", r->h.term);
                        ok = strv_push(argv, term) == 0;
                }
        }
        /* podman takes nothing after the container's name as its own option */
        ok = ok && strv_push(argv, name) == 0 && strv_push(argv, "/bin/sh") == 0;
        if (ok && *r->cmd)
                ok = strv_push(argv, "-c") == 0 && strv_push(argv, r->cmd) == 0;
        if (!ok)
                return gear_err_sys(e, ENOMEM, "cannot build the podman command");
        return 0;
}

static int spawn(char **argv, const int fds[3], pid_t *pid, struct gear_err *e)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none;
        int r;

        sigemptyset(&none);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
        posix_spawn_file_actions_init(&fa);
        for (int i = 0; i < 3; i++)
                posix_spawn_file_actions_adddup2(&fa, fds[i], i);
        r = posix_spawn(pid, argv[0], &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r)
                return gear_err_sys(e, r, "cannot run '%s'", argv[0]);
        return 0;
}

/* waits for pid while the caller is there: a resize passed on, a hang-up ends it */
static int supervise(int fd, pid_t pid, struct gear_err *e)
{
        _cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        bool gone = false;
        long long kill_at = 0;
        int status;

        if (pfd < 0)
                return gear_err_sys(e, errno, "cannot watch podman");
        for (;;) {
                struct pollfd p[2] = { { pfd, POLLIN, 0 }, { fd, gone ? 0 : POLLIN, 0 } };
                int timeout = gone ? 1000 : -1;

                if (poll(p, 2, timeout) < 0 && errno != EINTR)
                        return gear_err_sys(e, errno, "cannot watch podman");
                if (p[0].revents & POLLIN)
                        break;
                if (gone && now_ms() >= kill_at)
                        kill(-pid, SIGKILL);
                if (!gone && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
                        char buf[64];
                        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        for (ssize_t i = 0; i < n; i++)
                                if (buf[i] == JOIN_MSG_WINCH)
                                        kill(pid, SIGWINCH);
                        if (n <= 0) {
                                /* the login ended: podman goes, and its process group */
                                gone = true;
                                kill(-pid, SIGTERM);
                                kill_at = now_ms() + 5000;
                        }
                }
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return gear_err_sys(e, errno, "cannot wait for podman");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void send_status(int fd, int status)
{
        unsigned char buf[1 + sizeof(int32_t)] = { JOIN_MSG_EXIT };
        int32_t s = status;

        memcpy(buf + 1, &s, sizeof s);
        (void)!send(fd, buf, sizeof buf, MSG_NOSIGNAL);
}

int join_serve(int fd, struct gear_err *e)
{
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_(strv_done) struct gear_strv argv = {0};
        struct request r = { .fds = { -1, -1, -1 } };
        struct ucred cred;
        socklen_t len = sizeof cred;
        gear_id id = "";
        pid_t pid;
        int status;

        /* who called: the kernel's word, taken before anything the caller sends is read */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return gear_err_sys(e, errno, "cannot identify the caller");
        if (read_request(fd, &r, e) < 0) {
                request_done(&r);
                send_status(fd, e->code);
                return gear_err_wrap(e, "uid %u", (unsigned)cred.uid);
        }
        if (tree_init(&tree, e) < 0 || caller_container(&tree, cred.uid, id, e) < 0 ||
            check_running(id, e) < 0 || build_argv(&tree, id, &r, &argv, e) < 0 ||
            spawn(argv.v, r.fds, &pid, e) < 0) {
                /* the caller reads why on its own standard error */
                dprintf(r.fds[2], "gear-switchns: %s\n", e->msg);
                status = e->code;
                request_done(&r);
                send_status(fd, status);
                return status;
        }
        /* only podman holds the caller's terminal now: a hang-up reaches it */
        request_done(&r);
        status = supervise(fd, pid, e);
        if (status < 0)
                status = GEAR_EXIT_SYS;
        send_status(fd, status);
        return status;
}
