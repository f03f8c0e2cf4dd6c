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
#define UNIT_SWITCHNS_SOCKET_NAME "gear-switchns.socket"
#define UNIT_SWITCHNS_SERVICE_NAME "gear-switchns@.service"

/* s is UTF-8 as systemd's unit file parser wants it (no noncharacters either) */
bool unit_utf8_valid(const char *s);
/* a value a unit can hold: that UTF-8, no control character, short enough; else 100 naming what */
int unit_value_check(const char *s, const char *what, struct gear_err *e);

/* the unit text into *out (malloc'd, NUL-terminated); 100 on invalid input */
int unit_render(const struct unit_spec *s, char **out, size_t *len, struct gear_err *e);
/* the same with another template */
int unit_render_template(const char *tmpl, const struct unit_spec *s, char **out, size_t *len,
                         struct gear_err *e);

/* the gear-fs unit of image REF ("NAME:TAG") mounted on MOUNTPOINT; SYSROOT or NULL */
int unit_render_gear_fs(const char *ref, const char *mountpoint, const char *gear_bin, const char *sysroot,
                        char **out, size_t *len, struct gear_err *e);

/* the targets and slices gear installs (the files of share/units/) */
/* a join unit (one of the two templates above) for the host: the socket under
   sysroot, gear-switchns from gear_bin, GEAR_SYSROOT and GEAR_SYSTEMD (manager)
   passed on when set */
int unit_render_switchns(const char *tmpl, const char *gear_bin, const char *sysroot, const char *manager,
                         char **out, size_t *len, struct gear_err *e);

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
};

/* reads the [Unit] section; 100 when a value is malformed or X-ContainerId is missing */
int unit_parse_meta(const char *text, struct unit_meta *m, struct gear_err *e);

#endif
