/*
 * gear-clean: what idling left that no unit calls for (see gear-idle(1)): the
 * socket and proxy units of a port the container's unit does not publish
 * through a socket (or of a container that is gone: a delete or an update
 * killed midway), with their links in the unit directory. The idle flag of
 * a container that is gone goes with an interrupted delete's other
 * leftovers (clean-install.c); that of one recorded as stopped, with
 * gear-init. Each shard under its container lock, skipped while a command
 * holds it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clean.h"
#include "../base/fsutil.h"
#include "../container/container-idle.h"

struct idle_ctx {
        struct gear_tree *t;
        bool dry_run;
        clean_report_fn report;
        void *ud;
};

static void report_rel(struct idle_ctx *c, const char *rel)
{
        char path[PATH_MAX * 2];

        snprintf(path, sizeof path, "%s/%s", c->t->ctr.path, rel);
        c->report("idle", path, c->ud);
}

/* units/<ab>/name reported when it is there */
static void report_unit(struct idle_ctx *c, const char *id, const char *name)
{
        char rel[CTR_PATH_MAX + 64];
        struct stat st;

        snprintf(rel, sizeof rel, "units/%.2s/%s", id, name);
        if (fstatat(c->t->ctr.fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
                report_rel(c, rel);
}

/* the idle units of id's ports in ports[] that meta (NULL: no container) does not call for */
static int clean_units(struct idle_ctx *c, const char *id, const struct unit_meta *meta, struct gear_err *e)
{
        _cleanup_free_ unsigned *ports = NULL;
        size_t n = 0;

        if (container_idle_ports(c->t, id, &ports, &n, e) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                char sock[64], proxy[64];
                bool wanted = false;

                for (size_t k = 0; meta && unit_meta_idle(meta) && k < meta->n_ports; k++)
                        wanted |= meta->ports[k].external == ports[i];
                if (wanted)
                        continue;
                unit_idle_names(id, ports[i], sock, proxy);
                report_unit(c, id, sock);
                report_unit(c, id, proxy);
                if (!c->dry_run && container_idle_port_remove(c->t, id, ports[i], e) < 0)
                        return -1;
        }
        return 0;
}

static int clean_id(void *ud, const char *id, struct gear_err *e)
{
        struct idle_ctx *c = ud;
        _cleanup_free_ char *text = NULL;
        struct unit_meta meta;
        int r = container_read_unit(c->t, id, &text, e);

        if (r == -ENOENT && e->code == GEAR_EXIT_NO)
                gear_err_clear(e);
        else if (r < 0 || unit_parse_meta(text, &meta, e) < 0)
                return -1;
        return clean_units(c, id, text ? &meta : NULL, e);
}

/* the ids of a shard that have an idle unit file, once each */
static int shard_ids(DIR *shard, const char *ab, gear_id **ids, size_t *n, struct gear_err *e)
{
        struct dirent *de;

        while ((de = readdir(shard))) {
                gear_id id;
                unsigned port;
                bool socket, seen = false;

                if (unit_idle_of_name(de->d_name, id, &port, &socket) < 0 || strncmp(id, ab, 2))
                        continue;
                for (size_t i = 0; i < *n && !seen; i++)
                        seen = !strcmp((*ids)[i], id);
                if (seen)
                        continue;
                gear_id *p = realloc(*ids, (*n + 1) * sizeof *p);
                if (!p)
                        return gear_err_sys(e, ENOMEM, "cannot clean");
                *ids = p;
                snprintf(p[(*n)++], sizeof *p, "%s", id);
        }
        return 0;
}

int clean_idle(struct gear_tree *t, bool dry_run, clean_report_fn report, void *ud, struct gear_err *e)
{
        struct idle_ctx c = { t, dry_run, report, ud };
        _cleanup_closedir_ DIR *units = NULL;
        struct dirent *s;

        if (ctr_dir_open(t, "units", &units, e) < 0)
                return -1;
        while (units && (s = readdir(units))) {
                _cleanup_closedir_ DIR *shard = NULL;
                _cleanup_free_ gear_id *ids = NULL;
                _cleanup_close_ int lock = -1;
                char rel[64];
                size_t n = 0;

                if (!(shard = ctr_shard_open(units, s->d_name)))
                        continue;
                if (shard_ids(shard, s->d_name, &ids, &n, e) < 0)
                        return -1;
                if (!n)
                        continue;
                /* held by a command that changes these containers: what it writes is not left over */
                snprintf(rel, sizeof rel, "units/%s", s->d_name);
                lock = lock_dir(&t->ctr, rel, LOCK_EX | LOCK_NB, e);
                if (lock < 0) {
                        if (e->code != GEAR_EXIT_NO)
                                return -1;
                        gear_err_clear(e);
                        continue;
                }
                for (size_t i = 0; i < n; i++)
                        if (clean_id(&c, ids[i], e) < 0)
                                return gear_err_wrap(e, "cannot clean what idling '%s' left", ids[i]);
        }
        return 0;
}
