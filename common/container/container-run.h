/* containers and the service manager: start, stop, state, journal, boot recovery */
#ifndef GEAR_CONTAINER_RUN_H
#define GEAR_CONTAINER_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "container.h"
#include "../systemd/systemd.h"
#include "../systemd/unit.h"

/* journal lines shown with a failure */
#define CTR_LOG_LINES 10

/*
 * Start: records and links it as started on boot, then starts it and waits.
 * Stop: records and unlinks it as not started on boot, then stops it (and
 * with no_block returns once the job is queued). Restart: like start, but
 * restarts. Each holds the container's lock from the check that it exists
 * to the end of the job. -ENOENT (code 1) for an unknown container; a job
 * that does not end in "done" is code 111.
 */
int container_start(struct gear_tree *t, struct gear_systemd *m, const char *id, struct gear_err *e);
int container_stop(struct gear_tree *t, struct gear_systemd *m, const char *id, bool no_block,
                   struct gear_err *e);
int container_restart(struct gear_tree *t, struct gear_systemd *m, const char *id, struct gear_err *e);

/*
 * gear-install of one container: container_install (in->manager set to m),
 * then with in->start container_start, under the lock again, so that a
 * delete since the install leaves nothing to start. *installed says whether
 * a failure came after the install (in's ports are filled in then).
 */
int container_install_start(struct gear_tree *t, struct gear_systemd *m, struct ctr_install *in, bool *installed,
                            struct gear_err *e);

/*
 * gear-delete: the unit stopped and the container removed (container_remove)
 * under its lock, then the manager reloaded; 1 when it existed. *removed
 * says whether a failure came after the removal.
 */
int container_delete(struct gear_tree *t, struct gear_systemd *m, const char *id, bool *removed,
                     struct gear_err *e);

/*
 * The container's lock, so that no delete comes between the check that it
 * exists and the job; -ENOENT (code 1) when there is no tree at all.
 */
int container_lock_existing(struct gear_tree *t, const char *id, struct gear_err *e);
/* -ENOENT (code 1, "no container 'ID'") when id does not exist */
int container_must_exist(struct gear_tree *t, const char *id, struct gear_err *e);
/* the manager loads unit, or 111 */
int container_must_load(struct gear_systemd *m, const char *unit, struct gear_err *e);
/* queues a stop job for unit and returns: a connection of our own, since the shared one waits */
int container_stop_no_block(struct gear_systemd *m, const char *unit, struct gear_err *e);

/* starts (or restarts) id's unit, waits for the job and checks that it runs; no lock, no check */
int container_start_unit(struct gear_systemd *m, const char *id, bool restart, struct gear_err *e);

/*
 * reloads the manager when it holds id's unit in memory (an earlier version
 * of it), or the unit also (may be NULL or "": a gear-fs unit just rewritten)
 */
int container_reload_if_loaded(struct gear_systemd *m, const char *id, const char *also, struct gear_err *e);

/*
 * After an install's commit: reloads the manager as container_reload_if_loaded
 * does (mount_unit counts when mount_changed), or at any rate with reload,
 * then checks that it loads the container's unit and mount_unit (NULL or ""
 * for none); 111 when it does not.
 */
int container_check_loads(struct gear_systemd *m, const char *id, const char *mount_unit, bool mount_changed,
                          bool reload, struct gear_err *e);

/* "ctr-ID.service: failed (failed), result 'exit-code'..." and the last journal lines */
int container_failure_text(struct gear_systemd *m, const char *id, char **out, size_t *len);

/* the last lines journal entries of unit, one line each; *out is malloc'd */
int container_journal(enum systemd_scope scope, const char *unit, unsigned lines, char **out, size_t *len,
                      struct gear_err *e);

struct ctr_status {
        gear_id id;
        char unit_path[PATH_MAX];  /* the tree's unit file */
        bool boot;                 /* recorded to start on boot */
        char since[64];            /* when it entered its active state, or "-" */
        struct unit_meta meta;
        struct systemd_unit_info info;
        char *log;                 /* recent journal lines */
        char *fs_stats;            /* a Gear image's mount statistics ("KEY VALUE" lines), or NULL */
        struct net_link *links;    /* its links (gear-link) */
        size_t nlinks;
        bool idle;                 /* flagged idle (gear-idle) */
};

/* -ENOENT (code 1) when id is not installed */
int container_status(struct gear_tree *t, struct gear_systemd *m, const char *id, unsigned lines,
                     struct ctr_status *s, struct gear_err *e);
void ctr_status_done(struct ctr_status *s);

struct ctr_row {
        gear_id id;
        char active[32], sub[32], load[32];
};

/*
 * The containers the manager holds, sorted by id; with all also those only
 * in the tree: "inactive dead unloaded" when linked into the unit directory,
 * "inactive dead unlinked" when not. An idle container (flagged, not
 * running) is "idle" with the state of its sockets ("listening").
 */
int container_list_units(struct gear_tree *t, struct gear_systemd *m, bool all, struct ctr_row **rows, size_t *n,
                         struct gear_err *e);

/* what init and purge did, one call per unit */
typedef void (*ctr_report_fn)(const char *unit, const char *what, const struct gear_err *e, void *ud);

/*
 * Boot and disk recovery: the targets and slices, and every container of the
 * tree, linked into the unit directory; the start-on-boot links of those whose
 * unit says so; dangling links of gone containers removed; then the manager
 * reloaded and container-active.target started. Returns how many failed.
 */
int container_init(struct gear_tree *t, struct gear_systemd *m, ctr_report_fn report, void *ud,
                   struct gear_err *e);

/*
 * Stops the sockets of idle-capable containers, every container the tree or
 * the manager knows, then the targets and slices, and removes every link
 * gear made in the unit directory. The tree is left as it is (gear-init
 * brings it back). Returns how many failed.
 */
int container_purge(struct gear_tree *t, struct gear_systemd *m, ctr_report_fn report, void *ud,
                    struct gear_err *e);

#endif
