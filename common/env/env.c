#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "env.h"
#include "../base/fsutil.h"

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

/* s quoted for a message: at most 40 bytes, control bytes as \xHH */
static const char *excerpt(const char *s, size_t len, char buf[static 200])
{
        size_t n = 0;

        for (size_t i = 0; i < len && i < 40; i++) {
                unsigned char c = s[i];
                if (c < 0x20 || c >= 0x7f)
                        n += sprintf(buf + n, "\\x%02x", c);
                else
                        buf[n++] = c;
        }
        if (len > 40)
                n += sprintf(buf + n, "...");
        buf[n] = 0;
        return buf;
}

bool env_name_valid(const char *s, size_t len)
{
        if (!len || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
                        return false;
        }
        return true;
}

static int check_name(const char *s, size_t len, struct gear_err *e)
{
        char buf[200];

        if (!env_name_valid(s, len))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid variable name '%s'", excerpt(s, len, buf));
        if (len > ENV_NAME_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "variable name '%s' is longer than %d bytes",
                                    excerpt(s, len, buf), ENV_NAME_MAX);
        return 0;
}

/* what says whose value it is: "value of" or "environment variable" */
static int check_value(const char *what, const char *name, size_t name_len, const char *v, size_t len,
                       struct gear_err *e)
{
        const char *bad = NULL;

        if (len > ENV_LINE_MAX - 1 - name_len)
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s '%.*s' is longer than %zu bytes (NAME=VALUE at most %d)",
                                    what, (int)name_len, name, ENV_LINE_MAX - 1 - name_len, ENV_LINE_MAX);
        if (memchr(v, 0, len))
                bad = "a NUL byte";
        else if (memchr(v, '\n', len))
                bad = "a newline";
        else if (memchr(v, '\r', len))
                bad = "a carriage return";
        if (bad)
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s '%.*s' contains %s", what, (int)name_len, name, bad);
        return 0;
}

int env_line_parse(const char *s, size_t len, int flags, struct env_line *out, struct gear_err *e)
{
        const char *end, *eq, *name_end, *v;

        if (len && s[len - 1] == '\r')
                len--;
        end = s + len;
        while (s < end && is_blank(*s))
                s++;
        while (end > s && is_blank(end[-1]))
                end--;
        if (!(flags & ENV_LINE_ARG) && (s == end || *s == '#'))
                return 0;

        eq = memchr(s, '=', end - s);
        name_end = eq ? eq : end;
        while (name_end > s && is_blank(name_end[-1]))
                name_end--;
        if (check_name(s, name_end - s, e) < 0)
                return -1;
        out->name = s;
        out->name_len = name_end - s;
        out->value = NULL;
        out->value_len = 0;
        if (!eq)
                return 1;

        v = eq + 1;
        while (v < end && is_blank(*v))
                v++;
        if (end - v >= 2 && (*v == '"' || *v == '\'') && end[-1] == *v) {
                v++;
                end--;
        }
        if (check_value("value of", out->name, out->name_len, v, end - v, e) < 0)
                return -1;
        out->value = v;
        out->value_len = end - v;
        return 1;
}

void env_free(struct env *env)
{
        for (size_t i = 0; i < env->n; i++)
                free(env->vars[i].text);
        free(env->vars);
        *env = (struct env){0};
}

int env_set(struct env *env, const char *name, size_t name_len, const char *value, size_t value_len,
            struct gear_err *e)
{
        struct env_var *var = NULL;
        char *text;

        for (size_t i = 0; i < env->n; i++)
                if (env->vars[i].name_len == name_len && !memcmp(env->vars[i].text, name, name_len)) {
                        var = &env->vars[i];
                        break;
                }
        if (!var) {
                if (env->n >= ENV_VARS_MAX)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "more than %d variables", ENV_VARS_MAX);
                if (env->n == env->cap) {
                        size_t cap = env->cap ? env->cap * 2 : 16;
                        struct env_var *p = realloc(env->vars, cap * sizeof *p);
                        if (!p)
                                return gear_err_sys(e, ENOMEM, "cannot set '%.*s'", (int)name_len, name);
                        env->vars = p;
                        env->cap = cap;
                }
                var = &env->vars[env->n++];
                *var = (struct env_var){0};
        }
        text = malloc(name_len + 1 + value_len + 1);
        if (!text) {
                if (!var->text)
                        env->n--;
                return gear_err_sys(e, ENOMEM, "cannot set '%.*s'", (int)name_len, name);
        }
        memcpy(text, name, name_len);
        text[name_len] = '=';
        memcpy(text + name_len + 1, value, value_len);
        text[name_len + 1 + value_len] = 0;
        free(var->text);
        var->text = text;
        var->name_len = name_len;
        var->len = name_len + 1 + value_len;
        return 0;
}

size_t env_size(const struct env *env)
{
        size_t n = 0;

        for (size_t i = 0; i < env->n; i++)
                n += env->vars[i].len + 1;
        return n;
}

char *env_format(const struct env *env, size_t *len)
{
        size_t n = env_size(env), off = 0;
        char *buf = malloc(n + 1);

        if (!buf)
                return NULL;
        for (size_t i = 0; i < env->n; i++) {
                memcpy(buf + off, env->vars[i].text, env->vars[i].len);
                off += env->vars[i].len;
                buf[off++] = '\n';
        }
        buf[off] = 0;
        if (len)
                *len = off;
        return buf;
}

/* one line or argument into env; a bare NAME takes its value from lookup */
static int env_apply(struct env *env, const char *s, size_t len, int flags, env_lookup_fn lookup,
                     struct gear_err *e)
{
        struct env_line l;
        char name[ENV_NAME_MAX + 1];
        const char *v;
        int r;

        r = env_line_parse(s, len, flags, &l, e);
        if (r <= 0)
                return r;
        if (l.value)
                return env_set(env, l.name, l.name_len, l.value, l.value_len, e);
        memcpy(name, l.name, l.name_len);
        name[l.name_len] = 0;
        v = lookup ? lookup(name) : NULL;
        if (!v)
                return 0;
        if (check_value("environment variable", l.name, l.name_len, v, strlen(v), e) < 0)
                return -1;
        return env_set(env, l.name, l.name_len, v, strlen(v), e);
}

int env_parse_text(struct env *env, const char *text, size_t len, const char *where,
                   env_lookup_fn lookup, struct gear_err *e)
{
        const char *p = text, *end = text + len;

        if (len > ENV_FILE_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s: larger than %d bytes", where, ENV_FILE_MAX);
        for (unsigned line = 1; p < end; line++) {
                const char *nl = memchr(p, '\n', end - p);
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

                if (env_apply(env, p, n, 0, lookup, e) < 0)
                        return gear_err_wrap(e, "%s:%u", where, line);
                p = nl ? nl + 1 : end;
        }
        return 0;
}

int env_parse_arg(struct env *env, const char *arg, unsigned n, env_lookup_fn lookup,
                  struct gear_err *e)
{
        if (env_apply(env, arg, strlen(arg), ENV_LINE_ARG, lookup, e) < 0)
                return gear_err_wrap(e, "argument %u", n);
        return 0;
}

int env_parse_file(struct env *env, const char *path, env_lookup_fn lookup, struct gear_err *e)
{
        bool is_stdin = !strcmp(path, "-");
        const char *where = is_stdin ? "stdin" : path;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        if (!is_stdin) {
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        int err = errno;
                        gear_err_sys(e, err, "cannot open '%s'", path);
                        if (err == ENOENT)
                                e->code = GEAR_EXIT_USAGE;
                        return -1;
                }
        }
        buf = malloc(ENV_FILE_MAX + 1);
        if (!buf)
                return gear_err_sys(e, ENOMEM, "cannot read '%s'", where);
        while (n <= ENV_FILE_MAX) {
                ssize_t k = read(is_stdin ? STDIN_FILENO : fd, buf + n, ENV_FILE_MAX + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return gear_err_sys(e, errno, "cannot read '%s'", where);
                }
                if (k == 0)
                        break;
                n += k;
        }
        return env_parse_text(env, buf, n, where, lookup, e);
}

static int stored_line(struct env *env, const char *s, size_t len, struct gear_err *e)
{
        const char *eq = memchr(s, '=', len);
        size_t name_len = eq ? (size_t)(eq - s) : len;

        if (check_name(s, name_len, e) < 0)
                return -1;
        if (!eq)
                return gear_err_set(e, GEAR_EXIT_USAGE, "no '=' after '%.*s'", (int)name_len, s);
        if (check_value("value of", s, name_len, eq + 1, len - name_len - 1, e) < 0)
                return -1;
        return env_set(env, s, name_len, eq + 1, len - name_len - 1, e);
}

int env_parse_stored(struct env *env, const char *text, size_t len, const char *where,
                     struct gear_err *e)
{
        const char *p = text, *end = text + len;

        for (unsigned line = 1; p < end; line++) {
                const char *nl = memchr(p, '\n', end - p);
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

                /* blank lines and comments, which an administrator may add, are skipped */
                if (n && *p != '#' && stored_line(env, p, n, e) < 0)
                        return gear_err_wrap(e, "%s:%u", where, line);
                p = nl ? nl + 1 : end;
        }
        return 0;
}

void env_path(const char *id, char buf[static ENV_PATH_MAX])
{
        snprintf(buf, ENV_PATH_MAX, "env/contents/%.2s/%s", id, id);
}

int env_read(struct gear_tree *t, const char *id, char **text, size_t *len, struct gear_err *e)
{
        char rel[ENV_PATH_MAX];
        int r;

        env_path(id, rel);
        r = root_open(&t->ctr, 0, e);
        if (r >= 0)
                r = read_file(&t->ctr, rel, ENV_FILE_MAX, text, len, e);
        if (r == -ENOENT)
                gear_err_set(e, GEAR_EXIT_NO, "no environment '%s'", id);
        return r < 0 ? r : 0;
}

/* the directory holding the file is the lock: it serialises read-modify-write */
static int env_dir_lock(struct gear_root *r, const char *rel, struct gear_err *e)
{
        char dir[ENV_PATH_MAX];

        /* values are secrets: root-only from env/ down */
        path_dirname(rel, dir, sizeof dir);
        if (mkdir_private_at(r->fd, "env", e) < 0 || mkdir_p_at(r->fd, dir, 0700, e) < 0)
                return gear_err_wrap(e, "in '%s'", r->path);
        return lock_dir(r, dir, LOCK_EX, e);
}

int env_lock(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char rel[ENV_PATH_MAX];

        env_path(id, rel);
        if (root_open(&t->ctr, ROOT_CREATE, e) < 0)
                return -1;
        return env_dir_lock(&t->ctr, rel, e);
}

int env_update(struct gear_tree *t, const char *id, const struct env *changes, bool reset,
               struct gear_err *e)
{
        _cleanup_close_ int lock = -1;

        /* refused before the tree is touched */
        if (env_size(changes) > ENV_FILE_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "the environment would be larger than %d bytes",
                                    ENV_FILE_MAX);
        lock = env_lock(t, id, e);
        if (lock < 0)
                return -1;
        return env_update_locked(t, id, changes, reset, e);
}

int env_compose(struct gear_tree *t, const char *id, const struct env *changes, bool reset, char **out,
                size_t *out_len, struct gear_err *e)
{
        _cleanup_(env_free) struct env env = {0};
        _cleanup_free_ char *old = NULL;
        char rel[ENV_PATH_MAX], where[PATH_MAX + ENV_PATH_MAX];
        size_t len;
        int r;

        env_path(id, rel);
        if (!reset) {
                r = read_file(&t->ctr, rel, ENV_FILE_MAX, &old, &len, e);
                if (r < 0 && r != -ENOENT)
                        return -1;
                gear_err_clear(e);
                snprintf(where, sizeof where, "%s/%s", t->ctr.path, rel);
                if (old && env_parse_stored(&env, old, len, where, e) < 0)
                        return -1;
        }
        for (size_t i = 0; i < changes->n; i++) {
                const struct env_var *v = &changes->vars[i];
                if (env_set(&env, v->text, v->name_len, v->text + v->name_len + 1,
                            v->len - v->name_len - 1, e) < 0)
                        return -1;
        }
        if (env_size(&env) > ENV_FILE_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "the environment would be larger than %d bytes",
                                    ENV_FILE_MAX);
        *out = env_format(&env, out_len);
        if (!*out)
                return gear_err_sys(e, ENOMEM, "cannot format '%s'", rel);
        return 0;
}

int env_update_locked(struct gear_tree *t, const char *id, const struct env *changes, bool reset,
                      struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        char rel[ENV_PATH_MAX];
        size_t len;

        if (env_compose(t, id, changes, reset, &text, &len, e) < 0)
                return -1;
        env_path(id, rel);
        return atomic_write(&t->ctr, rel, text, len, ENV_FILE_MODE, e);
}

int env_restore(struct gear_tree *t, const char *rel, const char *text, size_t len, struct gear_err *e)
{
        if (text)
                return atomic_write(&t->ctr, rel, text, len, ENV_FILE_MODE, e);
        if (unlinkat(t->ctr.fd, rel, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, rel);
        return 0;
}
