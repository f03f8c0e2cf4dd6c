/* registry token auth (the distribution token spec): Bearer challenges and a token cache, for remote-registry.c */
#ifndef GEAR_REGISTRY_TOKEN_H
#define GEAR_REGISTRY_TOKEN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "../base/err.h"

/*
 * A transfer slower than FETCH_MIN_SPEED bytes a second over the stall
 * timeout fails, and one of N bytes (up, or the most of an answer kept) after
 * the stall timeout and N / FETCH_DEADLINE_SPEED seconds more (an average of
 * 4 KiB/s, which four uploads at once on a 128 kbit/s uplink still make): a
 * server that drips its answer holds nothing (a reader, a content's lock)
 * for long. libcurl takes at most FETCH_DEADLINE_MAX seconds.
 */
#define FETCH_MIN_SPEED 1024u
#define FETCH_DEADLINE_SPEED (4u << 10)
#define FETCH_DEADLINE_MAX (INT_MAX / 1000)
/* the seconds of CURLOPT_TIMEOUT for a transfer of up to bytes; 0 (none) with no stall timeout */
static inline long fetch_deadline(long stall_timeout, uint64_t bytes)
{
        uint64_t s = bytes / FETCH_DEADLINE_SPEED;

        if (stall_timeout <= 0)
                return 0;
        if (stall_timeout >= FETCH_DEADLINE_MAX || s >= (uint64_t)FETCH_DEADLINE_MAX - (uint64_t)stall_timeout - 1)
                return FETCH_DEADLINE_MAX;
        return stall_timeout + (long)s + 1;
}

/* WWW-Authenticate: Bearer realm="...",service="...",scope="..." */
struct bearer_challenge {
        char realm[1024], service[256], scope[1024];
};
/* 1 when header (the value of a WWW-Authenticate line) is a Bearer challenge with a realm */
bool bearer_parse(const char *header, struct bearer_challenge *c);

struct token_cache;
struct token_cache *token_cache_new(void);
void token_cache_free(struct token_cache *tc);
/* a token for scope still within its lifetime (malloc'd), or NULL */
char *token_cached(struct token_cache *tc, const char *scope);
/* drops the token of scope (one the registry refused) */
void token_forget(struct token_cache *tc, const char *scope);

struct token_opts {
        const char *userpwd;           /* "user:pass" sent to the realm, NULL: anonymous */
        bool https;                    /* the registry is HTTPS: so must its realm be */
        long connect_timeout, stall_timeout;
};
/*
 * A token for the challenge's scope: the cached one, else one asked of the
 * realm (https, or http for a registry spoken to in plain HTTP) and cached for its lifetime (expires_in, default 60
 * seconds). The credentials go to the realm only because the registry named
 * it; the realm's redirects are not followed. Code 111 when the realm
 * refuses (HTTP 401 or 403: "not authorized") or answers nonsense.
 */
int token_get(struct token_cache *tc, const struct bearer_challenge *c, const struct token_opts *o, char **token,
              struct gear_err *e);

#endif
