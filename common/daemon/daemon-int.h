/* gear-daemon inside: a parsed request, its reply, the routes */
#ifndef GEAR_DAEMON_INT_H
#define GEAR_DAEMON_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"
#include "../base/tree.h"

struct gear_systemd;
struct MHD_Connection;

#define DAEMON_SEGS_MAX 8

struct daemon_req {
        const char *method;
        char *seg[DAEMON_SEGS_MAX];  /* the path's segments, each percent-decoded */
        size_t nseg;
        json_t *body;                /* the JSON object sent, or NULL */
        struct MHD_Connection *conn;
        struct gear_tree tree;
        struct gear_systemd *m;      /* opened by daemon_manager */
};

struct daemon_stream;
struct daemon_job;

struct daemon_reply {
        unsigned status;
        json_t *json;   /* the body, or NULL */
        char *text;     /* or text, sent chunked (malloc'd) */
        size_t len;
        int fd;         /* or a file from its start (owned), -1 */
        struct daemon_stream *stream; /* or a child's output, as it comes (daemon_stream_start) */
        struct daemon_job *job; /* or a command's result, once it ended (daemon_job_start) */
        const char *type;
};

/* how a job's end is answered: ok_status (with out, a file written from its start, and type) when it
 * exits 0; else its last message with 400 (exit 100), no_status (exit 1) or 500 */
struct daemon_job_reply {
        unsigned ok_status, no_status;
        int out;          /* its standard output (owned), or -1 */
        const char *type;
};
/*
 * Runs argv (argv[0] "/proc/self/exe": gear itself) as out's job (how->out
 * is the job's from now on, closed on failure too): killed
 * (its process group) after timeout seconds, writing at most max_size bytes
 * (0: no limit); the server suspends the connection until it ended.
 */
int daemon_job_start(struct daemon_req *r, char *const argv[], unsigned timeout, uint64_t max_size,
                     const struct daemon_job_reply *how, struct daemon_reply *out);
/* the server's: suspends the connection (true) unless the job ended already */
bool daemon_job_wait(struct daemon_job *j);
/* the reply of an ended job */
void daemon_job_reply(struct daemon_job *j, struct daemon_reply *out);
/* the server let go of it: a job still running is killed */
void daemon_job_free(struct daemon_job *j);
/* at the daemon's stop: every job killed, every connection resumed */
void daemon_jobs_stop(void);

/* the reply for a failure: e's code 100 is 400, code 1 is status_no, anything else 500 */
int daemon_fail(struct daemon_reply *out, const struct gear_err *e, unsigned status_no);
/* a failure with a message of its own */
int daemon_fail_msg(struct daemon_reply *out, unsigned status, const char *fmt, ...) _printf_(3, 4);
/* status with json (taken) as the body */
int daemon_ok(struct daemon_reply *out, unsigned status, json_t *json);
/* a JSON string of text that may not be UTF-8 (a journal): other bytes become '?' */
json_t *daemon_text(const char *text);
/* the service manager, opened once per request */
int daemon_manager(struct daemon_req *r, struct gear_systemd **m, struct gear_err *e);
/* the value of query argument name, or NULL */
const char *daemon_query(struct daemon_req *r, const char *name);

/*
 * The body's fields: every key of obj is one of names (NULL-terminated), or
 * 100 naming it (a typo must not pass for a field left out). obj may be NULL.
 */
int field_check(const json_t *obj, const char *const *names, const char *what, struct gear_err *e);
/* obj's field as a type: 0 and *out NULL/default when absent, 100 when of another type */
int field_string(const json_t *obj, const char *name, const char **out, struct gear_err *e);
int field_bool(const json_t *obj, const char *name, bool *out, struct gear_err *e);
int field_uint(const json_t *obj, const char *name, unsigned max, unsigned *out, struct gear_err *e);
/* an array (absent: *out NULL) */
int field_array(const json_t *obj, const char *name, json_t **out, struct gear_err *e);

struct env;
/* "Variables": [{"Name": ..., "Value": ...}] of obj into env, as gear-set-env's arguments; *given
   says whether there was such an array */
int daemon_variables(const json_t *obj, struct env *env, bool *given, struct gear_err *e);

/*
 * Starts argv (argv[0] an absolute path) with in as its standard input (-1:
 * /dev/null) and its standard output and error into a pipe: out is then a 202 reply, text/plain, whose body is what the
 * child writes as it writes it, then a last line "status<TAB>N", N its exit
 * status (128 + the signal that killed it). A reply that ends first (the
 * client hung up) sends the child SIGTERM. 500 when it cannot start.
 */
int daemon_stream_start(struct daemon_req *r, char *const *argv, int in, struct daemon_reply *out);
/* the server's side: libmicrohttpd's content reader and its free callback */
ssize_t daemon_stream_read(void *cls, uint64_t pos, char *buf, size_t max);
void daemon_stream_free(void *cls);
/* before the server stops: every stream ends, its child gets SIGTERM */
void daemon_streams_stop(void);

typedef int (*daemon_route_fn)(struct daemon_req *r, struct daemon_reply *out);

/* routes-*.c */
int route_container_put(struct daemon_req *r, struct daemon_reply *out);
int route_container_delete(struct daemon_req *r, struct daemon_reply *out);
int route_container_status(struct daemon_req *r, struct daemon_reply *out);
int route_container_log(struct daemon_req *r, struct daemon_reply *out);
int route_container_ports(struct daemon_req *r, struct daemon_reply *out);
int route_container_started(struct daemon_req *r, struct daemon_reply *out);
int route_container_stopped(struct daemon_req *r, struct daemon_reply *out);
int route_container_restart(struct daemon_req *r, struct daemon_reply *out);
int route_container_idle(struct daemon_req *r, struct daemon_reply *out);
int route_container_unidle(struct daemon_req *r, struct daemon_reply *out);
int route_container_links(struct daemon_req *r, struct daemon_reply *out);
int route_containers(struct daemon_req *r, struct daemon_reply *out);
int route_env_get(struct daemon_req *r, struct daemon_reply *out);
int route_env_put(struct daemon_req *r, struct daemon_reply *out);
int route_env_patch(struct daemon_req *r, struct daemon_reply *out);
int route_keys_put(struct daemon_req *r, struct daemon_reply *out);
int route_repo_put(struct daemon_req *r, struct daemon_reply *out);
int route_repo_delete(struct daemon_req *r, struct daemon_reply *out);
int route_repo_archive(struct daemon_req *r, struct daemon_reply *out);
int route_build_image(struct daemon_req *r, struct daemon_reply *out);

#endif
