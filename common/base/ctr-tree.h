/*
 * The container tree's names, below every subsystem that keeps files for a
 * container or a repository (ports, keys, environments): where a container's
 * unit is, whether it exists, its lock and the list of containers; where a
 * repository is, whether it exists and its lock. See container.h and
 * repo.h for the rest of their lives.
 */
#ifndef GEAR_CTR_TREE_H
#define GEAR_CTR_TREE_H

#include <dirent.h>
#include <stddef.h>

#include "err.h"
#include "id.h"
#include "tree.h"

#define CTR_PATH_MAX 128
#define CTR_REQUEST_ID_MAX 48
#define CTR_SLICE_DEFAULT "container-small"
#define CTR_ACTIVE_TARGET "container-active.target"
#define CTR_TARGET "container.target"
/* the directory of the unit directory that holds the start-on-boot links */
#define CTR_WANTS CTR_ACTIVE_TARGET ".wants"
/* units/<ab>/<ID>/.installing, and its line when the install made the container's environment */
#define CTR_FLAG ".installing"
#define CTR_FLAG_ENV "env"
/* units/<ab>/<ID>/.env-before: what an environment the install changes held before it */
#define CTR_ENV_BEFORE ".env-before"

/* units/<ab>/ctr-<id>.service */
void container_unit_rel(const char *id, char buf[static CTR_PATH_MAX]);
/* units/<ab>/<id> */
void container_versions_rel(const char *id, char buf[static CTR_PATH_MAX]);
/* "ctr-<id>.service" */
void container_unit_name(const char *id, char buf[static CTR_PATH_MAX]);
/* units/<ab>/<id>/.installing, units/<ab>/<id>/.env-before */
void container_flag_rel(const char *id, char buf[static CTR_PATH_MAX]);
void container_env_before_rel(const char *id, char buf[static CTR_PATH_MAX]);
/* units/<ab>/ctr-<id>.idle */
void container_idle_rel(const char *id, char buf[static CTR_PATH_MAX]);
/* the id of a unit name "ctr-<id>.service"; -1 when it is not one */
int container_id_of_unit(const char *name, gear_id id);
/* the id of an idle flag's name "ctr-<id>.idle"; -1 when it is not one */
int container_id_of_idle(const char *name, gear_id id);

/* a new request id: UTC time to the nanosecond, then random hex; sorts by time */
int container_request_id(char buf[static CTR_REQUEST_ID_MAX], struct gear_err *e);

/* 1 when the container exists, 0 when not */
int container_exists(struct gear_tree *t, const char *id, struct gear_err *e);
/* flock of the directory units/<ab>; returns the fd that holds it */
int container_lock(struct gear_tree *t, const char *id, struct gear_err *e);

/* git/<ab>/<id>.git */
void repo_rel(const char *id, char buf[static CTR_PATH_MAX]);
/* 1 when the repository exists (the directory git/<ab>/<id>.git), 0 when not */
int repo_exists(struct gear_tree *t, const char *id, struct gear_err *e);
/* flock of the directory git/<ab>; returns the fd that holds it */
int repo_lock(struct gear_tree *t, const char *id, struct gear_err *e);

/* container_exists or repo_exists, by the target's kind */
int target_exists(struct gear_tree *t, const struct gear_target *tg, struct gear_err *e);
/* container_lock or repo_lock, by the target's kind */
int target_lock(struct gear_tree *t, const struct gear_target *tg, struct gear_err *e);

/* <dir>/ of the container tree (units, git) into *d; NULL when there is none */
int ctr_dir_open(struct gear_tree *t, const char *dir, DIR **d, struct gear_err *e);
/* the shard <dir>/<name> of the open dir, NULL when name is not one (".", "..", ".lock") or is unreadable */
DIR *ctr_shard_open(DIR *dir, const char *name);

/* every container of the tree, sorted; the caller frees *ids */
int container_list(struct gear_tree *t, gear_id **ids, size_t *n, struct gear_err *e);
/* every repository of the tree, sorted; the caller frees *ids */
int repo_list(struct gear_tree *t, gear_id **ids, size_t *n, struct gear_err *e);

/* test hook: GEAR_TEST_CRASH_AT=STEP kills the process with SIGKILL at STEP */
void container_crash_point(const char *step);

/* test hook: GEAR_TEST_PAUSE=POINT waits at POINT while GEAR_TEST_PAUSE_FILE exists */
void container_pause_point(const char *point);

#endif
