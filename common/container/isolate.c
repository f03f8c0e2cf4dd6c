#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "isolate.h"
#include "../base/account.h"
#include "../base/dl-selinux.h"

static const struct account_kind ctr_account = { "ctr-", "gear container " };

void isolate_user_name(const char *id, char buf[static ISOLATE_NAME_MAX])
{
        account_name(&ctr_account, id, buf);
}

int isolate_mcs_level(uid_t uid, char buf[static ISOLATE_LEVEL_MAX], struct gear_err *e)
{
        unsigned long n, a, b;

        if (uid < ISOLATE_UID_MIN || uid > ISOLATE_UID_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "uid %u is outside the container range %u-%u",
                                    (unsigned)uid, ISOLATE_UID_MIN, ISOLATE_UID_MAX);
        n = uid - ISOLATE_UID_MIN;
        /* the largest b with b(b-1)/2 <= n: at most 1023 steps */
        for (b = 1; (b + 1) * b / 2 <= n; b++)
                ;
        a = n - b * (b - 1) / 2;
        snprintf(buf, ISOLATE_LEVEL_MAX, "s0:c%lu,c%lu", a, b);
        return 0;
}

int isolate_level_uid(const char *level, uid_t *uid)
{
        unsigned long a, b;
        int end = 0;

        if (sscanf(level, "s0:c%lu,c%lu%n", &a, &b, &end) != 2 || level[end] || a >= b ||
            b >= ISOLATE_CATEGORIES)
                return -1;
        *uid = ISOLATE_UID_MIN + b * (b - 1) / 2 + a;
        return 0;
}

int isolate_level_check(const char *level, struct gear_err *e)
{
        char *con = NULL, *colon, ctx[512];
        int r;

        if (dl_selinux(e) < 0)
                return -1;
        if (sym_is_selinux_enabled() <= 0)
                return 0;
        /* the level in a context the policy knows: ours, with its level replaced */
        if (sym_getcon_raw(&con) < 0)
                return gear_err_sys(e, errno, "cannot read the SELinux context");
        colon = con;
        for (int i = 0; i < 3 && colon; i++)
                colon = strchr(colon + (i ? 1 : 0), ':');
        if (!colon) {
                r = gear_err_set(e, GEAR_EXIT_SYS, "cannot parse the SELinux context '%s'", con);
                sym_freecon(con);
                return r;
        }
        snprintf(ctx, sizeof ctx, "%.*s:%s", (int)(colon - con), con, level);
        sym_freecon(con);
        if (sym_security_check_context_raw(ctx) < 0)
                return gear_err_set(e, GEAR_EXIT_SYS, "the SELinux policy refuses the level '%s'", level);
        return 0;
}

static int user_fill(const char *id, const struct account *a, struct isolate_user *u, struct gear_err *e)
{
        isolate_user_name(id, u->name);
        u->uid = a->uid;
        u->gid = a->gid;
        if (isolate_mcs_level(u->uid, u->level, e) < 0) {
                e->code = GEAR_EXIT_NO;
                return gear_err_wrap(e, "user '%s'", u->name);
        }
        return isolate_level_check(u->level, e);
}

int isolate_user_lookup(const char *id, struct isolate_user *u, struct gear_err *e)
{
        struct account a;
        int r = account_lookup(&ctr_account, id, &a, e);

        if (r < 0)
                return -1;
        if (!r) {
                char name[ISOLATE_NAME_MAX];

                isolate_user_name(id, name);
                gear_err_set(e, GEAR_EXIT_NO, "no user '%s'", name);
                return -ENOENT;
        }
        return user_fill(id, &a, u, e);
}

int isolate_user_of_uid(uid_t uid, gear_id id, struct isolate_user *u, struct gear_err *e)
{
        char name[ACCOUNT_NAME_MAX];
        struct account a;
        int r = account_of_uid(&ctr_account, uid, id, &a, name, e);

        if (r < 0)
                return -1;
        /* a user gear did not make, or one outside the range, is no container's */
        if (!r || uid < ISOLATE_UID_MIN || uid > ISOLATE_UID_MAX) {
                gear_err_set(e, GEAR_EXIT_NO, "uid %u%s%s%s is not the user of an isolated container",
                             (unsigned)uid, *name ? " ('" : "", name, *name ? "')" : "");
                return -ENOENT;
        }
        isolate_user_name(id, u->name);
        u->uid = a.uid;
        u->gid = a.gid;
        return isolate_mcs_level(u->uid, u->level, e);
}

int isolate_user_ensure(const char *id, struct isolate_user *u, struct gear_err *e)
{
        char kuid_min[40], kuid_max[40], kgid_min[40], kgid_max[40];
        struct account a;

        snprintf(kuid_min, sizeof kuid_min, "SYS_UID_MIN=%u", ISOLATE_UID_MIN);
        snprintf(kuid_max, sizeof kuid_max, "SYS_UID_MAX=%u", ISOLATE_UID_MAX);
        snprintf(kgid_min, sizeof kgid_min, "SYS_GID_MIN=%u", ISOLATE_UID_MIN);
        snprintf(kgid_max, sizeof kgid_max, "SYS_GID_MAX=%u", ISOLATE_UID_MAX);
        char *keys[] = {
                "--key", kuid_min, "--key", kuid_max, "--key", kgid_min, "--key", kgid_max, NULL
        };
        if (account_ensure(&ctr_account, id, keys, &a, e) < 0)
                return -1;
        return user_fill(id, &a, u, e);
}

int isolate_user_remove(const char *id, struct gear_err *e)
{
        return account_remove(&ctr_account, id, e) < 0 ? -1 : 0;
}
