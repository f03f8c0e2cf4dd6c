/*
 * geard's planner (deploy.h): which instances stay, go and come, where the
 * new ones run, and the address and port each link listens on inside its
 * source. The rules are geard's:
 *   links are resolved most specific first (MatchPort, then NonLocal, then a
 *   container linked to itself), in the file's order otherwise;
 *   a link listens inside its source on 127.0.0.1 (NonLocal: 192.168.1.1)
 *   at the target's internal port, bumped until free; with MatchPort (or an
 *   AliasPorts External) the port stays and the address is bumped instead,
 *   so every instance of the target gets an address of its own;
 *   what an instance of an earlier run listens on is kept.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "deploy.h"

#define LOOPBACK 0x7f000001u    /* 127.0.0.1 */
#define NONLOCAL 0xc0a80101u    /* 192.168.1.1 */

/* the (address, port) pairs already listened on: a small open hash */
struct table {
        uint64_t *slot; /* addr << 16 | port, 0 empty */
        size_t size, used;
};

static uint64_t key_of(uint32_t addr, unsigned port)
{
        return (uint64_t)addr << 16 | port;
}

static size_t hash(uint64_t k, size_t size)
{
        return (size_t)((k * 0x9e3779b97f4a7c15ull) >> 20) & (size - 1);
}

static bool table_has(const struct table *t, uint64_t k)
{
        for (size_t i = hash(k, t->size); t->slot[i]; i = (i + 1) & (t->size - 1))
                if (t->slot[i] == k)
                        return true;
        return false;
}

static int table_add(struct table *t, uint64_t k)
{
        size_t i;

        if (2 * (t->used + 1) > t->size) {
                struct table bigger = { calloc(t->size * 2, sizeof *t->slot), t->size * 2, 0 };

                if (!bigger.slot)
                        return -ENOMEM;
                for (size_t j = 0; j < t->size; j++)
                        if (t->slot[j])
                                table_add(&bigger, t->slot[j]);
                free(t->slot);
                *t = bigger;
        }
        for (i = hash(k, t->size); t->slot[i]; i = (i + 1) & (t->size - 1))
                ;
        t->slot[i] = k;
        t->used++;
        return 0;
}

static void addr_text(uint32_t a, char out[DEPLOY_ADDR_MAX])
{
        snprintf(out, DEPLOY_ADDR_MAX, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static uint32_t addr_value(const char *s)
{
        unsigned a, b, c, d;

        return sscanf(s, "%u.%u.%u.%u", &a, &b, &c, &d) == 4 ? (uint32_t)a << 24 | b << 16 | c << 8 | d : 0;
}

/* geard's Reserve: the next free address (same) or port from from */
static int reserve(struct table *t, bool loopback, bool same, unsigned from, struct deploy_port *p)
{
        uint32_t addr = loopback ? LOOPBACK : NONLOCAL;
        unsigned port = from;

        for (unsigned tries = 0; tries < 65536; tries++) {
                uint64_t k = key_of(addr, port);

                if (!table_has(t, k)) {
                        if (table_add(t, k) < 0)
                                return -ENOMEM;
                        addr_text(addr, p->target_host);
                        p->target_port = port;
                        return 0;
                }
                if (same) {
                        addr++;
                        if ((addr & 255) == 255)
                                addr = (addr & ~0xffu) + 0x100 + 1;
                } else if (++port > 65535) {
                        port = 40000;
                }
        }
        return -ENOSPC;
}

static struct deploy_container *find_container(const struct deployment *d, const char *name)
{
        for (size_t i = 0; i < d->ncontainers; i++)
                if (!strcmp(d->containers[i].name, name))
                        return &d->containers[i];
        return NULL;
}

struct deploy_instance *deploy_find(struct deployment *d, const char *id)
{
        for (size_t i = 0; i < d->ninstances; i++)
                if (!strcmp(d->instances[i].id, id))
                        return &d->instances[i];
        return NULL;
}

static struct deploy_port *find_port(struct deploy_instance *in, unsigned internal)
{
        for (size_t i = 0; i < in->nports; i++)
                if (in->ports[i].internal == internal)
                        return &in->ports[i];
        return NULL;
}

static bool has_pair(const struct deploy_pair *p, size_t n, unsigned internal)
{
        for (size_t i = 0; i < n; i++)
                if (p[i].internal == internal)
                        return true;
        return false;
}

static bool host_listed(const char *const *hosts, size_t n, const char *on)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(hosts[i], on))
                        return true;
        return false;
}

/* the plan's state: next's instances with their container, and the removed */
struct plan {
        struct deployment *next;
        size_t *owner; /* container index of each of next's instances */
        struct deploy_instance *removed;
        size_t nremoved;
};

static int copy_containers(const struct deployment *d, struct deployment *next, struct gear_err *e)
{
        next->containers = calloc(d->ncontainers + 1, sizeof *next->containers);
        if (!next->containers)
                return gear_err_sys(e, ENOMEM, "cannot plan the deployment");
        for (size_t i = 0; i < d->ncontainers; i++) {
                const struct deploy_container *c = &d->containers[i];
                struct deploy_container *n = &next->containers[i];

                *n = *c;
                n->links = NULL, n->env = NULL, n->nlinks = n->nenv = 0;
                next->ncontainers = i + 1;
                n->links = calloc(c->nlinks + 1, sizeof *n->links);
                n->env = calloc(c->nenv + 1, sizeof *n->env);
                if (!n->links || !n->env)
                        return gear_err_sys(e, ENOMEM, "cannot plan the deployment");
                memcpy(n->links, c->links, c->nlinks * sizeof *n->links);
                n->nlinks = c->nlinks;
                for (size_t j = 0; j < c->nenv; j++) {
                        n->env[j].name = strdup(c->env[j].name);
                        n->env[j].value = strdup(c->env[j].value);
                        n->nenv = j + 1;
                        if (!n->env[j].name || !n->env[j].value)
                                return gear_err_sys(e, ENOMEM, "cannot plan the deployment");
                }
        }
        return 0;
}

/* the ids of instances that stay; those removed are deleted before any install */
static bool id_taken(const struct plan *p, const char *id)
{
        for (size_t i = 0; i < p->next->ninstances; i++)
                if (!strcmp(p->next->instances[i].id, id))
                        return true;
        return false;
}

/* a new instance's id: geard's PREFIX+NAME-N with N past those in use, or PREFIX and random hex */
static int new_id(const struct deployment *d, const struct plan *p, const struct deploy_container *c, size_t n,
                  gear_id id, struct gear_err *e)
{
        for (size_t k = n + 1;; k++) {
                char buf[64];

                if (d->randomize_ids) {
                        uint32_t r;

                        if (getrandom(&r, sizeof r, 0) != sizeof r)
                                return gear_err_sys(e, errno, "cannot make a random identifier");
                        snprintf(buf, sizeof buf, "%s%08x", d->id_prefix, r);
                } else {
                        snprintf(buf, sizeof buf, "%s%s-%zu", d->id_prefix, c->name, k);
                }
                if (!id_valid(buf))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s' for an instance of %s", buf,
                                            c->name);
                if (!id_taken(p, buf)) {
                        strcpy(id, buf);
                        return 0;
                }
        }
}

static int push_removed(struct plan *p, const struct deploy_instance *in, struct gear_err *e)
{
        struct deploy_instance *v = realloc(p->removed, (p->nremoved + 1) * sizeof *v);

        if (!v)
                return gear_err_sys(e, ENOMEM, "cannot plan the deployment");
        p->removed = v;
        v[p->nremoved] = *in;
        v[p->nremoved++].links = NULL;
        return 0;
}

/* the instances of the file that stay, the new ones placed, the rest removed */
static int instances_plan(const struct deployment *d, const char *const *hosts, size_t nhosts, struct plan *p,
                          struct gear_err *e)
{
        size_t cap = d->ninstances + 1, pos = 0;
        size_t *kept;

        for (size_t i = 0; i < d->ncontainers; i++)
                cap += d->containers[i].count;
        p->next->instances = calloc(cap, sizeof *p->next->instances);
        p->owner = calloc(cap, sizeof *p->owner);
        kept = calloc(cap, sizeof *kept);
        if (!p->next->instances || !p->owner || !kept) {
                free(kept);
                return gear_err_sys(e, ENOMEM, "cannot plan the deployment");
        }
        for (size_t i = 0; i < d->ninstances; i++) {
                const struct deploy_instance *in = &d->instances[i];

                /* never placed: geard forgets it */
                if (!*in->on)
                        continue;
                if ((!host_listed(hosts, nhosts, in->on) || !find_container(d, in->from)) && push_removed(p, in, e) < 0)
                        goto fail;
        }
        for (size_t c = 0; c < d->ncontainers; c++) {
                const struct deploy_container *ct = &d->containers[c];
                size_t have = 0;

                for (size_t i = 0; i < d->ninstances; i++) {
                        const struct deploy_instance *in = &d->instances[i];

                        if (!*in->on || !host_listed(hosts, nhosts, in->on) || strcmp(in->from, ct->name))
                                continue;
                        /* past the Count: removed (trimInstances) */
                        if ((int)have >= ct->count) {
                                if (push_removed(p, in, e) < 0)
                                        goto fail;
                                continue;
                        }
                        struct deploy_instance *n = &p->next->instances[p->next->ninstances];

                        *n = *in;
                        n->links = NULL, n->nlinks = 0, n->add = n->remove = false;
                        p->owner[p->next->ninstances++] = c;
                        have++;
                }
                for (; (int)have < ct->count && nhosts; have++) {
                        struct deploy_instance *n = &p->next->instances[p->next->ninstances];

                        *n = (struct deploy_instance){ .add = true };
                        if (new_id(d, p, ct, have, n->id, e) < 0)
                                goto fail;
                        strcpy(n->image, ct->image);
                        strcpy(n->from, ct->name);
                        snprintf(n->on, sizeof n->on, "%s", hosts[pos++ % nhosts]);
                        for (size_t k = 0; k < ct->nports; k++)
                                n->ports[k] = (struct deploy_port){ .internal = ct->public_ports[k].internal,
                                                                    .external = ct->public_ports[k].external };
                        n->nports = ct->nports;
                        p->owner[p->next->ninstances++] = c;
                }
        }
        free(kept);
        return 0;
fail:
        free(kept);
        return -1;
}

struct clink {
        struct deploy_link *link;
        size_t source, target; /* container indexes */
};

static int priority(const struct clink *l)
{
        return (l->link->matchport ? 4 : 0) + (l->link->nonlocal ? 2 : 0) + (l->source == l->target ? 1 : 0);
}

/* geard's OrderLinks: every link checked, its ports made explicit, most specific first */
static int order_links(struct deployment *next, struct clink **out, size_t *n, struct gear_err *e)
{
        size_t total = 0;
        struct clink *v;

        for (size_t c = 0; c < next->ncontainers; c++)
                total += next->containers[c].nlinks;
        v = calloc(total + 1, sizeof *v);
        if (!v)
                return gear_err_sys(e, ENOMEM, "cannot plan the deployment");
        *out = v;
        *n = 0;
        for (size_t c = 0; c < next->ncontainers; c++) {
                struct deploy_container *src = &next->containers[c];

                for (size_t j = 0; j < src->nlinks; j++) {
                        struct deploy_link *l = &src->links[j];
                        struct deploy_container *tgt = find_container(next, l->to);

                        if (!tgt)
                                return gear_err_set(e, GEAR_EXIT_USAGE, "target %s not found for source %s", l->to,
                                                    src->name);
                        if (!tgt->nports)
                                return gear_err_set(e, GEAR_EXIT_USAGE,
                                                    "target %s has no public ports to link to from %s", tgt->name,
                                                    src->name);
                        for (size_t k = 0; k < l->nports; k++)
                                if (!has_pair(l->alias, l->nalias, l->ports[k])) {
                                        if (l->nalias == DEPLOY_PORTS_MAX)
                                                return gear_err_set(e, GEAR_EXIT_USAGE, "more than %d ports in a link of %s",
                                                                    DEPLOY_PORTS_MAX, src->name);
                                        l->alias[l->nalias++] = (struct deploy_pair){ l->ports[k], 0 };
                                }
                        if (!l->nalias) {
                                for (size_t k = 0; k < tgt->nports; k++)
                                        l->alias[k] = (struct deploy_pair){ tgt->public_ports[k].internal, 0 };
                                l->nalias = tgt->nports;
                        }
                        for (size_t k = 0; k < l->nalias; k++)
                                if (!has_pair(tgt->public_ports, tgt->nports, l->alias[k].internal))
                                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                                            "target port %u on %s is not found, cannot link from %s",
                                                            l->alias[k].internal, tgt->name, src->name);
                        /* stable insertion, highest priority first */
                        struct clink x = { l, c, (size_t)(tgt - next->containers) };
                        size_t at = *n;

                        while (at && priority(&v[at - 1]) < priority(&x)) {
                                v[at] = v[at - 1];
                                at--;
                        }
                        v[at] = x;
                        (*n)++;
                }
        }
        return 0;
}

/* exposePorts: a port linked to that an older instance does not publish yet */
static int expose(struct plan *p, const struct clink *l, struct gear_err *e)
{
        for (size_t k = 0; k < l->link->nalias; k++)
                for (size_t i = 0; i < p->next->ninstances; i++) {
                        struct deploy_instance *in = &p->next->instances[i];

                        if (p->owner[i] != l->target || find_port(in, l->link->alias[k].internal))
                                continue;
                        if (in->nports == DEPLOY_PORTS_MAX)
                                return gear_err_set(e, GEAR_EXIT_USAGE, "more than %d ports on %s", DEPLOY_PORTS_MAX,
                                                    in->id);
                        in->ports[in->nports++] = (struct deploy_port){ .internal = l->link->alias[k].internal };
                }
        return 0;
}

static int reserve_link(struct plan *p, struct table *t, const struct clink *l, struct gear_err *e)
{
        const struct deploy_container *src = &p->next->containers[l->source], *tgt = &p->next->containers[l->target];

        for (size_t k = 0; k < l->link->nalias; k++) {
                struct deploy_pair want = l->link->alias[k];

                for (size_t i = 0; i < p->next->ninstances; i++) {
                        struct deploy_instance *in = &p->next->instances[i];
                        struct deploy_port *m;
                        int r;

                        if (p->owner[i] != l->target)
                                continue;
                        m = find_port(in, want.internal);
                        if (!m)
                                return gear_err_set(e, GEAR_EXIT_USAGE, "instance does not expose %u for link %s-%s",
                                                    want.internal, src->name, tgt->name);
                        if (*m->target_host) {
                                if (l->link->nonlocal && (addr_value(m->target_host) >> 24) == 127)
                                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                                            "a local host IP is already bound to non-local link %s-%s, "
                                                            "needs to be reset", src->name, tgt->name);
                                if (l->link->matchport && m->target_port != m->internal)
                                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                                            "the internal and shared ports are not the same for an "
                                                            "instance %s on link %s-%s, needs to be reset", in->id,
                                                            src->name, tgt->name);
                                if (want.external && m->target_port != want.external)
                                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                                            "the internal and requested shared ports are not the same "
                                                            "for an instance %s on link %s-%s, needs to be reset",
                                                            in->id, src->name, tgt->name);
                                continue;
                        }
                        r = reserve(t, !l->link->nonlocal, l->link->matchport || want.external,
                                    want.external ? want.external : want.internal, m);
                        if (r < 0)
                                return r == -ENOMEM ? gear_err_sys(e, ENOMEM, "cannot plan the deployment")
                                                    : gear_err_set(e, GEAR_EXIT_USAGE, "no free address for link %s-%s",
                                                                   src->name, tgt->name);
                }
        }
        return 0;
}

/* NewInstancePortTable: what the kept instances listen on, each once */
static int table_load(const struct plan *p, struct table *t, struct gear_err *e)
{
        t->size = 64;
        t->slot = calloc(t->size, sizeof *t->slot);
        if (!t->slot)
                return gear_err_sys(e, ENOMEM, "cannot plan the deployment");
        for (size_t i = 0; i < p->next->ninstances; i++) {
                const struct deploy_instance *in = &p->next->instances[i];

                for (size_t k = 0; k < in->nports; k++) {
                        uint64_t key;

                        if (!*in->ports[k].target_host)
                                continue;
                        key = key_of(addr_value(in->ports[k].target_host), in->ports[k].target_port);
                        if (table_has(t, key))
                                return gear_err_set(e, GEAR_EXIT_USAGE,
                                                    "the port %s:%u is assigned to multiple instances (last: %s)",
                                                    in->ports[k].target_host, in->ports[k].target_port, in->id);
                        if (table_add(t, key) < 0)
                                return gear_err_sys(e, ENOMEM, "cannot plan the deployment");
                }
        }
        return 0;
}

/* appendLinks: every source instance to every target instance, each port */
static int append_links(struct plan *p, const struct clink *l, struct gear_err *e)
{
        for (size_t s = 0; s < p->next->ninstances; s++) {
                struct deploy_instance *src = &p->next->instances[s];

                if (p->owner[s] != l->source)
                        continue;
                for (size_t i = 0; i < p->next->ninstances; i++) {
                        struct deploy_instance *tgt = &p->next->instances[i];

                        if (p->owner[i] != l->target)
                                continue;
                        for (size_t k = 0; k < l->link->nalias; k++) {
                                struct deploy_port *m = find_port(tgt, l->link->alias[k].internal);
                                struct deploy_ilink *v = realloc(src->links, (src->nlinks + 1) * sizeof *v);

                                if (!v)
                                        return gear_err_sys(e, ENOMEM, "cannot plan the deployment");
                                src->links = v;
                                v = &v[src->nlinks++];
                                *v = (struct deploy_ilink){ .from_port = m->target_port, .to_port = m->external,
                                                            .target_internal = m->internal };
                                strcpy(v->from_host, m->target_host);
                                strcpy(v->to_host, tgt->on);
                                strcpy(v->target, tgt->id);
                        }
                }
        }
        return 0;
}

int deploy_plan(const struct deployment *d, const char *const *hosts, size_t nhosts, struct deployment *next,
                struct deploy_instance **removed, size_t *nremoved, struct gear_err *e)
{
        struct plan p = { .next = next };
        _cleanup_free_ struct clink *links = NULL;
        struct table t = {0};
        size_t nlinks = 0;
        int r = -1;

        *next = (struct deployment){ .randomize_ids = d->randomize_ids };
        strcpy(next->id_prefix, d->id_prefix);
        *removed = NULL;
        *nremoved = 0;
        if (copy_containers(d, next, e) < 0 || instances_plan(d, hosts, nhosts, &p, e) < 0 ||
            order_links(next, &links, &nlinks, e) < 0)
                goto out;
        for (size_t i = 0; i < nlinks; i++)
                if (expose(&p, &links[i], e) < 0)
                        goto out;
        if (table_load(&p, &t, e) < 0)
                goto out;
        for (size_t i = 0; i < nlinks; i++)
                if (reserve_link(&p, &t, &links[i], e) < 0)
                        goto out;
        for (size_t i = 0; i < nlinks; i++)
                if (append_links(&p, &links[i], e) < 0)
                        goto out;
        r = 0;
out:
        free(t.slot);
        free(p.owner);
        if (r < 0) {
                deployment_done(next);
                deploy_instances_free(p.removed, p.nremoved);
                return -1;
        }
        *removed = p.removed;
        *nremoved = p.nremoved;
        return 0;
}

void deploy_update_links(struct deployment *d)
{
        for (size_t i = 0; i < d->ninstances; i++)
                for (size_t j = 0; j < d->instances[i].nlinks; j++) {
                        struct deploy_ilink *l = &d->instances[i].links[j];
                        struct deploy_instance *t = deploy_find(d, l->target);
                        struct deploy_port *m = t ? find_port(t, l->target_internal) : NULL;

                        if (m && m->external)
                                l->to_port = m->external;
                }
}
