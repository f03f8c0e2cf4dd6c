/*
 * sshd's forced command for git-ID. The repository is the caller's: its
 * real uid names the user git-ID (with gear's mark), and nothing else the
 * caller sends can name another. SSH_ORIGINAL_COMMAND only says which of
 * git's programs to run, in the one form git's SSH transport sends:
 *   git-upload-pack 'PATH'     (also "git upload-pack 'PATH'")
 * PATH single-quoted as git's sq_quote_buf does it: a quote inside is '\'',
 * a "!" is '\!'. PATH must name the caller's repository: ID, ID.git, each
 * maybe after "/" or "~/", or "~" itself. The program runs by execve,
 * never through a shell, with the repository's absolute path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo.h"
#include "../base/account.h"

#define COMMAND_MAX 4096
#define SHOWN_MAX 80

struct verb {
        const char *name;    /* after "git-" or "git " */
        const char *program; /* in GEAR_GIT_EXEC_PATH */
        bool writes;
};

static const struct verb verbs[] = {
        { "receive-pack", "git-receive-pack", true },
        { "upload-archive", "git-upload-archive", false },
        { "upload-pack", "git-upload-pack", false },
};

/* what a message shows of the caller's text: printable, and not too long */
static const char *shown(const char *s, char buf[static SHOWN_MAX + 4])
{
        size_t i;

        for (i = 0; s[i] && i < SHOWN_MAX; i++)
                buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        strcpy(buf + i, s[i] ? "..." : "");
        return buf;
}

/* git's sq_dequote of the whole of src into dst (as long as src); -1 when it is not one quoted word */
static int sq_dequote(const char *src, char *dst)
{
        if (*src != '\'')
                return -1;
        for (;;) {
                char c = *++src;

                if (!c)
                        return -1;
                if (c != '\'') {
                        *dst++ = c;
                        continue;
                }
                /* out of the quotes: the end, or an escaped quote or "!" and back in */
                switch (*++src) {
                case '\0':
                        *dst = 0;
                        return 0;
                case '\\':
                        c = *++src;
                        if ((c == '\'' || c == '!') && src[1] == '\'') {
                                *dst++ = c;
                                src++;
                                continue;
                        }
                        return -1;
                default:
                        return -1;
                }
        }
}

/* the verb and the dequoted path of "git-VERB 'PATH'" or "git VERB 'PATH'" */
static int parse(const char *cmd, const struct verb **verb, char *path, struct gear_err *e)
{
        char buf[SHOWN_MAX + 4];
        const char *p;

        for (p = cmd; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "refused command '%s': control character",
                                            shown(cmd, buf));
        if (strncmp(cmd, "git-", 4) && strncmp(cmd, "git ", 4))
                goto refused;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                size_t n = strlen(verbs[i].name);

                if (!strncmp(cmd + 4, verbs[i].name, n) && cmd[4 + n] == ' ') {
                        if (sq_dequote(cmd + 5 + n, path) < 0)
                                return gear_err_set(e, GEAR_EXIT_USAGE,
                                                    "refused command '%s': want one single-quoted path",
                                                    shown(cmd, buf));
                        *verb = &verbs[i];
                        return 0;
                }
        }
refused:
        return gear_err_set(e, GEAR_EXIT_USAGE,
                            "refused command '%s': want git-upload-pack, git-receive-pack or git-upload-archive",
                            shown(cmd, buf));
}

/* the path names the caller's repository id */
static int path_check(const char *path, const char *id, struct gear_err *e)
{
        char buf[SHOWN_MAX + 4];
        const char *p = path;
        size_t n = strlen(id);

        if (!*path || path[0] == '-' || strstr(path, ".."))
                return gear_err_set(e, GEAR_EXIT_USAGE, "refused path '%s'", shown(path, buf));
        if (!strcmp(p, "~") || !strcmp(p, "~/"))
                return 0;
        if (!strncmp(p, "~/", 2))
                p += 2;
        else if (*p == '/')
                p++;
        if (!strncmp(p, id, n) && (!p[n] || !strcmp(p + n, ".git")))
                return 0;
        return gear_err_set(e, GEAR_EXIT_USAGE, "refused path '%s': this key opens only repository '%s'",
                            shown(path, buf), id);
}

/* the id of the caller: its real uid's user is git-ID, with gear's mark */
static int caller_id(gear_id id, struct gear_err *e)
{
        char name[ACCOUNT_NAME_MAX];
        uid_t uid = getuid();
        struct account a;
        int k = account_of_uid(&repo_account, uid, id, &a, name, e);

        if (k < 0)
                return -1;
        if (!k)
                return gear_err_set(e, GEAR_EXIT_NO, "uid %u%s%s%s is not the user of a repository",
                                    (unsigned)uid, *name ? " ('" : "", name, *name ? "')" : "");
        return 0;
}

/* git's v2 protocol request, the only variable of the caller's that git gets */
static bool protocol_valid(const char *s)
{
        return strlen(s) < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=:._-") ==
                                 strlen(s);
}

int repo_serve(struct gear_tree *t, bool write, struct gear_err *e)
{
        char path[COMMAND_MAX], repo[PATH_MAX], program[PATH_MAX], protocol[96];
        const struct verb *verb = NULL;
        const char *cmd, *gp;
        struct stat st;
        gear_id id;

        if (caller_id(id, e) < 0)
                return -1;
        cmd = getenv("SSH_ORIGINAL_COMMAND");
        if (!cmd)
                return gear_err_set(e, GEAR_EXIT_NO, "'git-%s' is a Git repository: use git clone, fetch or push",
                                    id);
        if (strlen(cmd) >= COMMAND_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "refused command: longer than %d bytes", COMMAND_MAX - 1);
        if (parse(cmd, &verb, path, e) < 0 || path_check(path, id, e) < 0)
                return -1;
        if (verb->writes && !write)
                return gear_err_set(e, GEAR_EXIT_NO, "repository '%s': this key may read, not push", id);
        repo_path(t, id, repo);
        if (lstat(repo, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid())
                return gear_err_set(e, GEAR_EXIT_NO, "no repository '%s'", id);
        snprintf(program, sizeof program, "%s/%s", GEAR_GIT_EXEC_PATH, verb->program);
        gp = getenv("GIT_PROTOCOL");
        snprintf(protocol, sizeof protocol, "GIT_PROTOCOL=%s", gp && protocol_valid(gp) ? gp : "");
        char *argv[] = { (char *)verb->program, repo, NULL };
        char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", protocol, NULL };
        if (!gp || !protocol_valid(gp))
                envp[2] = NULL;
        execve(program, argv, envp);
        return gear_err_sys(e, errno, "cannot run '%s'", program);
}
