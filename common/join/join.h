/* Folder join/: SSH logins joined to their containers; may use base/ to container/. (common/README) */
/*
 * gear-switchns, the forced command sshd runs for a container's user ctr-ID,
 * joins the login to the running container. It runs as ctr-ID, and joining
 * a rootful podman container needs root, so the work is split in two:
 *
 *   the client  (gear-switchns, as ctr-ID) connects to the join socket,
 *               UNIT_SWITCHNS_SOCKET under GEAR_SYSROOT, hands over its
 *               standard input, output and error with SCM_RIGHTS, and the
 *               command sshd received (SSH_ORIGINAL_COMMAND; none: a shell),
 *               then waits for the exit status and relays it.
 *   the service (gear-switchns --serve, root, one per connection: the
 *               socket unit has Accept=yes, so nothing stays resident)
 *               learns who called from the kernel alone (SO_PEERCRED), and
 *               before it reads anything: the uid must be the isolated user
 *               ctr-ID of container ID, which the container's unit records
 *               (X-ContainerUserId=UID:GID); anyone else is hung up on. It
 *               runs "runc exec" in that container (by the runtime id its
 *               unit has podman write, UNIT_CID_DIR; "podman exec" when
 *               there is none or runc has no state of it), with the
 *               caller's descriptors as its standard streams (pipes,
 *               terminals and stream sockets only: what root writes to must
 *               not pass for root's own words), and sends back the exit
 *               status. Nothing the caller sends becomes a path, an option
 *               or a container name: the command is the argument of the
 *               container's own "/bin/sh -c", run with the container's
 *               user, capabilities, seccomp filter, label, limits, cgroup
 *               and namespaces, all from the container's configuration.
 *               At most JOIN_SESSIONS_PER_USER run for one user at a time.
 *
 * The protocol, on a stream socket between two processes of one host:
 *   client -> service: struct join_request with exactly three descriptors,
 *                      then cmd_len bytes of command (no NUL)
 *   client -> service: JOIN_MSG_WINCH (one byte) when its terminal resized
 *   service -> client: JOIN_MSG_ERROR, a length (uint16) and a message, when
 *                      it refuses or fails; then JOIN_MSG_EXIT and the exit
 *                      status (int32, host order)
 * The client closing its end (sshd gone: the client sees its standard output
 * or error hang up) ends runc or podman (SIGHUP, then SIGTERM, then SIGKILL). Without a terminal the command itself, as
 * with any SSH login, runs on until it reads the end of its input or writes
 * to the closed connection; with one, the terminal's hang-up ends it.
 */
#ifndef GEAR_JOIN_H
#define GEAR_JOIN_H

#include <stdint.h>

#include "../base/err.h"

#define JOIN_MAGIC 0x6e6a7267u /* "grjn" */
#define JOIN_TTY 1u            /* the client's standard input is a terminal */
#define JOIN_CMD_MAX 65536u
#define JOIN_TERM_MAX 64
/* how long the service waits for the request */
#define JOIN_REQUEST_TIMEOUT_MS 10000

/* runc's state, where podman has it keep that of rootful containers */
#define JOIN_RUNC_ROOT "/run/runc"

#define JOIN_SESSIONS_PER_USER 16
#define JOIN_MSG_MAX 1024

enum { JOIN_MSG_WINCH = 'W', JOIN_MSG_EXIT = 'X', JOIN_MSG_ERROR = 'E' };

struct join_request {
        uint32_t magic;
        uint32_t flags;
        uint32_t cmd_len;
        char term[JOIN_TERM_MAX]; /* TERM of a terminal, NUL-terminated; may be empty */
};

/* the client: joins this process's login to its container; the command's exit
   status, or -1 when the service could not be asked, did not answer or
   refused (its message in e, with the status it sent as the code) */
int join_client(const char *sysroot, struct gear_err *e);

/* what a session was, for the journal: set once it ran */
struct join_session {
        char user[64];   /* ctr-ID */
        const char *how; /* "runc exec" or "podman exec"; NULL: nothing ran */
        int status;      /* the exit status sent */
};

/* the service, on the accepted connection fd (systemd's socket): the exit
   status sent; what it refused or failed is in e (and was sent), what ran in
   *s */
int join_serve(int fd, struct join_session *s, struct gear_err *e);

#endif
