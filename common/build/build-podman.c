/* one build's podman calls, their output, and the signals that stop them */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "build-int.h"
#include "../base/fsutil.h"
#include "../base/spawn.h"

volatile sig_atomic_t build_caught;
static volatile sig_atomic_t holding;

/* the first signal stops the build: every helper running gets SIGTERM */
static void on_signal(int sig)
{
        int saved = errno;

        if (!build_caught) {
                build_caught = sig;
                if (!holding)
                        spawn_kill_all(SIGTERM);
        }
        errno = saved;
}

void build_signals_catch(struct build_signals *s)
{
        struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART }, ign = { .sa_handler = SIG_IGN };

        build_caught = 0;
        holding = 0;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &s->old_int);
        sigaction(SIGTERM, &sa, &s->old_term);
        sigaction(SIGHUP, &sa, &s->old_hup);
        sigaction(SIGPIPE, &ign, &s->old_pipe);
}

void build_signals_hold(void)
{
        holding = 1;
}

void build_signals_restore(const struct build_signals *s)
{
        sigaction(SIGINT, &s->old_int, NULL);
        sigaction(SIGTERM, &s->old_term, NULL);
        sigaction(SIGHUP, &s->old_hup, NULL);
        sigaction(SIGPIPE, &s->old_pipe, NULL);
}

void podman_call_done(struct podman_call *c)
{
        free(c->kept);
        c->kept = NULL;
}

static void tail_add(struct build_run *b, const char *buf, size_t n)
{
        if (n >= sizeof b->tail) {
                buf += n - sizeof b->tail;
                n = sizeof b->tail;
        }
        if (b->tail_len + n > sizeof b->tail) {
                size_t drop = b->tail_len + n - sizeof b->tail;
                memmove(b->tail, b->tail + drop, b->tail_len - drop);
                b->tail_len -= drop;
        }
        memcpy(b->tail + b->tail_len, buf, n);
        b->tail_len += n;
}

void build_tail(const struct build_run *b, unsigned n, char *buf, size_t size)
{
        size_t end = b->tail_len, start, len = 0;

        while (end && b->tail[end - 1] == '\n')
                end--;
        start = end;
        for (unsigned k = 0; start && k < n; k++)
                while (start && b->tail[--start] != '\n')
                        ;
        if (start && b->tail[start] == '\n')
                start++;
        *buf = 0;
        for (size_t i = start; i < end && len + 4 < size;) {
                size_t l = strcspn(b->tail + i, "\n");

                if (i + l > end)
                        l = end - i;
                len += snprintf(buf + len, size - len, "\n  %.*s", (int)(l > 160 ? 160 : l), b->tail + i);
                if (len >= size)
                        len = size - 1;
                i += l + 1;
        }
}

/* what the helper writes, as c->output says, until it closes its end */
static void take_output(struct build_run *b, struct podman_call *c, int fd, pid_t pid)
{
        size_t cap = 0;
        char buf[16384];

        for (;;) {
                ssize_t k = read(fd, buf, sizeof buf);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                if (c->output == OUTPUT_STREAM) {
                        tail_add(b, buf, k);
                        b->out_midline = buf[k - 1] != '\n';
                        if (!b->out_failed && write_all(b->out, buf, k) < 0) {
                                /* nobody reads the build any more: it stops as if interrupted */
                                b->out_failed = true;
                                kill(pid, SIGTERM);
                        }
                } else if (c->output == OUTPUT_KEEP && c->kept_len + k <= IMAGE_JSON_MAX) {
                        if (c->kept_len + k + 1 > cap) {
                                char *n = realloc(c->kept, (cap = (c->kept_len + k + 1) * 2));
                                if (!n)
                                        continue;
                                c->kept = n;
                        }
                        memcpy(c->kept + c->kept_len, buf, k);
                        c->kept_len += k;
                        c->kept[c->kept_len] = 0;
                }
        }
}

/* podman's word on a failure: its last "Error: " line, else its last line */
static void last_error(const char *text, char *msg, size_t n)
{
        bool has_error = strstr(text, "Error: ");
        const char *best = NULL;
        size_t blen = 0;

        for (const char *p = text; *p;) {
                size_t l = strcspn(p, "\n");
                const char *at = memmem(p, l, "Error: ", 7);

                if (at)
                        best = at + 7, blen = l - (at + 7 - p);
                else if (l && !has_error)
                        best = p, blen = l;
                p += l + (p[l] == '\n');
        }
        snprintf(msg, n, "%.*s", best ? (int)blen : 0, best ? best : "");
}

int build_podman(struct build_run *b, struct podman_call *c, struct gear_err *e)
{
        _cleanup_close_ int r = -1, w = -1, err = -1;
        struct gear_strv argv = {0};
        char text[4096];
        int p[2], status;
        ssize_t n;
        pid_t pid;

        c->msg[0] = 0;
        if (config_podman_argv(&b->conf, &argv, e) < 0)
                return -1;
        for (size_t i = 0; c->args[i]; i++)
                if (strv_push(&argv, c->args[i]) < 0) {
                        strv_done(&argv);
                        return gear_err_sys(e, ENOMEM, "cannot run podman");
                }
        if (pipe2(p, O_CLOEXEC) < 0 ||
            (c->output != OUTPUT_STREAM && (err = memfd_create("podman-stderr", MFD_CLOEXEC)) < 0)) {
                strv_done(&argv);
                return gear_err_sys(e, errno, "cannot run podman");
        }
        r = p[0], w = p[1];
        /* in a group of its own: a Ctrl-C (SIGINT, SIGHUP) to the build's group is the build's to act on */
        pid = spawn_fds(argv.v, c->in, w, c->output == OUTPUT_STREAM ? w : err, SPAWN_OWN_GROUP, e);
        if (pid > 0 && !c->always && (build_caught || b->out_failed))
                kill(pid, SIGTERM);
        close(TAKE_FD(w));
        if (pid > 0) {
                take_output(b, c, r, pid);
                status = spawn_wait(pid, argv.v[0], e);
        } else
                status = -1;
        strv_done(&argv);
        if (err >= 0 && (n = pread(err, text, sizeof text - 1, 0)) > 0) {
                text[n] = 0;
                last_error(text, c->msg, sizeof c->msg);
        }
        return status;
}
