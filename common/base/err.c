#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

const char *gear_prog = "gear";

static void vset(struct gear_err *e, int code, const char *fmt, va_list ap)
{
        e->code = code;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int gear_err_set(struct gear_err *e, int code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vset(e, code, fmt, ap);
        va_end(ap);
        return -1;
}

int gear_err_sys(struct gear_err *e, int errnum, const char *fmt, ...)
{
        va_list ap;
        size_t n;

        va_start(ap, fmt);
        vset(e, GEAR_EXIT_SYS, fmt, ap);
        va_end(ap);
        n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(errnum));
        return -1;
}

int gear_err_wrap(struct gear_err *e, const char *fmt, ...)
{
        char inner[sizeof e->msg];
        va_list ap;
        size_t n;

        memcpy(inner, e->msg, sizeof inner);
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n, ": %s", inner);
        if (!e->code)
                e->code = GEAR_EXIT_SYS;
        return -1;
}

void gear_err_clear(struct gear_err *e)
{
        e->code = 0;
        e->msg[0] = 0;
}

/* one write(2) per message, so that parallel pipeline stages do not interleave */
static void emit(int fd, const char *a, const char *b)
{
        char buf[4096];
        int n;

        n = snprintf(buf, sizeof buf, "%s: %s%s%s\n", gear_prog, a, *a && *b ? ": " : "", b);
        if (n < 0)
                return;
        if ((size_t)n >= sizeof buf) {
                n = sizeof buf;
                buf[n - 1] = '\n';
        }
        if (write(fd, buf, n) < 0)
                return;
}

int gear_fail(const struct gear_err *e, const char *fmt, ...)
{
        char ctx[1024] = "";
        va_list ap;

        if (fmt) {
                va_start(ap, fmt);
                vsnprintf(ctx, sizeof ctx, fmt, ap);
                va_end(ap);
        }
        emit(STDERR_FILENO, ctx, e->msg);
        return e->code ? e->code : GEAR_EXIT_SYS;
}

void gear_warn(const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        emit(STDERR_FILENO, msg, "");
}

int gear_help(const char *usage)
{
        fputs(usage, stdout);
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}

int gear_usage_error(const char *usage, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        if (fmt) {
                va_start(ap, fmt);
                vsnprintf(msg, sizeof msg, fmt, ap);
                va_end(ap);
                emit(STDERR_FILENO, msg, "");
        }
        fputs(usage, stderr);
        return GEAR_EXIT_USAGE;
}

int gear_opt_int(const char *usage, const char *name, const char *arg, int min, int max, int *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(arg, &end, 10);
        if (errno || end == arg || *end || v < min || v > max)
                return gear_usage_error(usage, "invalid %s '%s' (%d to %d)", name, arg, min, max);
        *out = v;
        return 0;
}

int gear_option_error(const char *usage, char **argv, int c)
{
        /* what getopt returns for a missing argument when optstring starts with ':' */
        if (c == ':')
                return gear_usage_error(usage, "option '%s' needs an argument", argv[optind - 1]);
        return gear_bad_option(usage, argv);
}

int gear_bad_option(const char *usage, char **argv)
{
        if (optopt)
                return gear_usage_error(usage, "unknown option '-%c'", optopt);
        return gear_usage_error(usage, "unknown option '%s'", argv[optind - 1]);
}

int gear_verb(int argc, char **argv, const char *usage, const char *const *verbs, int *code)
{
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
                *code = gear_help(usage);
                return -1;
        }
        if (argc < 2 || argv[1][0] == '-') {
                *code = gear_usage_error(usage, argc < 2 ? "missing command" : "unknown option '%s'", argv[1]);
                return -1;
        }
        for (int i = 0; verbs[i]; i++)
                if (!strcmp(argv[1], verbs[i]))
                        return i;
        *code = gear_usage_error(usage, "unknown command '%s'", argv[1]);
        return -1;
}
