/* the HTTP engine of a registry (remote-registry.c) for the operations on its blobs and manifests (registry-blobs.c) */
#ifndef GEAR_REGISTRY_HTTP_H
#define GEAR_REGISTRY_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "byteranges.h"
#include "remote-registry.h"
#include "../base/digest.h"
#include "../base/dl-curl.h"

#define POOL_MAX 8

struct registry {
        char *base; /* "http://HOST:PORT/v2/REPO" */
        char *scheme, *host, *port; /* of base: where the credentials may go */
        char *userpwd;
        char *repo;
        struct token_cache *tokens;
        bool http;
        long connect_timeout, stall_timeout;
        int retries;
        pthread_mutex_t lock;
        CURL *pool[POOL_MAX];
        size_t npool;
};

/* one request: what goes up and where the answer goes */
struct xfer {
        const char *method; /* "GET", "HEAD", "POST", "PUT", "DELETE" */
        const char *url;
        const char *type;   /* Content-Type of the body sent */
        const char *accept;
        const void *up;     /* body from memory, or from up_fd, or from up_read */
        int up_fd;
        registry_read_fn up_read;
        void *up_ud;
        uint64_t up_len;
        uint64_t up_off;
        int down_fd;        /* answer body to a fd, or to memory */
        registry_progress_fn down_progress; /* told of the bytes kept in down_fd so far; NULL: none */
        void *down_ud;
        uint64_t down_max;  /* the most bytes of a 200 answer kept, to down_fd or to memory */
        /*
         * A Range request for range_len bytes at range_off: a 206 answer must
         * say that range and carry no more; a 200 answer (the whole blob) is
         * read up to the range's end only, what precedes it dropped.
         */
        bool range;
        uint64_t range_off, range_len, range_pos;
        bool range_done, range_bad;
        char content_range[128];
        /*
         * A Range request for several ranges (byteranges.h): their bytes kept
         * one after the other; a 200 answer is refused at its first byte
         * (whole_answer), for the caller to ask range by range
         */
        const struct byte_range *ranges;
        size_t nranges;
        struct byteranges *br;
        bool br_started, whole_answer;
        struct gear_err br_err;
        char content_type[256];
        char *down;
        uint64_t down_len;
        uint64_t dropped;   /* bytes of answers not kept */
        bool down_err;      /* a write failed or the body is too big */
        int down_errno;
        uint64_t too_big;   /* the bound an answer went past, 0 when none did */
        struct digest dg;   /* of the answer body, with down_fd */
        digest_hex got;
        CURL *curl;
        char location[2048];
        char challenge[2048]; /* the last response's WWW-Authenticate: Bearer ... */
        bool from_registry;   /* the last response came from the registry's own origin */
        long status;
        int64_t length;       /* the answer's Content-Length, -1 when it has none */
};

/*
 * The request, retried, with a token when the registry asks for one
 * (remote-registry.h): 0 with x->status set, or -1 (code 111) on a
 * transport error.
 */
int registry_request(struct registry *g, struct xfer *x, struct gear_err *e);
/* base/what/ref, malloc'd */
char *registry_url(struct registry *g, const char *what, const char *ref);
/* code 111 naming the request and its status */
int registry_http_error(struct xfer *x, struct gear_err *e);
/*
 * Where an upload goes: loc (a Location header, absolute or relative) resolved
 * against the url that answered it, with query appended; http or https only.
 * NULL when it is none of that. Free with curl_free.
 */
char *registry_resolve_location(const char *url, const char *loc, const char *query);

#endif
