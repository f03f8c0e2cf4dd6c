/* the environment, key and repository routes: what gear-env, gear-set-env, gear-keys and gear-repo call */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon-int.h"
#include "../env/env.h"
#include "../keys/keys.h"
#include "../repo/repo.h"

int route_env_get(struct daemon_req *r, struct daemon_reply *out)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(env_free) struct env env = {0};
        _cleanup_free_ char *text = NULL;
        json_t *a = json_array();
        size_t len;

        if (env_read(&r->tree, r->seg[1], &text, &len, &err) < 0 ||
            env_parse_stored(&env, text, len, r->seg[1], &err) < 0) {
                json_decref(a);
                return daemon_fail(out, &err, 404);
        }
        for (size_t i = 0; a && i < env.n; i++) {
                const struct env_var *v = &env.vars[i];

                json_array_append_new(a, json_pack("{s:s%,s:s%}", "Name", v->text, v->name_len, "Value",
                                                   v->text + v->name_len + 1, v->len - v->name_len - 1));
        }
        return daemon_ok(out, 200, a ? json_pack("{s:s,s:o}", "Id", r->seg[1], "Variables", a) : NULL);
}

/* PUT replaces the environment, PATCH changes the variables it names (gear-set-env [--reset]) */
static int env_set_body(struct daemon_req *r, struct daemon_reply *out, bool reset)
{
        static const char *const fields[] = { "Id", "Variables", NULL };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(env_free) struct env env = {0};
        const char *id;
        bool given;

        if (field_check(r->body, fields, "the environment", &err) < 0 || field_string(r->body, "Id", &id, &err) < 0 ||
            daemon_variables(r->body, &env, &given, &err) < 0)
                return daemon_fail(out, &err, 409);
        if (id && strcmp(id, r->seg[1]))
                return daemon_fail_msg(out, 400, "'Id' is not '%s'", r->seg[1]);
        if (!given)
                return daemon_fail_msg(out, 400, "missing 'Variables'");
        if (env_update(&r->tree, r->seg[1], &env, reset, &err) < 0)
                return daemon_fail(out, &err, 409);
        return daemon_ok(out, 204, NULL);
}

int route_env_put(struct daemon_req *r, struct daemon_reply *out)
{
        return env_set_body(r, out, true);
}

int route_env_patch(struct daemon_req *r, struct daemon_reply *out)
{
        return env_set_body(r, out, false);
}

/* "Keys": [{"Type": "authorized_keys", "Value": LINES}] as gear-keys reads them */
static int body_keys(const json_t *body, struct key_set *set, struct gear_err *e)
{
        static const char *const fields[] = { "Type", "Value", NULL };
        json_t *a, *k;
        size_t i;

        if (field_array(body, "Keys", &a, e) < 0)
                return -1;
        json_array_foreach(a, i, k) {
                const char *type, *value;
                char where[32];

                if (field_check(k, fields, "a key", e) < 0 || field_string(k, "Type", &type, e) < 0 ||
                    field_string(k, "Value", &value, e) < 0)
                        return -1;
                if (!type || strcmp(type, "authorized_keys"))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "key %zu: 'Type' is not 'authorized_keys'", i + 1);
                snprintf(where, sizeof where, "key %zu", i + 1);
                if (!value || keys_parse_buf(value, strlen(value), where, set, e) < 0)
                        return value ? -1 : gear_err_set(e, GEAR_EXIT_USAGE, "%s: missing 'Value'", where);
        }
        if (!set->n)
                return gear_err_set(e, GEAR_EXIT_USAGE, "no keys");
        return 0;
}

/* the targets of "Containers" and "Repositories" ({"Id": ..., "Permissions": "read"|"write"}), all checked */
static int body_targets(const json_t *body, struct gear_target **tg, size_t *n, struct gear_err *e)
{
        static const char *const cfields[] = { "Id", NULL };
        static const char *const rfields[] = { "Id", "Permissions", NULL };
        json_t *ca, *ra, *v;
        size_t i;

        if (field_array(body, "Containers", &ca, e) < 0 || field_array(body, "Repositories", &ra, e) < 0)
                return -1;
        *tg = calloc(json_array_size(ca) + json_array_size(ra) + 1, sizeof **tg);
        if (!*tg)
                return gear_err_sys(e, ENOMEM, "cannot read the targets");
        json_array_foreach(ca, i, v) {
                const char *id;

                if (field_check(v, cfields, "a container", e) < 0 || field_string(v, "Id", &id, e) < 0 ||
                    id_parse(id ? id : "", (*tg)[*n].id, e) < 0)
                        return -1;
                (*tg)[(*n)++].kind = TARGET_CONTAINER;
        }
        json_array_foreach(ra, i, v) {
                const char *id, *perm;

                if (field_check(v, rfields, "a repository", e) < 0 || field_string(v, "Id", &id, e) < 0 ||
                    field_string(v, "Permissions", &perm, e) < 0 || repo_id_parse(id ? id : "", (*tg)[*n].id, e) < 0)
                        return -1;
                if (perm && strcmp(perm, "read") && strcmp(perm, "write"))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "'Permissions' is not 'read' or 'write'");
                (*tg)[*n].write = perm && !strcmp(perm, "write");
                (*tg)[(*n)++].kind = TARGET_REPO;
        }
        return 0;
}

int route_keys_put(struct daemon_req *r, struct daemon_reply *out)
{
        static const char *const fields[] = { "Keys", "Containers", "Repositories", NULL };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(key_set_done) struct key_set set = {0};
        _cleanup_free_ struct gear_target *tg = NULL;
        size_t n = 0;
        json_t *a;

        if (field_check(r->body, fields, "the request", &err) < 0 || body_keys(r->body, &set, &err) < 0 ||
            body_targets(r->body, &tg, &n, &err) < 0)
                return daemon_fail(out, &err, 409);
        if (!n)
                return daemon_fail_msg(out, 400, "no containers or repositories");
        /* one add for all of them (gear-keys add and add --write in one): a missing one changes nothing */
        if (keys_add(&r->tree, tg, n, &set, false, &err) < 0)
                return daemon_fail(out, &err, 404);
        a = json_array();
        for (size_t i = 0; a && i < set.n; i++)
                json_array_append_new(a, json_string(set.keys[i].fp));
        return daemon_ok(out, 200, a ? json_pack("{s:o}", "Fingerprints", a) : NULL);
}

/* the limits of a route's command that fetches or writes a tree: those of a build's source (gear.conf) */
static int repo_limits(struct daemon_req *r, unsigned *timeout, uint64_t *max_size, struct gear_err *e)
{
        struct gear_config conf;

        if (config_load(&conf, &r->tree, e) < 0)
                return -1;
        *timeout = conf.build_fetch_timeout;
        *max_size = conf.max_source_size;
        config_done(&conf);
        return 0;
}

/* as gear-repo create, in a process of its own: a clone from another server may be slow or large */
int route_repo_put(struct daemon_req *r, struct daemon_reply *out)
{
        static const char *const fields[] = { "CloneUrl", NULL };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        const struct daemon_job_reply how = { .ok_status = 204, .no_status = 409, .out = -1 };
        const char *from = NULL;
        uint64_t max_size;
        unsigned timeout;
        gear_id id;

        if (repo_id_parse(r->seg[1], id, &err) < 0 || field_check(r->body, fields, "the repository", &err) < 0 ||
            field_string(r->body, "CloneUrl", &from, &err) < 0 || repo_limits(r, &timeout, &max_size, &err) < 0)
                return daemon_fail(out, &err, 409);
        char *argv[8] = { "/proc/self/exe", "repo", "create" };
        size_t k = 3;
        if (from)
                argv[k++] = "--from", argv[k++] = (char *)from;
        argv[k++] = "--", argv[k++] = id;
        return daemon_job_start(r, argv, timeout, max_size, &how, out);
}

int route_repo_delete(struct daemon_req *r, struct daemon_reply *out)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        gear_id id;

        if (repo_id_parse(r->seg[1], id, &err) < 0 || repo_delete(&r->tree, id, &err) < 0)
                return daemon_fail(out, &err, 404);
        return daemon_ok(out, 204, NULL);
}

/* as gear-repo archive, in a process of its own, into an anonymous file first: a failure is a status,
 * not a cut stream, and the file is no larger than max-source-size */
int route_repo_archive(struct daemon_req *r, struct daemon_reply *out)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_free_ char *ref = NULL;
        const char *format = daemon_query(r, "format");
        struct daemon_job_reply how = { .ok_status = 200, .no_status = 404 };
        enum repo_format f = REPO_TAR;
        uint64_t max_size;
        unsigned timeout;
        size_t len = 0;
        gear_id id;

        for (size_t i = 3; i < r->nseg; i++)
                len += strlen(r->seg[i]) + 1;
        ref = calloc(1, len + 1);
        if (!ref)
                return daemon_fail_msg(out, 500, "out of memory");
        for (size_t i = 3; i < r->nseg; i++)
                strcat(strcat(ref, i > 3 ? "/" : ""), r->seg[i]);
        if (repo_id_parse(r->seg[1], id, &err) < 0 || (format && repo_format_parse(format, &f, &err) < 0))
                return daemon_fail(out, &err, 404);
        if (repo_limits(r, &timeout, &max_size, &err) < 0)
                return daemon_fail(out, &err, 500);
        how.out = memfd_create("gear-archive", MFD_CLOEXEC);
        if (how.out < 0)
                return daemon_fail_msg(out, 500, "cannot make a file: %s", strerror(errno));
        how.type = f == REPO_ZIP ? "application/zip" : f == REPO_TGZ ? "application/gzip" : "application/x-tar";
        /* the format as asked, checked above */
        char *argv[] = { "/proc/self/exe", "repo", "archive", "--format", (char *)(format ? format : "tar"), "--", id,
                         *ref ? ref : NULL, NULL };
        return daemon_job_start(r, argv, timeout, max_size, &how, out);
}
