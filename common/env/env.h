/* Folder env/: environment files; may use base/ and systemd/. (common/README) */
/*
 * Environment files of the container tree: env/contents/<ab>/<ID> holds one
 * NAME=VALUE per line, stored literally, which is what podman --env-file
 * reads. Input (--env-file files and NAME=VALUE arguments) follows docker's
 * --env-file conventions; see gear-set-env(1).
 */
#ifndef GEAR_ENV_H
#define GEAR_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/err.h"
#include "../base/tree.h"

#define ENV_NAME_MAX 255            /* bytes of a name */
#define ENV_LINE_MAX 65535          /* bytes of NAME=VALUE: podman --env-file reads no longer line */
#define ENV_FILE_MAX (1024 * 1024)  /* bytes of an input file and of a stored file */
#define ENV_VARS_MAX 4096           /* variables of one environment */

/* of a stored file, under the root-only env/ */
#define ENV_FILE_MODE 0600

/* "env/contents/ab/" + an identifier */
#define ENV_PATH_MAX 64

struct env_line {
        const char *name;  /* points into the parsed line */
        size_t name_len;
        const char *value; /* NULL for a bare NAME */
        size_t value_len;
};

/* a command-line argument: blank and '#' arguments are invalid names, not skipped */
enum { ENV_LINE_ARG = 1 };

/*
 * One line of input, without its '\n': 1 and *out filled for a variable,
 * 0 for a blank line or a comment, -1 (code 100) when invalid. Allocates
 * nothing: name and value point into s.
 */
int env_line_parse(const char *s, size_t len, int flags, struct env_line *out, struct gear_err *e);

bool env_name_valid(const char *s, size_t len);

struct env_var {
        char *text; /* "NAME=VALUE" */
        size_t name_len;
        size_t len;
};

/* variables in the order they were first set */
struct env {
        struct env_var *vars;
        size_t n, cap;
};

void env_free(struct env *env);
/* replaced in place when NAME is set, appended otherwise; -1 (code 100) past ENV_VARS_MAX */
int env_set(struct env *env, const char *name, size_t name_len, const char *value, size_t value_len,
            struct gear_err *e);
/* the bytes env_format returns */
size_t env_size(const struct env *env);
/* "NAME=VALUE\n" per variable, NUL terminated; NULL when out of memory */
char *env_format(const struct env *env, size_t *len);

/* getenv: where a bare NAME takes its value from; NULL to skip bare names */
typedef char *(*env_lookup_fn)(const char *name);

/* input text in docker's --env-file format into env; errors read "WHERE:LINE: ..." */
int env_parse_text(struct env *env, const char *text, size_t len, const char *where,
                   env_lookup_fn lookup, struct gear_err *e);
/* the Nth NAME[=VALUE] argument (from 1); errors read "argument N: ..." */
int env_parse_arg(struct env *env, const char *arg, unsigned n, env_lookup_fn lookup,
                  struct gear_err *e);
/* an input file, "-" for stdin */
int env_parse_file(struct env *env, const char *path, env_lookup_fn lookup, struct gear_err *e);
/* the stored form: literal NAME=VALUE lines; errors read "WHERE:LINE: ..." */
int env_parse_stored(struct env *env, const char *text, size_t len, const char *where,
                     struct gear_err *e);

/* env/contents/<ab>/<id>; id must be valid */
void env_path(const char *id, char buf[static ENV_PATH_MAX]);

/* the stored file of id as it is on disk; -ENOENT (code 1) when there is none */
int env_read(struct gear_tree *t, const char *id, char **text, size_t *len, struct gear_err *e);

/*
 * Applies changes to id's stored file under the lock of its directory:
 * without reset variables already set keep their place and new ones are
 * appended; with reset the file holds exactly changes.
 */
int env_update(struct gear_tree *t, const char *id, const struct env *changes, bool reset,
               struct gear_err *e);

/*
 * The lock of id's stored file (its directory, env/contents/<ab>), for a
 * caller that reads, writes and may put back the file as one step; returns
 * the fd that holds it.
 */
int env_lock(struct gear_tree *t, const char *id, struct gear_err *e);
/* what env_update would write (the caller holds env_lock(id)), into *text; the caller frees it */
int env_compose(struct gear_tree *t, const char *id, const struct env *changes, bool reset, char **text,
                size_t *len, struct gear_err *e);
/* env_update for a caller that holds env_lock(id) */
int env_update_locked(struct gear_tree *t, const char *id, const struct env *changes, bool reset,
                      struct gear_err *e);

/*
 * Puts back a stored file (rel as env_path gives it) as it was: text, or no
 * file at all when text is NULL. The caller holds env_lock, since it read
 * what it puts back.
 */
int env_restore(struct gear_tree *t, const char *rel, const char *text, size_t len, struct gear_err *e);

#endif
