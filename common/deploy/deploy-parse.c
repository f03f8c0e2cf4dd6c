/*
 * geard's deployment files read and written (deploy.h). geard decoded them
 * with Go's encoding/json: a key matches a field exactly or, failing that,
 * case-insensitively, and null leaves a field as it is. Unlike geard, a key
 * that is no field is refused, so that a typo does not pass for a default.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy.h"
#include "../env/env.h"

struct field {
        const char *name;
        json_t *v;
};

static int fields(json_t *o, struct field *f, size_t n, const char *where, struct gear_err *e)
{
        const char *key;
        json_t *v;

        if (!json_is_object(o))
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s is not an object", where);
        json_object_foreach(o, key, v) {
                size_t i;

                for (i = 0; i < n && strcmp(f[i].name, key); i++)
                        ;
                if (i == n)
                        for (i = 0; i < n && strcasecmp(f[i].name, key); i++)
                                ;
                if (i == n)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "unknown field '%.64s' in %s", key, where);
                if (f[i].v)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "field '%s' given twice in %s", f[i].name, where);
                if (!json_is_null(v))
                        f[i].v = v;
        }
        return 0;
}

static int get_int(json_t *v, const char *name, long lo, long hi, long *out, const char *where, struct gear_err *e)
{
        if (!v)
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s in %s: want an integer from %ld to %ld", name,
                                    where, lo, hi);
        *out = json_integer_value(v);
        return 0;
}

static int get_port(json_t *v, const char *name, bool zero, unsigned *out, const char *where, struct gear_err *e)
{
        long p = 0;

        if (get_int(v, name, zero ? 0 : 1, 65535, &p, where, e) < 0)
                return -1;
        if (!p && !zero)
                return gear_err_set(e, GEAR_EXIT_USAGE, "missing %s in %s", name, where);
        *out = p;
        return 0;
}

static int get_bool(json_t *v, const char *name, bool *out, const char *where, struct gear_err *e)
{
        if (!v)
                return 0;
        if (!json_is_boolean(v))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s in %s: want true or false", name, where);
        *out = json_is_true(v);
        return 0;
}

/* a string of at most max bytes that valid() accepts ("" when absent, if empty is allowed) */
static int get_str(json_t *v, const char *name, char *out, size_t max, bool (*valid)(const char *),
                   const char *where, struct gear_err *e)
{
        const char *s;

        *out = 0;
        if (!v)
                return 0;
        if (!json_is_string(v))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s in %s: want a string", name, where);
        s = json_string_value(v);
        if (strlen(s) != json_string_length(v) || strlen(s) > max || (valid && !valid(s)))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s '%.64s' in %s", name, s, where);
        strcpy(out, s);
        return 0;
}

static int get_array(json_t *v, const char *name, size_t max, const char *where, struct gear_err *e)
{
        if (!v)
                return 0;
        if (!json_is_array(v))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s in %s: want an array", name, where);
        if (json_array_size(v) > max)
                return gear_err_set(e, GEAR_EXIT_USAGE, "more than %zu %s in %s", max, name, where);
        return 0;
}

/* the name of a container: what an identifier may hold */
static bool name_valid(const char *s)
{
        if (!*s || *s == '.' || *s == '-')
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_' || *s == '.' || *s == '-'))
                        return false;
        return true;
}

/* an image reference: printable, no blank, quote or backslash, not an option */
static bool image_valid(const char *s)
{
        if (!*s || *s == '-')
                return false;
        for (; *s; s++)
                if (*s <= ' ' || *s > '~' || *s == '\\' || *s == '"' || *s == '\'')
                        return false;
        return true;
}

/* a host as given on the command line: [USER@]NAME[:PORT] */
static bool host_valid(const char *s)
{
        return image_valid(s) && !strchr(s, '/');
}

static bool addr_valid(const char *s)
{
        unsigned a, b, c, d;
        char end;

        return sscanf(s, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &end) == 4 && a < 256 && b < 256 && c < 256 && d < 256;
}

static bool prefix_valid(const char *s)
{
        return !*s || name_valid(s);
}

static bool any(const char *s)
{
        (void)s;
        return true;
}

static int pairs_parse(json_t *v, const char *name, struct deploy_pair *out, size_t *n, const char *where,
                       struct gear_err *e)
{
        size_t i;
        json_t *p;

        *n = 0;
        if (get_array(v, name, DEPLOY_PORTS_MAX, where, e) < 0)
                return -1;
        json_array_foreach(v, i, p) {
                struct field f[] = { { "Internal", NULL }, { "External", NULL } };

                if (fields(p, f, 2, where, e) < 0 ||
                    get_port(f[0].v, "Internal", false, &out[i].internal, where, e) < 0 ||
                    get_port(f[1].v, "External", true, &out[i].external, where, e) < 0)
                        return -1;
                for (size_t j = 0; j < i; j++)
                        if (out[j].internal == out[i].internal)
                                return gear_err_set(e, GEAR_EXIT_USAGE, "port %u given twice in %s %s",
                                                    out[i].internal, name, where);
                *n = i + 1;
        }
        return 0;
}

static int link_parse(json_t *o, struct deploy_link *l, const char *where, struct gear_err *e)
{
        struct field f[] = { { "To", NULL }, { "NonLocal", NULL }, { "MatchPort", NULL }, { "Ports", NULL },
                             { "AliasPorts", NULL } };
        size_t i;
        json_t *p;

        if (fields(o, f, 5, where, e) < 0 || get_str(f[0].v, "To", l->to, GEAR_ID_MAX, name_valid, where, e) < 0 ||
            get_bool(f[1].v, "NonLocal", &l->nonlocal, where, e) < 0 ||
            get_bool(f[2].v, "MatchPort", &l->matchport, where, e) < 0 ||
            get_array(f[3].v, "Ports", DEPLOY_PORTS_MAX, where, e) < 0 ||
            pairs_parse(f[4].v, "AliasPorts", l->alias, &l->nalias, where, e) < 0)
                return -1;
        if (!*l->to)
                return gear_err_set(e, GEAR_EXIT_USAGE, "missing To in %s", where);
        json_array_foreach(f[3].v, i, p) {
                if (get_port(p, "port", false, &l->ports[i], where, e) < 0)
                        return -1;
                l->nports = i + 1;
        }
        return 0;
}

static int env_parse(json_t *o, struct deploy_container *c, const char *where, struct gear_err *e)
{
        struct field f[] = { { "Variables", NULL } };
        size_t i;
        json_t *v;

        if (fields(o, f, 1, where, e) < 0 || get_array(f[0].v, "Variables", DEPLOY_ENV_MAX, where, e) < 0)
                return -1;
        if (!f[0].v)
                return 0;
        c->env = calloc(json_array_size(f[0].v) + 1, sizeof *c->env);
        if (!c->env)
                return gear_err_sys(e, ENOMEM, "cannot read %s", where);
        json_array_foreach(f[0].v, i, v) {
                struct field g[] = { { "Name", NULL }, { "Value", NULL } };
                const char *name, *value;

                if (fields(v, g, 2, where, e) < 0)
                        return -1;
                if (!json_is_string(g[0].v) || (g[1].v && !json_is_string(g[1].v)))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid variable in %s: want a Name and a Value",
                                            where);
                name = json_string_value(g[0].v);
                value = g[1].v ? json_string_value(g[1].v) : "";
                if (!env_name_valid(name, json_string_length(g[0].v)) ||
                    (g[1].v && strlen(value) != json_string_length(g[1].v)) || strchr(value, '\n'))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid variable '%.64s' in %s", name, where);
                c->env[i].name = strdup(name);
                c->env[i].value = strdup(value);
                c->nenv = i + 1;
                if (!c->env[i].name || !c->env[i].value)
                        return gear_err_sys(e, ENOMEM, "cannot read %s", where);
        }
        return 0;
}

static int container_parse(json_t *o, struct deploy_container *c, size_t index, struct gear_err *e)
{
        struct field f[] = { { "Name", NULL }, { "Image", NULL }, { "Count", NULL }, { "PublicPorts", NULL },
                             { "Links", NULL }, { "Environment", NULL }, { "Notify", NULL },
                             { "Affinity", NULL } };
        char where[96];
        long count = 0;
        size_t i;
        json_t *l;

        snprintf(where, sizeof where, "container %zu", index + 1);
        /* the name in the messages, when there is one */
        if (json_is_string(json_object_get(o, "Name")) && name_valid(json_string_value(json_object_get(o, "Name"))) &&
            strlen(json_string_value(json_object_get(o, "Name"))) <= GEAR_ID_MAX)
                snprintf(where, sizeof where, "container '%s'", json_string_value(json_object_get(o, "Name")));
        if (fields(o, f, 8, where, e) < 0 || get_str(f[0].v, "Name", c->name, GEAR_ID_MAX, name_valid, where, e) < 0)
                return -1;
        if (!*c->name)
                return gear_err_set(e, GEAR_EXIT_USAGE, "missing Name in %s", where);
        snprintf(where, sizeof where, "container '%s'", c->name);
        if (get_str(f[1].v, "Image", c->image, DEPLOY_IMAGE_MAX, image_valid, where, e) < 0 ||
            get_int(f[2].v, "Count", 0, DEPLOY_INSTANCES_MAX, &count, where, e) < 0 ||
            pairs_parse(f[3].v, "PublicPorts", c->public_ports, &c->nports, where, e) < 0 ||
            get_array(f[4].v, "Links", DEPLOY_LINKS_MAX, where, e) < 0 ||
            (f[5].v && env_parse(f[5].v, c, where, e) < 0))
                return -1;
        if (!*c->image)
                return gear_err_set(e, GEAR_EXIT_USAGE, "missing Image in %s", where);
        if (f[6].v && !json_is_boolean(f[6].v))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid Notify in %s", where);
        if (f[7].v && !json_is_string(f[7].v))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid Affinity in %s", where);
        c->count = count;
        if (!f[4].v)
                return 0;
        c->links = calloc(json_array_size(f[4].v) + 1, sizeof *c->links);
        if (!c->links)
                return gear_err_sys(e, ENOMEM, "cannot read %s", where);
        json_array_foreach(f[4].v, i, l) {
                char lwhere[128];

                snprintf(lwhere, sizeof lwhere, "link %zu of %s", i + 1, where);
                if (link_parse(l, &c->links[i], lwhere, e) < 0)
                        return -1;
                c->nlinks = i + 1;
        }
        return 0;
}

static int iport_parse(json_t *o, struct deploy_port *p, const char *where, struct gear_err *e)
{
        struct field f[] = { { "Internal", NULL }, { "External", NULL }, { "Target", NULL } };
        struct field t[] = { { "Host", NULL }, { "Port", NULL } };

        if (fields(o, f, 3, where, e) < 0 || get_port(f[0].v, "Internal", false, &p->internal, where, e) < 0 ||
            get_port(f[1].v, "External", true, &p->external, where, e) < 0)
                return -1;
        if (!f[2].v)
                return 0;
        if (fields(f[2].v, t, 2, where, e) < 0 ||
            get_str(t[0].v, "Target Host", p->target_host, DEPLOY_ADDR_MAX - 1, addr_valid, where, e) < 0 ||
            get_port(t[1].v, "Target Port", true, &p->target_port, where, e) < 0)
                return -1;
        if (!*p->target_host != !p->target_port)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid Target in %s: want a Host and a Port", where);
        return 0;
}

static int ilink_parse(json_t *o, struct deploy_ilink *l, const char *where, struct gear_err *e)
{
        struct field f[] = { { "FromHost", NULL }, { "FromPort", NULL }, { "ToHost", NULL },
                             { "ToPort", NULL } };

        return fields(o, f, 4, where, e) < 0 ||
               get_str(f[0].v, "FromHost", l->from_host, DEPLOY_ADDR_MAX - 1, addr_valid, where, e) < 0 ||
               get_port(f[1].v, "FromPort", true, &l->from_port, where, e) < 0 ||
               get_str(f[2].v, "ToHost", l->to_host, DEPLOY_HOST_MAX, any, where, e) < 0 ||
               get_port(f[3].v, "ToPort", true, &l->to_port, where, e) < 0 ? -1 : 0;
}

static int instance_parse(json_t *o, struct deploy_instance *in, size_t index, struct gear_err *e)
{
        struct field f[] = { { "Id", NULL }, { "Image", NULL }, { "From", NULL }, { "On", NULL },
                             { "Ports", NULL }, { "Links", NULL }, { "Notify", NULL } };
        char where[96];
        size_t i;
        json_t *v;

        snprintf(where, sizeof where, "instance %zu", index + 1);
        if (fields(o, f, 7, where, e) < 0 || get_str(f[0].v, "Id", in->id, GEAR_ID_MAX, id_valid, where, e) < 0)
                return -1;
        if (!*in->id)
                return gear_err_set(e, GEAR_EXIT_USAGE, "missing Id in %s", where);
        snprintf(where, sizeof where, "instance '%s'", in->id);
        if (get_str(f[1].v, "Image", in->image, DEPLOY_IMAGE_MAX, image_valid, where, e) < 0 ||
            get_str(f[2].v, "From", in->from, GEAR_ID_MAX, name_valid, where, e) < 0 ||
            get_str(f[3].v, "On", in->on, DEPLOY_HOST_MAX, host_valid, where, e) < 0 ||
            get_array(f[4].v, "Ports", DEPLOY_PORTS_MAX, where, e) < 0 ||
            get_array(f[5].v, "Links", DEPLOY_LINKS_MAX * DEPLOY_PORTS_MAX, where, e) < 0)
                return -1;
        if (f[6].v && !json_is_boolean(f[6].v))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid Notify in %s", where);
        json_array_foreach(f[4].v, i, v) {
                if (iport_parse(v, &in->ports[i], where, e) < 0)
                        return -1;
                in->nports = i + 1;
        }
        if (!f[5].v || !json_array_size(f[5].v))
                return 0;
        in->links = calloc(json_array_size(f[5].v), sizeof *in->links);
        if (!in->links)
                return gear_err_sys(e, ENOMEM, "cannot read %s", where);
        json_array_foreach(f[5].v, i, v) {
                if (ilink_parse(v, &in->links[i], where, e) < 0)
                        return -1;
                in->nlinks = i + 1;
        }
        return 0;
}

void deploy_instances_free(struct deploy_instance *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i].links);
        free(v);
}

void deployment_done(struct deployment *d)
{
        for (size_t i = 0; d->containers && i < d->ncontainers; i++) {
                for (size_t j = 0; j < d->containers[i].nenv; j++) {
                        free(d->containers[i].env[j].name);
                        free(d->containers[i].env[j].value);
                }
                free(d->containers[i].env);
                free(d->containers[i].links);
        }
        free(d->containers);
        deploy_instances_free(d->instances, d->ninstances);
        *d = (struct deployment){0};
}

static int deployment_parse(json_t *root, struct deployment *d, struct gear_err *e)
{
        struct field f[] = { { "Containers", NULL }, { "Instances", NULL }, { "IdPrefix", NULL },
                             { "RandomizeIds", NULL } };
        size_t i;
        json_t *v;

        if (fields(root, f, 4, "the deployment", e) < 0 ||
            get_array(f[0].v, "Containers", DEPLOY_CONTAINERS_MAX, "the deployment", e) < 0 ||
            get_array(f[1].v, "Instances", DEPLOY_INSTANCES_MAX, "the deployment", e) < 0 ||
            get_str(f[2].v, "IdPrefix", d->id_prefix, GEAR_ID_MAX, prefix_valid, "the deployment", e) < 0 ||
            get_bool(f[3].v, "RandomizeIds", &d->randomize_ids, "the deployment", e) < 0)
                return -1;
        d->containers = calloc(json_array_size(f[0].v) + 1, sizeof *d->containers);
        d->instances = calloc(json_array_size(f[1].v) + 1, sizeof *d->instances);
        if (!d->containers || !d->instances)
                return gear_err_sys(e, ENOMEM, "cannot read the deployment");
        json_array_foreach(f[0].v, i, v) {
                d->ncontainers = i + 1;
                if (container_parse(v, &d->containers[i], i, e) < 0)
                        return -1;
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(d->containers[j].name, d->containers[i].name))
                                return gear_err_set(e, GEAR_EXIT_USAGE, "container '%s' given twice",
                                                    d->containers[i].name);
        }
        json_array_foreach(f[1].v, i, v) {
                d->ninstances = i + 1;
                if (instance_parse(v, &d->instances[i], i, e) < 0)
                        return -1;
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(d->instances[j].id, d->instances[i].id))
                                return gear_err_set(e, GEAR_EXIT_USAGE, "instance '%s' given twice",
                                                    d->instances[i].id);
        }
        return 0;
}

int deploy_parse(const char *text, size_t len, struct deployment *d, struct gear_err *e)
{
        json_error_t je;
        json_t *root;
        int r;

        *d = (struct deployment){0};
        if (len > DEPLOY_FILE_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "the deployment is larger than %d bytes", DEPLOY_FILE_MAX);
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!root)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid JSON at line %d: %s", je.line, je.text);
        r = deployment_parse(root, d, e);
        json_decref(root);
        if (r < 0)
                deployment_done(d);
        return r;
}

static json_t *pairs_json(const struct deploy_pair *p, size_t n)
{
        json_t *a = json_array();

        for (size_t i = 0; a && i < n; i++)
                json_array_append_new(a, json_pack("{s:i, s:i}", "Internal", p[i].internal, "External", p[i].external));
        return a;
}

static json_t *container_json(const struct deploy_container *c)
{
        json_t *links = json_array(), *vars = json_array();

        for (size_t i = 0; links && i < c->nlinks; i++) {
                const struct deploy_link *l = &c->links[i];
                json_t *ports = json_array();

                for (size_t j = 0; ports && j < l->nports; j++)
                        json_array_append_new(ports, json_integer(l->ports[j]));
                json_array_append_new(links, json_pack("{s:s, s:b, s:b, s:o, s:o}", "To", l->to, "NonLocal",
                                                       l->nonlocal, "MatchPort", l->matchport, "Ports", ports,
                                                       "AliasPorts", pairs_json(l->alias, l->nalias)));
        }
        for (size_t i = 0; vars && i < c->nenv; i++)
                json_array_append_new(vars, json_pack("{s:s, s:s}", "Name", c->env[i].name, "Value", c->env[i].value));
        return json_pack("{s:s, s:s, s:i, s:o, s:o, s:{s:o}}", "Name", c->name, "Image", c->image, "Count", c->count,
                         "PublicPorts", pairs_json(c->public_ports, c->nports), "Links", links, "Environment",
                         "Variables", vars);
}

static json_t *instance_json(const struct deploy_instance *in)
{
        json_t *ports = json_array(), *links = json_array();

        for (size_t i = 0; ports && i < in->nports; i++) {
                const struct deploy_port *p = &in->ports[i];
                json_t *o = json_pack("{s:i, s:i}", "Internal", p->internal, "External", p->external);

                if (o && *p->target_host)
                        json_object_set_new(o, "Target", json_pack("{s:s, s:i}", "Host", p->target_host, "Port",
                                                                   p->target_port));
                json_array_append_new(ports, o);
        }
        for (size_t i = 0; links && i < in->nlinks; i++) {
                const struct deploy_ilink *l = &in->links[i];

                json_array_append_new(links, json_pack("{s:s, s:i, s:s, s:i}", "FromHost", l->from_host, "FromPort",
                                                       l->from_port, "ToHost", l->to_host, "ToPort", l->to_port));
        }
        return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "Id", in->id, "Image", in->image, "From", in->from, "On",
                         in->on, "Ports", ports, "Links", links);
}

char *deploy_format(const struct deployment *d)
{
        json_t *cs = json_array(), *is = json_array(), *root;
        char *text;

        for (size_t i = 0; cs && i < d->ncontainers; i++)
                json_array_append_new(cs, container_json(&d->containers[i]));
        for (size_t i = 0; is && i < d->ninstances; i++)
                json_array_append_new(is, instance_json(&d->instances[i]));
        root = json_pack("{s:o, s:o, s:s, s:b}", "Containers", cs, "Instances", is, "IdPrefix", d->id_prefix,
                         "RandomizeIds", d->randomize_ids);
        text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(root);
        return text;
}

int deploy_load(const char *path, struct deployment *d, struct gear_err *e)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        *d = (struct deployment){0};
        if (fd < 0)
                return gear_err_sys(e, errno, "cannot open '%s'", path);
        if (fstat(fd, &st) < 0)
                return gear_err_sys(e, errno, "cannot read '%s'", path);
        if (!S_ISREG(st.st_mode))
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is not a regular file", path);
        if (st.st_size > DEPLOY_FILE_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is larger than %d bytes", path, DEPLOY_FILE_MAX);
        buf = malloc(DEPLOY_FILE_MAX + 1);
        if (!buf)
                return gear_err_sys(e, ENOMEM, "cannot read '%s'", path);
        for (;;) {
                ssize_t k = read(fd, buf + len, DEPLOY_FILE_MAX + 1 - len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return gear_err_sys(e, errno, "cannot read '%s'", path);
                if (!k)
                        break;
                len += k;
                if (len > DEPLOY_FILE_MAX)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is larger than %d bytes", path,
                                            DEPLOY_FILE_MAX);
        }
        return deploy_parse(buf, len, d, e);
}
