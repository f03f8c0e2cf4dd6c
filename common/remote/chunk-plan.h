/*
 * Which units of the store's large contents the images built here read
 * (chunk-plan.c), for gear-recompress's layout of their frames (store.h):
 * a mount records the runs of a large content it read in access.runs
 * (gear-fs, image-fetch.h).
 */
#ifndef GEAR_CHUNK_PLAN_H
#define GEAR_CHUNK_PLAN_H

#include <stdint.h>

#include "../base/err.h"
#include "../base/tree.h"

struct chunk_plan;
/* the units read of every content of CHUNKED_MIN bytes or more of the images built in img */
int chunk_plan_load(const struct gear_root *img, struct chunk_plan **p, struct gear_err *e);
/* a recompress_layout_fn (store.h) of plan ud */
int chunk_plan_layout(void *ud, const char *hex, uint64_t size, unsigned char *read);
void chunk_plan_free(struct chunk_plan *p);

#endif
