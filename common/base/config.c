#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define CONF_MAX_SIZE (64 * 1024)

int strv_push(struct gear_strv *s, const char *str)
{
        char **v;
        char *copy;

        copy = strdup(str);
        if (!copy)
                return -ENOMEM;
        v = realloc(s->v, (s->n + 2) * sizeof *v);
        if (!v) {
                free(copy);
                return -ENOMEM;
        }
        v[s->n++] = copy;
        v[s->n] = NULL;
        s->v = v;
        return 0;
}

void strv_done(struct gear_strv *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        s->v = NULL;
        s->n = 0;
}

void config_init(struct gear_config *c)
{
        memset(c, 0, sizeof *c);
        snprintf(c->podman, sizeof c->podman, "%s", GEAR_CONF_PODMAN);
        snprintf(c->gear_bin, sizeof c->gear_bin, "%s", GEAR_BINDIR);
        snprintf(c->socket_proxyd, sizeof c->socket_proxyd, "%s", GEAR_CONF_SOCKET_PROXYD);
        c->stop_timeout = GEAR_CONF_STOP_TIMEOUT;
        c->max_index_size = GEAR_CONF_MAX_INDEX_SIZE;
        c->build_fetch_timeout = GEAR_CONF_BUILD_FETCH_TIMEOUT;
        c->max_source_size = GEAR_CONF_MAX_SOURCE_SIZE;
        c->max_config_size = GEAR_CONF_MAX_CONFIG_SIZE;
        c->pack_size = GEAR_CONF_PACK_SIZE;
}

void config_done(struct gear_config *c)
{
        strv_done(&c->ulimits);
        strv_done(&c->podman_args);
        strv_done(&c->run_args);
        strv_done(&c->build_run_args);
}

static bool has_space(const char *s)
{
        for (; *s; s++)
                if (isspace((unsigned char)*s))
                        return true;
        return false;
}

static bool limit_valid(const char *s, size_t n)
{
        if ((n == 9 && !strncmp(s, "unlimited", 9)) || (n == 2 && !strncmp(s, "-1", 2)))
                return true;
        return n > 0 && n <= 20 && strspn(s, "0123456789") >= n;
}

/* NAME=SOFT[:HARD], NAME lower case, each limit a number, "unlimited" or -1 */
static bool ulimit_valid(const char *s)
{
        const char *eq = strchr(s, '='), *v, *colon;

        if (!eq || eq == s)
                return false;
        for (const char *p = s; p < eq; p++)
                if (!islower((unsigned char)*p))
                        return false;
        v = eq + 1;
        colon = strchr(v, ':');
        if (!colon)
                return limit_valid(v, strlen(v));
        return limit_valid(v, colon - v) && limit_valid(colon + 1, strlen(colon + 1));
}

/* SIZE: bytes, or with a K, M or G suffix (powers of 1024), 1 to max */
static int set_size(uint64_t *dst, uint64_t max, const char *value, const char *where, const char *key,
                    struct gear_err *e)
{
        static const char unit[] = "KMG";
        unsigned long long n;
        unsigned shift = 0;
        const char *u;
        char *end;

        errno = 0;
        n = strtoull(value, &end, 10);
        if (*end && !end[1] && (u = strchr(unit, *end)))
                shift = 10 * (u - unit + 1);
        if (!isdigit((unsigned char)*value) || errno || (*end && !shift) || n == 0 || n > max >> shift) {
                unsigned k = 3;
                while (k && max % (1ull << 10 * k))
                        k--;
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s: %s must be 1 to %llu%.*s bytes, not '%s'", where,
                                    key, (unsigned long long)(max >> 10 * k), k ? 1 : 0, k ? unit + k - 1 : "",
                                    value);
        }
        *dst = (uint64_t)n << shift;
        return 0;
}

static int set_string(char *dst, size_t size, const char *value, const char *where, const char *key,
                      struct gear_err *e)
{
        if (strlen(value) >= size)
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s: value of '%s' is too long", where, key);
        strcpy(dst, value);
        return 0;
}

static int list_add(struct gear_strv *s, const char *value, struct gear_err *e)
{
        if (!*value) { /* an empty value clears the list */
                strv_done(s);
                return 0;
        }
        if (strv_push(s, value) < 0)
                return gear_err_sys(e, ENOMEM, "cannot store '%s'", value);
        return 0;
}

static int set_key(struct gear_config *c, const char *key, const char *value, const char *where,
                   struct gear_err *e)
{
        if (!strcmp(key, "podman")) {
                if (*value != '/' || has_space(value))
                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                            "%s: podman must be an absolute path, not '%s'", where, value);
                return set_string(c->podman, sizeof c->podman, value, where, key, e);
        }
        if (!strcmp(key, "gear-bin")) {
                if (*value != '/' || has_space(value))
                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                            "%s: gear-bin must be an absolute path, not '%s'", where, value);
                return set_string(c->gear_bin, sizeof c->gear_bin, value, where, key, e);
        }
        if (!strcmp(key, "socket-proxyd")) {
                if (*value != '/' || has_space(value))
                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                            "%s: socket-proxyd must be an absolute path, not '%s'", where, value);
                return set_string(c->socket_proxyd, sizeof c->socket_proxyd, value, where, key, e);
        }
        if (!strcmp(key, "runtime")) {
                if (has_space(value))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "%s: invalid runtime '%s'", where, value);
                return set_string(c->runtime, sizeof c->runtime, value, where, key, e);
        }
        if (!strcmp(key, "publish-address")) {
                if (has_space(value) || strchr(value, '/'))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "%s: invalid publish-address '%s'",
                                            where, value);
                return set_string(c->publish_address, sizeof c->publish_address, value, where, key, e);
        }
        if (!strcmp(key, "store")) {
                if (has_space(value))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "%s: invalid store '%s'", where, value);
                return set_string(c->store, sizeof c->store, value, where, key, e);
        }
        if (!strcmp(key, "stop-timeout")) {
                char *end;
                unsigned long n;

                errno = 0;
                n = strtoul(value, &end, 10);
                if (!isdigit((unsigned char)*value) || *end || errno || n > GEAR_CONF_MAX_STOP_TIMEOUT)
                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                            "%s: stop-timeout must be 0 to %d seconds, not '%s'", where,
                                            GEAR_CONF_MAX_STOP_TIMEOUT, value);
                c->stop_timeout = n;
                return 0;
        }
        if (!strcmp(key, "build-fetch-timeout")) {
                char *end;
                unsigned long n;

                errno = 0;
                n = strtoul(value, &end, 10);
                if (!isdigit((unsigned char)*value) || *end || errno || n == 0 || n > GEAR_CONF_MAX_BUILD_FETCH_TIMEOUT)
                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                            "%s: build-fetch-timeout must be 1 to %d seconds, not '%s'", where,
                                            GEAR_CONF_MAX_BUILD_FETCH_TIMEOUT, value);
                c->build_fetch_timeout = n;
                return 0;
        }
        if (!strcmp(key, "max-source-size"))
                return set_size(&c->max_source_size, GEAR_CONF_MAX_SOURCE_SIZE_LIMIT, value, where, key, e);
        if (!strcmp(key, "max-index-size"))
                return set_size(&c->max_index_size, GEAR_CONF_MAX_INDEX_SIZE_LIMIT, value, where, key, e);
        if (!strcmp(key, "max-config-size"))
                return set_size(&c->max_config_size, GEAR_CONF_MAX_CONFIG_SIZE_LIMIT, value, where, key, e);
        if (!strcmp(key, "pack-size"))
                return set_size(&c->pack_size, GEAR_CONF_PACK_SIZE_LIMIT, value, where, key, e);
        if (!strcmp(key, "solid-level")) {
                char *end;
                long n;

                errno = 0;
                n = strtol(value, &end, 10);
                if (!isdigit((unsigned char)*value) || *end || errno || n > 22)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "%s: solid-level must be 0 to 22, not '%s'", where,
                                            value);
                c->solid_level = (int)n;
                return 0;
        }
        if (!strcmp(key, "ulimit")) {
                if (*value && !ulimit_valid(value))
                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                            "%s: ulimit must be NAME=SOFT[:HARD], not '%s'", where, value);
                return list_add(&c->ulimits, value, e);
        }
        if (!strcmp(key, "podman-arg"))
                return list_add(&c->podman_args, value, e);
        if (!strcmp(key, "run-arg"))
                return list_add(&c->run_args, value, e);
        if (!strcmp(key, "build-run-arg"))
                return list_add(&c->build_run_args, value, e);
        return gear_err_set(e, GEAR_EXIT_USAGE, "%s: unknown key '%s'", where, key);
}

static char *trim(char *s, char *end)
{
        while (s < end && (*s == ' ' || *s == '\t'))
                s++;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                end--;
        *end = 0;
        return s;
}

int config_parse(struct gear_config *c, const char *name, const char *text, struct gear_err *e)
{
        _cleanup_free_ char *buf = strdup(text);
        char *line, *next;
        unsigned lineno = 0;

        if (!buf)
                return gear_err_sys(e, ENOMEM, "cannot read '%s'", name);
        for (line = buf; line; line = next) {
                char where[PATH_MAX + 32];
                char *eq, *key, *value, *end;

                next = strchr(line, '\n');
                end = next ? next : line + strlen(line);
                if (next)
                        *next++ = 0;
                lineno++;
                line = trim(line, end);
                if (!*line || *line == '#')
                        continue;
                snprintf(where, sizeof where, "%s:%u", name, lineno);
                for (char *p = line; *p; p++)
                        if (iscntrl((unsigned char)*p) && *p != '\t')
                                return gear_err_set(e, GEAR_EXIT_USAGE,
                                                    "%s: control character in line", where);
                eq = strchr(line, '=');
                if (!eq)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "%s: expected KEY=VALUE", where);
                key = trim(line, eq);
                value = trim(eq + 1, eq + 1 + strlen(eq + 1));
                if (set_key(c, key, value, where, e) < 0)
                        return -1;
        }
        return 0;
}

int config_load_file(struct gear_config *c, const char *path, struct gear_err *e)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        config_init(c);
        snprintf(c->path, sizeof c->path, "%s", path);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return gear_err_sys(e, errno, "cannot open '%s'", path);
        }
        buf = malloc(CONF_MAX_SIZE + 1);
        if (!buf)
                return gear_err_sys(e, ENOMEM, "cannot read '%s'", path);
        for (;;) {
                ssize_t n = read(fd, buf + len, CONF_MAX_SIZE + 1 - len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return gear_err_sys(e, errno, "cannot read '%s'", path);
                }
                if (n == 0)
                        break;
                len += n;
                if (len > CONF_MAX_SIZE)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is larger than %d bytes", path,
                                            CONF_MAX_SIZE);
        }
        buf[len] = 0;
        if (strlen(buf) != len)
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' contains a NUL byte", path);
        if (config_parse(c, path, buf, e) < 0) {
                config_done(c);
                return -1;
        }
        return 0;
}

int config_load(struct gear_config *c, const struct gear_tree *t, struct gear_err *e)
{
        char path[PATH_MAX];

        if ((size_t)snprintf(path, sizeof path, "%s%s", t->sysroot, GEAR_CONF_FILE) >= sizeof path)
                return gear_err_set(e, GEAR_EXIT_USAGE, "GEAR_SYSROOT is too long");
        return config_load_file(c, path, e);
}

static int push_or_fail(struct gear_strv *out, const char *s, struct gear_err *e)
{
        if (strv_push(out, s) < 0) {
                strv_done(out);
                return gear_err_sys(e, ENOMEM, "cannot build the podman arguments");
        }
        return 0;
}

int config_podman_argv(const struct gear_config *c, struct gear_strv *out, struct gear_err *e)
{
        if (push_or_fail(out, c->podman, e) < 0)
                return -1;
        return config_podman_args(c, out, e);
}

int config_podman_args(const struct gear_config *c, struct gear_strv *out, struct gear_err *e)
{
        char buf[PATH_MAX + 16];

        if (*c->runtime) {
                snprintf(buf, sizeof buf, "--runtime=%s", c->runtime);
                if (push_or_fail(out, buf, e) < 0)
                        return -1;
        }
        for (size_t i = 0; i < c->podman_args.n; i++)
                if (push_or_fail(out, c->podman_args.v[i], e) < 0)
                        return -1;
        return 0;
}

/* --ulimit=U..., then the arguments of list */
static int ulimits_and(const struct gear_config *c, const struct gear_strv *list, struct gear_strv *out,
                       struct gear_err *e)
{
        char buf[256];

        for (size_t i = 0; i < c->ulimits.n; i++) {
                snprintf(buf, sizeof buf, "--ulimit=%s", c->ulimits.v[i]);
                if (push_or_fail(out, buf, e) < 0)
                        return -1;
        }
        for (size_t i = 0; i < list->n; i++)
                if (push_or_fail(out, list->v[i], e) < 0)
                        return -1;
        return 0;
}

int config_run_args(const struct gear_config *c, struct gear_strv *out, struct gear_err *e)
{
        return ulimits_and(c, &c->run_args, out, e);
}

int config_build_run_args(const struct gear_config *c, struct gear_strv *out, struct gear_err *e)
{
        return ulimits_and(c, &c->build_run_args, out, e);
}
