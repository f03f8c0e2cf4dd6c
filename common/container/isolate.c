#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "isolate.h"
#include "../base/dl-selinux.h"
#include "../base/id.h"

#define USERADD "/usr/sbin/useradd"
#define USERDEL "/usr/sbin/userdel"
#define GECOS_PREFIX "gear container "

extern char **environ;

void isolate_user_name(const char *id, char buf[static ISOLATE_NAME_MAX])
{
        snprintf(buf, ISOLATE_NAME_MAX, "ctr-%s", id);
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

static int user_fill(const char *id, const struct passwd *pw, struct isolate_user *u, struct gear_err *e)
{
        isolate_user_name(id, u->name);
        u->uid = pw->pw_uid;
        u->gid = pw->pw_gid;
        if (isolate_mcs_level(u->uid, u->level, e) < 0) {
                e->code = GEAR_EXIT_NO;
                return gear_err_wrap(e, "user '%s'", u->name);
        }
        return isolate_level_check(u->level, e);
}

int isolate_user_lookup(const char *id, struct isolate_user *u, struct gear_err *e)
{
        char name[ISOLATE_NAME_MAX];
        struct passwd *pw;

        if (!id_valid(id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
        isolate_user_name(id, name);
        errno = 0;
        pw = getpwnam(name);
        if (!pw) {
                if (errno && errno != ENOENT && errno != ESRCH)
                        return gear_err_sys(e, errno, "cannot look up user '%s'", name);
                gear_err_set(e, GEAR_EXIT_NO, "no user '%s'", name);
                return -ENOENT;
        }
        return user_fill(id, pw, u, e);
}

int isolate_user_of_uid(uid_t uid, gear_id id, struct isolate_user *u, struct gear_err *e)
{
        char gecos[64], buf[4096];
        struct passwd pw, *p = NULL;
        int r;

        r = getpwuid_r(uid, &pw, buf, sizeof buf, &p);
        if (r && r != ENOENT && r != ESRCH)
                return gear_err_sys(e, r, "cannot look up uid %u", (unsigned)uid);
        if (!p || strncmp(p->pw_name, "ctr-", 4) || !id_valid(p->pw_name + 4))
                goto refuse;
        snprintf(gecos, sizeof gecos, GECOS_PREFIX "%s", p->pw_name + 4);
        /* a user gear did not make, or one outside the range, is no container's */
        if (strcmp(p->pw_gecos, gecos) || uid < ISOLATE_UID_MIN || uid > ISOLATE_UID_MAX)
                goto refuse;
        strcpy(id, p->pw_name + 4);
        isolate_user_name(id, u->name);
        u->uid = p->pw_uid;
        u->gid = p->pw_gid;
        return isolate_mcs_level(u->uid, u->level, e);
refuse:
        gear_err_set(e, GEAR_EXIT_NO, "uid %u%s%s%s is not the user of an isolated container", (unsigned)uid,
                     p ? " ('" : "", p ? p->pw_name : "", p ? "')" : "");
        return -ENOENT;
}

/* runs argv, its output collected into out (first line kept); returns the exit status */
static int run(char *const argv[], char *out, size_t n, struct gear_err *e)
{
        posix_spawn_file_actions_t fa;
        int pipefd[2], status, r;
        size_t len = 0;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return gear_err_sys(e, errno, "cannot run '%s'", argv[0]);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r) {
                close(pipefd[0]);
                return gear_err_sys(e, r, "cannot run '%s'", argv[0]);
        }
        for (;;) {
                char buf[512];
                ssize_t k = read(pipefd[0], buf, sizeof buf);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                for (ssize_t i = 0; i < k; i++)
                        if (len + 1 < n)
                                out[len++] = buf[i];
        }
        close(pipefd[0]);
        out[len] = 0;
        out[strcspn(out, "\n")] = 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return gear_err_sys(e, errno, "cannot wait for '%s'", argv[0]);
        if (!WIFEXITED(status))
                return gear_err_set(e, GEAR_EXIT_SYS, "'%s' was killed by signal %d", argv[0],
                                    WTERMSIG(status));
        return WEXITSTATUS(status);
}

int isolate_user_ensure(const char *id, struct isolate_user *u, struct gear_err *e)
{
        char name[ISOLATE_NAME_MAX], gecos[64], out[512];
        char kuid_min[40], kuid_max[40], kgid_min[40], kgid_max[40];
        int r;

        r = isolate_user_lookup(id, u, e);
        if (r != -ENOENT)
                return r;
        gear_err_clear(e);
        isolate_user_name(id, name);
        snprintf(gecos, sizeof gecos, GECOS_PREFIX "%s", id);
        snprintf(kuid_min, sizeof kuid_min, "SYS_UID_MIN=%u", ISOLATE_UID_MIN);
        snprintf(kuid_max, sizeof kuid_max, "SYS_UID_MAX=%u", ISOLATE_UID_MAX);
        snprintf(kgid_min, sizeof kgid_min, "SYS_GID_MIN=%u", ISOLATE_UID_MIN);
        snprintf(kgid_max, sizeof kgid_max, "SYS_GID_MAX=%u", ISOLATE_UID_MAX);
        char *argv[] = {
                USERADD, "--system", "--badname", "--no-create-home", "--no-log-init", "--user-group",
                "--home-dir", "/", "--shell", "/bin/sh", "--comment", gecos, "--password", "*",
                "--key", kuid_min, "--key", kuid_max, "--key", kgid_min, "--key", kgid_max,
                name, NULL
        };
        r = run(argv, out, sizeof out, e);
        if (r < 0)
                return gear_err_wrap(e, "cannot create user '%s'", name);
        /* 9: made meanwhile by a concurrent install, which is as good */
        if (r && r != 9)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot create user '%s': useradd exited %d: %s",
                                    name, r, out);
        r = isolate_user_lookup(id, u, e);
        if (r == -ENOENT)
                return gear_err_wrap(e, "cannot create user '%s'", name);
        return r;
}

int isolate_user_remove(const char *id, struct gear_err *e)
{
        char name[ISOLATE_NAME_MAX], gecos[64], out[512];
        struct passwd *pw;
        int r;

        if (!id_valid(id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
        isolate_user_name(id, name);
        snprintf(gecos, sizeof gecos, GECOS_PREFIX "%s", id);
        pw = getpwnam(name);
        /* a user gear did not make is the administrator's */
        if (!pw || strcmp(pw->pw_gecos, gecos))
                return 0;
        char *argv[] = { USERDEL, name, NULL };
        r = run(argv, out, sizeof out, e);
        if (r < 0)
                return gear_err_wrap(e, "cannot remove user '%s'", name);
        /* 6: removed meanwhile */
        if (r && r != 6)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot remove user '%s': userdel exited %d: %s",
                                    name, r, out);
        return 0;
}
