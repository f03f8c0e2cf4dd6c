/* Folder maint/: repairs of the trees (clean, fsck, gc); may use every folder. (common/README) */
/* gear-clean: what seed 000 says may be removed */
#ifndef GEAR_CLEAN_H
#define GEAR_CLEAN_H

#include <stdbool.h>

#include "../base/err.h"
#include "../base/tree.h"

/*
 * kind: "access", "idle", "install", "key", "port", "temp", "unit": path is the full
 * path removed (or that would be); "user": the name of a host user removed
 */
typedef void (*clean_report_fn)(const char *kind, const char *path, void *ud);

/* temp files older than this and not held by a writer are stale */
#define CLEAN_TMP_AGE 60

/*
 * What interrupted installs and deletes left of containers that do not
 * exist: a new install's units/<ab>/<ID>/, dangling links into the unit
 * directory, volumes, and the environment file the install made
 * ("install"); a delete's versions, idle flag and dangling links ("unit");
 * and of any container the copy of an environment a killed install changed,
 * put back when that install did not commit ("install"). Never while the
 * container lock is held.
 */
int clean_installs(struct gear_tree *t, bool dry_run, clean_report_fn report, void *ud, struct gear_err *e);

/*
 * What idling left (gear-idle(1)), "idle": socket and proxy units no unit
 * calls for, with their links; never while the container lock is held.
 */
int clean_idle(struct gear_tree *t, bool dry_run, clean_report_fn report, void *ud, struct gear_err *e);

int clean_tree(struct gear_tree *t, bool dry_run, clean_report_fn report, void *ud, struct gear_err *e);

#endif
