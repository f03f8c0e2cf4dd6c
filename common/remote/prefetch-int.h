/* prefetch.c and read-around.c: ranges of packs into public/ */
#ifndef GEAR_PREFETCH_INT_H
#define GEAR_PREFETCH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "image-fetch.h"
#include "remote.h"

/* an image's content and its size */
struct sized {
        const char *hex;
        uint64_t size;
};

/* an image's contents by digest */
struct sizes {
        struct sized *v;
        size_t n;
};
/* pointing into t; -ENOMEM */
int sizes_load(struct itree *t, struct sizes *s);
const struct sized *sizes_find(const struct sizes *s, const char *hex);

/* a content to fetch, and where its pack has it (loc ... when packed) */
struct member {
        const struct sized *x;
        size_t order;           /* its place in the list */
        bool packed;
        struct object_loc loc;
};

/* one request: a content alone, or a range of a pack with the members it holds */
struct pjob {
        struct member **m;      /* members in offset order (one for a content alone) */
        size_t n;
        uint64_t start, end;    /* the range, when packed */
        size_t order;           /* the first place in the list of its members */
};

struct prefetch_job {
        const struct gear_root *img;
        struct origin *origin, own;
        struct pjob *jobs;
        size_t njobs, next;
        const bool *stop;
        struct progress *progress;
        pthread_mutex_t lock;
        struct prefetch_stats st;
        struct around *around;  /* opens waiting for a member get it staged (image-fetch.h); NULL */
        bool first_published;   /* run_range put its first member into public/ */
        struct gear_err err;    /* the first failure */
};

/*
 * Told of each member of a range: staged (decoded and verified into an
 * unnamed file, fd; the range's until published), or gone (in public/,
 * failed, or left to another fetch); and once the range is done with the
 * network. Called without j->lock held.
 */
struct range_hooks {
        void (*staged)(void *ud, size_t i, int fd);
        void (*gone)(void *ud, size_t i);
        void (*fetched)(void *ud);
        void *ud;
        /* the members after the first staged once the whole range is in (a read-around: its opener's first) */
        bool rest_at_end;
};

/*
 * Fetches the members of p (a range of one pack, in offset order) with one
 * Range request into public/, each verified on its own, counting in j->st.
 * The members not in public/ and not being fetched by another are claimed
 * first (their locks held, without waiting), so that a lazy open of one of
 * them waits for its bytes to arrive here instead of fetching them again.
 * With hooks, h->staged hands each member's staged file to the opens that
 * wait for it (read-around.c). A read-around's first is the first member's
 * claim, taken by the lazy open that waits for it, and with rest_at_end the
 * others are staged only once the whole range is in (a short one comes
 * faster whole).
 */
void run_range(struct prefetch_job *j, const struct pjob *p, const struct range_hooks *h, struct cache_claim *first);
/* run_range of a prefetch, its members in a's view while it runs (read-around.c) */
void around_range(struct around *a, struct prefetch_job *j, const struct pjob *p);

#endif
