/* gear-daemon's server: the socket, the caller check, the body, the routes, the replies */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon-int.h"
#include "../base/dl-microhttpd.h"
#include "../base/fsutil.h"
#include "../base/id.h"
#include "../systemd/systemd.h"

struct route {
        const char *method;
        const char *path;  /* segments; ":id" an identifier, ":ref" the rest of the path */
        daemon_route_fn fn;
};

static const struct route routes[] = {
        { "GET",    "containers",                  route_containers },
        { "PUT",    "container/:id",               route_container_put },
        { "DELETE", "container/:id",               route_container_delete },
        { "GET",    "container/:id/status",        route_container_status },
        { "GET",    "container/:id/log",           route_container_log },
        { "GET",    "container/:id/ports",         route_container_ports },
        { "PUT",    "container/:id/started",       route_container_started },
        { "PUT",    "container/:id/stopped",       route_container_stopped },
        { "POST",   "container/:id/restart",       route_container_restart },
        { "PUT",    "container/:id/idle",          route_container_idle },
        { "PUT",    "container/:id/unidle",        route_container_unidle },
        { "PUT",    "container/:id/links",         route_container_links },
        { "GET",    "environment/:id",             route_env_get },
        { "PUT",    "environment/:id",             route_env_put },
        { "PATCH",  "environment/:id",             route_env_patch },
        { "PUT",    "keys",                        route_keys_put },
        { "PUT",    "repository/:id",              route_repo_put },
        { "DELETE", "repository/:id",              route_repo_delete },
        { "GET",    "repository/:id/archive/:ref", route_repo_archive },
        { "POST",   "build-image",                 route_build_image },
};

/* what one connection's request has gathered */
struct conn_state {
        char *body;
        size_t len;
        bool too_big;
        struct daemon_job *job; /* the route's command, while the connection waits for it */
};

struct server {
        gid_t gid;
        bool have_group;
};

/* printable ASCII and newlines only: messages may quote what a client sent, and JSON wants UTF-8 */
static void clean_text(char *s)
{
        for (; *s; s++)
                if (((unsigned char)*s < 0x20 && *s != '\n') || (unsigned char)*s > 0x7e)
                        *s = '?';
}

json_t *daemon_text(const char *text)
{
        _cleanup_free_ char *copy = NULL;
        json_t *j = json_string(text);

        if (j || !(copy = strdup(text)))
                return j;
        for (char *p = copy; *p; p++)
                if ((unsigned char)*p > 0x7e)
                        *p = '?';
        return json_string(copy);
}

int daemon_fail_msg(struct daemon_reply *out, unsigned status, const char *fmt, ...)
{
        char msg[1100];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        clean_text(msg);
        json_decref(out->json);
        out->status = status;
        out->json = json_pack("{s:s}", "message", msg);
        return -1;
}

int daemon_fail(struct daemon_reply *out, const struct gear_err *e, unsigned status_no)
{
        unsigned status = e->code == GEAR_EXIT_USAGE ? 400 : e->code == GEAR_EXIT_NO ? status_no : 500;

        return daemon_fail_msg(out, status, "%s", *e->msg ? e->msg : "failed");
}

int daemon_ok(struct daemon_reply *out, unsigned status, json_t *json)
{
        out->status = status;
        json_decref(out->json);
        out->json = json;
        if (status != 204 && !json)
                return daemon_fail_msg(out, 500, "out of memory");
        return 0;
}

int daemon_manager(struct daemon_req *r, struct gear_systemd **m, struct gear_err *e)
{
        if (!r->m && systemd_open(&r->m, e) < 0)
                return -1;
        *m = r->m;
        return 0;
}

const char *daemon_query(struct daemon_req *r, const char *name)
{
        return sym_MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* %XX decoded in place; false for a bad escape or a NUL */
static bool percent_decode(char *s)
{
        char *w = s;

        for (const char *p = s; *p; p++) {
                if (*p != '%') {
                        *w++ = *p;
                        continue;
                }
                unsigned v;
                if (sscanf(p + 1, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", p[1]) || !p[1] ||
                    !strchr("0123456789abcdefABCDEF", p[2]) || !p[2] || v == 0)
                        return false;
                *w++ = (char)v;
                p += 2;
        }
        *w = 0;
        return true;
}

/* the path's segments into r (decoded); false when there are too many or one is malformed */
static bool split_path(char *path, struct daemon_req *r)
{
        char *q = strchr(path, '?'), *save = NULL;

        if (q)
                *q = 0;
        if (*path != '/')
                return false;
        for (char *s = strtok_r(path + 1, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
                if (r->nseg == DAEMON_SEGS_MAX || !percent_decode(s))
                        return false;
                r->seg[r->nseg++] = s;
        }
        return true;
}

/*
 * The route of r: its function, or NULL with out set (404 for no route, 405
 * for another method, 400 for an invalid identifier). ":ref" takes the rest.
 */
static daemon_route_fn find_route(struct daemon_req *r, struct daemon_reply *out)
{
        bool path_known = false;

        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                char pat[64], *save = NULL;
                size_t k = 0, bad = SIZE_MAX;
                bool match = true;

                snprintf(pat, sizeof pat, "%s", routes[i].path);
                for (char *s = strtok_r(pat, "/", &save); s && match; s = strtok_r(NULL, "/", &save), k++) {
                        if (!strcmp(s, ":ref")) {
                                match = k < r->nseg;
                                k = r->nseg;
                                break;
                        }
                        if (k >= r->nseg)
                                match = false;
                        else if (!strcmp(s, ":id")) {
                                if (!id_valid(r->seg[k]) && bad == SIZE_MAX)
                                        bad = k;
                        }
                        else
                                match = !strcmp(s, r->seg[k]);
                }
                if (!match || k != r->nseg)
                        continue;
                path_known = true;
                if (strcmp(routes[i].method, r->method))
                        continue;
                if (bad != SIZE_MAX) {
                        daemon_fail_msg(out, 400, "invalid identifier '%s'", r->seg[bad]);
                        return NULL;
                }
                return routes[i].fn;
        }
        if (path_known)
                daemon_fail_msg(out, 405, "method %s not allowed here", r->method);
        else
                daemon_fail_msg(out, 404, "no such route");
        return NULL;
}

/* root, or a member of the group (primary or supplementary, from the account databases) */
static bool caller_allowed(const struct server *s, struct MHD_Connection *c)
{
        const union MHD_ConnectionInfo *ci = sym_MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct ucred cred;
        socklen_t len = sizeof cred;
        struct passwd pw, *pwp = NULL;
        char buf[16384];
        gid_t groups[256];
        int n = ELEMENTSOF(groups);

        if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return false;
        if (cred.uid == 0)
                return true;
        if (!s->have_group || getpwuid_r(cred.uid, &pw, buf, sizeof buf, &pwp) != 0 || !pwp)
                return false;
        if (pw.pw_gid == s->gid)
                return true;
        if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
                return false;
        for (int i = 0; i < n; i++)
                if (groups[i] == s->gid)
                        return true;
        return false;
}

static ssize_t text_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct daemon_reply *rp = cls;

        if (pos >= rp->len)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (max > rp->len - pos)
                max = rp->len - pos;
        memcpy(buf, rp->text + pos, max);
        return max;
}

static void text_free(void *cls)
{
        struct daemon_reply *rp = cls;

        free(rp->text);
        free(rp);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct daemon_reply *rp)
{
        struct MHD_Response *resp = NULL;
        enum MHD_Result ret;
        const char *type = rp->type;

        if (rp->stream) {
                /* unknown size: chunked; the stream is the response's from now on */
                resp = sym_MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, daemon_stream_read, rp->stream,
                                                             daemon_stream_free);
                if (!resp)
                        daemon_stream_free(rp->stream);
                rp->stream = NULL;
        } else if (rp->text) {
                struct daemon_reply *own = malloc(sizeof *own);
                if (own) {
                        *own = *rp;
                        rp->text = NULL;
                        /* unknown size: chunked, written as it is read */
                        resp = sym_MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, text_reader, own,
                                                                     text_free);
                        if (!resp)
                                text_free(own);
                }
        } else if (rp->fd >= 0) {
                struct stat st;
                if (fstat(rp->fd, &st) == 0)
                        resp = sym_MHD_create_response_from_fd(st.st_size, rp->fd);
                if (resp)
                        rp->fd = -1;
        } else {
                char *text = rp->json ? json_dumps(rp->json, JSON_COMPACT) : NULL;
                size_t n = text ? strlen(text) : 0;

                if (text)
                        text[n] = 0;
                type = rp->json ? "application/json" : NULL;
                if (rp->json && text) {
                        /* one line per reply, for curl and shells */
                        char *t = realloc(text, n + 2);
                        if (t) {
                                text = t;
                                text[n++] = '\n';
                                text[n] = 0;
                        }
                }
                resp = sym_MHD_create_response_from_buffer(n, text ? text : "", text ? MHD_RESPMEM_MUST_FREE
                                                                                  : MHD_RESPMEM_PERSISTENT);
                if (!resp)
                        free(text);
        }
        if (!resp)
                return MHD_NO;
        if (type)
                sym_MHD_add_response_header(resp, "Content-Type", type);
        ret = sym_MHD_queue_response(c, rp->status, resp);
        sym_MHD_destroy_response(resp);
        return ret;
}

static void reply_done(struct daemon_reply *rp)
{
        if (rp->stream)
                daemon_stream_free(rp->stream);
        json_decref(rp->json);
        free(rp->text);
        if (rp->fd >= 0)
                close(rp->fd);
}

/* parses the body, finds the route and runs it */
static void serve(struct daemon_req *r, struct conn_state *cs, const char *url, struct daemon_reply *out)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_free_ char *path = strdup(url);
        daemon_route_fn fn;

        if (!path) {
                daemon_fail_msg(out, 500, "out of memory");
                return;
        }
        if (!split_path(path, r)) {
                daemon_fail_msg(out, 400, "malformed path");
                return;
        }
        if (!(fn = find_route(r, out)))
                return;
        if (cs->len) {
                json_error_t jerr;

                r->body = json_loadb(cs->body, cs->len, JSON_REJECT_DUPLICATES, &jerr);
                if (!r->body) {
                        daemon_fail_msg(out, 400, "malformed JSON at line %d: %s", jerr.line, jerr.text);
                        return;
                }
                if (!json_is_object(r->body)) {
                        daemon_fail_msg(out, 400, "the body is not a JSON object");
                        return;
                }
        }
        if (tree_init(&r->tree, &err) < 0) {
                daemon_fail(out, &err, 500);
                return;
        }
        fn(r, out);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
        const struct server *s = cls;
        struct conn_state *cs = *con_cls;
        struct daemon_reply out = { .fd = -1 };
        struct daemon_req r = { .method = method, .conn = c,
                                .tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 } };
        enum MHD_Result ret;

        if (cs && cs->job) {
                /* resumed: the route's command ended */
                daemon_job_reply(cs->job, &out);
                daemon_job_free(cs->job);
                cs->job = NULL;
                ret = send_reply(c, &out);
                reply_done(&out);
                return ret;
        }
        if (!cs) {
                const char *cl = sym_MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");

                /* the caller is checked before a byte of the body is read */
                if (!caller_allowed(s, c)) {
                        daemon_fail_msg(&out, 403, "permission denied: root or group '%s' only",
                                        DAEMON_GROUP);
                        ret = send_reply(c, &out);
                        reply_done(&out);
                        return ret;
                }
                cs = calloc(1, sizeof *cs);
                if (!cs)
                        return MHD_NO;
                *con_cls = cs;
                /* a body said to be too large is not read at all */
                if (!cl || strtoull(cl, NULL, 10) <= DAEMON_BODY_MAX)
                        return MHD_YES;
                cs->too_big = true;
        } else if (*upload_size) {
                /* bounded: past the limit (a chunked body) the rest is read, dropped, and answered */
                if (cs->too_big || cs->len + *upload_size > DAEMON_BODY_MAX) {
                        cs->too_big = true;
                } else {
                        char *b = realloc(cs->body, cs->len + *upload_size + 1);
                        if (!b)
                                return MHD_NO;
                        cs->body = b;
                        memcpy(cs->body + cs->len, upload, *upload_size);
                        cs->len += *upload_size;
                }
                *upload_size = 0;
                return MHD_YES;
        }
        if (cs->too_big) {
                daemon_fail_msg(&out, 400, "request body larger than %d bytes", DAEMON_BODY_MAX);
                ret = send_reply(c, &out);
                reply_done(&out);
                return ret;
        }
        serve(&r, cs, url, &out);
        if (out.job) {
                cs->job = out.job;
                out.job = NULL;
                if (daemon_job_wait(cs->job)) {
                        ret = MHD_YES;
                        goto out;
                }
                daemon_job_reply(cs->job, &out);
                daemon_job_free(cs->job);
                cs->job = NULL;
        }
        if (!out.status)
                daemon_fail_msg(&out, 500, "no reply");
        ret = send_reply(c, &out);
        reply_done(&out);
out:
        json_decref(r.body);
        systemd_close(r.m);
        tree_done(&r.tree);
        return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
        struct conn_state *cs = *con_cls;

        if (cs) {
                if (cs->job)
                        daemon_job_free(cs->job);
                free(cs->body);
                free(cs);
                *con_cls = NULL;
        }
}

/* the raw path: segments are decoded one by one, so an escaped '/' cannot make or hide one */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *uri)
{
        return strlen(uri);
}

/* the one socket systemd passed (LISTEN_PID, LISTEN_FDS), else -1 */
static int listen_fd_passed(struct gear_err *e)
{
        const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

        if (!pid || !fds || strtol(pid, NULL, 10) != getpid())
                return gear_err_set(e, GEAR_EXIT_USAGE, "no socket passed by systemd (LISTEN_FDS); use --listen");
        if (strcmp(fds, "1"))
                return gear_err_set(e, GEAR_EXIT_USAGE, "want one socket from systemd, got LISTEN_FDS=%s", fds);
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        /* systemd passes it inheritable: the commands the daemon runs (a build, its podman) must not get it */
        if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
                return gear_err_sys(e, errno, "cannot use the socket passed by systemd");
        return 3;
}

/* a Unix socket at path, 0660, replacing a stale socket (never another kind of file) */
static int listen_unix(const char *path, const struct server *s, struct gear_err *e)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        int fd;

        if (strlen(path) >= sizeof sa.sun_path || *path != '/')
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid socket path '%s'", path);
        strcpy(sa.sun_path, path);
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' exists and is not a socket", path);
                if (unlink(path) < 0)
                        return gear_err_sys(e, errno, "cannot remove '%s'", path);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return gear_err_sys(e, errno, "cannot make a socket");
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0 ||
            chmod(path, 0660) < 0 || (s->have_group && chown(path, 0, s->gid) < 0 && geteuid() == 0)) {
                int err = errno;
                close(fd);
                return gear_err_sys(e, err, "cannot listen on '%s'", path);
        }
        return fd;
}

int daemon_run(const struct daemon_opts *o, struct gear_err *e)
{
        const char *group = o->group ? o->group : DAEMON_GROUP;
        struct server s = {0};
        struct group gr, *grp = NULL;
        struct MHD_Daemon *d;
        char buf[16384];
        sigset_t set;
        int fd, sig;

        if (dl_microhttpd(e) < 0)
                return -1;
        if (getgrnam_r(group, &gr, buf, sizeof buf, &grp) == 0 && grp) {
                s.gid = grp->gr_gid;
                s.have_group = true;
        }
        fd = o->listen ? listen_unix(o->listen, &s, e) : listen_fd_passed(e);
        if (fd < 0)
                return -1;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        /* the server's thread inherits the mask: the signals come to sigwait */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        d = sym_MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC,
                                 0, NULL,
                                 NULL, handle, &s,
                                 MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)DAEMON_TIMEOUT,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)DAEMON_CONNECTIONS,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                 MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
                                 MHD_OPTION_END);
        if (!d) {
                close(fd);
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot start the HTTP server");
        }
        sigwait(&set, &sig);
        /*
         * No connection accepted from now on, and no stream started that
         * could suspend one: the server would abort stopping with a
         * connection suspended.
         */
        sym_MHD_quiesce_daemon(d);
        daemon_streams_stop();
        daemon_jobs_stop();
        test_pause_point("daemon-stop");
        sym_MHD_stop_daemon(d);
        close(fd);
        if (o->listen)
                unlink(o->listen);
        return 0;
}
