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

/* the exit status the service sends; -1 when it ends without one */
static int wait_status(int fd, int sig)
{
        unsigned char buf[1 + sizeof(int32_t)];
        size_t have = 0;

        for (;;) {
                struct pollfd p[2] = { { fd, POLLIN, 0 }, { sig, POLLIN, 0 } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        char m = JOIN_MSG_WINCH;

                        if (read(sig, &si, sizeof si) == sizeof si)
                                (void)!write(fd, &m, 1);
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = read(fd, buf + have, sizeof buf - have);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                return -1;
                        have += n;
                        if (buf[0] != JOIN_MSG_EXIT)
                                return -1;
                        if (have == sizeof buf) {
                                int32_t status;
                                memcpy(&status, buf + 1, sizeof status);
                                return status >= 0 && status <= 255 ? status : -1;
                        }
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
        int status;

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
                if (term && strlen(term) < JOIN_TERM_MAX)
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
        status = wait_status(fd, sig);
        if (status < 0)
                return gear_err_set(e, GEAR_EXIT_SYS, "the join service ended without an exit status");
        return status;
}
