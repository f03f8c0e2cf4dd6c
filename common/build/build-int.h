/* build/ inside: one build's podman calls and the signals that stop it */
#ifndef GEAR_BUILD_INT_H
#define GEAR_BUILD_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "build.h"
#include "../base/config.h"

/* the signal that stopped the build, 0 while none came */
extern volatile sig_atomic_t build_caught;

struct build_run {
        struct gear_config conf;
        int out;                 /* the build's output */
        char name[64];           /* the container */
        char tmp_image[96];      /* the commit until it has its tag */
        bool created;            /* the container may exist */
        bool committing;         /* the temporary image may exist */
        bool out_failed;         /* a write to out failed: the build stops */
        bool out_midline;        /* what was streamed to out does not end with a newline */
        char tail[4096];         /* the end of the output streamed, a ring */
        size_t tail_len;
};

enum build_output {
        OUTPUT_DROP,    /* standard output dropped, standard error kept for the message */
        OUTPUT_KEEP,    /* standard output kept (bounded), standard error for the message */
        OUTPUT_STREAM,  /* both streamed to out, the end kept in tail */
};

struct podman_call {
        const char *const *args; /* after podman and its global arguments; NULL-terminated */
        int in;                  /* standard input, -1: /dev/null */
        bool always;             /* runs after the build was stopped too (its cleanup) */
        enum build_output output;
        char *kept;              /* OUTPUT_KEEP: standard output (malloc'd, NUL-terminated) */
        size_t kept_len;
        char msg[512];           /* the first line podman wrote on standard error */
};

/*
 * Runs podman with c's arguments; its exit status, or -1 when it could not
 * be run or was killed. A child started after the build was stopped is
 * ended at once.
 */
int build_podman(struct build_run *b, struct podman_call *c, struct gear_err *e);
void podman_call_done(struct podman_call *c);
/* the last n lines of the output streamed, each after "  " and on its own line */
void build_tail(const struct build_run *b, unsigned n, char *buf, size_t size);

struct build_signals {
        struct sigaction old_int, old_term, old_hup, old_pipe;
};
/* SIGINT, SIGTERM and SIGHUP stop the build (build_caught); SIGPIPE is ignored */
void build_signals_catch(struct build_signals *s);
/* from now on a signal is only noted: the last step runs to its end */
void build_signals_hold(void);
void build_signals_restore(const struct build_signals *s);

#endif
