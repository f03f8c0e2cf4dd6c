/* host accounts: useradd, usermod and userdel, run without a shell */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "account.h"
#include "spawn.h"

#define USERADD "/usr/sbin/useradd"
#define USERMOD "/usr/sbin/usermod"
#define USERDEL "/usr/sbin/userdel"
#define GROUPADD "/usr/sbin/groupadd"
#define ACCOUNT_ARGS_MAX 32

void account_name(const struct account_kind *k, const char *id, char buf[static ACCOUNT_NAME_MAX])
{
        snprintf(buf, ACCOUNT_NAME_MAX, "%s%s", k->prefix, id);
}

static void account_mark(const struct account_kind *k, const char *id, char buf[static ACCOUNT_GECOS_MAX])
{
        snprintf(buf, ACCOUNT_GECOS_MAX, "%s%s", k->mark, id);
}

/* runs a user tool; ok: an exit status that means the work was done meanwhile */
static int run_tool(char *const argv[], int ok, const char *what, const char *name, struct gear_err *e)
{
        char out[512];
        int r = spawn_run(argv, NULL, out, sizeof out, e);

        if (r < 0)
                return gear_err_wrap(e, "cannot %s user '%s'", what, name);
        out[strcspn(out, "\n")] = 0;
        if (r && r != ok)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot %s user '%s': %s exited %d: %s", what, name,
                                    strrchr(argv[0], '/') + 1, r, out);
        return 0;
}

static int lookup(const char *name, const char *mark, struct account *a, struct gear_err *e)
{
        struct passwd *pw;

        errno = 0;
        pw = getpwnam(name);
        if (!pw) {
                if (errno && errno != ENOENT && errno != ESRCH)
                        return gear_err_sys(e, errno, "cannot look up user '%s'", name);
                return 0;
        }
        a->uid = pw->pw_uid;
        a->gid = pw->pw_gid;
        a->ours = pw->pw_gecos && !strcmp(pw->pw_gecos, mark);
        return 1;
}

int account_lookup(const struct account_kind *k, const char *id, struct account *a, struct gear_err *e)
{
        char name[ACCOUNT_NAME_MAX], mark[ACCOUNT_GECOS_MAX];

        if (!id_valid(id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
        account_name(k, id, name);
        account_mark(k, id, mark);
        return lookup(name, mark, a, e);
}

int account_of_uid(const struct account_kind *k, uid_t uid, gear_id id, struct account *a,
                   char name[static ACCOUNT_NAME_MAX], struct gear_err *e)
{
        size_t plen = strlen(k->prefix);
        char buf[4096], mark[ACCOUNT_GECOS_MAX];
        struct passwd pw, *p = NULL;
        int r;

        name[0] = 0;
        r = getpwuid_r(uid, &pw, buf, sizeof buf, &p);
        if (r && r != ENOENT && r != ESRCH)
                return gear_err_sys(e, r, "cannot look up uid %u", (unsigned)uid);
        if (!p)
                return 0;
        snprintf(name, ACCOUNT_NAME_MAX, "%s", p->pw_name);
        if (strncmp(p->pw_name, k->prefix, plen) || !id_valid(p->pw_name + plen))
                return 0;
        account_mark(k, p->pw_name + plen, mark);
        if (!p->pw_gecos || strcmp(p->pw_gecos, mark))
                return 0;
        strcpy(id, p->pw_name + plen);
        a->uid = p->pw_uid;
        a->gid = p->pw_gid;
        a->ours = true;
        return 1;
}

/* an account of ours that an older gear locked with "!" opens to keys without PAM too */
static int unlock(char *name, struct gear_err *e)
{
        struct spwd *sp = getspnam(name);

        if (!sp || !sp->sp_pwdp || strcmp(sp->sp_pwdp, "!"))
                return 0;
        char *argv[] = { USERMOD, "--password", "*", name, NULL };
        return run_tool(argv, 0, "unlock", name, e);
}

int account_ensure(const struct account_kind *k, const char *id, char *const *extra, struct account *a,
                   struct gear_err *e)
{
        char name[ACCOUNT_NAME_MAX], mark[ACCOUNT_GECOS_MAX];
        char *argv[ACCOUNT_ARGS_MAX] = {
                USERADD, "--system", "--badname", "--no-create-home", "--no-log-init", "--user-group",
                "--home-dir", "/", "--shell", "/bin/sh", "--comment", mark, "--password", "*",
        };
        size_t n = 14;
        int r;

        r = account_lookup(k, id, a, e);
        if (r < 0)
                return -1;
        account_name(k, id, name);
        account_mark(k, id, mark);
        if (r > 0)
                return a->ours ? unlock(name, e) : 0;
        for (; extra && *extra && n < ACCOUNT_ARGS_MAX - 2; extra++)
                argv[n++] = *extra;
        argv[n++] = name;
        argv[n] = NULL;
        /* 9: made meanwhile by a concurrent command, which is as good */
        if (run_tool(argv, 9, "create", name, e) < 0)
                return -1;
        r = lookup(name, mark, a, e);
        if (r < 0)
                return -1;
        if (!r)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot create user '%s': useradd made none", name);
        return 0;
}

/* ends every process of uid (an SSH login of a container being deleted): a
   child that becomes uid signals all it may, which is exactly uid's */
static void kill_all_of(uid_t uid)
{
        pid_t pid;
        int status;

        if (uid == 0)
                return;
        pid = fork();
        if (pid == 0) {
                if (setresgid(65534, 65534, 65534) == 0 && setgroups(0, NULL) == 0 &&
                    setresuid(uid, uid, uid) == 0)
                        kill(-1, SIGKILL);
                _exit(0);
        }
        if (pid > 0)
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
}

int account_remove(const struct account_kind *k, const char *id, struct gear_err *e)
{
        char name[ACCOUNT_NAME_MAX];
        struct account a;
        int r;

        r = account_lookup(k, id, &a, e);
        /* a user gear did not make is the administrator's */
        if (r <= 0 || !a.ours)
                return r < 0 ? -1 : 0;
        account_name(k, id, name);
        /* userdel refuses a user with processes; those of ours are logins to what is going away */
        kill_all_of(a.uid);
        char *argv[] = { USERDEL, name, NULL };
        /* 6: removed meanwhile */
        if (run_tool(argv, 6, "remove", name, e) < 0)
                return -1;
        return 1;
}

int account_group_ensure(const char *name, struct gear_err *e)
{
        char *argv[] = { GROUPADD, "--system", (char *)name, NULL };
        char out[512];
        int r;

        errno = 0;
        if (getgrnam(name))
                return 0;
        r = spawn_run(argv, NULL, out, sizeof out, e);
        if (r < 0)
                return gear_err_wrap(e, "cannot create group '%s'", name);
        /* 9: made meanwhile */
        if (r && r != 9)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot create group '%s': groupadd exited %d: %s", name, r, out);
        return 0;
}
