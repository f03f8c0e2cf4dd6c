/* authorized_keys lines: parsing, structural validation, fingerprints */
#include <errno.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "keys.h"
#include "../base/dl-nettle.h"

enum key_shape { SHAPE_RSA, SHAPE_DSS, SHAPE_ED25519, SHAPE_ECDSA, SHAPE_SK_ED25519, SHAPE_SK_ECDSA };

static const struct key_type {
        const char *name;
        enum key_shape shape;
        const char *curve;
        size_t point_len; /* uncompressed: 0x04 || X || Y */
} key_types[] = {
        { "ecdsa-sha2-nistp256",                SHAPE_ECDSA,      "nistp256", 65 },
        { "ecdsa-sha2-nistp384",                SHAPE_ECDSA,      "nistp384", 97 },
        { "ecdsa-sha2-nistp521",                SHAPE_ECDSA,      "nistp521", 133 },
        { "sk-ecdsa-sha2-nistp256@openssh.com", SHAPE_SK_ECDSA,   "nistp256", 65 },
        { "sk-ssh-ed25519@openssh.com",         SHAPE_SK_ED25519, NULL, 0 },
        { "ssh-dss",                            SHAPE_DSS,        NULL, 0 },
        { "ssh-ed25519",                        SHAPE_ED25519,    NULL, 0 },
        { "ssh-rsa",                            SHAPE_RSA,        NULL, 0 },
};

#define RSA_MIN_BITS 1024
#define RSA_MAX_BITS 16384
#define ED25519_LEN 32

static const struct key_type *key_type_find(const char *s, size_t n)
{
        for (size_t i = 0; i < ELEMENTSOF(key_types); i++)
                if (strlen(key_types[i].name) == n && !memcmp(key_types[i].name, s, n))
                        return &key_types[i];
        return NULL;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
        size_t k = strlen(suffix);

        return n >= k && !memcmp(s + n - k, suffix, k);
}

/* a token from the input, printable and bounded, for messages */
static const char *shown(char *buf, size_t size, const char *s, size_t n)
{
        size_t i, max = size - 4;

        for (i = 0; i < n && i < max; i++)
                buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
        strcpy(buf + i, i < n ? "..." : "");
        return buf;
}

/* the blob, as the SSH wire format reads it */
struct reader {
        const unsigned char *p;
        size_t left;
};

static bool get_string(struct reader *r, const unsigned char **s, size_t *n)
{
        uint32_t len;

        if (r->left < 4)
                return false;
        len = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
        if (len > r->left - 4)
                return false;
        *s = r->p + 4;
        *n = len;
        r->p += 4 + len;
        r->left -= 4 + len;
        return true;
}

/* a positive mpint; its size in bits, 0 when malformed or zero */
static size_t get_mpint_bits(struct reader *r, bool *ok)
{
        const unsigned char *s;
        size_t n;

        if (!get_string(r, &s, &n)) {
                *ok = false;
                return 0;
        }
        if (n && (s[0] & 0x80))
                return 0; /* negative */
        while (n && !s[0])
                s++, n--;
        if (!n)
                return 0;
        return n * 8 - __builtin_clz(s[0]) + 24;
}

/* the blob's structure for its type; a message when it does not hold */
static const char *blob_check(const struct key_type *kt, const unsigned char *blob, size_t len,
                              char *buf, size_t size)
{
        struct reader r = { blob, len };
        const unsigned char *s;
        size_t n, bits;
        bool ok = true;
        char a[80];

        if (!get_string(&r, &s, &n))
                return "truncated key data";
        if (n != strlen(kt->name) || memcmp(s, kt->name, n)) {
                snprintf(buf, size, "key data is of type '%s', not '%s'",
                         shown(a, sizeof a, (const char *)s, n), kt->name);
                return buf;
        }
        switch (kt->shape) {
        case SHAPE_RSA:
                if (get_mpint_bits(&r, &ok) == 0 && ok)
                        return "invalid rsa exponent";
                bits = get_mpint_bits(&r, &ok);
                if (ok && (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)) {
                        snprintf(buf, size, "rsa modulus of %zu bits, want %d to %d",
                                 bits, RSA_MIN_BITS, RSA_MAX_BITS);
                        return buf;
                }
                break;
        case SHAPE_DSS:
                for (int i = 0; i < 4 && ok; i++)
                        if (get_mpint_bits(&r, &ok) == 0 && ok)
                                return "invalid dss parameter";
                break;
        case SHAPE_ED25519:
        case SHAPE_SK_ED25519:
                if (!get_string(&r, &s, &n))
                        return "truncated key data";
                if (n != ED25519_LEN)
                        return "invalid ed25519 public key length";
                break;
        case SHAPE_ECDSA:
        case SHAPE_SK_ECDSA:
                if (!get_string(&r, &s, &n))
                        return "truncated key data";
                if (n != strlen(kt->curve) || memcmp(s, kt->curve, n))
                        return "ecdsa curve does not match the key type";
                if (!get_string(&r, &s, &n))
                        return "truncated key data";
                if (n != kt->point_len || s[0] != 0x04)
                        return "invalid ecdsa public point";
                break;
        }
        if (!ok)
                return "truncated key data";
        if (kt->shape == SHAPE_SK_ED25519 || kt->shape == SHAPE_SK_ECDSA) {
                if (!get_string(&r, &s, &n))
                        return "truncated key data";
                if (n == 0)
                        return "empty security key application";
        }
        if (r.left)
                return "trailing bytes after the key data";
        return NULL;
}

static bool is_b64(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
}

/* strict standard base64 with padding, decoded by the C library; -EINVAL when invalid */
static int b64_decode(const char *s, size_t n, unsigned char **out, size_t *out_len)
{
        size_t pad = 0, i;
        unsigned char *p;
        int k;

        if (n == 0 || n % 4 || n > INT32_MAX)
                return -EINVAL;
        while (pad < 2 && s[n - 1 - pad] == '=')
                pad++;
        for (i = 0; i < n - pad; i++)
                if (!is_b64(s[i]))
                        return -EINVAL;
        /* the C library's resolver base64 (no libcrypto to load to read a key) wants a string */
        _cleanup_free_ char *str = strndup(s, n);
        p = malloc(n / 4 * 3 + 1);
        if (!p || !str) {
                free(p);
                return -ENOMEM;
        }
        k = b64_pton(str, p, n / 4 * 3 + 1);
        if (k < 0) {
                free(p);
                return -EINVAL;
        }
        *out = p;
        *out_len = (size_t)k;
        return 0;
}

static char *b64_encode(const unsigned char *p, size_t n)
{
        size_t size = (n + 2) / 3 * 4 + 1;
        char *out = malloc(size);

        if (out && b64_ntop(p, n, out, size) < 0) {
                free(out);
                return NULL;
        }
        return out;
}

static int key_fingerprint(struct ssh_key *k, struct gear_err *e)
{
        unsigned char md[SHA256_DIGEST_SIZE];
        char b64[4 * ((SHA256_DIGEST_SIZE + 2) / 3) + 1];
        struct sha256_ctx c;

        if (dl_nettle(e) < 0)
                return -1;
        sym_nettle_sha256_init(&c);
        sym_nettle_sha256_update(&c, k->blob_len, k->blob);
        sym_nettle_sha256_digest(&c, sizeof md, md);
        if (b64_ntop(md, sizeof md, b64, sizeof b64) < 0)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot encode the fingerprint");
        for (int i = 0; i < KEY_FP_LEN; i++)
                k->fp[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
        k->fp[KEY_FP_LEN] = 0;
        return 0;
}

bool key_fp_valid(const char *s)
{
        size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

        /* 43 characters encode 258 bits: the last one carries 4 bits, the rest must be zero */
        return n == KEY_FP_LEN && !s[n] && strchr("AEIMQUYcgkosw048", s[KEY_FP_LEN - 1]);
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t';
}

static size_t skip_space(const char *s, size_t i, size_t n)
{
        while (i < n && is_space(s[i]))
                i++;
        return i;
}

static size_t token_end(const char *s, size_t i, size_t n)
{
        while (i < n && !is_space(s[i]))
                i++;
        return i;
}

/* the options field, as sshd reads it: quotes protect blanks, \" inside quotes */
static int options_end(const char *s, size_t i, size_t n, size_t *end)
{
        bool quoted = false;

        for (; i < n && (quoted || !is_space(s[i])); i++) {
                if (s[i] == '\\' && quoted && i + 1 < n && s[i + 1] == '"')
                        i++;
                else if (s[i] == '"')
                        quoted = !quoted;
        }
        if (quoted)
                return -1;
        *end = i;
        return 0;
}

void ssh_key_done(struct ssh_key *k)
{
        free(k->blob);
        k->blob = NULL;
        k->blob_len = 0;
}

static int bad(struct gear_err *e, const char *fmt, const char *s, size_t n)
{
        char a[80];

        return gear_err_set(e, GEAR_EXIT_USAGE, fmt, shown(a, sizeof a, s, n));
}

static const struct key_type *cert_or_type(const char *s, size_t n, struct gear_err *e)
{
        if (ends_with(s, n, "-cert-v01@openssh.com")) {
                bad(e, "certificates are not supported ('%s')", s, n);
                return NULL;
        }
        return key_type_find(s, n);
}

/*
 * The key type at line[i], after the options if there are any (as sshd does:
 * a line starts with a type or with options); *end is where the type ends.
 */
static const struct key_type *type_after_options(const char *line, size_t i, size_t len, size_t *end,
                                                 struct gear_err *e)
{
        const struct key_type *kt;
        size_t o1 = token_end(line, i, len), j, t0, t1;

        e->code = 0;
        kt = cert_or_type(line + i, o1 - i, e);
        if (kt || e->code) {
                *end = o1;
                return kt;
        }
        if (options_end(line, i, len, &j) < 0) {
                gear_err_set(e, GEAR_EXIT_USAGE, "unterminated quoted string in options");
                return NULL;
        }
        t0 = skip_space(line, j, len);
        t1 = token_end(line, t0, len);
        if (t0 == len) {
                bad(e, "unknown key type '%s'", line + i, o1 - i);
                return NULL;
        }
        kt = cert_or_type(line + t0, t1 - t0, e);
        if (kt || e->code) {
                *end = t1;
                return kt;
        }
        /* "TYPE AAAA...": the first word was an unknown type, not options */
        if (j == o1 && !memchr(line + i, '=', o1 - i) && !memchr(line + i, ',', o1 - i) &&
            t1 - t0 >= 4 && !memcmp(line + t0, "AAAA", 4))
                bad(e, "unknown key type '%s'", line + i, o1 - i);
        else
                bad(e, "unknown key type '%s'", line + t0, t1 - t0);
        return NULL;
}

int key_parse_line(const char *line, size_t len, struct ssh_key *k, bool with_fp, struct gear_err *e)
{
        const struct key_type *kt;
        size_t i, j, t1;
        char buf[160];
        const char *why;
        int r;

        memset(k, 0, sizeof *k);
        if (len > KEY_LINE_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "line longer than %d bytes", KEY_LINE_MAX);
        if (memchr(line, 0, len))
                return gear_err_set(e, GEAR_EXIT_USAGE, "line contains a NUL byte");
        while (len && (is_space(line[len - 1]) || line[len - 1] == '\r'))
                len--;
        i = skip_space(line, 0, len);
        if (i == len || line[i] == '#')
                return 0;
        kt = type_after_options(line, i, len, &t1, e);
        if (!kt)
                return -1;
        i = skip_space(line, t1, len);
        if (i == len)
                return gear_err_set(e, GEAR_EXIT_USAGE, "missing key data after '%s'", kt->name);
        j = token_end(line, i, len);
        r = b64_decode(line + i, j - i, &k->blob, &k->blob_len);
        if (r == -ENOMEM)
                return gear_err_sys(e, ENOMEM, "cannot decode key");
        if (r < 0)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid base64 in key data");
        k->type = kt->name;
        why = blob_check(kt, k->blob, k->blob_len, buf, sizeof buf);
        if (why) {
                ssh_key_done(k);
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s", why);
        }
        if (with_fp && key_fingerprint(k, e) < 0) {
                ssh_key_done(k);
                return -1;
        }
        return 1;
}

char *key_text(const struct ssh_key *k)
{
        _cleanup_free_ char *b64 = b64_encode(k->blob, k->blob_len);
        char *s;

        if (!b64 || asprintf(&s, "%s %s", k->type, b64) < 0)
                return NULL;
        return s;
}

int key_parse_stored(const char *text, size_t len, struct ssh_key *k, bool with_fp, struct gear_err *e)
{
        _cleanup_free_ char *canon = NULL;
        int r;

        r = key_parse_line(text, len, k, with_fp, e);
        if (r <= 0)
                return r < 0 ? -1 : gear_err_set(e, GEAR_EXIT_USAGE, "no key");
        canon = key_text(k);
        if (!canon || strlen(canon) != len || memcmp(canon, text, len)) {
                ssh_key_done(k);
                return gear_err_set(e, GEAR_EXIT_USAGE, "not exactly 'TYPE BASE64'");
        }
        return 0;
}

void key_set_done(struct key_set *set)
{
        for (size_t i = 0; i < set->n; i++)
                ssh_key_done(&set->keys[i]);
        free(set->keys);
        set->keys = NULL;
        set->n = 0;
}

static int fp_ptr_cmp(const void *a, const void *b)
{
        const struct ssh_key *x = *(struct ssh_key *const *)a, *y = *(struct ssh_key *const *)b;
        int c = strcmp(x->fp, y->fp);

        return c ? c : (x > y) - (x < y);
}

/* drops later duplicates, keeping input order */
static int key_set_dedup(struct key_set *set, struct gear_err *e)
{
        _cleanup_free_ struct ssh_key **v = calloc(set->n + 1, sizeof *v);
        size_t i, m = 0;

        if (!v)
                return gear_err_sys(e, ENOMEM, "cannot read keys");
        for (i = 0; i < set->n; i++)
                v[i] = &set->keys[i];
        qsort(v, set->n, sizeof *v, fp_ptr_cmp);
        for (i = 1; i < set->n; i++)
                if (!strcmp(v[i]->fp, v[i - 1]->fp))
                        ssh_key_done(v[i]); /* blob NULL marks the duplicate */
        for (i = 0; i < set->n; i++)
                if (set->keys[i].blob)
                        set->keys[m++] = set->keys[i];
        set->n = m;
        return 0;
}

int keys_parse_buf(const char *buf, size_t len, const char *name, struct key_set *set,
                   struct gear_err *e)
{
        size_t lineno = 0, off = 0;

        while (off < len) {
                const char *nl = memchr(buf + off, '\n', len - off);
                size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
                struct ssh_key k;
                int r;

                lineno++;
                if (set->n == KEYS_MAX) {
                        r = key_parse_line(buf + off, n, &k, false, e);
                        if (r > 0) {
                                ssh_key_done(&k);
                                r = gear_err_set(e, GEAR_EXIT_USAGE, "more than %d keys", KEYS_MAX);
                        }
                } else
                        r = key_parse_line(buf + off, n, &k, true, e);
                if (r < 0) {
                        key_set_done(set);
                        return gear_err_wrap(e, "%s:%zu", name, lineno);
                }
                if (r > 0) {
                        if (set->n % 64 == 0) {
                                struct ssh_key *p = realloc(set->keys, (set->n + 64) * sizeof *p);
                                if (!p) {
                                        ssh_key_done(&k);
                                        key_set_done(set);
                                        return gear_err_sys(e, ENOMEM, "cannot read keys");
                                }
                                set->keys = p;
                        }
                        set->keys[set->n++] = k;
                }
                off += n + 1;
        }
        if (key_set_dedup(set, e) < 0) {
                key_set_done(set);
                return -1;
        }
        return 0;
}

int keys_read_fd(int fd, const char *name, struct key_set *set, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap = 0;

        for (;;) {
                if (n == cap) {
                        if (cap >= KEYS_INPUT_MAX)
                                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is larger than %u bytes",
                                                    name, KEYS_INPUT_MAX);
                        cap = cap ? cap * 2 : 16384;
                        char *p = realloc(buf, cap + 1);
                        if (!p)
                                return gear_err_sys(e, ENOMEM, "cannot read '%s'", name);
                        buf = p;
                }
                ssize_t k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return gear_err_sys(e, errno, "cannot read '%s'", name);
                }
                if (k == 0)
                        break;
                n += k;
        }
        return keys_parse_buf(buf ? buf : "", n, name, set, e);
}
