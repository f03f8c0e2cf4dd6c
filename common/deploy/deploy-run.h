/*
 * Carrying a plan out (deploy-run.c) with gear's own commands: gear-delete,
 * gear-install -p, gear-link -n and gear-start, run here as this binary, or
 * on another host over ssh (hosts/hosts.h).
 */
#ifndef GEAR_DEPLOY_RUN_H
#define GEAR_DEPLOY_RUN_H

#include "deploy.h"
#include "../base/tree.h"
#include "../hosts/hosts.h"
#include "../ports/ports.h"

#define DEPLOY_LOCAL HOST_LOCAL

struct deploy_host {
        struct remote_host r;
        int code;                       /* the first failure's exit code, 0 while none */
        char why[1024];
};

/* a line of a host's: what runs there and what it says */
typedef void (*deploy_report_fn)(const struct deploy_host *h, const char *line, void *ud);

struct deploy_job {
        struct deploy_host *hosts;
        size_t nhosts;
        struct port_range range; /* for gear-install --port-range; lo 0: its default */
        deploy_report_fn report;
        void *ud;
};

/*
 * Refuses (100) what gear cannot carry out of a plan, before anything runs:
 * a link that would listen outside 127.0.0.0/8 (NonLocal), a host of an
 * instance not among the job's.
 */
int deploy_check(const struct deploy_job *j, const struct deployment *next, struct gear_err *e);

/*
 * Deletes the removed instances, installs the added ones, links every
 * instance whose links are new or changed (prev: the deployment the plan
 * came from), starts what was added. A host that fails does nothing more;
 * the others go on. next is left as it now is on the hosts: the instances
 * that could not be installed dropped, those that could not be deleted
 * kept. Returns how many hosts failed (their code and why are in hosts).
 */
int deploy_run(struct deploy_job *j, struct gear_tree *t, struct deployment *next, struct deploy_instance *removed,
               size_t nremoved, const struct deployment *prev, struct gear_err *e);

/* FILE.YYYYMMDD-HHMMSS beside path, written atomically; its path in out */
int deploy_write(const char *path, const struct deployment *d, char *out, size_t n, struct gear_err *e);

#endif
