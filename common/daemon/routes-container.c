/* the container routes: each calls what the command of the same action calls */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"
#include "../container/container-cmd.h"
#include "../container/container-run.h"
#include "../env/env.h"

/* "Ports": [{"Internal": N, "External": N}] as gear-install -p takes them */
static int body_ports(const json_t *body, struct port_map **maps, size_t *n, struct gear_err *e)
{
        static const char *const fields[] = { "Internal", "External", NULL };
        json_t *a, *p;
        size_t i;

        if (field_array(body, "Ports", &a, e) < 0 || !a)
                return 0;
        json_array_foreach(a, i, p) {
                unsigned in, ext;
                char spec[32];

                if (field_check(p, fields, "a port", e) < 0 || field_uint(p, "Internal", 65535, &in, e) < 0 ||
                    field_uint(p, "External", 65535, &ext, e) < 0)
                        return -1;
                snprintf(spec, sizeof spec, "%u:%u", in, ext);
                if (port_specs_parse(spec, maps, n, e) < 0)
                        return -1;
        }
        return 0;
}

/* v is a string without a NUL, which would cut what the commands see */
static bool plain_string(const json_t *v)
{
        return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

/* an array of strings, each in the syntax of a command's option, joined by sep */
static int body_strings(const json_t *body, const char *name, char **out, struct gear_err *e)
{
        json_t *a, *v;
        size_t i, len = 0;
        FILE *f;

        *out = NULL;
        if (field_array(body, name, &a, e) < 0 || !a)
                return 0;
        f = open_memstream(out, &len);
        if (!f)
                return gear_err_sys(e, ENOMEM, "cannot read '%s'", name);
        json_array_foreach(a, i, v) {
                if (!plain_string(v) || strchr(json_string_value(v), ',')) {
                        fclose(f);
                        return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' holds something other than a string", name);
                }
                fprintf(f, "%s%s", i ? "," : "", json_string_value(v));
        }
        return fclose(f) == 0 ? 0 : gear_err_sys(e, errno, "cannot read '%s'", name);
}

/* "Variables": [{"Name": ..., "Value": ...}] as gear-set-env's NAME=VALUE arguments */
static int body_variables(const json_t *obj, struct env *env, bool *given, struct gear_err *e)
{
        static const char *const fields[] = { "Name", "Value", NULL };
        json_t *a, *v;
        size_t i;

        *given = false;
        if (field_array(obj, "Variables", &a, e) < 0 || !a)
                return 0;
        *given = true;
        json_array_foreach(a, i, v) {
                _cleanup_free_ char *arg = NULL;
                const char *name, *value;

                if (field_check(v, fields, "a variable", e) < 0 || field_string(v, "Name", &name, e) < 0 ||
                    field_string(v, "Value", &value, e) < 0)
                        return -1;
                if (!name || strchr(name, '='))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "variable %zu: invalid or missing Name", i + 1);
                if (asprintf(&arg, "%s=%s", name, value ? value : "") < 0)
                        return gear_err_sys(e, ENOMEM, "cannot read the variables");
                if (env_parse_arg(env, arg, i + 1, NULL, e) < 0)
                        return -1;
        }
        return 0;
}

int daemon_variables(const json_t *obj, struct env *env, bool *given, struct gear_err *e)
{
        return body_variables(obj, env, given, e);
}

static void volumes_free(struct ctr_volume *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                ctr_volume_done(&v[i]);
        free(v);
}

/* "Volumes": ["SOURCE:TARGET[:ro]"] as gear-install -v takes them */
static int body_volumes(const json_t *body, struct ctr_volume **v, size_t *n, struct gear_err *e)
{
        json_t *a, *s;
        size_t i;

        if (field_array(body, "Volumes", &a, e) < 0 || !a)
                return 0;
        *v = calloc(json_array_size(a) + 1, sizeof **v);
        if (!*v)
                return gear_err_sys(e, ENOMEM, "cannot read the volumes");
        json_array_foreach(a, i, s) {
                if (!plain_string(s))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "'Volumes' holds something other than a string");
                if (ctr_volume_parse(json_string_value(s), &(*v)[i], e) < 0)
                        return -1;
                (*n)++;
        }
        return 0;
}

/* [{"Internal": N, "External": N}] */
static json_t *port_maps_json(const struct port_map *p, size_t n)
{
        json_t *a = json_array();

        for (size_t i = 0; a && i < n; i++)
                json_array_append_new(a, json_pack("{s:I,s:I}", "Internal", (json_int_t)p[i].internal, "External",
                                                   (json_int_t)p[i].external));
        return a;
}

int route_container_put(struct daemon_req *r, struct daemon_reply *out)
{
        static const char *const fields[] = {
                "Image", "Started", "Ports", "PortRange", "Environment", "Isolate", "Slice", "Volumes",
                "NetworkLinks", "IdleTimeout", NULL
        };
        static const char *const env_fields[] = { "Id", "Variables", NULL };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(env_free) struct env env = {0};
        _cleanup_free_ struct port_map *ports = NULL;
        _cleanup_free_ struct net_link *links = NULL;
        _cleanup_free_ char *link_spec = NULL;
        struct ctr_volume *volumes = NULL;
        struct ctr_install in = { .id = r->seg[1], .range = PORT_RANGE_DEFAULT };
        const char *range, *env_id, *timeout;
        char idle_timeout[UNIT_TIMESPAN_MAX];
        json_t *envobj = r->body ? json_object_get(r->body, "Environment") : NULL;
        struct gear_systemd *m;
        bool vars, installed;
        gear_id eid;
        int ret = -1;

        if (!r->body)
                return daemon_fail_msg(out, 400, "want a JSON body with at least 'Image'");
        /* everything is checked before anything is touched, as gear-install does */
        if (field_check(r->body, fields, "the container", &err) < 0 || field_string(r->body, "Image", &in.image, &err) < 0 ||
            field_bool(r->body, "Started", &in.start, &err) < 0 || field_bool(r->body, "Isolate", &in.isolate, &err) < 0 ||
            field_string(r->body, "Slice", &in.slice, &err) < 0 || field_string(r->body, "PortRange", &range, &err) < 0 ||
            field_string(r->body, "IdleTimeout", &timeout, &err) < 0 ||
            field_check(envobj, env_fields, "'Environment'", &err) < 0 || field_string(envobj, "Id", &env_id, &err) < 0 ||
            body_variables(envobj, &env, &vars, &err) < 0 || body_ports(r->body, &ports, &in.nports, &err) < 0 ||
            body_strings(r->body, "NetworkLinks", &link_spec, &err) < 0 ||
            body_volumes(r->body, &volumes, &in.nvolumes, &err) < 0)
                goto fail;
        in.volumes = volumes;
        if (!in.image) {
                gear_err_set(&err, GEAR_EXIT_USAGE, "missing 'Image'");
                goto fail;
        }
        if (!strcmp(in.image, in.id)) {
                gear_err_set(&err, GEAR_EXIT_USAGE, "the image '%s' is the same as the id", in.image);
                goto fail;
        }
        if (range && port_range_parse(range, &in.range, &err) < 0)
                goto fail;
        if (env_id) {
                if (id_parse(env_id, eid, &err) < 0)
                        goto fail;
                in.env_id = eid;
        }
        if (timeout) {
                if (unit_timespan_parse(timeout, idle_timeout, &err) < 0)
                        goto fail;
                in.idle = true;
                in.idle_timeout = idle_timeout;
        }
        if (link_spec) {
                if (links_parse(link_spec, &links, &in.nlinks, &err) < 0)
                        goto fail;
                in.links = links;
                in.set_links = true;
        }
        in.env = vars ? &env : NULL;
        in.ports = ports;
        if (daemon_manager(r, &m, &err) < 0)
                goto fail;
        if (container_install_start(&r->tree, m, &in, &installed, &err) < 0) {
                if (installed)
                        daemon_fail_msg(out, 500, "installed '%s' but cannot start it: %s", in.id, err.msg);
                else
                        daemon_fail(out, &err, 409);
                goto out;
        }
        ret = daemon_ok(out, 200, json_pack("{s:s,s:o}", "Id", in.id, "Ports", port_maps_json(ports, in.nports)));
        goto out;
fail:
        daemon_fail(out, &err, 409);
out:
        volumes_free(volumes, in.nvolumes);
        return ret;
}

/* id exists (404 when not), with the manager open */
static int existing(struct daemon_req *r, struct daemon_reply *out, struct gear_systemd **m)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};

        if (container_must_exist(&r->tree, r->seg[1], &err) < 0 || (m && daemon_manager(r, m, &err) < 0))
                return daemon_fail(out, &err, 404);
        return 0;
}

int route_container_delete(struct daemon_req *r, struct daemon_reply *out)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        struct gear_systemd *m;
        bool removed;
        int k;

        if (daemon_manager(r, &m, &err) < 0)
                return daemon_fail(out, &err, 404);
        k = container_delete(&r->tree, m, r->seg[1], &removed, &err);
        if (k < 0)
                return removed ? daemon_fail_msg(out, 500, "deleted '%s' but %s", r->seg[1], err.msg)
                               : daemon_fail(out, &err, 409);
        if (k == 0)
                return daemon_fail_msg(out, 404, "no container '%s'", r->seg[1]);
        return daemon_ok(out, 204, NULL);
}

/* start, stop, restart, idle (with "Timeout" and "PortRange", as gear-idle's options), unidle: 204, or
   the failure and the unit's state and journal */
static int act(struct daemon_req *r, struct daemon_reply *out, enum ctr_verb verb)
{
        static const char *const idle_names[] = { "Timeout", "PortRange", NULL }, *const none[] = { NULL };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        struct port_range range = PORT_RANGE_DEFAULT;
        char timeout[UNIT_TIMESPAN_MAX];
        const char *t = NULL, *rs = NULL;
        struct gear_systemd *m;
        int k;

        if (field_check(r->body, verb == VERB_IDLE ? idle_names : none, "the request", &err) < 0 ||
            field_string(r->body, "Timeout", &t, &err) < 0 || field_string(r->body, "PortRange", &rs, &err) < 0 ||
            (t && unit_timespan_parse(t, timeout, &err) < 0) || (rs && port_range_parse(rs, &range, &err) < 0))
                return daemon_fail(out, &err, 409);
        if (existing(r, out, &m) < 0)
                return -1;
        k = container_act(&r->tree, m, r->seg[1], verb, t ? timeout : NULL, range, &err);
        if (k < 0) {
                _cleanup_free_ char *why = NULL;
                size_t len;

                if (err.code == GEAR_EXIT_SYS && container_failure_text(m, r->seg[1], &why, &len) == 0 && why)
                        return daemon_fail_msg(out, 500, "%s\n%s", err.msg, why);
                return daemon_fail(out, &err, k == -ENOENT ? 404 : 409);
        }
        return daemon_ok(out, 204, NULL);
}

int route_container_started(struct daemon_req *r, struct daemon_reply *out)
{
        return act(r, out, VERB_START);
}

int route_container_stopped(struct daemon_req *r, struct daemon_reply *out)
{
        return act(r, out, VERB_STOP);
}

int route_container_restart(struct daemon_req *r, struct daemon_reply *out)
{
        return act(r, out, VERB_RESTART);
}

int route_container_idle(struct daemon_req *r, struct daemon_reply *out)
{
        return act(r, out, VERB_IDLE);
}

int route_container_unidle(struct daemon_req *r, struct daemon_reply *out)
{
        return act(r, out, VERB_UNIDLE);
}

int route_container_links(struct daemon_req *r, struct daemon_reply *out)
{
        static const char *const names[] = { "NetworkLinks", NULL };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_free_ struct net_link *links = NULL;
        _cleanup_free_ char *spec = NULL;
        size_t n = 0;
        bool applied;

        if (field_check(r->body, names, "the request", &err) < 0 ||
            body_strings(r->body, "NetworkLinks", &spec, &err) < 0 || links_parse(spec ? spec : "", &links, &n, &err) < 0)
                return daemon_fail(out, &err, 409);
        if (container_links_set(&r->tree, r->seg[1], links, n, &applied, &err) != 0)
                return daemon_fail(out, &err, 404);
        return daemon_ok(out, 204, NULL);
}

int route_container_status(struct daemon_req *r, struct daemon_reply *out)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(ctr_status_done) struct ctr_status s = {0};
        const struct systemd_unit_info *i = &s.info;
        struct port_map maps[UNIT_MAX_PORTS];
        struct gear_systemd *m;
        json_t *links, *ports;

        if (daemon_manager(r, &m, &err) < 0 || container_status(&r->tree, m, r->seg[1], CTR_LOG_LINES, &s, &err) < 0)
                return daemon_fail(out, &err, 404);
        for (size_t k = 0; k < s.meta.n_ports; k++)
                maps[k] = (struct port_map){ s.meta.ports[k].internal, s.meta.ports[k].external };
        ports = port_maps_json(maps, s.meta.n_ports);
        links = json_array();
        for (size_t k = 0; links && k < s.nlinks; k++)
                json_array_append_new(links, json_pack("{s:s,s:I,s:s,s:I}", "FromHost", s.links[k].local_ip,
                                                       "FromPort", (json_int_t)s.links[k].local_port,
                                                       "ToHost", s.links[k].host, "ToPort", (json_int_t)s.links[k].port));
        return daemon_ok(out, 200, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:b,s:s,s:s,s:s,s:o,s:o,s:b,s:o}",
                "Id", s.id, "Unit", i->id, "Path", s.unit_path, "LoadState", i->load_state,
                "ActiveState", i->active_state, "SubState", i->sub_state, "Since", s.since,
                "MainPID", (json_int_t)i->main_pid, "Result", i->result, "Boot", s.boot,
                "Image", s.meta.image, "Version", s.meta.request_id, "User", s.meta.user,
                "Ports", ports, "NetworkLinks", links,
                "Idle", s.idle, "Log", daemon_text(s.log ? s.log : "")));
}

int route_container_ports(struct daemon_req *r, struct daemon_reply *out)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_free_ struct port_map *maps = NULL;
        size_t n = 0;

        if (unit_ports_read(&r->tree, r->seg[1], &maps, &n, &err) < 0)
                return daemon_fail(out, &err, 404);
        return daemon_ok(out, 200, json_pack("{s:o}", "Ports", port_maps_json(maps, n)));
}

int route_container_log(struct daemon_req *r, struct daemon_reply *out)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        const char *q = daemon_query(r, "lines");
        char unit[CTR_PATH_MAX], *end;
        unsigned long lines = DAEMON_LOG_LINES;
        struct gear_systemd *m;

        if (q) {
                lines = strtoul(q, &end, 10);
                if (*end || end == q || lines > DAEMON_LOG_LINES_MAX)
                        return daemon_fail_msg(out, 400, "invalid number of lines '%s'", q);
        }
        if (existing(r, out, &m) < 0)
                return -1;
        container_unit_name(r->seg[1], unit);
        if (container_journal(systemd_scope(m), unit, lines, &out->text, &out->len, &err) < 0)
                return daemon_fail(out, &err, 404);
        out->status = 202;
        out->type = "text/plain; charset=utf-8";
        return 0;
}

int route_containers(struct daemon_req *r, struct daemon_reply *out)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_free_ struct ctr_row *rows = NULL;
        struct gear_systemd *m;
        json_t *a = json_array();
        size_t n = 0;

        if (daemon_manager(r, &m, &err) < 0 || container_list_units(&r->tree, m, true, &rows, &n, &err) < 0) {
                json_decref(a);
                return daemon_fail(out, &err, 404);
        }
        for (size_t i = 0; a && i < n; i++)
                json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}", "Id", rows[i].id, "ActiveState", rows[i].active,
                                                   "SubState", rows[i].sub, "LoadState", rows[i].load));
        return daemon_ok(out, 200, a ? json_pack("{s:o}", "Containers", a) : NULL);
}
