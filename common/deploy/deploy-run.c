/* a plan carried out with gear's own commands, here or over ssh (deploy-run.h) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deploy-run.h"
#include "../base/config.h"
#include "../base/fsutil.h"
#include "../base/spawn.h"

#define OUT_MAX 65536
#define ARGS_MAX (DEPLOY_ENV_MAX + 16)

static struct deploy_host *host_of(const struct deploy_job *j, const char *name)
{
        for (size_t i = 0; i < j->nhosts; i++)
                if (!strcmp(j->hosts[i].r.name, name))
                        return &j->hosts[i];
        return NULL;
}

int deploy_check(const struct deploy_job *j, const struct deployment *next, struct gear_err *e)
{
        for (size_t i = 0; i < next->ninstances; i++) {
                const struct deploy_instance *in = &next->instances[i];

                if (!host_of(j, in->on))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "instance '%s' is on '%s', not a host given", in->id,
                                            in->on);
        }
        return 0;
}

static void report_lines(const struct deploy_job *j, const struct deploy_host *h, char *text)
{
        char *save = NULL;

        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                j->report(h, l, j->ud);
}

/*
 * gear-CMD ARGS on h, its output reported line by line and kept in out.
 * A failure marks the host: it does nothing more in this run.
 */
static int run(const struct deploy_job *j, struct deploy_host *h, const char *cmd, char *const *args, char *out)
{
        _cleanup_free_ char *line = NULL;
        struct gear_err e = {0};
        char self[PATH_MAX], *argv[ARGS_MAX + 8];
        int r;

        if (h->code)
                return -1;
        if (host_command(&h->r, cmd, args, &line, argv, self, &e) < 0)
                return h->code = e.code, snprintf(h->why, sizeof h->why, "%s", e.msg), -1;
        j->report(h, line, j->ud);
        r = spawn_run(argv, NULL, out, OUT_MAX, &e);
        if (r < 0) {
                h->code = e.code ? e.code : GEAR_EXIT_SYS;
                snprintf(h->why, sizeof h->why, "%s: %s", line, e.msg);
                return -1;
        }
        if (r) {
                h->code = host_status(r);
                snprintf(h->why, sizeof h->why, "%.200s: exit %d", line, r);
        }
        if (*out) {
                _cleanup_free_ char *copy = strdup(out);

                if (copy)
                        report_lines(j, h, copy);
        }
        return r ? -1 : 0;
}

/* the "ID\tINTERNAL\tEXTERNAL" lines of gear-install into in's ports */
static void read_ports(struct deploy_instance *in, char *out)
{
        char *save = NULL;

        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char id[GEAR_ID_MAX + 2];
                unsigned i, x;

                if (sscanf(l, "%25[^\t]\t%u\t%u", id, &i, &x) != 3 || strcmp(id, in->id))
                        continue;
                for (size_t k = 0; k < in->nports; k++)
                        if (in->ports[k].internal == i)
                                in->ports[k].external = x;
        }
}

static int install(struct deploy_job *j, struct deploy_host *h, const struct deployment *d,
                   struct deploy_instance *in, char *out)
{
        char *args[ARGS_MAX + 8], ports[DEPLOY_PORTS_MAX * 12 + 1] = "", range[16], *p = ports;
        _cleanup_free_ char **vars = NULL;
        const struct deploy_container *c = NULL;
        size_t n = 0, nv = 0;
        int r;

        for (size_t i = 0; i < d->ncontainers; i++)
                if (!strcmp(d->containers[i].name, in->from))
                        c = &d->containers[i];
        for (size_t k = 0; k < in->nports; k++)
                p += sprintf(p, "%s%u:%u", k ? "," : "", in->ports[k].internal, in->ports[k].external);
        if (*ports) {
                args[n++] = "-p";
                args[n++] = ports;
        }
        if (j->range.lo) {
                snprintf(range, sizeof range, "%u-%u", j->range.lo, j->range.hi);
                args[n++] = "--port-range";
                args[n++] = range;
        }
        args[n++] = "--";
        args[n++] = in->image;
        args[n++] = in->id;
        vars = calloc(c ? c->nenv + 1 : 1, sizeof *vars);
        if (!vars)
                return h->code = GEAR_EXIT_SYS, snprintf(h->why, sizeof h->why, "out of memory"), -1;
        for (size_t k = 0; c && k < c->nenv; k++) {
                if (asprintf(&vars[nv], "%s=%s", c->env[k].name, c->env[k].value) < 0)
                        break;
                args[n++] = vars[nv++];
        }
        args[n] = NULL;
        r = run(j, h, "install", args, out);
        for (size_t k = 0; k < nv; k++)
                free(vars[k]);
        if (r == 0)
                read_ports(in, out);
        return r;
}

/* "FROM:PORT:HOST:PORT,..." of in's links whose targets exist; the address a
   target is reached at is its host's name, or from this host the gateway */
static int link_spec(const struct deploy_job *j, struct deployment *d, const struct deploy_instance *in,
                     const char *gateway, char **spec)
{
        size_t len = 0;
        FILE *f = open_memstream(spec, &len);
        bool first = true;

        if (!f)
                return -1;
        for (size_t k = 0; k < in->nlinks; k++) {
                const struct deploy_ilink *l = &in->links[k];
                const struct deploy_host *th = host_of(j, l->to_host);

                if (!l->to_port || !th || !deploy_find(d, l->target))
                        continue;
                fprintf(f, "%s%s:%u:%s:%u", first ? "" : ",", l->from_host, l->from_port,
                        th->r.local ? gateway : th->r.addr, l->to_port);
                first = false;
        }
        return fclose(f) ? -1 : 0;
}

static bool links_changed(const struct deploy_instance *in, const struct deployment *prev, const char *spec)
{
        const struct deploy_instance *old = NULL;

        for (size_t i = 0; prev && i < prev->ninstances; i++)
                if (!strcmp(prev->instances[i].id, in->id) && !strcmp(prev->instances[i].on, in->on))
                        old = &prev->instances[i];
        if (in->add)
                return *spec;
        if (!old || old->nlinks != in->nlinks)
                return true;
        for (size_t k = 0; k < in->nlinks; k++)
                if (strcmp(old->links[k].from_host, in->links[k].from_host) ||
                    old->links[k].from_port != in->links[k].from_port ||
                    strcmp(old->links[k].to_host, in->links[k].to_host) || old->links[k].to_port != in->links[k].to_port)
                        return true;
        return false;
}

/* the address this host's containers reach it at: the gateway of podman's network */
static int local_gateway(struct gear_tree *t, char *out, struct gear_err *e)
{
        _cleanup_(config_done) struct gear_config c = {0};
        _cleanup_(strv_done) struct gear_strv argv = {0};
        int r;

        if (config_load(&c, t, e) < 0 || config_podman_argv(&c, &argv, e) < 0)
                return -1;
        if (strv_push(&argv, "network") < 0 || strv_push(&argv, "inspect") < 0 ||
            strv_push(&argv, "--format={{range .Subnets}}{{if .Gateway.To4}}{{.Gateway}} {{end}}{{end}}") < 0 ||
            strv_push(&argv, "podman") < 0)
                return gear_err_sys(e, ENOMEM, "cannot ask podman for its gateway");
        r = spawn_run(argv.v, NULL, out, DEPLOY_HOST_MAX, e);
        if (r < 0)
                return -1;
        out[strcspn(out, " ")] = 0;
        if (r || !*out)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot find the gateway of podman's network: %s", out);
        return 0;
}

/* drops the instances not installed, keeps those not deleted */
static int settle(struct deployment *next, const bool *installed, struct deploy_instance *removed, const bool *deleted,
                  size_t nremoved, struct gear_err *e)
{
        size_t k = 0;

        for (size_t i = 0; i < next->ninstances; i++)
                if (installed[i])
                        next->instances[k++] = next->instances[i];
                else
                        free(next->instances[i].links);
        next->ninstances = k;
        for (size_t i = 0; i < nremoved; i++) {
                struct deploy_instance *v;

                if (deleted[i])
                        continue;
                v = realloc(next->instances, (next->ninstances + 1) * sizeof *v);
                if (!v)
                        return gear_err_sys(e, ENOMEM, "cannot record the deployment");
                next->instances = v;
                v[next->ninstances] = removed[i];
                v[next->ninstances++].links = NULL;
        }
        return 0;
}

int deploy_run(struct deploy_job *j, struct gear_tree *t, struct deployment *next, struct deploy_instance *removed,
               size_t nremoved, const struct deployment *prev, struct gear_err *e)
{
        _cleanup_free_ char *out = malloc(OUT_MAX);
        _cleanup_free_ bool *installed = calloc(next->ninstances + 1, sizeof *installed);
        _cleanup_free_ bool *deleted = calloc(nremoved + 1, sizeof *deleted);
        char gateway[DEPLOY_HOST_MAX + 1] = "";
        int failed = 0;

        if (!out || !installed || !deleted)
                return gear_err_sys(e, ENOMEM, "cannot run the deployment");
        for (size_t i = 0; i < j->nhosts; i++)
                if (j->hosts[i].r.local && local_gateway(t, gateway, e) < 0)
                        return -1;
        for (size_t i = 0; i < nremoved; i++) {
                struct deploy_host *h = host_of(j, removed[i].on);
                char *args[] = { "--", removed[i].id, NULL };

                /* on a host no longer given: left as it is, and out of the deployment */
                deleted[i] = !h || run(j, h, "delete", args, out) == 0;
        }
        for (size_t i = 0; i < next->ninstances; i++) {
                struct deploy_instance *in = &next->instances[i];

                installed[i] = !in->add || install(j, host_of(j, in->on), next, in, out) == 0;
        }
        deploy_update_links(next);
        for (size_t i = 0; i < next->ninstances; i++) {
                struct deploy_instance *in = &next->instances[i];
                _cleanup_free_ char *spec = NULL;

                if (!installed[i])
                        continue;
                if (link_spec(j, next, in, gateway, &spec) < 0)
                        return gear_err_sys(e, ENOMEM, "cannot run the deployment");
                if (links_changed(in, prev, spec)) {
                        char *args[] = { in->id, "-n", spec, NULL };

                        if (!*spec)
                                args[1] = NULL;
                        run(j, host_of(j, in->on), "link", args, out);
                }
        }
        for (size_t i = 0; i < next->ninstances; i++)
                if (installed[i] && next->instances[i].add) {
                        char *args[] = { "--", next->instances[i].id, NULL };

                        run(j, host_of(j, next->instances[i].on), "start", args, out);
                }
        if (settle(next, installed, removed, deleted, nremoved, e) < 0)
                return -1;
        for (size_t i = 0; i < j->nhosts; i++)
                failed += j->hosts[i].code != 0;
        return failed;
}

int deploy_write(const char *path, const struct deployment *d, char *out, size_t n, struct gear_err *e)
{
        _cleanup_free_ char *json = deploy_format(d), *text = NULL;
        struct gear_root dir = { .fd = -1 };
        const char *base = strrchr(path, '/');
        char stamp[32], name[PATH_MAX];
        time_t now = time(NULL);
        struct tm tm;
        int r;

        if (!json || asprintf(&text, "%s\n", json) < 0)
                return gear_err_sys(e, ENOMEM, "cannot record the deployment");
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime_r(&now, &tm));
        snprintf(dir.path, sizeof dir.path, "%.*s", base ? (int)(base - path) + 1 : 1, base ? path : ".");
        base = base ? base + 1 : path;
        dir.fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir.fd < 0)
                return gear_err_sys(e, errno, "cannot open '%s'", dir.path);
        /* two runs in one second: FILE.STAMP.1, ... */
        snprintf(name, sizeof name, "%s.%s", base, stamp);
        for (int k = 1; faccessat(dir.fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 && k < 100; k++)
                snprintf(name, sizeof name, "%s.%s.%d", base, stamp, k);
        r = atomic_write(&dir, name, text, strlen(text), 0644, e);
        close(dir.fd);
        if (r < 0)
                return -1;
        snprintf(out, n, "%s%s", strcmp(dir.path, ".") ? dir.path : "", name);
        return 0;
}
