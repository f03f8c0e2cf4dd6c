/*
 * Work on a few threads: fn for each of n items, each item taken once, in
 * order, by whichever thread is free.
 */
#ifndef GEAR_PARALLEL_H
#define GEAR_PARALLEL_H

#include <stddef.h>

#include "err.h"

#define PARALLEL_JOBS_MAX 64

/* item i of ud; -1 with e set when it failed */
typedef int (*parallel_fn)(size_t i, void *ud, struct gear_err *e);
/*
 * fn(i) for every i below n on up to jobs threads (at most PARALLEL_JOBS_MAX;
 * the caller's own when none can start). The first failure stops the taking
 * of new items and is the result: -1, e set. An fn that is to go on past a
 * failure records it itself and returns 0.
 */
int gear_parallel(size_t n, unsigned jobs, parallel_fn fn, void *ud, struct gear_err *e);

#endif
