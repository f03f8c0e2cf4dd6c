/* Folder systemd/: the service manager and the unit files; may use base/. (common/README) */
/* the service manager, through sd-bus: the system manager, or with
 * GEAR_SYSTEMD=user the calling user's manager */
#ifndef GEAR_SYSTEMD_H
#define GEAR_SYSTEMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/err.h"

/* waiting for a job or a reload: long enough for a slow podman pull or 10,000 units */
#define SYSTEMD_TIMEOUT_USEC (10ULL * 60 * 1000000)

enum systemd_scope {
        SYSTEMD_SYSTEM,
        SYSTEMD_USER,
};

struct gear_systemd; /* a connection to one manager */

/* from GEAR_SYSTEMD: unset, "" or "system", or "user"; 100 for anything else */
int systemd_scope_from_env(enum systemd_scope *scope, struct gear_err *e);

/*
 * Connects to the manager of the scope GEAR_SYSTEMD names: its private socket
 * when we may use it (as systemctl does), else the bus.  111 when neither answers.
 */
int systemd_open(struct gear_systemd **out, struct gear_err *e);
int systemd_open_scope(struct gear_systemd **out, enum systemd_scope scope, struct gear_err *e);
void systemd_close(struct gear_systemd *m);
static inline void systemd_closep(struct gear_systemd **m)
{
        if (*m)
                systemd_close(*m);
}
#define _cleanup_systemd_ _cleanup_(systemd_closep)
enum systemd_scope systemd_scope(const struct gear_systemd *m);

/* daemon-reload; returns once the manager has read its unit files again */
int systemd_reload(struct gear_systemd *m, struct gear_err *e);

enum systemd_verb {
        SYSTEMD_START,
        SYSTEMD_STOP,
        SYSTEMD_RESTART,
};

/*
 * Queues a job for unit (mode "replace") and waits until it finishes.  The
 * job's result ("done", "failed", "timeout", "canceled", "dependency",
 * "skipped") goes to result when given.  Anything but "done" is an error
 * (111, "job for 'ctr-x.service' failed: result 'failed'"); a unit the
 * manager cannot find or load gives 1.  timeout_usec 0 waits forever.
 */
int systemd_job(struct gear_systemd *m, enum systemd_verb verb, const char *unit, uint64_t timeout_usec,
                char *result, size_t result_size, struct gear_err *e);
/* queues the job and returns without waiting for it */
int systemd_queue(struct gear_systemd *m, enum systemd_verb verb, const char *unit, struct gear_err *e);
int systemd_start(struct gear_systemd *m, const char *unit, struct gear_err *e);
int systemd_stop(struct gear_systemd *m, const char *unit, struct gear_err *e);
int systemd_restart(struct gear_systemd *m, const char *unit, struct gear_err *e);

/* forgets a failed unit's state (reset-failed); a unit not loaded is fine */
int systemd_reset_failed(struct gear_systemd *m, const char *unit, struct gear_err *e);

struct systemd_unit_info {
        char id[256];
        char load_state[32];   /* loaded, not-found, bad-setting, error, masked */
        char active_state[32]; /* active, reloading, inactive, failed, activating, deactivating */
        char sub_state[32];    /* running, dead, exited, auto-restart... */
        char fragment_path[4096]; /* the unit file, empty when none */
        char result[32];       /* the service's Result: success, exit-code, signal... */
        pid_t main_pid;        /* 0 when none */
        int exec_main_status;  /* exit status of the last main process */
        uint64_t active_enter_usec;   /* CLOCK_REALTIME, 0 when never */
        uint64_t inactive_enter_usec; /* CLOCK_REALTIME, 0 when never */
        unsigned n_restarts;          /* NRestarts of a service */
};

/* loads unit when needed (LoadUnit) and reads its state; a missing unit gives load_state "not-found" */
int systemd_unit_info(struct gear_systemd *m, const char *unit, struct systemd_unit_info *info,
                      struct gear_err *e);

struct systemd_unit_state {
        char id[256];
        char load_state[32];
        char active_state[32];
        char sub_state[32];
        uint32_t job_id;       /* its pending or running job, 0 when none */
};

/* the units in the manager's memory matching a glob (ListUnitsByPatterns), sorted by name */
int systemd_list_units(struct gear_systemd *m, const char *pattern, struct systemd_unit_state **out,
                       size_t *n, struct gear_err *e);

#endif
