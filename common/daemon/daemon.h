/* Folder daemon/: gear-daemon's HTTP API; may use base/ to maint/. (common/README) */
/*
 * gear-daemon: geard's HTTP API on a Unix socket, served with libmicrohttpd.
 * Each route calls the common/ functions the command of the same action
 * calls (gear-install, gear-start, gear-env, gear-keys, ...), so the trees
 * after a request are the trees after that command; POST /build-image runs
 * gear-build-image itself and streams its output (stream.c). Every request is
 * checked against its caller (SO_PEERCRED): root, or a member of the
 * daemon's group, which is thus root-equivalent. See gear-daemon(1).
 */
#ifndef GEAR_DAEMON_H
#define GEAR_DAEMON_H

#include "../base/err.h"

#include "../systemd/unit.h"

/* whose members may use it (SocketGroup= of the socket unit) */
#define DAEMON_GROUP UNIT_DAEMON_GROUP
/* bytes of a request body; more is a 400 */
#define DAEMON_BODY_MAX (1024 * 1024)
/* seconds a connection may stay silent before it is closed */
#define DAEMON_TIMEOUT 30
/* journal lines of GET /container/ID/log, unless ?lines= says, and at most */
#define DAEMON_LOG_LINES 100
#define DAEMON_LOG_LINES_MAX 10000
/* connections served at once */
#define DAEMON_CONNECTIONS 64

struct daemon_opts {
        const char *listen;  /* a socket path, or NULL for the socket systemd passes (LISTEN_FDS) */
        const char *group;   /* DAEMON_GROUP unless set */
};

/* serves until SIGTERM or SIGINT; -1 (code 100 or 111) when it cannot listen */
int daemon_run(const struct daemon_opts *o, struct gear_err *e);

#endif
