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
 *               learns who called from the kernel alone (SO_PEERCRED): the
 *               uid must be the isolated user ctr-ID of container ID, which
 *               the container's unit records (X-ContainerUserId=UID:GID).
 *               It runs "podman exec" in that container, with the caller's
 *               descriptors as its standard streams, and sends back the
 *               exit status. Nothing the caller sends becomes a path, an
 *               option or a container name: the command is the argument of
 *               the container's own "/bin/sh -c", run by podman with the
 *               container's user, capabilities, seccomp filter, label,
 *               cgroup and namespaces.
 *
 * The protocol, on a stream socket between two processes of one host:
 *   client -> service: struct join_request with exactly three descriptors,
 *                      then cmd_len bytes of command (no NUL)
 *   client -> service: JOIN_MSG_WINCH (one byte) when its terminal resized
 *   service -> client: JOIN_MSG_EXIT and the exit status (int32, host order)
 * The client closing its end ends the command.
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

enum { JOIN_MSG_WINCH = 'W', JOIN_MSG_EXIT = 'X' };

struct join_request {
        uint32_t magic;
        uint32_t flags;
        uint32_t cmd_len;
        char term[JOIN_TERM_MAX]; /* TERM of a terminal, NUL-terminated; may be empty */
};

/* the client: joins this process's login to its container; the command's exit
   status, or -1 when the service could not be asked or did not answer */
int join_client(const char *sysroot, struct gear_err *e);

/* the service, on the accepted connection fd (systemd's socket): -1 when the
   request could not even be read; else 0, what it refused or failed told to
   the caller's standard error and its exit status, and logged in e */
int join_serve(int fd, struct gear_err *e);

#endif
