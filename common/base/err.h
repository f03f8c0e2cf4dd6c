/* the error object: filled by library code, printed only by commands */
#ifndef GEAR_ERR_H
#define GEAR_ERR_H

#include "macro.h"

enum {
        GEAR_EXIT_OK = 0,       /* success */
        GEAR_EXIT_NO = 1,       /* a negative answer: no free port, no such container, busy */
        GEAR_EXIT_USAGE = 100,  /* usage error or invalid input: retrying will not help */
        GEAR_EXIT_SYS = 111,    /* system or I/O failure: a retry may help */
        GEAR_EXIT_UNKNOWN = 127 /* unknown command */
};

struct gear_err {
        int code; /* one of GEAR_EXIT_*, 0 when clear */
        char msg[1024];
};

extern const char *gear_prog; /* "gear-ports", set by the dispatcher */

/* Each returns -1 so that library code can "return gear_err_set(...)". */
int gear_err_set(struct gear_err *e, int code, const char *fmt, ...) _printf_(3, 4);
/* code 111 with ": strerror(errnum)" appended */
int gear_err_sys(struct gear_err *e, int errnum, const char *fmt, ...) _printf_(3, 4);
/* prefix context on the way up: "outer: inner" */
int gear_err_wrap(struct gear_err *e, const char *fmt, ...) _printf_(2, 3);
void gear_err_clear(struct gear_err *e);

/* "gear-x: CONTEXT: MSG\n" in one write(2); returns the exit code */
int gear_fail(const struct gear_err *e, const char *fmt, ...) _printf_(2, 3);
void gear_warn(const char *fmt, ...) _printf_(1, 2);
/* --help: usage on stdout, exit 0 */
int gear_help(const char *usage);
/* bad invocation: message and usage on stderr, returns 100 */
int gear_usage_error(const char *usage, const char *fmt, ...) _printf_(2, 3);
/* getopt found an option it does not know (optopt, or argv[optind - 1]): returns 100 */
int gear_bad_option(const char *usage, char **argv);
/* the same, or "option '--x' needs an argument" when getopt returned ':' (c) */
int gear_option_error(const char *usage, char **argv, int c);
/* an option's decimal argument from min to max into *out; else "invalid NAME 'ARG'" and 100 */
int gear_opt_int(const char *usage, const char *name, const char *arg, int min, int max, int *out);
/*
 * The command of "gear-x COMMAND [OPTIONS] ARGS...": the index of argv[1] in
 * verbs (NULL-terminated); -1 with the exit code in *code after --help (0)
 * or a missing or unknown command (100, with usage).
 */
int gear_verb(int argc, char **argv, const char *usage, const char *const *verbs, int *code);

#endif
