/* Folder ports/: the port allocator; may use base/ to env/. (common/README) */
/*
 * The port allocator of the container tree:
 *   ports/interfaces/1/<port/100>/<port> -> ../../../../units/<ab>/ctr-<ID>.service
 * for the external ports of the unit's X-PortMapping= lines and the loopback
 * backends of its X-PortBackend= lines alike.
 * Exclusive creation of the symlink is the lock. the lock of ports/ is held shared by
 * allocators and exclusively by repairs, so a repair never removes the link of
 * an install that is still writing its unit.
 */
#ifndef GEAR_PORTS_H
#define GEAR_PORTS_H

#include <stddef.h>

#include "../base/err.h"
#include "../base/id.h"
#include "../base/tree.h"

struct port_map {
        unsigned internal;
        unsigned external; /* 0: allocate */
};

struct port_range {
        unsigned lo, hi;
};

#define PORT_RANGE_DEFAULT ((struct port_range){ 4000, 60000 })

/* "INTERNAL[:EXTERNAL]" */
int port_spec_parse(const char *s, struct port_map *m, struct gear_err *e);
/* "INTERNAL[:EXTERNAL],..." appended to *maps (realloc'd) */
int port_specs_parse(const char *s, struct port_map **maps, size_t *n, struct gear_err *e);
/* "LO-HI" */
int port_range_parse(const char *s, struct port_range *r, struct gear_err *e);

/*
 * Reserves every mapping for id, all or nothing; fills in allocated externals.
 * A port already linked to id counts as reserved. 1 when a port is taken or
 * the range is full.
 */
int ports_alloc(struct gear_tree *t, const char *id, struct port_map *maps, size_t n,
                struct port_range r, struct gear_err *e);
/* removes every port link that points at id's unit */
int ports_release(struct gear_tree *t, const char *id, struct gear_err *e);
/* every port linked to id's unit, sorted; the caller frees *ports */
int ports_linked(struct gear_tree *t, const char *id, unsigned **ports, size_t *n, struct gear_err *e);
/* removes the links of the given externals if they point at id's unit */
int ports_release_some(struct gear_tree *t, const char *id, const struct port_map *maps, size_t n,
                       struct gear_err *e);

/* the X-PortMapping=INTERNAL:EXTERNAL lines of id's unit; -ENOENT (code 1) without a
 * unit; the caller frees *maps even on failure */
int unit_ports_read(struct gear_tree *t, const char *id, struct port_map **maps, size_t *n,
                    struct gear_err *e);
/* the same with the X-PortBackend=INTERNAL:BACKEND lines of an idle-capable
 * container (gear-idle(1)): every port the unit holds */
int unit_ports_held(struct gear_tree *t, const char *id, struct port_map **maps, size_t *n,
                    struct gear_err *e);

struct port_link {
        unsigned external;
        gear_id id;        /* owner, from the link target */
        unsigned internal; /* from the owner's unit, 0 when unknown */
        enum { LINK_OK, LINK_GONE, LINK_MISMATCH, LINK_FOREIGN } state;
};

/* every port link, sorted by port; the caller frees *links */
int ports_list(struct gear_tree *t, struct port_link **links, size_t *n, struct gear_err *e);
/* "ok", "gone", "mismatch", "foreign" */
const char *port_link_state(int state);

enum {
        CHECK_REPAIR = 1,    /* remove bad links, restore links a unit claims */
        CHECK_GONE_ONLY = 2, /* only links whose container is gone, and remove them */
        CHECK_DRY_RUN = 4,   /* with CHECK_GONE_ONLY: report, remove nothing */
};

/* action: NULL (report only), "removed", "restored", "kept" */
typedef void (*port_report_fn)(unsigned port, const char *id, const char *problem, const char *action, void *ud);

/*
 * Reports links whose container is gone, whose unit does not list them, that
 * are not gear's, and ports a unit lists but does not hold ("missing").
 * Returns how many problems remain.
 */
int ports_check(struct gear_tree *t, int flags, port_report_fn report, void *ud, struct gear_err *e);

#endif
