/* Folder deploy/: deployments over one host or many; may use every folder but maint/. (common/README) */
/*
 * geard's deployment files (gear-deploy(1)): the description of a set of
 * containers, their instances and the links between them, and the plan that
 * brings hosts to it. Parsing, placement, port reservation and link
 * resolution are pure (deploy-parse.c, deploy-plan.c); deploy-run.c carries
 * a plan out with gear's own commands, here or over ssh.
 */
#ifndef GEAR_DEPLOY_H
#define GEAR_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/err.h"
#include "../base/id.h"

#define DEPLOY_FILE_MAX (4 << 20)
#define DEPLOY_CONTAINERS_MAX 64
#define DEPLOY_INSTANCES_MAX 1024
#define DEPLOY_PORTS_MAX 64
#define DEPLOY_LINKS_MAX 64
#define DEPLOY_ENV_MAX 256
#define DEPLOY_IMAGE_MAX 255
#define DEPLOY_HOST_MAX 255
#define DEPLOY_ADDR_MAX 16 /* a dotted quad */

struct deploy_pair {
        unsigned internal, external; /* external 0: any */
};

struct deploy_link {
        char to[GEAR_ID_MAX + 1];
        bool nonlocal, matchport;
        unsigned ports[DEPLOY_PORTS_MAX];
        size_t nports;
        struct deploy_pair alias[DEPLOY_PORTS_MAX]; /* AliasPorts; Ports folded in by the plan */
        size_t nalias;
};

struct deploy_var {
        char *name, *value;
};

struct deploy_container {
        char name[GEAR_ID_MAX + 1];
        char image[DEPLOY_IMAGE_MAX + 1];
        int count;
        struct deploy_pair public_ports[DEPLOY_PORTS_MAX];
        size_t nports;
        struct deploy_link *links;
        size_t nlinks;
        struct deploy_var *env;
        size_t nenv;
};

/* a port of an instance: published on its host, and where the links to it listen */
struct deploy_port {
        unsigned internal, external;
        char target_host[DEPLOY_ADDR_MAX]; /* "" while no link reserved it */
        unsigned target_port;
};

/* inside the source instance, from_host:from_port reaches to_host:to_port */
struct deploy_ilink {
        char from_host[DEPLOY_ADDR_MAX];
        unsigned from_port;
        char to_host[DEPLOY_HOST_MAX + 1]; /* the target's host, as given (see deploy-run.c) */
        unsigned to_port;                  /* the target's external port; 0 until it is known */
        gear_id target;                    /* the target instance and its internal port */
        unsigned target_internal;
};

struct deploy_instance {
        gear_id id;
        char image[DEPLOY_IMAGE_MAX + 1];
        char from[GEAR_ID_MAX + 1];
        char on[DEPLOY_HOST_MAX + 1]; /* "" not placed */
        struct deploy_port ports[DEPLOY_PORTS_MAX];
        size_t nports;
        struct deploy_ilink *links;
        size_t nlinks;
        bool add, remove;
};

struct deployment {
        struct deploy_container *containers;
        size_t ncontainers;
        struct deploy_instance *instances;
        size_t ninstances;
        char id_prefix[GEAR_ID_MAX + 1];
        bool randomize_ids;
};

void deployment_done(struct deployment *d);

/*
 * A deployment from its JSON text, keys matched as Go's encoding/json does
 * (exact, else case-insensitively); unknown fields, bad names, images and
 * ports are 100 with a message naming them. The links are checked by the plan.
 */
int deploy_parse(const char *text, size_t len, struct deployment *d, struct gear_err *e);
/* the same from the file path (a regular file of at most DEPLOY_FILE_MAX bytes) */
int deploy_load(const char *path, struct deployment *d, struct gear_err *e);
/* the JSON text of d, geard's field names, for the next run; NULL without memory */
char *deploy_format(const struct deployment *d);

/*
 * geard's Describe: next is d brought to its containers on hosts (nhosts 0:
 * nothing placed). Instances on a host not in hosts, or of a container no
 * longer there, or past a container's Count, go to *removed (the caller
 * frees it); new ones, flagged add, are placed round-robin over hosts in
 * the containers' order; every link gets the local address and port it
 * listens on inside its source. 100 with geard's message when the links
 * cannot be resolved; d is not changed.
 */
int deploy_plan(const struct deployment *d, const char *const *hosts, size_t nhosts, struct deployment *next,
                struct deploy_instance **removed, size_t *nremoved, struct gear_err *e);
/* after the installs: each link's to_port from its target's external port */
void deploy_update_links(struct deployment *d);
struct deploy_instance *deploy_find(struct deployment *d, const char *id);
void deploy_instances_free(struct deploy_instance *v, size_t n);

#endif
