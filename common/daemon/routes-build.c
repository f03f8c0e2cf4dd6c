/* POST /build-image: gear-build-image, its output streamed as the reply */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon-int.h"
#include "../base/fsutil.h"
#include "../base/macro.h"
#include "../build/build.h"

/* "Env": {"NAME": "VALUE"} or ["NAME=VALUE"], as --env takes them (malloc'd, into vars) */
static int body_env(const json_t *body, char ***vars, size_t *n, struct gear_err *e)
{
        json_t *env = json_object_get(body, "Env"), *v;
        const char *name;
        size_t i;

        *vars = calloc(json_is_object(env) ? json_object_size(env) + 1 : json_array_size(env) + 1, sizeof **vars);
        if (!*vars)
                return gear_err_sys(e, ENOMEM, "cannot read 'Env'");
        if (!env || json_is_null(env))
                return 0;
        if (json_is_array(env)) {
                json_array_foreach(env, i, v) {
                        const char *s = json_string_value(v);
                        if (!s || strlen(s) != json_string_length(v))
                                return gear_err_set(e, GEAR_EXIT_USAGE, "'Env' holds something other than a string");
                        if (!((*vars)[(*n)++] = strdup(s)))
                                return gear_err_sys(e, ENOMEM, "cannot read 'Env'");
                }
                return 0;
        }
        if (!json_is_object(env))
                return gear_err_set(e, GEAR_EXIT_USAGE, "'Env' is not an object or an array");
        json_object_foreach(env, name, v) {
                const char *s = json_string_value(v);
                if (!s || strlen(s) != json_string_length(v) || strchr(name, '='))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "'Env': '%.64s' is not a name with a string", name);
                if (asprintf(&(*vars)[(*n)++], "%s=%s", name, s) < 0) {
                        (*vars)[--(*n)] = NULL;
                        return gear_err_sys(e, ENOMEM, "cannot read 'Env'");
                }
        }
        return 0;
}

/* one argument for --stdin-args */
static int args_put(int fd, const char *arg)
{
        return write_all(fd, arg, strlen(arg) + 1);
}

static void vars_free(char **vars, size_t n)
{
        for (size_t i = 0; vars && i < n; i++)
                free(vars[i]);
        free(vars);
}

/* geard's BaseImage, Source and Tag, and gear-build-image's options: checked here, run by the command */
int route_build_image(struct daemon_req *r, struct daemon_reply *out)
{
        static const char *const fields[] = { "BaseImage", "Source", "Tag", "Ref", "Env", "Gear", NULL };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_close_ int in = -1;
        /* this very binary, even once a new one replaced it (readlink then ends in " (deleted)") */
        char *argv[] = { "/proc/self/exe", "build-image", "--stdin-args", NULL }, **vars = NULL;
        struct build_image_opts o = { .out = -1 };
        struct image_ref tag;
        size_t n = 0;
        int ret;

        if (!r->body)
                return daemon_fail_msg(out, 400, "want a JSON body with 'BaseImage', 'Source' and 'Tag'");
        if (field_check(r->body, fields, "the request", &err) < 0 || field_string(r->body, "BaseImage", &o.builder, &err) < 0 ||
            field_string(r->body, "Source", &o.source, &err) < 0 || field_string(r->body, "Tag", &o.tag, &err) < 0 ||
            field_string(r->body, "Ref", &o.ref, &err) < 0 || field_bool(r->body, "Gear", &o.gear, &err) < 0 ||
            body_env(r->body, &vars, &n, &err) < 0)
                goto fail;
        o.env = vars;
        o.n_env = n;
        if (!o.builder || !o.source || !o.tag) {
                gear_err_set(&err, GEAR_EXIT_USAGE, "missing '%s'", !o.builder ? "BaseImage" : !o.source ? "Source" : "Tag");
                goto fail;
        }
        /* what the command would refuse is a 400 here, before anything runs */
        if (build_image_check(&o, &tag, &err) < 0)
                goto fail;
        if ((in = memfd_create("build-image-args", MFD_CLOEXEC)) < 0) {
                gear_err_sys(&err, errno, "cannot run gear-build-image");
                goto fail;
        }
        /* the request's options on standard input: the process list shows no variable and no source */
        if ((o.gear && args_put(in, "--gear") < 0) || (o.ref && (args_put(in, "--ref") < 0 || args_put(in, o.ref) < 0)))
                goto sys;
        for (size_t i = 0; i < n; i++)
                if (args_put(in, "--env") < 0 || args_put(in, vars[i]) < 0)
                        goto sys;
        if (args_put(in, "--") < 0 || args_put(in, o.source) < 0 || args_put(in, o.builder) < 0 ||
            args_put(in, o.tag) < 0 || lseek(in, 0, SEEK_SET) < 0)
                goto sys;
        ret = daemon_stream_start(r, argv, in, out);
        vars_free(vars, n);
        return ret;
sys:
        gear_err_sys(&err, errno, "cannot run gear-build-image");
fail:
        vars_free(vars, n);
        return daemon_fail(out, &err, 404);
}
