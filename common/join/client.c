/* gear-switchns as sshd's forced command: hands the login to the join service (join.h) */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "join.h"
#include "../base/fsutil.h"
#include "../systemd/unit.h"

static int send_request(int fd, const struct join_request *req, const char *cmd)
{
        int fds[3] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };
        union {
                char buf[CMSG_SPACE(sizeof fds)];
                struct cmsghdr align;
        } u = {0};
        struct iovec iov[2] = { { (void *)req, sizeof *req }, { (void *)cmd, req->cmd_len } };
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = req->cmd_len ? 2 : 1,
                              .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        size_t total = sizeof *req + req->cmd_len;
        ssize_t n;

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof fds);
        memcpy(CMSG_DATA(c), fds, sizeof fds);
        do
                n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -1;
        /* the descriptors went with the first byte; the rest of a long command follows */
        if ((size_t)n < sizeof *req)
                return errno = EPROTO, -1;
        return write_all(fd, cmd + (n - sizeof *req), total - n);
}

/* the service's answer: its message (if any) into e, and the exit status; -1
   when it ends without one, or when sshd hung up on this login (standard
   output or error gone: sshd sends no signal to a login without a terminal) */
static int wait_answer(int fd, int sig, struct gear_err *e)
{
        unsigned char buf[3 + JOIN_MSG_MAX + 1 + sizeof(int32_t)];
        size_t have = 0;

        for (;;) {
                struct pollfd p[4] = { { fd, POLLIN, 0 }, { sig, POLLIN, 0 },
                                       { STDOUT_FILENO, 0, 0 }, { STDERR_FILENO, 0, 0 } };
                size_t need;

                if (poll(p, 4, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return gear_err_sys(e, errno, "cannot wait for the join service");
                }
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        char m = JOIN_MSG_WINCH;

                        if (read(sig, &si, sizeof si) == sizeof si)
                                (void)!send(fd, &m, 1, MSG_NOSIGNAL);
                }
                if ((p[2].revents | p[3].revents) & (POLLERR | POLLHUP))
                        return gear_err_set(e, GEAR_EXIT_SYS, "the login hung up");
                if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                ssize_t n = read(fd, buf + have, sizeof buf - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return gear_err_set(e, GEAR_EXIT_SYS, "the join service ended without an exit status");
                have += n;
                for (;;) {
                        uint16_t l = 0;
                        size_t skip = 0;

                        if (have >= 3 && buf[0] == JOIN_MSG_ERROR) {
                                memcpy(&l, buf + 1, sizeof l);
                                skip = 3 + (size_t)l;
                        }
                        need = buf[0] == JOIN_MSG_ERROR ? skip + 1 + sizeof(int32_t) : 1 + sizeof(int32_t);
                        if (!have || (buf[0] != JOIN_MSG_ERROR && buf[0] != JOIN_MSG_EXIT) || l > JOIN_MSG_MAX)
                                return gear_err_set(e, GEAR_EXIT_SYS, "the join service says something else");
                        if (have < 3 || have < need)
                                break;
                        if (buf[skip] != JOIN_MSG_EXIT)
                                return gear_err_set(e, GEAR_EXIT_SYS, "the join service says something else");
                        int32_t status;
                        memcpy(&status, buf + skip + 1, sizeof status);
                        if (status < 0 || status > 255)
                                return gear_err_set(e, GEAR_EXIT_SYS, "the join service says something else");
                        if (skip) {
                                gear_err_set(e, status ? status : GEAR_EXIT_SYS, "%.*s", (int)l, (char *)buf + 3);
                                return -1;
                        }
                        return status;
                }
        }
}

int join_client(const char *sysroot, struct gear_err *e)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *cmd = getenv("SSH_ORIGINAL_COMMAND"), *term = getenv("TERM");
        struct join_request req = { .magic = JOIN_MAGIC };
        _cleanup_close_ int fd = -1, sig = -1;
        sigset_t mask;
        size_t len = cmd ? strlen(cmd) : 0;
        if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s" UNIT_SWITCHNS_SOCKET, sysroot) >=
            sizeof sa.sun_path) {
                return gear_err_set(e, GEAR_EXIT_USAGE, "the join socket path under '%s' is too long", sysroot);
        }
        if (len > JOIN_CMD_MAX) {
                return gear_err_set(e, GEAR_EXIT_USAGE, "the command is longer than %u bytes", JOIN_CMD_MAX);
        }
        req.cmd_len = len;
        if (isatty(STDIN_FILENO)) {
                req.flags |= JOIN_TTY;
                /* a name the service would refuse is left out, not fatal */
                if (term && strlen(term) < JOIN_TERM_MAX &&
                    strspn(term, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+_-") == strlen(term))
                        strcpy(req.term, term);
        }
        /* resizes of the terminal go to the service, which passes them on to podman */
        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || (sig = signalfd(-1, &mask, SFD_CLOEXEC)) < 0)
                return gear_err_sys(e, errno, "cannot watch the terminal");
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                return gear_err_sys(e, errno, "cannot reach the join service at '%s'", sa.sun_path);
        if (send_request(fd, &req, cmd ? cmd : "") < 0)
                return gear_err_sys(e, errno, "cannot send the request to the join service");
        return wait_answer(fd, sig, e);
}
