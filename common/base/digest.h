/* SHA-256 content digests (OpenSSL EVP), as lowercase hex and as "sha256:HEX" */
#ifndef GEAR_DIGEST_H
#define GEAR_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DIGEST_HEX_LEN 64
#define DIGEST_PREFIX "sha256:"

typedef char digest_hex[DIGEST_HEX_LEN + 1];

struct digest {
        void *ctx; /* EVP_MD_CTX */
};

int digest_init(struct digest *d, struct gear_err *e);
void digest_update(struct digest *d, const void *buf, size_t n);
/* finishes the digest into hex; the context can be initialised again */
void digest_final(struct digest *d, digest_hex hex);
void digest_done(struct digest *d);

/* one-shot digest of a buffer */
int digest_buf(const void *buf, size_t n, digest_hex hex, struct gear_err *e);
/* digest and size of what is left to read of fd */
int digest_fd(int fd, digest_hex hex, uint64_t *size, struct gear_err *e);

/* a digest and its place (in a list, a table) */
struct hex_pos {
        const char *hex;
        size_t pos;
};
/* qsort order of struct hex_pos: by digest, then place */
int hex_pos_cmp(const void *a, const void *b);
/* v (n of them) each digest once, at its first place, in the order of places: how many are left */
size_t hex_pos_first(struct hex_pos *v, size_t n);

/* exactly 64 lowercase hex digits */
bool digest_hex_valid(const char *s);
/* "sha256:HEX" into hex; false when malformed */
bool digest_parse(const char *s, digest_hex hex);

#endif
