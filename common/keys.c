#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fsutil.h"
#include "keys.h"
#include "ports.h"

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

/* strict standard base64 with padding, decoded by OpenSSL; -EINVAL when invalid */
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
        p = malloc(n / 4 * 3 + 1);
        if (!p)
                return -ENOMEM;
        k = EVP_DecodeBlock(p, (const unsigned char *)s, (int)n);
        if (k < 0 || (size_t)k < pad) {
                free(p);
                return -EINVAL;
        }
        *out = p;
        *out_len = (size_t)k - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
        return 0;
}

static char *b64_encode(const unsigned char *p, size_t n)
{
        char *out = malloc((n + 2) / 3 * 4 + 1);

        if (out)
                EVP_EncodeBlock((unsigned char *)out, p, (int)n);
        return out;
}

static int key_fingerprint(struct ssh_key *k, struct gear_err *e)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
        unsigned len = 0;

        if (!EVP_Digest(k->blob, k->blob_len, md, &len, EVP_sha256(), NULL) || len != 32)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot compute sha-256");
        EVP_EncodeBlock((unsigned char *)b64, md, (int)len);
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

        set->keys = NULL;
        set->n = 0;
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

/* ---- the tree ---- */

static const char *target_dir(const struct gear_target *tg, const char *mode, char *buf, size_t n)
{
        if (tg->kind == TARGET_CONTAINER)
                snprintf(buf, n, "access/containers/%.2s/%s", tg->id, tg->id);
        else
                snprintf(buf, n, "access/git/%s/%.2s/%s", mode, tg->id, tg->id);
        return buf;
}

static void key_rel(const char *fp, char *buf, size_t n)
{
        snprintf(buf, n, "keys/%.2s/%s", fp, fp);
}

static int store_key(struct gear_root *r, const struct ssh_key *k, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        char rel[128];
        struct stat st;

        key_rel(k->fp, rel, sizeof rel);
        if (fstatat(r->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        if (errno != ENOENT)
                return gear_err_sys(e, errno, "cannot stat '%s/%s'", r->path, rel);
        text = key_text(k);
        if (!text)
                return gear_err_sys(e, ENOMEM, "cannot store key");
        return atomic_write(r, rel, text, strlen(text), 0644, e);
}

/* dir/fp -> the key, relative; an existing link with another target is replaced atomically */
static int link_key(struct gear_root *r, int dfd, const char *dir, unsigned depth, const char *fp,
                    struct gear_err *e)
{
        char target[256], old[256], tmp[128];
        size_t n = 0;
        ssize_t k;
        uint64_t rnd = 0;

        for (unsigned i = 0; i < depth; i++)
                n += snprintf(target + n, sizeof target - n, "../");
        key_rel(fp, target + n, sizeof target - n);
        if (symlinkat(target, dfd, fp) == 0)
                return 0;
        if (errno != EEXIST)
                return gear_err_sys(e, errno, "cannot link '%s/%s/%s'", r->path, dir, fp);
        k = readlinkat(dfd, fp, old, sizeof old - 1);
        if (k >= 0 && (size_t)k == strlen(target) && !memcmp(old, target, k))
                return 0;
        if (getrandom(&rnd, sizeof rnd, 0) < 0)
                rnd = (uint64_t)getpid() << 20 ^ (uintptr_t)&rnd;
        snprintf(tmp, sizeof tmp, GEAR_TMP_PREFIX "%s.%016llx", fp, (unsigned long long)rnd);
        if (symlinkat(target, dfd, tmp) < 0)
                return gear_err_sys(e, errno, "cannot link '%s/%s/%s'", r->path, dir, tmp);
        if (renameat(dfd, tmp, dfd, fp) < 0) {
                int err = errno;
                unlinkat(dfd, tmp, 0);
                return gear_err_sys(e, err, "cannot replace '%s/%s/%s'", r->path, dir, fp);
        }
        return 0;
}

static int open_dir(struct gear_root *r, const char *dir, struct gear_err *e)
{
        int fd = openat(r->fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0) {
                int err = errno;
                gear_err_sys(e, err, "cannot open '%s/%s'", r->path, dir);
                return -err;
        }
        return fd;
}

static int sync_dir(struct gear_root *r, int dfd, const char *dir, struct gear_err *e)
{
        if (fsync(dfd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s/%s'", r->path, dir);
        return 0;
}

int keys_add(struct gear_tree *t, const struct gear_target *targets, size_t ntargets,
             const struct key_set *set, bool write, struct gear_err *e)
{
        struct gear_root *r = &t->ctr;
        _cleanup_close_ int lock = -1;
        char dir[128];

        if (root_open(r, ROOT_CREATE, e) < 0)
                return -1;
        lock = lock_file(r, "keys/.lock", LOCK_SH, e);
        if (lock < 0)
                return -1;
        for (size_t i = 0; i < set->n; i++)
                if (store_key(r, &set->keys[i], e) < 0)
                        return -1;
        for (size_t i = 0; i < ntargets; i++) {
                const struct gear_target *tg = &targets[i];
                _cleanup_close_ int dfd = -1;

                target_dir(tg, write ? "write" : "read", dir, sizeof dir);
                if (mkdir_p_at(r->fd, dir, 0755, e) < 0)
                        return gear_err_wrap(e, "in '%s'", r->path);
                dfd = open_dir(r, dir, e);
                if (dfd < 0)
                        return -1;
                for (size_t j = 0; j < set->n; j++)
                        if (link_key(r, dfd, dir, tg->kind == TARGET_CONTAINER ? 4 : 5,
                                     set->keys[j].fp, e) < 0)
                                return -1;
                if (sync_dir(r, dfd, dir, e) < 0)
                        return -1;
        }
        return 0;
}

static int unlink_keys(struct gear_root *r, const char *dir, const struct key_set *set,
                       struct gear_err *e)
{
        _cleanup_close_ int dfd = open_dir(r, dir, e);

        if (dfd == -ENOENT || dfd == -ENOTDIR) {
                gear_err_clear(e);
                return 0;
        }
        if (dfd < 0)
                return -1;
        for (size_t j = 0; j < set->n; j++)
                if (unlinkat(dfd, set->keys[j].fp, 0) < 0 && errno != ENOENT)
                        return gear_err_sys(e, errno, "cannot remove '%s/%s/%s'", r->path, dir,
                                            set->keys[j].fp);
        return sync_dir(r, dfd, dir, e);
}

int keys_remove(struct gear_tree *t, const struct gear_target *targets, size_t ntargets,
                const struct key_set *set, bool write, struct gear_err *e)
{
        struct gear_root *r = &t->ctr;
        _cleanup_close_ int lock = -1;
        char dir[128];
        int k;

        k = root_open(r, 0, e);
        if (k == -ENOENT) {
                gear_err_clear(e);
                return 0;
        }
        if (k < 0)
                return -1;
        lock = lock_file(r, "keys/.lock", LOCK_SH, e);
        if (lock < 0)
                return -1;
        for (size_t i = 0; i < ntargets; i++) {
                const struct gear_target *tg = &targets[i];

                if (unlink_keys(r, target_dir(tg, "write", dir, sizeof dir), set, e) < 0)
                        return -1;
                if (tg->kind == TARGET_REPO && !write &&
                    unlink_keys(r, target_dir(tg, "read", dir, sizeof dir), set, e) < 0)
                        return -1;
        }
        return 0;
}

const char *key_access_name(enum key_access a)
{
        return a == KEY_ACCESS_SSH ? "ssh" : a == KEY_ACCESS_READ ? "read" : "write";
}

struct entries {
        struct key_entry *v;
        size_t n, cap;
};

static bool is_link(int dfd, const struct dirent *de)
{
        struct stat st;

        if (de->d_type != DT_UNKNOWN)
                return de->d_type == DT_LNK;
        return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* the links of one access directory; a missing directory has none */
static int entries_scan(struct gear_root *r, const char *dir, enum key_access acc,
                        struct entries *out, struct gear_err *e)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd = open_dir(r, dir, e);

        if (fd == -ENOENT || fd == -ENOTDIR) {
                gear_err_clear(e);
                return 0;
        }
        if (fd < 0)
                return -1;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, dir);
        }
        while ((errno = 0, de = readdir(d))) {
                if (!key_fp_valid(de->d_name) || !is_link(dirfd(d), de))
                        continue;
                if (out->n == out->cap) {
                        size_t cap = out->cap ? out->cap * 2 : 16;
                        struct key_entry *p = realloc(out->v, cap * sizeof *p);
                        if (!p)
                                return gear_err_sys(e, ENOMEM, "cannot read '%s/%s'", r->path, dir);
                        out->v = p;
                        out->cap = cap;
                }
                memset(&out->v[out->n], 0, sizeof out->v[0]);
                strcpy(out->v[out->n].fp, de->d_name);
                out->v[out->n++].access = acc;
        }
        if (errno)
                return gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, dir);
        return 0;
}

static int entry_cmp(const void *a, const void *b)
{
        const struct key_entry *x = a, *y = b;
        int c = strcmp(x->fp, y->fp);

        /* write before read, so that the first of a pair is kept */
        return c ? c : (int)y->access - (int)x->access;
}

/* the key's file, only if it is exactly a valid stored key (and has its name) */
static char *key_load(struct gear_root *r, const char *fp, bool verify)
{
        _cleanup_(gear_err_clear) struct gear_err e = {0};
        _cleanup_free_ char *text = NULL;
        struct ssh_key k;
        char rel[128];
        size_t len;
        bool ok;

        key_rel(fp, rel, sizeof rel);
        if (read_file(r, rel, KEY_FILE_MAX, &text, &len, &e) < 0)
                return NULL;
        if (key_parse_stored(text, len, &k, verify, &e) < 0)
                return NULL;
        ok = !verify || !strcmp(k.fp, fp);
        ssh_key_done(&k);
        return ok ? TAKE_PTR(text) : NULL;
}

void key_entries_free(struct key_entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].text);
        free(v);
}

int keys_list(struct gear_tree *t, const struct gear_target *tg, bool verify,
              struct key_entry **out, size_t *n, struct gear_err *e)
{
        struct gear_root *r = &t->ctr;
        struct entries en = {0};
        char dir[128];
        size_t i, m = 0;
        int k;

        *out = NULL;
        *n = 0;
        k = root_open(r, 0, e);
        if (k == -ENOENT) {
                gear_err_clear(e);
                return 0;
        }
        if (k < 0)
                return -1;
        if (entries_scan(r, target_dir(tg, "write", dir, sizeof dir),
                         tg->kind == TARGET_CONTAINER ? KEY_ACCESS_SSH : KEY_ACCESS_WRITE, &en, e) < 0 ||
            (tg->kind == TARGET_REPO &&
             entries_scan(r, target_dir(tg, "read", dir, sizeof dir), KEY_ACCESS_READ, &en, e) < 0)) {
                free(en.v);
                return -1;
        }
        if (en.n)
                qsort(en.v, en.n, sizeof en.v[0], entry_cmp);
        for (i = 0; i < en.n; i++)
                if (!m || strcmp(en.v[m - 1].fp, en.v[i].fp))
                        en.v[m++] = en.v[i];
        for (i = 0; i < m; i++)
                en.v[i].text = key_load(r, en.v[i].fp, verify);
        *out = en.v;
        *n = m;
        return 0;
}

static bool user_target(const char *user, struct gear_target *tg)
{
        if (!strncmp(user, "ctr-", 4))
                tg->kind = TARGET_CONTAINER;
        else if (!strncmp(user, "git-", 4))
                tg->kind = TARGET_REPO;
        else
                return false;
        if (!id_valid(user + 4))
                return false;
        strcpy(tg->id, user + 4);
        return true;
}

static void put_ctr_options(FILE *f, const char *switchns, const struct port_map *maps, size_t n)
{
        bool any = false;

        fprintf(f, "command=\"%s\",no-agent-forwarding,no-X11-forwarding", switchns);
        for (size_t i = 0; i < n; i++) {
                unsigned p = maps[i].external;
                bool seen = false;

                for (size_t j = 0; j < i && !seen; j++)
                        seen = maps[j].external == p;
                if (!p || seen)
                        continue;
                fprintf(f, ",permitopen=\"localhost:%u\",permitopen=\"127.0.0.1:%u\"", p, p);
                any = true;
        }
        if (!any)
                fputs(",no-port-forwarding", f);
}

int keys_authorized(struct gear_tree *t, const char *user, const char *switchns,
                    char **out, size_t *len, struct gear_err *e)
{
        struct gear_root *r = &t->ctr;
        _cleanup_free_ struct port_map *maps = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        struct key_entry *v = NULL;
        struct gear_target tg;
        size_t nmaps = 0, n = 0;
        char *buf = NULL;
        int k;

        *out = NULL;
        *len = 0;
        if (strpbrk(switchns, "\"\\\n"))
                return gear_err_set(e, GEAR_EXIT_SYS, "invalid forced command '%s'", switchns);
        if (!user_target(user, &tg))
                return 0;
        k = root_open(r, 0, e);
        if (k == -ENOENT) {
                gear_err_clear(e);
                return 0;
        }
        if (k < 0)
                return -1;
        if (tg.kind == TARGET_CONTAINER) {
                char unit[128];
                struct stat st;

                snprintf(unit, sizeof unit, "units/%.2s/ctr-%s.service", tg.id, tg.id);
                if (fstatat(r->fd, unit, &st, 0) < 0) {
                        if (errno == ENOENT)
                                return 0;
                        return gear_err_sys(e, errno, "cannot stat '%s/%s'", r->path, unit);
                }
                k = unit_ports_read(t, tg.id, &maps, &nmaps, e);
                if (k == -ENOENT) {
                        gear_err_clear(e);
                        return 0;
                }
                if (k < 0)
                        return -1;
        }
        if (keys_list(t, &tg, false, &v, &n, e) < 0)
                return -1;
        f = open_memstream(&buf, len);
        if (!f) {
                key_entries_free(v, n);
                return gear_err_sys(e, errno, "cannot list keys");
        }
        for (size_t i = 0; i < n; i++) {
                if (!v[i].text)
                        continue;
                if (tg.kind == TARGET_CONTAINER)
                        put_ctr_options(f, switchns, maps, nmaps);
                else
                        fprintf(f, "command=\"%s %s\",no-agent-forwarding,no-X11-forwarding,"
                                "no-port-forwarding,no-pty",
                                switchns, v[i].access == KEY_ACCESS_WRITE ? "--git" : "--git-ro");
                fprintf(f, " %s\n", v[i].text);
        }
        key_entries_free(v, n);
        k = fclose(TAKE_PTR(f));
        if (k != 0) {
                free(buf);
                *len = 0;
                return gear_err_sys(e, ENOMEM, "cannot list keys");
        }
        *out = buf;
        return 0;
}

/* ---- clean ---- */

struct fp_set {
        char (*v)[KEY_FP_LEN + 1];
        size_t n, cap;
};

static int fp_set_add(struct fp_set *s, const char *fp)
{
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 256;
                void *p = realloc(s->v, cap * sizeof s->v[0]);
                if (!p)
                        return -ENOMEM;
                s->v = p;
                s->cap = cap;
        }
        strcpy(s->v[s->n++], fp);
        return 0;
}

static int fp_cmp(const void *a, const void *b)
{
        return strcmp(a, b);
}

static DIR *opendir_at(int dfd, const char *name)
{
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;

        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d)
                close(fd);
        return d;
}

struct clean_ctx {
        struct fp_set refs;
        bool dry_run;
        void (*report)(const char *kind, const char *relpath, void *ud);
        void *ud;
};

/*
 * Each entry's name and the last part of each link's target count as a
 * reference. A temporary link is what an add left when it died between
 * creating it and renaming it: with keys/.lock held exclusively no add runs.
 */
static int refs_scan_dir(DIR *d, const char *dir, struct clean_ctx *c)
{
        struct dirent *de;
        char target[512], rel[PATH_MAX];

        while ((de = readdir(d))) {
                ssize_t k;
                char *base;

                k = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
                if (is_tmp_name(de->d_name)) {
                        if (k < 0)
                                continue;
                        snprintf(rel, sizeof rel, "%s/%s", dir, de->d_name);
                        if (!c->dry_run && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                                return -errno;
                        if (c->report)
                                c->report("temp", rel, c->ud);
                        continue;
                }
                if (de->d_name[0] == '.')
                        continue;
                if (key_fp_valid(de->d_name) && fp_set_add(&c->refs, de->d_name) < 0)
                        return -ENOMEM;
                if (k < 0)
                        continue;
                target[k] = 0;
                base = strrchr(target, '/');
                base = base ? base + 1 : target;
                if (key_fp_valid(base) && fp_set_add(&c->refs, base) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* access/.../<ab>/<ID>/<link> below base */
static int refs_scan(struct gear_root *r, const char *base, struct clean_ctx *c, struct gear_err *e)
{
        _cleanup_closedir_ DIR *top = opendir_at(r->fd, base);
        struct dirent *a, *b;
        char dir[PATH_MAX];
        int k;

        if (!top)
                return errno == ENOENT || errno == ENOTDIR ? 0 :
                       gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, base);
        while ((a = readdir(top))) {
                _cleanup_closedir_ DIR *part = NULL;

                if (a->d_name[0] == '.' || !(part = opendir_at(dirfd(top), a->d_name)))
                        continue;
                while ((b = readdir(part))) {
                        _cleanup_closedir_ DIR *id = NULL;

                        if (b->d_name[0] == '.' || !(id = opendir_at(dirfd(part), b->d_name)))
                                continue;
                        snprintf(dir, sizeof dir, "%s/%s/%s", base, a->d_name, b->d_name);
                        k = refs_scan_dir(id, dir, c);
                        if (k < 0)
                                return gear_err_sys(e, -k, "cannot clean '%s/%s'", r->path, dir);
                }
        }
        return 0;
}

/* keys/<ab>/<fp> with no reference, sorted */
static int orphans_scan(struct gear_root *r, const struct fp_set *refs, struct fp_set *out,
                        struct gear_err *e)
{
        _cleanup_closedir_ DIR *top = opendir_at(r->fd, "keys");
        struct dirent *a, *b;

        if (!top)
                return errno == ENOENT || errno == ENOTDIR ? 0 :
                       gear_err_sys(e, errno, "cannot read '%s/keys'", r->path);
        while ((a = readdir(top))) {
                _cleanup_closedir_ DIR *part = NULL;

                if (a->d_name[0] == '.' || strlen(a->d_name) != 2 ||
                    !(part = opendir_at(dirfd(top), a->d_name)))
                        continue;
                while ((b = readdir(part))) {
                        if (!key_fp_valid(b->d_name) || strncmp(b->d_name, a->d_name, 2) ||
                            (refs->n && bsearch(b->d_name, refs->v, refs->n, sizeof refs->v[0], fp_cmp)))
                                continue;
                        if (fp_set_add(out, b->d_name) < 0)
                                return gear_err_sys(e, ENOMEM, "cannot read '%s/keys'", r->path);
                }
        }
        if (out->n)
                qsort(out->v, out->n, sizeof out->v[0], fp_cmp);
        return 0;
}

int keys_clean(struct gear_tree *t, bool dry_run,
               void (*report)(const char *kind, const char *relpath, void *ud), void *ud,
               struct gear_err *e)
{
        static const char *const bases[] = { "access/containers", "access/git/read", "access/git/write" };
        struct gear_root *r = &t->ctr;
        _cleanup_close_ int lock = -1;
        struct clean_ctx c = { .dry_run = dry_run, .report = report, .ud = ud };
        struct fp_set orphans = {0};
        struct stat st;
        char rel[128];
        int k, ret = -1;

        k = root_open(r, 0, e);
        if (k == -ENOENT) {
                gear_err_clear(e);
                return 0;
        }
        if (k < 0)
                return -1;
        if (fstatat(r->fd, "keys", &st, 0) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        /* before the scan: an add in progress has either linked its keys or not started */
        if (!dry_run) {
                lock = lock_file(r, "keys/.lock", LOCK_EX, e);
                if (lock < 0)
                        return -1;
        }
        for (size_t i = 0; i < ELEMENTSOF(bases); i++)
                if (refs_scan(r, bases[i], &c, e) < 0)
                        goto out;
        if (c.refs.n)
                qsort(c.refs.v, c.refs.n, sizeof c.refs.v[0], fp_cmp);
        if (orphans_scan(r, &c.refs, &orphans, e) < 0)
                goto out;
        for (size_t i = 0; i < orphans.n; i++) {
                key_rel(orphans.v[i], rel, sizeof rel);
                if (!dry_run && unlinkat(r->fd, rel, 0) < 0 && errno != ENOENT) {
                        gear_err_sys(e, errno, "cannot remove '%s/%s'", r->path, rel);
                        goto out;
                }
                if (report)
                        report("key", rel, ud);
        }
        ret = 0;
out:
        free(c.refs.v);
        free(orphans.v);
        return ret;
}
