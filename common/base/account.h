/*
 * Host accounts gear makes for what it runs (ctr-ID for a container, git-ID
 * for a repository): system users made with useradd(8), each with a group of
 * its own, home "/", shell /bin/sh (sshd runs forced commands through it) and
 * the password "*": no password opens it, yet sshd admits its keys, which it
 * refuses for an account locked with "!" when it does not use PAM. The
 * comment (GECOS) is gear's mark, "PREFIX ID": only an account that carries
 * it is ever changed or removed.
 */
#ifndef GEAR_ACCOUNT_H
#define GEAR_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "id.h"

/* "ctr-" or "git-" and an identifier */
#define ACCOUNT_NAME_MAX 32
#define ACCOUNT_GECOS_MAX 64

struct account {
        uid_t uid;
        gid_t gid;
        bool ours; /* it carries gear's mark */
};

/* name and mark of the account PREFIX-ID for a kind of thing; id must be valid */
struct account_kind {
        const char *prefix;       /* "git-" */
        const char *mark;         /* "gear repository " */
};
void account_name(const struct account_kind *k, const char *id, char buf[static ACCOUNT_NAME_MAX]);

/* 1 with *a when the account of id exists, 0 when not */
int account_lookup(const struct account_kind *k, const char *id, struct account *a, struct gear_err *e);
/*
 * The account of id, made when missing; extra: more useradd arguments
 * (NULL-terminated, or NULL). One of ours still locked with "!" by an older
 * gear gets "*" (usermod(8)).
 */
int account_ensure(const struct account_kind *k, const char *id, char *const *extra, struct account *a,
                   struct gear_err *e);
/*
 * The account of this kind that uid is: 1 with its id and *a when uid's user
 * is PREFIX-ID and carries gear's mark, 0 when not. name gets uid's user
 * name, for messages ("" when uid has none).
 */
int account_of_uid(const struct account_kind *k, uid_t uid, gear_id id, struct account *a,
                   char name[static ACCOUNT_NAME_MAX], struct gear_err *e);
/* removes the account of id with userdel(8) when it is ours: 1, 0 when absent or not ours */
int account_remove(const struct account_kind *k, const char *id, struct gear_err *e);

/* the system group name, made with groupadd(8) when missing (gear-daemon's group) */
int account_group_ensure(const char *name, struct gear_err *e);

#endif
