/*
 * A route whose work may be slow or large (a clone from another server, an
 * archive of a repository) runs it as a command of its own, so the one thread
 * that polls every connection never waits for it: the connection is
 * suspended, a thread of the job's own waits for the child (at most its
 * deadline, then kills its process group), and resumes the connection,
 * which the server then answers from the child's exit status and its last
 * message. The child writes no more than its file size limit (RLIMIT_FSIZE),
 * its output and its messages included.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon-int.h"
#include "../base/dl-microhttpd.h"
#include "../base/spawn.h"

struct daemon_job {
        pthread_mutex_t lock;
        struct MHD_Connection *conn;
        pid_t pid;
        int err;               /* the child's standard error (a memory file) */
        unsigned timeout;      /* seconds */
        uint64_t max_size;     /* what it may write, 0: no limit */
        int cfd;               /* the client's socket, polled for a hang-up */
        int status;            /* its exit status, 128 + a signal, or JOB_LATE, JOB_STOPPED, JOB_GONE, JOB_LOST */
        bool done;             /* status set, the child reaped */
        bool suspended;        /* the server's connection, resumed by whoever sets done */
        bool freed;            /* the server let go of it */
        struct daemon_job_reply r;
        struct daemon_job *next;
};

enum { JOB_LATE = -1, JOB_STOPPED = -2, JOB_GONE = -3, JOB_LOST = -4 };

/*
 * Every job from its start until the server lets go of it. A waiter counts
 * in finishing from before it takes its job's lock until its resume of the
 * connection is done: the server may not stop while a connection is
 * suspended, nor before a resume it was promised has been made.
 */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct daemon_job *jobs;
static bool jobs_stopping;
static unsigned finishing;

static void unlist(struct daemon_job *j)
{
        pthread_mutex_lock(&jobs_lock);
        for (struct daemon_job **p = &jobs; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        break;
                }
        pthread_mutex_unlock(&jobs_lock);
}

static void destroy(struct daemon_job *j)
{
        if (j->err >= 0)
                close(j->err);
        if (j->r.out >= 0)
                close(j->r.out);
        pthread_mutex_destroy(&j->lock);
        free(j);
}

static void *wait_job(void *arg)
{
        struct daemon_job *j = arg;
        int pfd = (int)syscall(SYS_pidfd_open, j->pid, 0), status = 0, why = 0;
        struct MHD_Connection *conn;
        bool resume, freed, reaped = false;
        struct timespec t0, now;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                struct pollfd p[2] = { { .fd = pfd, .events = POLLIN }, { .fd = -1, .events = POLLRDHUP } };
                long left;

                clock_gettime(CLOCK_MONOTONIC, &now);
                left = (long)j->timeout * 1000 - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
                pthread_mutex_lock(&jobs_lock);
                why = jobs_stopping ? JOB_STOPPED : left <= 0 ? JOB_LATE : 0;
                pthread_mutex_unlock(&jobs_lock);
                if (why)
                        break;
                /* a client that hung up waits for nothing: a suspended connection does not notice it itself */
                pthread_mutex_lock(&j->lock);
                if (j->suspended)
                        p[1].fd = j->cfd;
                pthread_mutex_unlock(&j->lock);
                if (pfd < 0 && waitpid(j->pid, &status, WNOHANG) == j->pid) {
                        reaped = true;
                        break;
                }
                /* a second at most between looks at the deadline and at the daemon's stop */
                if (poll(p, 2, pfd < 0 ? 50 : left < 1000 ? (int)left : 1000) > 0) {
                        if (p[1].revents) {
                                why = JOB_GONE;
                                break;
                        }
                        if (p[0].revents)
                                break;
                }
        }
        if (why)
                kill(-j->pid, SIGKILL);
        while (!reaped && waitpid(j->pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        why = JOB_LOST;
                        break;
                }
        }
        spawn_forget(j->pid);
        if (pfd >= 0)
                close(pfd);
        pthread_mutex_lock(&jobs_lock);
        finishing++;
        pthread_mutex_unlock(&jobs_lock);
        pthread_mutex_lock(&j->lock);
        j->status = why ? why : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        j->done = true;
        resume = j->suspended && !j->freed;
        j->suspended = false;
        freed = j->freed;
        conn = j->conn;
        pthread_mutex_unlock(&j->lock);
        /* a suspended connection is not freed before it is resumed */
        if (resume)
                sym_MHD_resume_connection(conn);
        pthread_mutex_lock(&jobs_lock);
        finishing--;
        pthread_mutex_unlock(&jobs_lock);
        if (freed) {
                unlist(j);
                destroy(j);
        }
        return NULL;
}

int daemon_job_start(struct daemon_req *r, char *const argv[], unsigned timeout, uint64_t max_size,
                     const struct daemon_job_reply *how, struct daemon_reply *out)
{
        struct daemon_job *j = calloc(1, sizeof *j);
        struct rlimit fsize = { max_size, max_size };
        struct gear_err err = {0};
        const union MHD_ConnectionInfo *ci;
        pthread_attr_t attr;
        pthread_t t;
        int k;

        if (!j) {
                if (how->out >= 0)
                        close(how->out);
                return daemon_fail_msg(out, 500, "out of memory");
        }
        pthread_mutex_init(&j->lock, NULL);
        j->conn = r->conn;
        ci = sym_MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        j->cfd = ci ? ci->connect_fd : -1;
        j->pid = -1;
        j->timeout = timeout;
        j->max_size = max_size;
        j->r = *how;
        j->err = memfd_create("gear-job-err", MFD_CLOEXEC);
        if (j->err < 0) {
                destroy(j);
                return daemon_fail_msg(out, 500, "cannot run '%s': %s", argv[1], strerror(errno));
        }
        /* listed before it runs, in one step with the look at the daemon's stop, which waits for it */
        pthread_mutex_lock(&jobs_lock);
        k = jobs_stopping;
        if (!k) {
                j->next = jobs;
                jobs = j;
        }
        pthread_mutex_unlock(&jobs_lock);
        if (k) {
                destroy(j);
                return daemon_fail_msg(out, 503, "the daemon is stopping");
        }
        j->pid = spawn_fork(SPAWN_OWN_GROUP, &err);
        if (j->pid == 0) {
                /* async-signal-safe calls only: the daemon has threads */
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(j->r.out >= 0 ? j->r.out : null, 1) < 0 || dup2(j->err, 2) < 0)
                        _exit(127);
                /* past the limit a write fails (EFBIG), which the command reports */
                signal(SIGXFSZ, SIG_IGN);
                if (max_size && setrlimit(RLIMIT_FSIZE, &fsize) < 0)
                        _exit(127);
                execv(argv[0], argv);
                _exit(127);
        }
        if (j->pid < 0) {
                unlist(j);
                destroy(j);
                k = daemon_fail(out, &err, 500);
                gear_err_clear(&err);
                return k;
        }
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        k = pthread_create(&t, &attr, wait_job, j);
        pthread_attr_destroy(&attr);
        if (k) {
                kill(-j->pid, SIGKILL);
                waitpid(j->pid, NULL, 0);
                spawn_forget(j->pid);
                unlist(j);
                destroy(j);
                return daemon_fail_msg(out, 500, "cannot run '%s': %s", argv[1], strerror(k));
        }
        out->job = j;
        return 0;
}

bool daemon_job_wait(struct daemon_job *j)
{
        bool wait;

        pthread_mutex_lock(&j->lock);
        wait = !j->done;
        if (wait) {
                j->suspended = true;
                sym_MHD_suspend_connection(j->conn);
        }
        pthread_mutex_unlock(&j->lock);
        return wait;
}

/* the last line of what the child said, without the command's name before it */
static void last_message(struct daemon_job *j, char *msg, size_t n)
{
        off_t end = lseek(j->err, 0, SEEK_END), at = end > (off_t)n - 1 ? end - ((off_t)n - 1) : 0;
        ssize_t k = end > 0 ? pread(j->err, msg, (size_t)(end - at), at) : 0;
        char *line, *colon;

        msg[k > 0 ? k : 0] = 0;
        while (k > 0 && msg[k - 1] == '\n')
                msg[--k] = 0;
        line = strrchr(msg, '\n');
        line = line ? line + 1 : msg;
        if (!strncmp(line, "gear", 4) && (colon = strstr(line, ": ")) && !memchr(line, ' ', colon - line))
                line = colon + 2;
        memmove(msg, line, strlen(line) + 1);
}

void daemon_job_reply(struct daemon_job *j, struct daemon_reply *out)
{
        char msg[1024];

        if (j->status == 0) {
                out->status = j->r.ok_status;
                out->type = j->r.type;
                if (j->r.out >= 0) {
                        out->fd = j->r.out;
                        j->r.out = -1;
                }
                return;
        }
        last_message(j, msg, sizeof msg);
        /* its output reached the limit: that, not the write error it saw, is why it failed */
        if (j->max_size && j->r.out >= 0 && lseek(j->r.out, 0, SEEK_END) >= (off_t)j->max_size)
                daemon_fail_msg(out, 500, "larger than %llu bytes (max-source-size)", (unsigned long long)j->max_size);
        else if (j->status == JOB_LATE)
                daemon_fail_msg(out, 500, "not done in %u seconds", j->timeout);
        else if (j->status == JOB_STOPPED)
                daemon_fail_msg(out, 503, "the daemon is stopping");
        else if (j->status < 0)
                daemon_fail_msg(out, 500, "its process was lost");
        else if (j->status == GEAR_EXIT_USAGE || j->status == GEAR_EXIT_NO)
                daemon_fail_msg(out, j->status == GEAR_EXIT_USAGE ? 400 : j->r.no_status, "%s", msg);
        else
                daemon_fail_msg(out, 500, "%s", *msg ? msg : "failed");
}

void daemon_job_free(struct daemon_job *j)
{
        bool done;

        pthread_mutex_lock(&j->lock);
        j->freed = true;
        done = j->done;
        if (!done)
                kill(-j->pid, SIGKILL);
        pthread_mutex_unlock(&j->lock);
        if (done) {
                unlist(j);
                destroy(j);
        }
}

void daemon_jobs_stop(void)
{
        pthread_mutex_lock(&jobs_lock);
        jobs_stopping = true;
        pthread_mutex_unlock(&jobs_lock);
        /*
         * Each waiter kills its child within a second of this and resumes its
         * connection: wait for every job to be done, none suspended, and no
         * resume under way. A job whose route has not suspended its
         * connection yet finds it done and does not (daemon_job_wait).
         */
        for (;;) {
                bool busy;

                pthread_mutex_lock(&jobs_lock);
                busy = finishing > 0;
                for (struct daemon_job *j = jobs; j && !busy; j = j->next) {
                        pthread_mutex_lock(&j->lock);
                        busy = !j->done || j->suspended;
                        pthread_mutex_unlock(&j->lock);
                }
                pthread_mutex_unlock(&jobs_lock);
                if (!busy)
                        return;
                usleep(10000);
        }
}
