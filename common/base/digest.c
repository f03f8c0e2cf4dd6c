#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "dl-crypto.h"

int digest_init(struct digest *d, struct gear_err *e)
{
        if (dl_crypto(e) < 0)
                return -1;
        if (!d->ctx)
                d->ctx = sym_EVP_MD_CTX_new();
        if (!d->ctx || sym_EVP_DigestInit_ex(d->ctx, sym_EVP_sha256(), NULL) != 1)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot initialise sha256");
        return 0;
}

void digest_update(struct digest *d, const void *buf, size_t n)
{
        sym_EVP_DigestUpdate(d->ctx, buf, n);
}

void digest_final(struct digest *d, digest_hex hex)
{
        static const char xd[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        sym_EVP_DigestFinal_ex(d->ctx, md, &n);
        for (unsigned i = 0; i < n && i < DIGEST_HEX_LEN / 2; i++) {
                hex[2 * i] = xd[md[i] >> 4];
                hex[2 * i + 1] = xd[md[i] & 15];
        }
        hex[DIGEST_HEX_LEN] = 0;
}

void digest_done(struct digest *d)
{
        if (d->ctx)
                sym_EVP_MD_CTX_free(d->ctx);
        d->ctx = NULL;
}

int digest_buf(const void *buf, size_t n, digest_hex hex, struct gear_err *e)
{
        struct digest d = {0};

        if (digest_init(&d, e) < 0) {
                digest_done(&d);
                return -1;
        }
        digest_update(&d, buf, n);
        digest_final(&d, hex);
        digest_done(&d);
        return 0;
}

bool digest_hex_valid(const char *s)
{
        return strlen(s) == DIGEST_HEX_LEN && strspn(s, "0123456789abcdef") == DIGEST_HEX_LEN;
}

bool digest_parse(const char *s, digest_hex hex)
{
        if (strncmp(s, DIGEST_PREFIX, strlen(DIGEST_PREFIX)))
                return false;
        s += strlen(DIGEST_PREFIX);
        if (!digest_hex_valid(s))
                return false;
        memcpy(hex, s, DIGEST_HEX_LEN + 1);
        return true;
}

int digest_fd(int fd, digest_hex hex, uint64_t *size, struct gear_err *e)
{
        struct digest dg = {0};
        char buf[1 << 16];
        ssize_t k;

        *size = 0;
        if (digest_init(&dg, e) < 0)
                return -1;
        while ((k = read(fd, buf, sizeof buf)) != 0) {
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        digest_done(&dg);
                        return gear_err_sys(e, errno, "cannot read");
                }
                digest_update(&dg, buf, k);
                *size += k;
        }
        digest_final(&dg, hex);
        digest_done(&dg);
        return 0;
}

int hex_pos_cmp(const void *a, const void *b)
{
        const struct hex_pos *x = a, *y = b;
        int c = strcmp(x->hex, y->hex);

        return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int pos_cmp(const void *a, const void *b)
{
        const struct hex_pos *x = a, *y = b;

        return (x->pos > y->pos) - (x->pos < y->pos);
}

size_t hex_pos_first(struct hex_pos *v, size_t n)
{
        size_t k = 0;

        if (!n)
                return 0;
        qsort(v, n, sizeof *v, hex_pos_cmp);
        for (size_t i = 0; i < n; i++)
                if (!k || strcmp(v[k - 1].hex, v[i].hex))
                        v[k++] = v[i];
        qsort(v, k, sizeof *v, pos_cmp);
        return k;
}
