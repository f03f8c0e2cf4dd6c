/* other hosts over ssh (hosts.h) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hosts.h"
#include "../base/macro.h"

extern char **environ;

int host_parse(const char *arg, bool allow_local, struct remote_host *h, struct gear_err *e)
{
        const char *at = strchr(arg, '@'), *name = at ? at + 1 : arg, *colon = strchr(name, ':');
        size_t nlen = colon ? (size_t)(colon - name) : strlen(name);

        *h = (struct remote_host){0};
        if (strlen(arg) > HOST_MAX || !nlen || *arg == '-' || (at && at == arg))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid host '%.64s'", arg);
        for (const char *p = arg; *p; p++)
                if (*p <= ' ' || *p > '~' || strchr("\\\"'/;&|$`<>()*?[]{}!#~", *p))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid host '%.64s'", arg);
        if (strchr(name, '@') || (colon && (strlen(colon + 1) < 1 || strlen(colon + 1) > 5 ||
                                            strspn(colon + 1, "0123456789") != strlen(colon + 1))))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid host '%s': want [USER@]NAME[:PORT]", arg);
        strcpy(h->name, arg);
        snprintf(h->dest, sizeof h->dest, "%.*s", (int)(name - arg + nlen), arg);
        snprintf(h->addr, sizeof h->addr, "%.*s", (int)nlen, name);
        if (colon)
                strcpy(h->port, colon + 1);
        h->local = !strcmp(arg, HOST_LOCAL) || (allow_local && !strcmp(arg, "local"));
        return 0;
}

/* one shell word, for the command line ssh hands the remote shell: as it is,
   or "'a'\''b'" */
static void quote(FILE *f, const char *s)
{
        if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:,@%+=-") == strlen(s)) {
                fputs(s, f);
                return;
        }
        fputc('\'', f);
        for (; *s; s++)
                if (*s == '\'')
                        fputs("'\\''", f);
                else
                        fputc(*s, f);
        fputc('\'', f);
}

int host_command(const struct remote_host *h, const char *cmd, char *const *args, char **line, char **argv,
                 char *self, struct gear_err *e)
{
        size_t llen = 0, n = 0;
        FILE *f = open_memstream(line, &llen);

        if (!f)
                return gear_err_sys(e, ENOMEM, "cannot run gear-%s", cmd);
        fprintf(f, "gear-%s", cmd);
        for (size_t i = 0; args[i]; i++)
                fputc(' ', f), quote(f, args[i]);
        if (fclose(f))
                return gear_err_sys(e, ENOMEM, "cannot run gear-%s", cmd);
        if (h->local) {
                /* this very binary, even once a new one replaced it (readlink then ends in " (deleted)") */
                snprintf(self, PATH_MAX, "/proc/self/exe");
                argv[n++] = self;
                argv[n++] = (char *)cmd;
                for (size_t i = 0; args[i]; i++)
                        argv[n++] = args[i];
        } else {
                const char *ssh = getenv("GEAR_SSH");

                argv[n++] = (char *)(ssh && *ssh == '/' ? ssh : "/usr/bin/ssh");
                argv[n++] = "-oBatchMode=yes";
                if (*h->port) {
                        argv[n++] = "-p";
                        argv[n++] = (char *)h->port;
                }
                argv[n++] = "--";
                argv[n++] = (char *)h->dest;
                argv[n++] = *line;
        }
        argv[n] = NULL;
        return 0;
}

int host_status(int r)
{
        return r == 0 || r == GEAR_EXIT_NO || r == GEAR_EXIT_USAGE || r == GEAR_EXIT_SYS ? r : GEAR_EXIT_SYS;
}

/* copies fd to stdout, each line after prefix */
static void copy_prefixed(int fd, const char *prefix)
{
        _cleanup_fclose_ FILE *in = fdopen(fd, "r");
        _cleanup_free_ char *l = NULL;
        size_t cap = 0;

        if (!in) {
                close(fd);
                return;
        }
        while (getline(&l, &cap, in) > 0) {
                fputs(prefix, stdout);
                fputs(l, stdout);
                if (!strchr(l, '\n'))
                        fputc('\n', stdout);
        }
        fflush(stdout);
}

int host_stream(char *const *argv, const char *prefix, int in, struct gear_err *e)
{
        int p[2] = { -1, -1 }, status;
        pid_t pid;

        fflush(stdout);
        if (prefix && pipe2(p, O_CLOEXEC) < 0)
                return gear_err_sys(e, errno, "cannot run '%s'", argv[0]);
        pid = fork();
        if (pid < 0) {
                if (prefix)
                        close(p[0]), close(p[1]);
                return gear_err_sys(e, errno, "cannot run '%s'", argv[0]);
        }
        if (pid == 0) {
                if (in < 0)
                        in = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (in < 0 || dup2(in, STDIN_FILENO) < 0 || (prefix && dup2(p[1], STDOUT_FILENO) < 0))
                        _exit(126);
                execve(argv[0], argv, environ);
                _exit(127);
        }
        if (prefix) {
                close(p[1]);
                copy_prefixed(p[0], prefix);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return gear_err_sys(e, errno, "cannot wait for '%s'", argv[0]);
        return WIFEXITED(status) ? host_status(WEXITSTATUS(status)) : GEAR_EXIT_SYS;
}
