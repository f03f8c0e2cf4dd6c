/*
 * Progress of a long command on a terminal: one line on standard error,
 * rewritten after '\r' at most ten times a second, with bytes and objects
 * done of their totals, the rate and the time left. When standard error is
 * not a terminal nothing is ever written. Safe to feed from several threads;
 * every function takes NULL (no progress) too.
 */
#ifndef GEAR_PROGRESS_H
#define GEAR_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct progress {
        int fd;            /* standard error when it is a terminal, else -1 */
        const char *what;  /* "building", "pushing", ... */
        const char *unit;  /* what the objects are: "layers", "objects", "files" */
        uint64_t bytes, bytes_total, objects, objects_total; /* a total of 0: unknown */
        uint64_t start_ns, last_ns;
        pthread_mutex_t lock;
};

/* on when standard error is a terminal */
void progress_init(struct progress *p, const char *what, const char *unit);
void progress_total(struct progress *p, uint64_t bytes, uint64_t objects);
/* what the objects are after all, when the work turns out to be of another kind */
void progress_unit(struct progress *p, const char *unit);
void progress_add(struct progress *p, uint64_t bytes, uint64_t objects);
/* the final state, and the line ended; the progress is off afterwards */
void progress_end(struct progress *p);

#endif
