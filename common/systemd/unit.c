#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

enum ctx { CTX_PLAIN, CTX_EXEC, CTX_RAW };

/* one template value: a scalar (n == 1, list false), a list of n elements
   (its line written once per element) or words (n elements written on the
   line where it stands, separated by spaces) */
struct value {
        const char *name;
        bool list, words;
        size_t n;
        char **v;
};

struct values {
        struct value *v;
        size_t n;
        struct gear_strv store; /* owns every string */
};

static void values_done(struct values *vs)
{
        for (size_t i = 0; i < vs->n; i++)
                free(vs->v[i].v);
        free(vs->v);
        strv_done(&vs->store);
}

static int value_add(struct values *vs, const char *name, bool list, const char *const *elems, size_t n,
                     struct gear_err *e)
{
        struct value *nv, *v;

        nv = realloc(vs->v, (vs->n + 1) * sizeof *nv);
        if (!nv)
                return gear_err_sys(e, ENOMEM, "cannot render the unit");
        vs->v = nv;
        v = &vs->v[vs->n];
        *v = (struct value){ .name = name, .list = list };
        v->v = calloc(n ? n : 1, sizeof *v->v);
        if (!v->v)
                return gear_err_sys(e, ENOMEM, "cannot render the unit");
        vs->n++;
        for (size_t i = 0; i < n; i++) {
                if (strv_push(&vs->store, elems[i]) < 0)
                        return gear_err_sys(e, ENOMEM, "cannot render the unit");
                v->v[i] = vs->store.v[vs->store.n - 1];
        }
        v->n = n;
        return 0;
}

static int scalar(struct values *vs, const char *name, const char *s, struct gear_err *e)
{
        return value_add(vs, name, false, &s, 1, e);
}

/* n words on one line: a command */
static int words(struct values *vs, const char *name, const char *const *elems, size_t n, struct gear_err *e)
{
        if (value_add(vs, name, false, elems, n, e) < 0)
                return -1;
        vs->v[vs->n - 1].words = true;
        return 0;
}

/* a list of zero or one element */
static int optional(struct values *vs, const char *name, const char *s, struct gear_err *e)
{
        return value_add(vs, name, true, &s, s && *s ? 1 : 0, e);
}

static const struct value *value_find(const struct values *vs, const char *name, size_t len)
{
        for (size_t i = 0; i < vs->n; i++)
                if (strlen(vs->v[i].name) == len && !memcmp(vs->v[i].name, name, len))
                        return &vs->v[i];
        return NULL;
}

/* "@NAME@" at p: the length of NAME, or 0 */
static size_t placeholder(const char *p)
{
        size_t n;

        if (*p != '@')
                return 0;
        n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
        return n && p[1 + n] == '@' ? n : 0;
}

/*
 * The length of the character at s as systemd's unit file parser takes it
 * (utf8_encoded_valid_unichar): shortest form, no surrogate, at most
 * U+10FFFF, no noncharacter (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF); 0 when
 * it is not one. A line holding anything else is dropped with the unit.
 */
static size_t utf8_char(const unsigned char *s)
{
        static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        size_t n = *s < 0x80 ? 1 : *s >= 0xc0 && *s < 0xe0 ? 2 : *s >= 0xe0 && *s < 0xf0 ? 3 :
                   *s >= 0xf0 && *s < 0xf8 ? 4 : 0;
        unsigned c;

        if (n <= 1)
                return n;
        c = *s & (0x7f >> n);
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3f);
        }
        if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || (c >= 0xfdd0 && c <= 0xfdef) ||
            (c & 0xfffe) == 0xfffe)
                return 0;
        return n;
}

bool unit_utf8_valid(const char *s)
{
        for (size_t n; *s; s += n)
                if (!(n = utf8_char((const unsigned char *)s)))
                        return false;
        return true;
}

/*
 * Refused rather than escaped: the manager loads "\\xNN" of such bytes in an
 * Exec line, but then cannot send the command line over D-Bus, so that
 * systemctl show and status fail for the unit. Shown with the bytes escaped.
 */
static int not_utf8(const char *s, const char *what, struct gear_err *e)
{
        char shown[UNIT_VALUE_MAX * 4];
        size_t o = 0, n;

        for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < sizeof shown; p += n) {
                n = utf8_char(p);
                if (n && o + n < sizeof shown) {
                        memcpy(shown + o, p, n);
                        o += n;
                } else {
                        o += snprintf(shown + o, sizeof shown - o, "\\x%02x", *p);
                        n = 1;
                }
        }
        shown[o] = 0;
        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s '%s': not UTF-8 as systemd takes it", what, shown);
}

static bool value_ok(const char *s, const char *what, struct gear_err *e)
{
        if (!unit_utf8_valid(s)) {
                not_utf8(s, what, e);
                return false;
        }
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                        gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s '%s': control character", what, s);
                        return false;
                }
        if (strlen(s) >= UNIT_VALUE_MAX) {
                gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s: longer than %d bytes", what,
                             UNIT_VALUE_MAX - 1);
                return false;
        }
        return true;
}

int unit_value_check(const char *s, const char *what, struct gear_err *e)
{
        return value_ok(s, what, e) ? 0 : -1;
}

static void put_escaped(FILE *f, const char *s, enum ctx ctx)
{
        for (; *s; s++) {
                unsigned char c = *s;

                if (ctx == CTX_RAW)
                        fputc(c, f);
                else if (c == '%')
                        fputs("%%", f);
                else if (ctx == CTX_PLAIN)
                        fputc(c, f);
                else if (c == '$')
                        fputs("$$", f);
                else if (isalnum(c) || c >= 0x80 || strchr("_./:,=+@-[]", c))
                        fputc(c, f); /* UTF-8: render_line checked it */
                else
                        fprintf(f, "\\x%02x", c);
        }
}

static enum ctx line_ctx(const char *line, size_t len)
{
        if (len >= 4 && !strncmp(line, "Exec", 4))
                return CTX_EXEC;
        if (len >= 2 && !strncmp(line, "X-", 2))
                return CTX_RAW;
        return CTX_PLAIN;
}

static int render_line(FILE *f, const char *line, size_t len, enum ctx ctx, const struct values *vs,
                       unsigned lineno, struct gear_err *e)
{
        const struct value *list = NULL;
        size_t copies = 1;

        /* the list on this line decides how many times it is written */
        for (size_t i = 0; i < len; i++) {
                size_t n = placeholder(line + i);
                const struct value *v;

                if (!n || i + n + 2 > len)
                        continue;
                v = value_find(vs, line + i + 1, n);
                if (!v)
                        return gear_err_set(e, GEAR_EXIT_SYS, "unit template line %u: unknown value '%.*s'",
                                            lineno, (int)n + 2, line + i);
                if (v->list && list && list != v)
                        return gear_err_set(e, GEAR_EXIT_SYS, "unit template line %u: two lists", lineno);
                if (v->list) {
                        list = v;
                        copies = v->n;
                }
                i += n + 1;
        }
        for (size_t k = 0; k < copies; k++) {
                for (size_t i = 0; i < len; i++) {
                        size_t n = placeholder(line + i);
                        const struct value *v;

                        if (!n || i + n + 2 > len) {
                                fputc(line[i], f);
                                continue;
                        }
                        v = value_find(vs, line + i + 1, n);
                        for (size_t w = 0; w < (v->words ? v->n : 1); w++) {
                                const char *s = v->v[v->list ? k : w];

                                if (!unit_utf8_valid(s))
                                        return not_utf8(s, "value", e);
                                if (w)
                                        fputc(' ', f);
                                if (!*s && v->words && ctx == CTX_EXEC)
                                        fputs("\"\"", f); /* an empty word stays a word */
                                put_escaped(f, s, ctx);
                        }
                        i += n + 1;
                }
                fputc('\n', f);
        }
        return 0;
}

static int render(const char *tmpl, const struct values *vs, char **out, size_t *len, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        enum ctx ctx = CTX_PLAIN;
        bool continued = false;
        unsigned lineno = 0;
        int r = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return gear_err_sys(e, errno, "cannot render the unit");
        for (const char *line = tmpl; *line && r == 0;) {
                const char *nl = strchr(line, '\n');
                size_t n = nl ? (size_t)(nl - line) : strlen(line);

                lineno++;
                if (!continued && n >= 2 && !strncmp(line, "##", 2)) {
                        ; /* a comment of the template only */
                } else if (!continued && (*line == '#' || *line == ';')) {
                        fwrite(line, 1, n, f);
                        fputc('\n', f);
                } else {
                        if (!continued)
                                ctx = line_ctx(line, n);
                        r = render_line(f, line, n, ctx, vs, lineno, e);
                }
                continued = n > 0 && line[n - 1] == '\\';
                line += n + (nl ? 1 : 0);
        }
        if (fclose(f) != 0 && r == 0)
                r = gear_err_sys(e, errno, "cannot render the unit");
        if (r < 0)
                return r;
        *out = TAKE_PTR(buf);
        if (len)
                *len = size;
        return 0;
}

/* "NAME" or "NAME.slice" into "NAME.slice" */
static int slice_name(const char *s, char *buf, size_t size, struct gear_err *e)
{
        size_t n = strlen(s);

        if (n > 6 && !strcmp(s + n - 6, ".slice"))
                n -= 6;
        if (n == 0 || n > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n ||
            *s == '-' || s[n - 1] == '-' || strstr(s, "--"))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid slice '%s'", s);
        snprintf(buf, size, "%.*s.slice", (int)n, s);
        return 0;
}

static bool path_ok(const char *p, const char *what, struct gear_err *e)
{
        if (!p || *p != '/' || strpbrk(p, ",:\\ ")) {
                gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s '%s'", what, p ? p : "");
                return false;
        }
        return value_ok(p, what, e);
}

static int fill_gear(const struct unit_spec *s, struct values *vs, struct gear_err *e)
{
        const struct unit_gear *g = s->gear;

        if (!path_ok(g->lower, "mount point", e) || !path_ok(g->upper, "overlay directory", e) ||
            !path_ok(g->work, "overlay directory", e) || !path_ok(g->merged, "overlay directory", e) ||
            !g->mount_unit || !value_ok(g->mount_unit, "unit name", e) ||
            (g->workdir && !value_ok(g->workdir, "working directory", e)) ||
            (g->user && !value_ok(g->user, "user", e)))
                return -1;
        if (g->n_command == 0)
                return gear_err_set(e, GEAR_EXIT_USAGE, "image '%s' has no entrypoint and no cmd", s->image);
        for (size_t i = 0; i < g->n_command; i++)
                if (!value_ok(g->command[i], "command", e))
                        return -1;
        for (size_t i = 0; i < g->n_env; i++)
                if (!value_ok(g->env[i], "environment", e))
                        return -1;
        if (scalar(vs, "MOUNT_UNIT", g->mount_unit, e) < 0 || scalar(vs, "LOWER", g->lower, e) < 0 ||
            scalar(vs, "UPPER", g->upper, e) < 0 || scalar(vs, "WORK", g->work, e) < 0 ||
            scalar(vs, "MERGED", g->merged, e) < 0 ||
            words(vs, "COMMAND", g->command, g->n_command, e) < 0 ||
            value_add(vs, "IMAGE_ENV", true, g->env, g->n_env, e) < 0 ||
            optional(vs, "WORKDIR", g->workdir, e) < 0 ||
            optional(vs, "RUN_USER", s->user ? s->user : g->user, e) < 0)
                return -1;
        return 0;
}

int unit_render_gear_fs(const char *ref, const char *mountpoint, const char *gear_bin, const char *sysroot,
                        bool direct, char **out, size_t *len, struct gear_err *e)
{
        _cleanup_(values_done) struct values vs = {0};
        static const char *const options[] = { "-f", "--prefetch", "--direct" };

        if (!value_ok(ref, "image", e) || strpbrk(ref, " \\") || *ref == '-' || !path_ok(mountpoint, "mount point", e) ||
            !path_ok(gear_bin, "gear-bin", e) || (sysroot && *sysroot && !path_ok(sysroot, "GEAR_SYSROOT", e)))
                return -1;
        if (scalar(&vs, "IMAGE_REF", ref, e) < 0 || scalar(&vs, "MOUNTPOINT", mountpoint, e) < 0 ||
            scalar(&vs, "GEAR_BIN", gear_bin, e) < 0 || optional(&vs, "SYSROOT", sysroot, e) < 0 ||
            words(&vs, "FS_OPTIONS", options, direct ? 3 : 2, e) < 0)
                return -1;
        return render(unit_gear_fs_template, &vs, out, len, e);
}

int unit_render_host(const char *tmpl, const char *sock, const char *gear_bin, const char *sysroot,
                     const char *manager, char **out, size_t *len, struct gear_err *e)
{
        _cleanup_(values_done) struct values vs = {0};
        char socket[PATH_MAX];

        if (!path_ok(gear_bin, "gear-bin", e) || (sysroot && *sysroot && !path_ok(sysroot, "GEAR_SYSROOT", e)) ||
            (manager && *manager && !value_ok(manager, "GEAR_SYSTEMD", e)))
                return -1;
        if ((size_t)snprintf(socket, sizeof socket, "%s%s", sysroot ? sysroot : "", sock) >=
            sizeof socket)
                return gear_err_set(e, GEAR_EXIT_USAGE, "GEAR_SYSROOT is too long");
        if (scalar(&vs, "SOCKET", socket, e) < 0 || scalar(&vs, "GEAR_BIN", gear_bin, e) < 0 ||
            optional(&vs, "SYSROOT", sysroot, e) < 0 || optional(&vs, "SYSTEMD", manager, e) < 0)
                return -1;
        return render(tmpl, &vs, out, len, e);
}

/* a socket address: [ADDRESS:]PORT, IPv6 addresses in brackets */
static bool address_ok(const char *s, struct gear_err *e)
{
        if (!*s || strspn(s, "0123456789abcdefABCDEF.:[]") != strlen(s)) {
                gear_err_set(e, GEAR_EXIT_USAGE, "invalid listen address '%s'", s);
                return false;
        }
        return true;
}

int unit_render_idle(const char *tmpl, const struct unit_idle_port *p, char **out, size_t *len, struct gear_err *e)
{
        _cleanup_(values_done) struct values vs = {0};
        char ext[8], backend[8], timeout[UNIT_TIMESPAN_MAX + 32];

        if (!p->id || !id_valid(p->id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid container id '%s'", p->id ? p->id : "");
        if (p->external < 1 || p->external > 65535 || p->backend < 1 || p->backend > 65535)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid port %u or backend %u", p->external, p->backend);
        if (!address_ok(p->listen, e) || (p->prime && !address_ok(p->prime, e)) || !path_ok(p->proxyd, "socket-proxyd", e) || !path_ok(p->gear_bin, "gear-bin", e) ||
            (p->sysroot && *p->sysroot && !path_ok(p->sysroot, "GEAR_SYSROOT", e)) ||
            (p->manager && *p->manager && !value_ok(p->manager, "GEAR_SYSTEMD", e)))
                return -1;
        snprintf(ext, sizeof ext, "%u", p->external);
        snprintf(backend, sizeof backend, "%u", p->backend);
        snprintf(timeout, sizeof timeout, "--exit-idle-time=%s", p->timeout && *p->timeout ? p->timeout : "infinity");
        if (scalar(&vs, "ID", p->id, e) < 0 || scalar(&vs, "EXTERNAL", ext, e) < 0 ||
            scalar(&vs, "BACKEND", backend, e) < 0 || scalar(&vs, "LISTEN", p->listen, e) < 0 ||
            scalar(&vs, "EXIT_IDLE", timeout, e) < 0 || scalar(&vs, "PROXYD", p->proxyd, e) < 0 ||
            optional(&vs, "PRIME", p->timeout && *p->timeout ? p->prime : NULL, e) < 0 ||
            scalar(&vs, "GEAR_BIN", p->gear_bin, e) < 0 || optional(&vs, "SYSROOT", p->sysroot, e) < 0 ||
            optional(&vs, "SYSTEMD", p->manager, e) < 0)
                return -1;
        return render(tmpl, &vs, out, len, e);
}

static int fill_values(const struct unit_spec *s, const struct gear_config *conf, struct values *vs,
                       struct gear_err *e)
{
        _cleanup_(strv_done) struct gear_strv podman_args = {0}, run_args = {0}, publish = {0}, mapping = {0};
        char slice[80], timeout[16], unit_timeout[16], cid_dir[PATH_MAX], cid_file[PATH_MAX + 64];

        if (!s->id || !id_valid(s->id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid container id '%s'", s->id ? s->id : "");
        if (!s->image || !*s->image || *s->image == '-' || strchr(s->image, ' '))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid image '%s'", s->image ? s->image : "");
        if (!s->request_id || !*s->request_id)
                return gear_err_set(e, GEAR_EXIT_USAGE, "missing request id");
        if (!value_ok(s->image, "image", e) || !value_ok(s->request_id, "request id", e) ||
            (s->user && !value_ok(s->user, "user", e)) ||
            (s->mcs_level && !value_ok(s->mcs_level, "MCS level", e)) ||
            (s->env_file && !value_ok(s->env_file, "environment file", e)))
                return -1;
        if (strchr(s->request_id, '\\') || strchr(s->image, '\\'))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid image or request id: backslash");
        if (s->env_file && *s->env_file != '/')
                return gear_err_set(e, GEAR_EXIT_USAGE, "environment file '%s' is not absolute", s->env_file);
        if (s->n_ports > UNIT_MAX_PORTS)
                return gear_err_set(e, GEAR_EXIT_USAGE, "more than %d ports", UNIT_MAX_PORTS);
        if (s->n_volumes > UNIT_MAX_VOLUMES)
                return gear_err_set(e, GEAR_EXIT_USAGE, "more than %d volumes", UNIT_MAX_VOLUMES);
        for (size_t i = 0; i < s->n_volumes; i++)
                if (!value_ok(s->volumes[i], "volume", e))
                        return -1;
        if (slice_name(s->slice ? s->slice : UNIT_DEFAULT_SLICE, slice, sizeof slice, e) < 0)
                return -1;

        for (size_t i = 0; i < s->n_ports; i++) {
                const struct unit_port *p = &s->ports[i];
                const char *a = conf->publish_address;
                char buf[UNIT_PUBLISH_MAX];
                int r;

                if (p->internal < 1 || p->internal > 65535 || p->external < 1 || p->external > 65535)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid port mapping %u:%u", p->internal,
                                            p->external);
                unit_publish_value(buf, sizeof buf, a, p->external, p->internal);
                r = strv_push(&publish, buf);
                snprintf(buf, sizeof buf, "%u:%u", p->internal, p->external);
                if (r < 0 || strv_push(&mapping, buf) < 0)
                        return gear_err_sys(e, ENOMEM, "cannot render the unit");
        }
        if (config_podman_args(conf, &podman_args, e) < 0 || config_run_args(conf, &run_args, e) < 0)
                return -1;
        snprintf(timeout, sizeof timeout, "%u", conf->stop_timeout);
        snprintf(unit_timeout, sizeof unit_timeout, "%u", conf->stop_timeout + 60);

        if (scalar(vs, "ID", s->id, e) < 0 || scalar(vs, "IMAGE", s->image, e) < 0 ||
            scalar(vs, "REQUEST_ID", s->request_id, e) < 0 || scalar(vs, "SLICE", slice, e) < 0 ||
            scalar(vs, "PODMAN", conf->podman, e) < 0 || scalar(vs, "STOP_TIMEOUT", timeout, e) < 0 ||
            scalar(vs, "STOP_TIMEOUT_UNIT", unit_timeout, e) < 0 ||
            value_add(vs, "PODMAN_ARG", true, (const char *const *)podman_args.v, podman_args.n, e) < 0 ||
            value_add(vs, "RUN_ARG", true, (const char *const *)run_args.v, run_args.n, e) < 0 ||
            value_add(vs, "PUBLISH", true, (const char *const *)publish.v, publish.n, e) < 0 ||
            value_add(vs, "PORT_MAPPING", true, (const char *const *)mapping.v, mapping.n, e) < 0 ||
            value_add(vs, "VOLUME", true, s->volumes, s->n_volumes, e) < 0 ||
            optional(vs, "ENV_FILE", s->env_file, e) < 0 || optional(vs, "USER", s->user, e) < 0 ||
            optional(vs, "MCS_LEVEL", s->mcs_level, e) < 0)
                return -1;
        if (!path_ok(conf->gear_bin, "gear-bin", e) || (s->sysroot && *s->sysroot && !path_ok(s->sysroot, "GEAR_SYSROOT", e)) ||
            scalar(vs, "GEAR_BIN", conf->gear_bin, e) < 0 || optional(vs, "SYSROOT", s->sysroot, e) < 0)
                return -1;
        if ((size_t)snprintf(cid_dir, sizeof cid_dir, "%s" UNIT_CID_DIR, s->sysroot ? s->sysroot : "") >=
            sizeof cid_dir)
                return gear_err_set(e, GEAR_EXIT_USAGE, "GEAR_SYSROOT is too long");
        snprintf(cid_file, sizeof cid_file, "%s/%s", cid_dir, s->id);
        if (scalar(vs, "CID_DIR", cid_dir, e) < 0 || scalar(vs, "CID_FILE", cid_file, e) < 0)
                return -1;
        if (s->gear)
                return fill_gear(s, vs, e);
        return 0;
}

int unit_render_template(const char *tmpl, const struct unit_spec *s, char **out, size_t *len,
                         struct gear_err *e)
{
        _cleanup_(values_done) struct values vs = {0};
        struct gear_config defaults;
        int r;

        config_init(&defaults);
        r = fill_values(s, s->conf ? s->conf : &defaults, &vs, e);
        if (r == 0)
                r = render(tmpl, &vs, out, len, e);
        config_done(&defaults);
        return r;
}

int unit_render(const struct unit_spec *s, char **out, size_t *len, struct gear_err *e)
{
        return unit_render_template(s->gear ? unit_gear_template : unit_template, s, out, len, e);
}

static int parse_port(const char *v, struct unit_port *p)
{
        unsigned a, b;
        int n = 0;

        if (sscanf(v, "%5u:%5u%n", &a, &b, &n) != 2 || v[n] || !isdigit((unsigned char)*v) ||
            a < 1 || a > 65535 || b < 1 || b > 65535)
                return -1;
        p->internal = a;
        p->external = b;
        return 0;
}

/* the INTERNAL:PORT value of a key line, one more of ports[] */
static int add_port(struct unit_port *ports, size_t *n, const char *key, const char *v, struct gear_err *e)
{
        if (*n >= UNIT_MAX_PORTS || parse_port(v, &ports[*n]) < 0)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s '%s'", key, v);
        (*n)++;
        return 0;
}

int unit_parse_meta(const char *text, struct unit_meta *m, struct gear_err *e)
{
        bool in_unit = false;

        memset(m, 0, sizeof *m);
        for (const char *line = text; *line;) {
                const char *nl = strchr(line, '\n');
                size_t n = nl ? (size_t)(nl - line) : strlen(line);
                char buf[UNIT_VALUE_MAX + 64];
                char *v;

                if (n && *line == '[') {
                        in_unit = n == 6 && !strncmp(line, "[Unit]", 6);
                } else if (in_unit && n < sizeof buf && n > 2 && !strncmp(line, "X-", 2)) {
                        memcpy(buf, line, n);
                        buf[n] = 0;
                        v = strchr(buf, '=');
                        if (v) {
                                *v++ = 0;
                                if (!strcmp(buf, "X-ContainerId")) {
                                        if (!id_valid(v))
                                                return gear_err_set(e, GEAR_EXIT_USAGE,
                                                                    "invalid X-ContainerId '%s'", v);
                                        snprintf(m->id, sizeof m->id, "%s", v);
                                } else if (!strcmp(buf, "X-ContainerImage")) {
                                        snprintf(m->image, sizeof m->image, "%s", v);
                                } else if (!strcmp(buf, "X-ContainerRequestId")) {
                                        snprintf(m->request_id, sizeof m->request_id, "%s", v);
                                } else if (!strcmp(buf, "X-ContainerUserId")) {
                                        snprintf(m->user, sizeof m->user, "%s", v);
                                } else if (!strcmp(buf, "X-PortMapping")) {
                                        if (add_port(m->ports, &m->n_ports, buf, v, e) < 0)
                                                return -1;
                                } else if (!strcmp(buf, "X-PortBackend")) {
                                        if (add_port(m->backends, &m->n_backends, buf, v, e) < 0)
                                                return -1;
                                } else if (!strcmp(buf, "X-IdleTimeout")) {
                                        char norm[UNIT_TIMESPAN_MAX];
                                        struct gear_err ignore = {0};

                                        if (unit_timespan_parse(v, norm, &ignore) < 0 || strcmp(norm, v))
                                                return gear_err_set(e, GEAR_EXIT_USAGE,
                                                                    "invalid X-IdleTimeout '%s'", v);
                                        snprintf(m->idle_timeout, sizeof m->idle_timeout, "%s", norm);
                                }
                        }
                }
                line += n + (nl ? 1 : 0);
        }
        if (!*m->id)
                return gear_err_set(e, GEAR_EXIT_USAGE, "no X-ContainerId in the unit");
        return 0;
}

/*
 * The unit files of share/units/ are built into the binary (unit-files.S):
 * the templates (unit.h) and the targets and slices that gear installs.
 */
extern const char unit_container_target[], unit_container_active_target[];
extern const char unit_container_slice[], unit_container_small_slice[];
const struct unit_file unit_static_files[] = {
        { "container.target", unit_container_target },
        { "container-active.target", unit_container_active_target },
        { "container.slice", unit_container_slice },
        { "container-small.slice", unit_container_small_slice },
};
const size_t unit_static_count = ELEMENTSOF(unit_static_files);
