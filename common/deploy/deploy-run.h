/*
 * Carrying a plan out (deploy-run.c) with gear's own commands: gear-delete,
 * gear-install -p, gear-link -n and gear-start, run here as this binary, or
 * on another host as "ssh [-p PORT] [USER@]NAME gear-CMD ARG..." with the
 * system's ssh (GEAR_SSH names another), so the user's keys and
 * ~/.ssh/config apply and no new network service is needed.
 */
#ifndef GEAR_DEPLOY_RUN_H
#define GEAR_DEPLOY_RUN_H

#include "deploy.h"
#include "../base/tree.h"
#include "../ports/ports.h"

#define DEPLOY_LOCAL "localhost"

struct deploy_host {
        char name[DEPLOY_HOST_MAX + 1]; /* as given: "localhost", or [USER@]NAME[:PORT] */
        char dest[DEPLOY_HOST_MAX + 1]; /* [USER@]NAME, for ssh */
        char port[8];                   /* ssh's -p, "" for its default */
        char addr[DEPLOY_HOST_MAX + 1]; /* what a container of another host connects to: NAME */
        bool local;
        int code;                       /* the first failure's exit code, 0 while none */
        char why[1024];
};

/* "localhost", [USER@]NAME or [USER@]NAME:PORT; 100 when invalid */
int deploy_host_parse(const char *arg, struct deploy_host *h, struct gear_err *e);

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
