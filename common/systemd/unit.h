/* a container's systemd unit: rendered from the template, and read back */
#ifndef GEAR_UNIT_H
#define GEAR_UNIT_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/config.h"
#include "../base/err.h"
#include "../base/id.h"

#define UNIT_MAX_PORTS 64
#define UNIT_MAX_VOLUMES 64
#define UNIT_DEFAULT_SLICE "container-small.slice"
#define UNIT_VALUE_MAX 1024
/* "2592000s" and the like: a normalized idle timeout */
#define UNIT_TIMESPAN_MAX 24

struct unit_port {
        unsigned internal; /* the port inside the container */
        unsigned external; /* the host port, already allocated (never 0) */
};

/* a container run from a Gear image (ctr-gear.service.in) */
struct unit_gear {
        const char *mount_unit;    /* the image's gear-fs unit */
        const char *lower;         /* its mount point */
        const char *upper, *work, *merged; /* the container's overlay */
        const char *const *command; /* entrypoint and cmd of the image */
        size_t n_command;
        const char *const *env;    /* "NAME=VALUE" of the image */
        size_t n_env;
        const char *workdir;       /* or NULL */
        const char *user;          /* the image's user, or NULL */
};

struct unit_spec {
        const char *id;            /* container id, validated */
        const char *image;         /* what podman runs */
        const char *request_id;    /* names this version of the unit */
        const struct unit_port *ports;
        size_t n_ports;
        const char *env_file;      /* absolute path of the environment file, or NULL */
        const char *user;          /* "UID" or "UID:GID" to run as (--isolate), or NULL */
        const char *mcs_level;     /* SELinux level such as "s0:c1,c2" (--isolate), or NULL */
        const char *const *volumes; /* "SOURCE:DEST[:OPTIONS]" each */
        size_t n_volumes;
        const char *slice;         /* "NAME" or "NAME.slice"; NULL for container-small */
        const struct gear_config *conf; /* engine settings; NULL for the defaults */
        const char *sysroot;       /* GEAR_SYSROOT for the gear commands the unit runs, or NULL */
        const struct unit_gear *gear; /* a Gear image: unit_render uses unit_gear_template */
};

/*
 * The template (the text of share/units/ctr.service.in).  "@NAME@" is
 * replaced by a value; a line holding a list value (PODMAN_ARG, RUN_ARG,
 * PUBLISH, PORT_MAPPING, ENV_FILE, USER, MCS_LEVEL, VOLUME) is written once
 * per element and dropped when the list is empty.  Values are escaped for
 * their key: Exec* lines get systemd command-line escapes, X-* lines are
 * written as they are (for grep and cut), others get '%' doubled.  A value
 * that is not UTF-8 as systemd takes it (unit_utf8_valid) is refused (100).
 * Comment lines are copied.
 */
extern const char unit_template[];
/* share/units/ctr-gear.service.in and gear-fs-image.service.in */
extern const char unit_gear_template[];
extern const char unit_gear_fs_template[];
/* the join service of gear-switchns: its socket (Accept=yes) and the service of one connection */
extern const char unit_switchns_socket_template[], unit_switchns_service_template[];
#define UNIT_SWITCHNS_SOCKET "/run/gear/switchns.sock"
/* where a container's unit has podman write the container's runtime id, file ID (under GEAR_SYSROOT) */
#define UNIT_CID_DIR "/run/gear/cid"
#define UNIT_SWITCHNS_SOCKET_NAME "gear-switchns.socket"
#define UNIT_SWITCHNS_SERVICE_NAME "gear-switchns@.service"
/* gear-daemon's socket (root and the group UNIT_DAEMON_GROUP) and its service (gear-daemon(1)) */
extern const char unit_daemon_socket_template[], unit_daemon_service_template[];
#define UNIT_DAEMON_SOCKET "/run/gear/gear.sock"
#define UNIT_DAEMON_GROUP "gear"
#define UNIT_DAEMON_SOCKET_NAME "gear-daemon.socket"
#define UNIT_DAEMON_SERVICE_NAME "gear-daemon.service"

/* s is UTF-8 as systemd's unit file parser wants it (no noncharacters either) */
bool unit_utf8_valid(const char *s);
/* a value a unit can hold: that UTF-8, no control character, short enough; else 100 naming what */
int unit_value_check(const char *s, const char *what, struct gear_err *e);

/* the unit text into *out (malloc'd, NUL-terminated); 100 on invalid input */
int unit_render(const struct unit_spec *s, char **out, size_t *len, struct gear_err *e);
/* the same with another template */
int unit_render_template(const char *tmpl, const struct unit_spec *s, char **out, size_t *len,
                         struct gear_err *e);

/*
 * the gear-fs unit of image REF ("NAME:TAG") mounted on MOUNTPOINT; SYSROOT or NULL;
 * direct: with gear-fs --direct, for containers whose overlays have public/ below
 */
int unit_render_gear_fs(const char *ref, const char *mountpoint, const char *gear_bin, const char *sysroot,
                        bool direct, char **out, size_t *len, struct gear_err *e);

/* the targets and slices gear installs (the files of share/units/) */
/* a host service's unit (the join or daemon templates above): the socket (UNIT_SWITCHNS_SOCKET,
   UNIT_DAEMON_SOCKET) under sysroot, gear's commands from gear_bin, GEAR_SYSROOT and GEAR_SYSTEMD
   (manager) passed on when set */
int unit_render_host(const char *tmpl, const char *socket, const char *gear_bin, const char *sysroot,
                     const char *manager, char **out, size_t *len, struct gear_err *e);

struct unit_file {
        const char *name;
        const char *text;
};
extern const struct unit_file unit_static_files[];
extern const size_t unit_static_count;

/* the X-Container* metadata of a rendered unit */
struct unit_meta {
        gear_id id;
        char image[UNIT_VALUE_MAX];
        char request_id[UNIT_VALUE_MAX];
        char user[64];               /* empty when not isolated */
        struct unit_port ports[UNIT_MAX_PORTS];
        size_t n_ports;
        /* an idle-capable container (gear-idle(1)): X-PortBackend=INTERNAL:BACKEND,
           the loopback port podman publishes each port on instead */
        struct unit_port backends[UNIT_MAX_PORTS];
        size_t n_backends;
        char idle_timeout[UNIT_TIMESPAN_MAX]; /* X-IdleTimeout=, "" for none */
};

/* reads the [Unit] section; 100 when a value is malformed or X-ContainerId is missing */
int unit_parse_meta(const char *text, struct unit_meta *m, struct gear_err *e);

/* the backend of port p of an idle-capable unit: 0 when it has none */
unsigned unit_meta_backend(const struct unit_meta *m, const struct unit_port *p);

#define UNIT_PUBLISH_MAX 128
/* "--publish=" value of a port: [ADDRESS:]EXTERNAL:INTERNAL, IPv6 addresses in brackets */
void unit_publish_value(char *buf, size_t n, const char *address, unsigned external, unsigned internal);

/*
 * What makes a container's unit idle-capable (gear-idle(1)): each port is
 * published on its loopback backend instead of [ADDRESS:]EXTERNAL, which a
 * socket unit holds; the unit wants its sockets (and with a timeout its
 * proxies, whose idle timers then run from its start).
 */
struct unit_idle {
        const char *id;
        const struct unit_port *ports;
        const unsigned *backends;    /* one per port; NULL: not idle-capable */
        size_t n_ports;
        const char *timeout;         /* normalized (unit_timespan_parse), NULL or "" for none */
        const char *publish_address; /* gear.conf's publish-address= */
};

/*
 * The unit text with its --publish= lines, X-PortBackend=, X-IdleTimeout=
 * and the Wants= of its idle units set from idle; the rest is kept as it is.
 * 100 when the text has no --publish= line to replace but idle has ports.
 */
int unit_text_idle(const char *text, const struct unit_idle *idle, char **out, struct gear_err *e);

/* the names of the units of external port ext of container id: "ctr-ID:EXT.socket", ".service" */
void unit_idle_names(const char *id, unsigned ext, char socket[static 64], char proxy[static 64]);
/* the id and port of an idle unit name; *socket tells which; -1 when it is not one */
int unit_idle_of_name(const char *name, gear_id id, unsigned *ext, bool *socket);

/* one published port of an idle-capable container, for its socket and proxy units */
struct unit_idle_port {
        const char *id;
        unsigned external, backend;
        const char *listen;          /* ListenStream=: [ADDRESS:]EXTERNAL */
        const char *prime;           /* where the proxy primes its idle timer, or NULL */
        const char *timeout;         /* or NULL / "" for none */
        const char *proxyd;          /* systemd-socket-proxyd */
        const char *gear_bin, *sysroot, *manager;
};
/* share/units/ctr-idle.socket.in and ctr-idle.service.in */
extern const char unit_idle_socket_template[], unit_idle_proxy_template[];
int unit_render_idle(const char *tmpl, const struct unit_idle_port *p, char **out, size_t *len, struct gear_err *e);

/*
 * An idle timeout: "infinity" (out ""), or a number with an optional unit,
 * ms, s, sec, m, min, h, hr or d (seconds without one), from 1 s to 30 days;
 * out is normalized ("90s", "1500ms"). 100 otherwise.
 */
int unit_timespan_parse(const char *s, char out[static UNIT_TIMESPAN_MAX], struct gear_err *e);

#endif
