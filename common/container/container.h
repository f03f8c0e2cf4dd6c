/* Folder container/: containers as systemd units; may use base/ to gearfs/. (common/README) */
/*
 * Containers in the container tree (see gear-tree(5)) and in systemd's unit directory:
 *
 *   units/<ab>/<ID>/<requestid>     every version of the unit, mode 0664
 *   units/<ab>/ctr-<ID>.service     hardlink to the current version: the
 *                                   container exists iff this file does
 *   units/<ab>/ctr-<ID>.idle        idle flag (container-idle.h)
 *   units/<ab>/ctr-<ID>:<PORT>.socket, .service   the socket and proxy of each
 *                                   port of an idle-capable container
 *   units/<ab>/                     its flock serialises changes to the containers of <ab>
 *   targets/, slices/               container(-active).target, container(-small).slice
 *   data/<ab>/<ID>/<NAME>           named volumes
 *   UNITDIR/ctr-<ID>.service        -> the tree's unit (relative link)
 *   UNITDIR/container-active.target.wants/ctr-<ID>.service   start on boot
 *
 * Whether a container starts on boot is also recorded in the unit itself, so
 * that it survives the loss of the unit directory: its [Install] section says
 * WantedBy=container-active.target once started and WantedBy=container.target
 * once stopped (or never started). gear-init rebuilds the links from that.
 */
#ifndef GEAR_CONTAINER_H
#define GEAR_CONTAINER_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>

#include "isolate.h"
#include "../base/ctr-tree.h"
#include "../base/err.h"
#include "../base/id.h"
#include "../base/tree.h"
#include "../env/env.h"
#include "../ports/links.h"
#include "../ports/ports.h"
#include "../systemd/unit.h"

struct gear_systemd;

/* a named volume or a host path bound into the container */
struct ctr_volume {
        char *source; /* absolute host path (named volumes resolved) */
        char *target; /* absolute path in the container */
        bool ro;
        char name[GEAR_ID_MAX + 1]; /* named volume, "" for a host path */
};

/* "SOURCE:TARGET[:ro|:rw]"; SOURCE a NAME (under data/) or an absolute host path */
int ctr_volume_parse(const char *spec, struct ctr_volume *v, struct gear_err *e);
void ctr_volume_done(struct ctr_volume *v);

struct ctr_install;
/* "SOURCE:TARGET[:ro]" for podman of each volume of in (named ones made under data/); the caller
   frees *specs with ctr_volume_specs_free */
int ctr_volumes_make(struct gear_tree *t, struct ctr_install *in, const char ***specs, struct gear_err *e);
void ctr_volume_specs_free(const char **specs, size_t n);

struct ctr_install {
        const char *id;
        const char *image;
        struct port_map *ports;  /* externals filled in on success */
        size_t nports;
        struct port_range range;
        const struct env *env;   /* NULL: leave the environment alone */
        const char *env_id;      /* NULL: the container's own */
        const char *slice;       /* NULL: CTR_SLICE_DEFAULT */
        struct ctr_volume *volumes;
        size_t nvolumes;
        bool isolate;
        bool set_links;          /* replace its links with links (else leave them alone) */
        const struct net_link *links;
        size_t nlinks;
        bool start;              /* record and link it as started */
        bool idle;               /* make it idle-capable (gear-idle(1)); an update keeps it so anyway */
        const char *idle_timeout; /* normalized (unit_timespan_parse); NULL keeps the one before, "" none */
        bool reuse_unit;         /* gear-idle: the current unit, changed only in its idle lines; no image,
                                    user, volume, environment or link step, and ports as they are */
        struct gear_systemd *manager; /* checks after the commit that it loads the unit; NULL: no check */
        /* filled in */
        char request_id[CTR_REQUEST_ID_MAX];
        struct isolate_user user;
        bool updated;            /* a previous version existed */
        char mount_unit[PATH_MAX]; /* a Gear image's gear-fs unit; else "" */
        bool mount_changed;      /* install rewrote it */
        unsigned backends[UNIT_MAX_PORTS]; /* idle-capable: the loopback backend of each port */
};

/*
 * Installs or updates a container in both trees; see gear-install(1) for the
 * order of the steps, which makes a kill at any instant leave either the
 * previous state or the new one (plus unreferenced leftovers). 1 when a port
 * is taken or an environment is missing. With a manager, it is reloaded
 * after the commit (container_check_loads), and a unit it does not load is
 * rolled back like any failure before the commit: the old version is current
 * again, or a new container is gone.
 */
int container_install(struct gear_tree *t, struct ctr_install *in, struct gear_err *e);

/* appends line to the .installing flag of id, which exists; with sync it is on disk on return */
int ctr_flag_append(struct gear_tree *t, const char *id, const char *line, bool sync, struct gear_err *e);
/*
 * Before an install of id (version request_id) changes the environment
 * envid that exists, from old to text: the flag line, then the copy of old,
 * that tell how to undo it (see install-env.c).
 */
int ctr_env_save(struct gear_tree *t, const char *id, const char *request_id, const char *envid, const char *old,
                 size_t old_len, const char *text, size_t len, struct gear_err *e);
/* removes that copy: the install committed, or put the environment back itself */
void ctr_env_saved_drop(struct gear_tree *t, const char *id);
/*
 * The copy an interrupted install of id left: the environment put back from
 * it when that install did not commit and nothing wrote the environment
 * since, then the copy removed (only looked for with dry_run). 1 when there
 * was one, 0 when not. The caller holds container_lock(id).
 */
int ctr_env_settle(struct gear_tree *t, const char *id, bool dry_run, struct gear_err *e);

/*
 * removes every file, link, port and version of id; 0 when it did not exist.
 * The caller holds container_lock(id) when the tree exists, from before it
 * stops the unit (see container_delete).
 */
int container_remove(struct gear_tree *t, const char *id, struct gear_err *e);

/*
 * Start on boot: links (or unlinks) UNITDIR/container-active.target.wants/,
 * and records it in the unit (a new version with the other WantedBy=) when
 * it changes. 1 when it wrote a new version, 0 when the unit already said so;
 * -ENOENT (code 1) when the container does not exist. The caller holds
 * container_lock(id).
 */
int container_set_boot(struct gear_tree *t, const char *id, bool on, struct gear_err *e);
/* 1 when the unit says WantedBy=container-active.target */
int container_boot_recorded(struct gear_tree *t, const char *id, struct gear_err *e);

/* the targets and slices in the tree (written when missing) and linked into UNITDIR */
int container_link_shared(struct gear_tree *t, struct gear_err *e);
/* applies the links of id (ports/links.h) in its network namespace when it
   runs, replacing what was there; *applied false when it does not run.
   fresh: it has just started (nothing to remove when it has no links) */
int container_links_apply(struct gear_tree *t, const char *id, bool fresh, bool *applied, struct gear_err *e);
/* replaces the links of container id and applies them when it runs; on a
   failure to apply, the tree keeps the links it had. 1 (code 1) without the container */
int container_links_set(struct gear_tree *t, const char *id, const struct net_link *links, size_t n, bool *applied,
                        struct gear_err *e);
/* writes the join service's units (gear-switchns(1)) into UNITDIR, for gear.conf's
   gear-bin and this GEAR_SYSROOT and GEAR_SYSTEMD */
int container_link_join(struct gear_tree *t, struct gear_err *e);
/* links id's unit into UNITDIR; with boot also its start-on-boot link */
int container_enable(struct gear_tree *t, const char *id, bool boot, struct gear_err *e);
/* UNITDIR/name -> the tree's rel, as a relative link, replacing what is there */
int container_link_unit(struct gear_tree *t, const char *name, const char *rel, struct gear_err *e);
/* removes r's name when it is a symbolic link; 0 when it is not there, 1 when removed */
int container_unlink_unit(const struct gear_root *r, const char *name, struct gear_err *e);
/* makes (on) or removes UNITDIR/container-active.target.wants/name -> ../name */
int container_boot_link(struct gear_tree *t, const char *name, bool on, struct gear_err *e);
/* removes every link gear made in UNITDIR: containers, targets, slices */
int container_unlink_all(struct gear_tree *t, struct gear_err *e);

/* removes id's start-on-boot link from UNITDIR */
int container_unlink_boot(struct gear_tree *t, const char *id, struct gear_err *e);
/* removes id's links from UNITDIR (boot link first) */
int container_unlink(struct gear_tree *t, const char *id, struct gear_err *e);

/*
 * fn for each symbolic link ctr-<ID>.service of dir (relative to UNITDIR:
 * "." or CTR_WANTS), with dfd the open dir; 0 when UNITDIR or dir is missing
 */
typedef int (*ctr_link_fn)(struct gear_tree *t, const char *dir, int dfd, const char *name, const char *id,
                           void *ud, struct gear_err *e);
int container_links_each(struct gear_tree *t, const char *dir, ctr_link_fn fn, void *ud, struct gear_err *e);
/* the same for the links of idle units, ctr-<ID>:<PORT>.socket and .service (container-idle.h) */
int container_idle_links_each(struct gear_tree *t, const char *dir, ctr_link_fn fn, void *ud, struct gear_err *e);

/* the current unit of id; -ENOENT (code 1) when the container does not exist */
int container_read_unit(struct gear_tree *t, const char *id, char **text, struct gear_err *e);
/* writes units/<ab>/<id>/<request_id> (mode 0664) holding text */
int container_write_version(struct gear_tree *t, const char *id, const char *text, char *request_id,
                            struct gear_err *e);
/* makes that version current: link to a temporary name, rename over ctr-<id>.service */
int container_commit(struct gear_tree *t, const char *id, const char *request_id, struct gear_err *e);

/* unit text with every "key" line (e.g. "WantedBy=") set to value, added to section
 * when missing; NULL when out of memory */
char *unit_text_set(const char *text, const char *key, const char *value, const char *section);
/* the text with WantedBy=container-active.target (boot) or container.target */
char *unit_text_boot(const char *text, bool boot);
/* path of `to` relative to directory `from`: both absolute */
int path_relative(const char *from, const char *to, char *buf, size_t n);


#endif
