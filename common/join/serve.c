/* gear-switchns --serve: the root side of a join, one connection (join.h) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
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
                if (r->fds[i] >= 0) {
                        close(r->fds[i]);
                        r->fds[i] = -1;
                }
        free(r->cmd);
        r->cmd = NULL;
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
                        return gear_err_set(e, GEAR_EXIT_SYS, "no request within %d ms", JOIN_REQUEST_TIMEOUT_MS);
                k = poll(&p, 1, (int)left);
                if (k > 0)
                        return 0;
                if (k < 0 && errno != EINTR)
                        return gear_err_sys(e, errno, "cannot read the request");
        }
}

/* what root may hand to podman as a standard stream: a pipe, a terminal, a
   stream socket, a file the caller opened or /dev/null. Not a datagram
   socket (a log daemon would credit root with what the caller wrote), nor
   an O_PATH descriptor or a directory */
static bool stream_ok(int fd)
{
        struct stat st;
        int type, fl = fcntl(fd, F_GETFL);
        socklen_t len = sizeof type;

        if (fl < 0 || (fl & O_PATH) || fstat(fd, &st) < 0)
                return false;
        if (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode))
                return true;
        if (S_ISCHR(st.st_mode))
                return isatty(fd) || st.st_rdev == makedev(1, 3);
        if (S_ISSOCK(st.st_mode))
                return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
        return false;
}

/* the descriptors of one SCM_RIGHTS message: exactly three streams, all closed otherwise */
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
        if (msg->msg_flags & MSG_CTRUNC)
                return gear_err_set(e, GEAR_EXIT_USAGE, "the request carries more than 3 descriptors");
        if (n != 3)
                return gear_err_set(e, GEAR_EXIT_USAGE, "the request carries %d descriptors, not 3", n);
        for (int i = 0; i < 3; i++)
                if (!stream_ok(r->fds[i]))
                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                            "descriptor %d is not a pipe, a terminal, a file or a stream socket", i);
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
                        struct request late = { .fds = { -1, -1, -1 } };
                        take_fds(&msg, &late, e);
                        for (int i = 0; i < 3; i++)
                                if (late.fds[i] >= 0)
                                        close(late.fds[i]);
                        gear_err_clear(e);
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

/* container id, which must run as the caller uid (known to be ctr-<id> of ours); 0, or -1 with e set */
static int caller_container(struct gear_tree *t, uid_t uid, const char *id, const char *user, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        struct unit_meta meta;
        char want[64];
        int k;

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
        if (strcmp(meta.id, id) || strncmp(meta.user, want, strlen(want)))
                return gear_err_set(e, GEAR_EXIT_NO, "container '%s' does not run as '%s'", id, user);
        return 0;
}

/* one of the caller's JOIN_SESSIONS_PER_USER slots, held (flock) while the session lasts */
static int take_slot(struct gear_tree *t, uid_t uid, struct gear_err *e)
{
        char dir[PATH_MAX], path[PATH_MAX + 32];

        snprintf(dir, sizeof dir, "%s/run/gear/join", t->sysroot);
        if (mkdir_p_at(AT_FDCWD, dir, 0700, e) < 0)
                return -1;
        for (int i = 0; i < JOIN_SESSIONS_PER_USER; i++) {
                int fd;

                snprintf(path, sizeof path, "%s/%u.%d", dir, (unsigned)uid, i);
                fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return gear_err_sys(e, errno, "cannot open '%s'", path);
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        return fd;
                close(fd);
        }
        return gear_err_set(e, GEAR_EXIT_NO, "%d sessions of uid %u run already", JOIN_SESSIONS_PER_USER,
                            (unsigned)uid);
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

/* runc, when it runs the container under its default root (podman's way
   with runtime runc): the container's runtime id, which its unit has podman
   write (UNIT_CID_DIR), in cid; the way in without podman's start-up */
static const char *runc_target(const struct gear_tree *t, const struct gear_config *c, const char *id,
                               char cid[65])
{
        static const char *const runcs[] = { "/usr/bin/runc", "/usr/sbin/runc", "/usr/local/bin/runc",
                                             "/usr/local/sbin/runc" };
        char path[PATH_MAX + 64], buf[66];
        struct stat st;
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "%s" UNIT_CID_DIR "/%s", t->sysroot, id);
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        /* exactly 64 hex digits, and perhaps a newline */
        n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 ? read(fd, buf, sizeof buf) : -1;
        close(fd);
        if (!(n == 64 || (n == 65 && buf[64] == '\n')))
                return NULL;
        memcpy(cid, buf, 64);
        cid[64] = 0;
        if (strspn(cid, "0123456789abcdef") != 64)
                return NULL;
        snprintf(path, sizeof path, JOIN_RUNC_ROOT "/%s/state.json", cid);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                return NULL;
        if (c->runtime[0] == '/')
                return strcmp(strrchr(c->runtime, '/'), "/runc") || access(c->runtime, X_OK) ? NULL : c->runtime;
        for (size_t i = 0; i < sizeof runcs / sizeof *runcs; i++)
                if (access(runcs[i], X_OK) == 0)
                        return runcs[i];
        return NULL;
}

/* "podman [global args] exec -i [-t] --detach-keys= [--env TERM=...] ctr-ID", or
   "runc --root R exec [-t] [--env TERM=...] CID"; then
   "/bin/sh [-c CMD]". Neither takes anything after the container as its own option */
static int build_argv(const struct gear_config *c, const char *id, const char *runc, const char *cid,
                      const struct request *r, struct gear_strv *argv, struct gear_err *e)
{
        char name[CTR_PATH_MAX], term[JOIN_TERM_MAX + 16];
        bool tty = r->h.flags & JOIN_TTY, ok;

        snprintf(name, sizeof name, "ctr-%s", id);
        if (runc) {
                ok = strv_push(argv, runc) == 0 && strv_push(argv, "--root=" JOIN_RUNC_ROOT) == 0 &&
                     strv_push(argv, "exec") == 0;
                if (ok && tty)
                        ok = strv_push(argv, "--tty") == 0;
        } else {
                if (config_podman_argv(c, argv, e) < 0)
                        return -1;
                ok = strv_push(argv, "exec") == 0 && strv_push(argv, "--interactive") == 0 &&
                     strv_push(argv, "--detach-keys=") == 0 && (!tty || strv_push(argv, "--tty") == 0);
        }
        if (ok && tty && *r->h.term) {
                snprintf(term, sizeof term, "--env=TERM=%s", r->h.term);
                ok = strv_push(argv, term) == 0;
        }
        ok = ok && strv_push(argv, runc ? cid : name) == 0 && strv_push(argv, "/bin/sh") == 0;
        if (ok && *r->cmd)
                ok = strv_push(argv, "-c") == 0 && strv_push(argv, r->cmd) == 0;
        if (!ok)
                return gear_err_sys(e, ENOMEM, "cannot build the command");
        return 0;
}

static int spawn(char **argv, const int fds[3], pid_t *pid, struct gear_err *e)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int r;

        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
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

/* waits up to ms for pid to end: its wait status, or -1 while it runs */
static int reap_within(pid_t pid, int ms)
{
        int status;

        for (int waited = 0;; waited += 50) {
                pid_t k = waitpid(pid, &status, WNOHANG);

                if (k == pid)
                        return status;
                if ((k < 0 && errno != EINTR) || waited >= ms)
                        return -1;
                usleep(50000);
        }
}

/* the process group of podman or runc: SIGHUP first (runc passes it on, and
   a shell on a terminal ends on it as on a hang-up), SIGTERM after a second,
   SIGKILL after 5 more; then reaped */
static int end_child(pid_t pid)
{
        int status;

        kill(-pid, SIGHUP);
        if ((status = reap_within(pid, 1000)) >= 0)
                return status;
        kill(-pid, SIGTERM);
        if ((status = reap_within(pid, 5000)) >= 0)
                return status;
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return status;
}

/* waits for podman or runc while the caller is there: a resize passed on
   (both read the new size from the caller's terminal), a hang-up ends it */
static int supervise(int fd, pid_t pid, struct gear_err *e)
{
        _cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int status;

        if (pfd < 0) {
                gear_err_sys(e, errno, "cannot watch the session");
                end_child(pid);
                return -1;
        }
        for (;;) {
                struct pollfd p[2] = { { pfd, POLLIN, 0 }, { fd, POLLIN, 0 } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        gear_err_sys(e, errno, "cannot watch the session");
                        end_child(pid);
                        return -1;
                }
                if (p[0].revents & POLLIN)
                        break;
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        char buf[64];
                        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n > 0 && memchr(buf, JOIN_MSG_WINCH, n))
                                kill(pid, SIGWINCH);
                        if (n <= 0) {
                                /* the login ended: the session goes, and its process group */
                                status = end_child(pid);
                                return gear_err_set(e, GEAR_EXIT_SYS, "the caller hung up (the session %s)",
                                                    status < 0 ? "was not reaped" : "ended");
                        }
                }
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return gear_err_sys(e, errno, "cannot wait for the session");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* the answer: a message first when there is one (never blocking: a caller that
   reads nothing only loses it), then the status */
static void send_answer(int fd, const char *msg, int status)
{
        unsigned char buf[3 + JOIN_MSG_MAX + 1 + sizeof(int32_t)];
        size_t len = 0, n = msg ? strnlen(msg, JOIN_MSG_MAX) : 0;
        uint16_t l = n;
        int32_t s = status;

        if (msg) {
                buf[len++] = JOIN_MSG_ERROR;
                memcpy(buf + len, &l, sizeof l);
                len += sizeof l;
                memcpy(buf + len, msg, n);
                len += n;
        }
        buf[len++] = JOIN_MSG_EXIT;
        memcpy(buf + len, &s, sizeof s);
        len += sizeof s;
        (void)!send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

int join_serve(int fd, struct join_session *s, struct gear_err *e)
{
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_(strv_done) struct gear_strv argv = {0};
        _cleanup_(config_done) struct gear_config conf = {0};
        _cleanup_close_ int slot = -1;
        struct request r = { .fds = { -1, -1, -1 } };
        struct isolate_user u;
        struct ucred cred;
        socklen_t len = sizeof cred;
        const char *runc = NULL;
        char cid[65];
        gear_id id = "";
        pid_t pid;
        int status;

        /* who called: the kernel's word. Anyone but a container's user is hung
           up on before a byte is read, so strangers cannot hold the service */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                gear_err_sys(e, errno, "cannot identify the caller");
                return GEAR_EXIT_SYS;
        }
        if (isolate_user_of_uid(cred.uid, id, &u, e) < 0) {
                send_answer(fd, e->msg, e->code);
                return e->code;
        }
        if (tree_init(&tree, e) < 0 || (slot = take_slot(&tree, cred.uid, e)) < 0 || read_request(fd, &r, e) < 0 ||
            caller_container(&tree, cred.uid, id, u.name, e) < 0 || check_running(id, e) < 0 ||
            config_load(&conf, &tree, e) < 0 ||
            build_argv(&conf, id, (runc = runc_target(&tree, &conf, id, cid)), cid, &r, &argv, e) < 0 ||
            spawn(argv.v, r.fds, &pid, e) < 0) {
                request_done(&r);
                send_answer(fd, e->msg, e->code);
                gear_err_wrap(e, "%s", u.name);
                return e->code;
        }
        /* only the child holds the caller's streams now: a hang-up reaches it */
        request_done(&r);
        status = supervise(fd, pid, e);
        if (status < 0)
                status = GEAR_EXIT_SYS;
        snprintf(s->user, sizeof s->user, "%s", u.name);
        s->how = runc ? "runc exec" : "podman exec";
        s->status = status;
        send_answer(fd, e->code ? e->msg : NULL, status);
        if (e->code)
                gear_err_wrap(e, "%s", u.name);
        return status;
}
