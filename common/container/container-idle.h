/*
 * Containers that idle (gear-idle(1)): while idle, a container does not run
 * and systemd's socket units hold its published ports; the first connection
 * starts it. An idle-capable container's unit publishes each port on a
 * loopback backend port of its own (X-PortBackend=, allocated like any port)
 * and next to it, derived from it:
 *
 *   units/<ab>/ctr-<ID>:<PORT>.socket    listens on [publish-address:]PORT
 *   units/<ab>/ctr-<ID>:<PORT>.service   systemd-socket-proxyd to 127.0.0.1:BACKEND
 *   units/<ab>/ctr-<ID>.idle             the idle flag: the container idles
 *   UNITDIR/ctr-<ID>:<PORT>.socket, .service          -> the tree's units
 *   UNITDIR/container-active.target.wants/ctr-<ID>:<PORT>.socket   listen on boot
 *
 * The socket and proxy units are rewritten from the unit whenever it changes
 * (gear-install, gear-idle) and by gear-init, so a kill that left them behind
 * the unit is repaired there; gear-clean removes those no unit calls for.
 * On boot a container recorded as started listens; it runs unless flagged.
 *
 * With a timeout, a proxy exits after a quiet while (systemd-socket-proxyd
 * --exit-idle-time) and its stop hook idles the container when no other
 * proxy of it runs. Not StopWhenUnneeded= on the container: a container
 * started by gear-start or on boot, which no proxy needs yet, would stop at
 * once, and only gear can tell a quiet exit from a stop and write the flag
 * with it.
 */
#ifndef GEAR_CONTAINER_IDLE_H
#define GEAR_CONTAINER_IDLE_H

#include <stdbool.h>

#include "container.h"
#include "../systemd/systemd.h"
#include "../systemd/unit.h"

/* how long a proxy waits for the container's backend to accept a connection */
#define CTR_IDLE_WAKE_SECONDS 30

/* 1 when id is flagged idle, 0 when not */
int container_idle_flagged(struct gear_tree *t, const char *id, struct gear_err *e);
/* writes (atomically) or removes the flag; the caller holds container_lock(id) */
int container_idle_flag(struct gear_tree *t, const char *id, bool on, struct gear_err *e);

/* whether the unit described by m is idle-capable */
static inline bool unit_meta_idle(const struct unit_meta *m)
{
        return m->n_backends > 0;
}

/*
 * The socket and proxy units of the unit m describes, written where they
 * changed and linked into UNITDIR; the idle units of m->id that m no longer
 * calls for are removed, links first. *changed says whether a file changed.
 */
int container_idle_units_write(struct gear_tree *t, const struct unit_meta *m, bool *changed, struct gear_err *e);
/* removes the socket and proxy of port ext of id: boot link, links, then the files */
int container_idle_port_remove(struct gear_tree *t, const char *id, unsigned ext, struct gear_err *e);
/* removes every idle unit of id: boot links, links, then the files */
int container_idle_units_remove(struct gear_tree *t, const char *id, struct gear_err *e);
/* links (or unlinks) the sockets of id into container-active.target.wants/ */
int container_idle_boot(struct gear_tree *t, const char *id, bool on, struct gear_err *e);
/* the external ports whose idle unit files id has in the tree, sorted; the caller frees *ports */
int container_idle_ports(struct gear_tree *t, const char *id, unsigned **ports, size_t *n, struct gear_err *e);

/* removes the links of idle units in dir of the unit directory ("." or CTR_WANTS) whose file or
   container is gone (the files stay for gear-clean) */
int container_idle_unlink_gone(struct gear_tree *t, const char *dir, struct gear_err *e);

/*
 * Removes the flag of id when it does not stand, as a gear-stop killed
 * midway leaves it: the container is recorded as stopped, or is not
 * idle-capable. 1 when it removed it. Takes the container lock to do so.
 */
int container_idle_flag_settle(struct gear_tree *t, const char *id, struct gear_err *e);

/*
 * The boot links of id from its record and flag: the service's when it
 * starts on boot and is not idle, the sockets' when it starts on boot and is
 * idle-capable. The caller holds container_lock(id).
 */
int container_idle_boot_sync(struct gear_tree *t, const char *id, struct gear_err *e);

/* ---- with the service manager (container-idling.c) ---- */

/* starts the sockets of id's idle units, or stops (without wait: queues the stop of)
   every idle unit of id the manager holds, the sockets first */
int container_idle_sockets(struct gear_tree *t, struct gear_systemd *m, const char *id, bool start, bool wait,
                           struct gear_err *e);
/* 1 when the manager holds an idle unit of id in memory (a rewrite needs a reload) */
int container_idle_held(struct gear_systemd *m, const char *id, struct gear_err *e);
/* the manager must load each socket and proxy of the unit m describes, or 111 */
int container_idle_check_loads(struct gear_systemd *sd, const struct unit_meta *m, struct gear_err *e);

/*
 * After an update of id committed: the sockets and proxies of ports old had
 * and the new version no longer publishes through a socket are stopped, and
 * an idle container listens on the ports it gained.
 */
int container_idle_update(struct gear_tree *t, struct gear_systemd *m, const char *id, const struct unit_meta *old,
                          struct gear_err *e);

/*
 * gear-idle: id made idle-capable when it is not, or given another timeout
 * (a new version of its unit, through container_install), then idled.
 */
int container_make_idle(struct gear_tree *t, struct gear_systemd *m, const char *id, const char *timeout,
                        struct port_range range, struct gear_err *e);

/*
 * gear-idle: id (made idle-capable beforehand) recorded as started and
 * flagged idle, its sockets linked to listen on boot instead of its service,
 * then stopped with its sockets listening. -ENOENT (code 1) without it.
 */
int container_idle(struct gear_tree *t, struct gear_systemd *m, const char *id, struct gear_err *e);
/* gear-unidle: a flagged container started, then unflagged; 1 (code 1) when it is not flagged */
int container_unidle(struct gear_tree *t, struct gear_systemd *m, const char *id, struct gear_err *e);

/*
 * The proxy's hooks. wake: the flag cleared (under the container lock) and
 * the service's boot link back, then waits up to CTR_IDLE_WAKE_SECONDS until
 * 127.0.0.1:backend accepts a connection. prime: one connection to address
 * ("HOST:PORT", "[V6]:PORT"). ended: after a proxy of id exited on its own
 * (its idle timeout: exit_code "exited", status 0) with no other proxy of id
 * running, the container is flagged idle and a stop queued.
 */
int container_idle_wake(struct gear_tree *t, const char *id, unsigned backend, struct gear_err *e);
int container_idle_prime(const char *address, struct gear_err *e);
int container_idle_ended(struct gear_tree *t, struct gear_systemd *m, const char *id, unsigned port,
                         const char *exit_code, const char *exit_status, struct gear_err *e);

#endif
