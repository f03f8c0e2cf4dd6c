/*
 * A child's output as the body of a reply, sent as it comes. The server has
 * one thread that polls every connection, so nothing here may block it: a thread
 * of the stream's own reads the child's output into a buffer (the child
 * waits while the buffer is full), and while the buffer is empty the
 * connection is suspended; the thread resumes it when there is more, when
 * the child ended, or when the client hung up (which a suspended
 * connection does not notice). A reply that ends before the child does
 * (the client went away, the daemon stops) sends the child SIGTERM; the
 * thread reaps it and frees the stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon-int.h"
#include "../base/dl-microhttpd.h"
#include "../base/spawn.h"

struct daemon_stream {
        pthread_mutex_t lock;
        pthread_cond_t room;           /* the buffer has room, or the reply is gone */
        struct MHD_Connection *conn;
        int fd;                        /* the child's output */
        int cfd;                       /* the client's socket, polled while suspended */
        pid_t pid;
        char buf[65536];               /* read, not sent yet */
        size_t len;
        int status;                    /* the child's, once reaped */
        bool ended;                    /* its output closed and it exited: not to be signalled */
        bool reaped;                   /* status set */
        bool last_sent;                /* the status line */
        bool midline;                  /* the child's output does not end with a newline */
        bool suspended;
        bool gone;                     /* the client hung up or the daemon stops: the reply ends */
        bool freed;                    /* the server let go of the reply */
        bool pumped;                   /* the thread is done */
        struct daemon_stream *next;
};

/* every stream whose reply the server holds, for daemon_streams_stop */
static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static struct daemon_stream *streams;
static bool streams_stopping;  /* daemon_streams_stop came: a new stream ends at once */

static void destroy(struct daemon_stream *s)
{
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->room);
        free(s);
}

/* under s->lock: whether the caller must resume the connection (outside the lock) */
static bool take_suspended(struct daemon_stream *s)
{
        bool was = s->suspended && !s->freed;

        s->suspended = false;
        return was;
}

static void *pump(void *arg)
{
        struct daemon_stream *s = arg;
        char chunk[16384];
        bool resume, done;
        siginfo_t si;
        int status;

        for (;;) {
                struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN }, { .fd = -1, .events = POLLRDHUP } };
                ssize_t n;

                pthread_mutex_lock(&s->lock);
                while (!s->freed && s->len + sizeof chunk > sizeof s->buf)
                        pthread_cond_wait(&s->room, &s->lock);
                if (s->suspended && !s->gone && !s->freed)
                        p[1].fd = s->cfd;
                pthread_mutex_unlock(&s->lock);
                /* a second at most: a hang-up is looked for again once the connection is suspended */
                if (poll(p, 2, 1000) < 0 && errno != EINTR)
                        break;
                if (p[1].revents) {
                        pthread_mutex_lock(&s->lock);
                        s->gone = true;
                        resume = take_suspended(s);
                        if (!s->freed)
                                kill(s->pid, SIGTERM);
                        pthread_mutex_unlock(&s->lock);
                        if (resume)
                                sym_MHD_resume_connection(s->conn);
                }
                if (!p[0].revents)
                        continue;
                n = read(s->fd, chunk, sizeof chunk);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        break;
                pthread_mutex_lock(&s->lock);
                if (!s->freed && !s->gone) {
                        memcpy(s->buf + s->len, chunk, n);
                        s->len += n;
                        s->midline = chunk[n - 1] != '\n';
                }
                resume = take_suspended(s);
                pthread_mutex_unlock(&s->lock);
                if (resume)
                        sym_MHD_resume_connection(s->conn);
        }
        close(s->fd);
        /* ended, but not reaped before nothing signals its pid any more */
        while (waitid(P_PID, s->pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
                ;
        /* out of spawn's table too, or the daemon's builds fill it with pids that end up reused */
        spawn_forget(s->pid);
        pthread_mutex_lock(&s->lock);
        s->ended = true;
        pthread_mutex_unlock(&s->lock);
        while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
                ;
        pthread_mutex_lock(&s->lock);
        s->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        s->reaped = true;
        s->pumped = true;
        resume = take_suspended(s);
        done = s->freed;
        pthread_mutex_unlock(&s->lock);
        if (resume)
                sym_MHD_resume_connection(s->conn);
        if (done)
                destroy(s);
        return NULL;
}

ssize_t daemon_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct daemon_stream *s = cls;
        ssize_t n;

        pthread_mutex_lock(&s->lock);
        if (s->gone) {
                n = MHD_CONTENT_READER_END_WITH_ERROR;
        } else if (s->len) {
                n = s->len < max ? s->len : max;
                memcpy(buf, s->buf, n);
                memmove(s->buf, s->buf + n, s->len - n);
                s->len -= n;
                pthread_cond_signal(&s->room);
        } else if (s->reaped && !s->last_sent) {
                /* on a line of its own, after a child that ended mid-line too */
                n = snprintf(buf, max, "%sstatus\t%d\n", s->midline ? "\n" : "", s->status);
                s->last_sent = true;
        } else if (s->reaped) {
                n = MHD_CONTENT_READER_END_OF_STREAM;
        } else {
                /* nothing yet: the pump resumes the connection when there is */
                s->suspended = true;
                sym_MHD_suspend_connection(s->conn);
                n = 0;
        }
        pthread_mutex_unlock(&s->lock);
        return n;
}

void daemon_stream_free(void *cls)
{
        struct daemon_stream *s = cls, **p;
        bool done;

        pthread_mutex_lock(&streams_lock);
        for (p = &streams; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        pthread_mutex_unlock(&streams_lock);
        pthread_mutex_lock(&s->lock);
        s->freed = true;
        if (!s->ended)
                kill(s->pid, SIGTERM);
        pthread_cond_signal(&s->room);
        done = s->pumped;
        pthread_mutex_unlock(&s->lock);
        if (done)
                destroy(s);
}

int daemon_stream_start(struct daemon_req *r, char *const *argv, int in, struct daemon_reply *out)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        const union MHD_ConnectionInfo *ci = sym_MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct daemon_stream *s = calloc(1, sizeof *s);
        pthread_attr_t attr;
        pthread_t t;
        int p[2] = { -1, -1 }, k;

        if (!s || pipe2(p, O_CLOEXEC) < 0) {
                free(s);
                return daemon_fail_msg(out, 500, "cannot start '%s': %s", argv[1], strerror(errno));
        }
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->room, NULL);
        s->conn = r->conn;
        s->cfd = ci ? ci->connect_fd : -1;
        s->fd = p[0];
        s->pid = spawn_fds(argv, in, p[1], p[1], 0, &err);
        close(p[1]);
        if (s->pid < 0) {
                close(p[0]);
                destroy(s);
                return daemon_fail(out, &err, 500);
        }
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        k = pthread_create(&t, &attr, pump, s);
        pthread_attr_destroy(&attr);
        if (k) {
                kill(s->pid, SIGTERM);
                close(p[0]);
                waitpid(s->pid, NULL, 0);
                destroy(s);
                return daemon_fail_msg(out, 500, "cannot start '%s': %s", argv[1], strerror(k));
        }
        pthread_mutex_lock(&streams_lock);
        if (streams_stopping) {
                /* its reply ends at once, never suspended */
                pthread_mutex_lock(&s->lock);
                s->gone = true;
                if (!s->ended)
                        kill(s->pid, SIGTERM);
                pthread_mutex_unlock(&s->lock);
        }
        s->next = streams;
        streams = s;
        pthread_mutex_unlock(&streams_lock);
        out->stream = s;
        out->status = 202;
        out->type = "text/plain; charset=utf-8";
        return 0;
}

void daemon_streams_stop(void)
{
        pthread_mutex_lock(&streams_lock);
        streams_stopping = true;
        pthread_mutex_unlock(&streams_lock);
        for (int i = 0; i < 500;) {
                struct MHD_Connection *c = NULL;
                struct daemon_stream *s;
                bool any = false;

                pthread_mutex_lock(&streams_lock);
                for (s = streams; s; s = s->next) {
                        pthread_mutex_lock(&s->lock);
                        if (!s->gone && !s->ended)
                                kill(s->pid, SIGTERM);
                        s->gone = true;
                        if (!c && take_suspended(s))
                                c = s->conn;
                        pthread_mutex_unlock(&s->lock);
                        any = true;
                }
                pthread_mutex_unlock(&streams_lock);
                /* a suspended connection stays as it is until resumed: the server then ends it */
                if (c) {
                        sym_MHD_resume_connection(c);
                        continue;
                }
                if (!any)
                        return;
                usleep(10000);
                i++;
        }
}
