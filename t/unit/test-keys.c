/* unit tests of the key parser and the key store in common/keys/keys.c; TAP on stdout */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../../common/base/fsutil.h"
#include "../../common/keys/keys.h"

static int count, failed;

static void ok(int cond, const char *what)
{
        count++;
        if (!cond)
                failed++;
        printf("%sok %d - ", cond ? "" : "not ", count);
        for (const char *p = what; *p; p++)
                if ((unsigned char)*p < 0x20)
                        printf("\\x%02x", *p);
                else
                        putchar(*p);
        putchar('\n');
}

/* public keys made by ssh-keygen, with the fingerprints it printed (+/ made -_) */
#define ED_B64 "AAAAC3NzaC1lZDI1NTE5AAAAIGbFWD4MnZJoacUahL/oM56JARwinccbaJydOs7FTt+U"
#define ED_FP "vf2Vlg2Lv-5Iod6QBxa2U3AgHGBpFTxV8XrDeC7f80o"
#define EC_B64 "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDVSdnhTcBS5Xy+zozmGqL6r/vXspBPxz2K+JDMFGeq9UHGbDh2hr+IR9gs4y6QnUedOYkRXN+8OX1cqpnviGdA="
#define EC_FP "RsAuCuxUZJwAMWPi2lU3I-cGxuTgrm06iuJHWW4vjOM"

static void parses(const char *line, const char *type, const char *b64, const char *fp)
{
        struct gear_err e = {0};
        struct ssh_key k;
        char what[512], *text = NULL, want[4096];
        int r;

        r = key_parse_line(line, strlen(line), &k, true, &e);
        snprintf(want, sizeof want, "%s %s", type, b64);
        if (r == 1)
                text = key_text(&k);
        snprintf(what, sizeof what, "parses '%.200s'", line);
        ok(r == 1 && !strcmp(k.type, type) && !strcmp(k.fp, fp) && text && !strcmp(text, want), what);
        if (r != 1)
                printf("# got %d '%s'\n", r, e.msg);
        free(text);
        if (r == 1)
                ssh_key_done(&k);
}

static void skipped(const char *line)
{
        struct gear_err e = {0};
        struct ssh_key k;
        char what[512];

        snprintf(what, sizeof what, "skips '%s'", line);
        ok(key_parse_line(line, strlen(line), &k, true, &e) == 0 && !k.blob, what);
}

static void refused_n(const char *line, size_t len, const char *msg)
{
        struct gear_err e = {0};
        struct ssh_key k;
        char what[512];
        int r;

        r = key_parse_line(line, len, &k, true, &e);
        snprintf(what, sizeof what, "refuses: %s", msg);
        ok(r == -1 && e.code == GEAR_EXIT_USAGE && !strcmp(e.msg, msg) && !k.blob, what);
        if (strcmp(e.msg, msg))
                printf("# got '%s'\n", e.msg);
}

static void refused(const char *line, const char *msg)
{
        refused_n(line, strlen(line), msg);
}

/* an SSH wire blob, base64'd into a key line */
struct blob {
        unsigned char b[8192];
        size_t n;
};

static void put(struct blob *b, const void *s, size_t n)
{
        b->b[b->n++] = n >> 24;
        b->b[b->n++] = n >> 16;
        b->b[b->n++] = n >> 8;
        b->b[b->n++] = n;
        memcpy(b->b + b->n, s, n);
        b->n += n;
}

static void put_s(struct blob *b, const char *s)
{
        put(b, s, strlen(s));
}

/* n bytes of value v, the first byte first0 */
static void put_fill(struct blob *b, size_t n, unsigned char first0, unsigned char v)
{
        unsigned char buf[4096];

        memset(buf, v, n);
        if (n)
                buf[0] = first0;
        put(b, buf, n);
}

static const char *line_of(const char *type, const struct blob *b)
{
        static char line[16384];
        size_t n = snprintf(line, sizeof line, "%s ", type);

        EVP_EncodeBlock((unsigned char *)line + n, b->b, (int)b->n);
        return line;
}

static void test_lines(void)
{
        char buf[20000];

        skipped("");
        skipped("   \t ");
        skipped("# ssh-ed25519 " ED_B64);
        skipped("   # indented comment");
        skipped("\r");
        parses("ssh-ed25519 " ED_B64, "ssh-ed25519", ED_B64, ED_FP);
        parses("ssh-ed25519 " ED_B64 " alice@example", "ssh-ed25519", ED_B64, ED_FP);
        parses("  ssh-ed25519\t" ED_B64 "\tcomment with  spaces ", "ssh-ed25519", ED_B64, ED_FP);
        parses("ssh-ed25519 " ED_B64 "\r", "ssh-ed25519", ED_B64, ED_FP);
        parses("no-pty ssh-ed25519 " ED_B64, "ssh-ed25519", ED_B64, ED_FP);
        parses("command=\"echo a, b\",no-pty ssh-ed25519 " ED_B64 " c", "ssh-ed25519", ED_B64, ED_FP);
        parses("command=\"echo \\\"x y\\\"\",from=\"a b\" ssh-ed25519 " ED_B64, "ssh-ed25519", ED_B64, ED_FP);
        parses("environment=\"A=ssh-rsa AAAA\" ssh-ed25519 " ED_B64, "ssh-ed25519", ED_B64, ED_FP);
        parses("ecdsa-sha2-nistp256 " EC_B64 " root@vm", "ecdsa-sha2-nistp256", EC_B64, EC_FP);

        refused("ssh-ed25519", "missing key data after 'ssh-ed25519'");
        refused("no-pty ssh-ed25519   ", "missing key data after 'ssh-ed25519'");
        refused("ssh-ed25519 " ED_B64 "=", "invalid base64 in key data");
        refused("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbFWD4MnZJoacUahL/oM56JARwinccbaJydOs7FTt+", "invalid base64 in key data");
        refused("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbFWD4MnZJoacUahL_oM56JARwinccbaJydOs7FTt-U", "invalid base64 in key data");
        refused("ssh-ed25519 AAAA=AAA", "invalid base64 in key data");
        refused("ssh-ed25519 A===", "invalid base64 in key data");
        refused("ssh-ed25519 ====", "invalid base64 in key data");
        refused("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbFWD4MnZJoacUahL/oM56JARwinccbaJydOs7F", "truncated key data");
        refused("ssh-ed25519 AAAA", "truncated key data");
        refused("ssh-rsa " ED_B64, "key data is of type 'ssh-ed25519', not 'ssh-rsa'");
        refused("ecdsa-sha2-nistp384 " EC_B64, "key data is of type 'ecdsa-sha2-nistp256', not 'ecdsa-sha2-nistp384'");
        refused("ssh-foo " ED_B64, "unknown key type 'ssh-foo'");
        refused("no-pty ssh-foo " ED_B64, "unknown key type 'ssh-foo'");
        refused("no-pty,command=\"a b\" AAAAC3 x", "unknown key type 'AAAAC3'");
        refused("garbage", "unknown key type 'garbage'");
        refused("rsa-sha2-256 AAAAB3", "unknown key type 'rsa-sha2-256'");
        refused("ssh-\x01\x7f " ED_B64, "unknown key type 'ssh-?" "?'");
        refused("ssh-ed25519-cert-v01@openssh.com AAAA", "certificates are not supported ('ssh-ed25519-cert-v01@openssh.com')");
        refused("no-pty ssh-rsa-cert-v01@openssh.com AAAA", "certificates are not supported ('ssh-rsa-cert-v01@openssh.com')");
        refused("command=\"x ssh-ed25519 " ED_B64, "unterminated quoted string in options");
        refused("command=\"x\\\" ssh-ed25519 " ED_B64, "unterminated quoted string in options");
        refused_n("ssh-ed25519 \0" ED_B64, 13 + strlen(ED_B64), "line contains a NUL byte");

        memset(buf, 'x', sizeof buf);
        memcpy(buf, "ssh-ed25519 " ED_B64 " ", 13 + strlen(ED_B64));
        refused_n(buf, KEY_LINE_MAX + 1, "line longer than 16384 bytes");
        buf[KEY_LINE_MAX] = 0;
        parses(buf, "ssh-ed25519", ED_B64, ED_FP);
}

static void blob_ok(const char *type, const struct blob *b, const char *what)
{
        struct gear_err e = {0};
        struct ssh_key k;
        const char *line = line_of(type, b);
        int r = key_parse_line(line, strlen(line), &k, true, &e);

        ok(r == 1 && key_fp_valid(k.fp), what);
        if (r != 1)
                printf("# got '%s'\n", e.msg);
        if (r == 1)
                ssh_key_done(&k);
}

static void blob_bad(const char *type, const struct blob *b, const char *msg)
{
        refused(line_of(type, b), msg);
}

static void test_blobs(void)
{
        struct blob b;

        b = (struct blob){0}; put_s(&b, "ssh-ed25519"); put_fill(&b, 32, 1, 2);
        blob_ok("ssh-ed25519", &b, "an ed25519 blob of 32 bytes");
        b = (struct blob){0}; put_s(&b, "ssh-ed25519"); put_fill(&b, 31, 1, 2);
        blob_bad("ssh-ed25519", &b, "invalid ed25519 public key length");
        b = (struct blob){0}; put_s(&b, "ssh-ed25519"); put_fill(&b, 32, 1, 2); put_s(&b, "x");
        blob_bad("ssh-ed25519", &b, "trailing bytes after the key data");
        b = (struct blob){0}; put_s(&b, "ssh-ed25519"); put_fill(&b, 32, 1, 2); b.b[b.n++] = 0;
        blob_bad("ssh-ed25519", &b, "trailing bytes after the key data");
        b = (struct blob){0}; put_s(&b, "ssh-ed25519"); b.b[b.n++] = 0xff; b.b[b.n++] = 0xff;
        b.b[b.n++] = 0xff; b.b[b.n++] = 0xff; b.b[b.n++] = 1;
        blob_bad("ssh-ed25519", &b, "truncated key data");

        b = (struct blob){0}; put_s(&b, "sk-ssh-ed25519@openssh.com"); put_fill(&b, 32, 1, 2); put_s(&b, "ssh:");
        blob_ok("sk-ssh-ed25519@openssh.com", &b, "a security key ed25519 blob");
        b = (struct blob){0}; put_s(&b, "sk-ssh-ed25519@openssh.com"); put_fill(&b, 32, 1, 2);
        blob_bad("sk-ssh-ed25519@openssh.com", &b, "truncated key data");

        b = (struct blob){0}; put_s(&b, "ssh-rsa"); put_fill(&b, 3, 1, 1); put_fill(&b, 257, 0, 0xc5);
        blob_ok("ssh-rsa", &b, "an rsa blob of 2048 bits");
        b = (struct blob){0}; put_s(&b, "ssh-rsa"); put_fill(&b, 3, 1, 1); put_fill(&b, 128, 0x7f, 0xc5);
        blob_bad("ssh-rsa", &b, "rsa modulus of 1023 bits, want 1024 to 16384");
        b = (struct blob){0}; put_s(&b, "ssh-rsa"); put_fill(&b, 3, 1, 1); put_fill(&b, 2049, 1, 0xc5);
        blob_bad("ssh-rsa", &b, "rsa modulus of 16385 bits, want 1024 to 16384");
        b = (struct blob){0}; put_s(&b, "ssh-rsa"); put_fill(&b, 1, 0x81, 0); put_fill(&b, 257, 0, 0xc5);
        blob_bad("ssh-rsa", &b, "invalid rsa exponent");
        b = (struct blob){0}; put_s(&b, "ssh-rsa"); put_fill(&b, 0, 0, 0); put_fill(&b, 257, 0, 0xc5);
        blob_bad("ssh-rsa", &b, "invalid rsa exponent");
        b = (struct blob){0}; put_s(&b, "ssh-rsa"); put_fill(&b, 3, 1, 1);
        blob_bad("ssh-rsa", &b, "truncated key data");

        b = (struct blob){0}; put_s(&b, "ssh-dss");
        for (int i = 0; i < 4; i++)
                put_fill(&b, 129, 0, 0x33);
        blob_ok("ssh-dss", &b, "a dss blob");
        b = (struct blob){0}; put_s(&b, "ssh-dss");
        for (int i = 0; i < 3; i++)
                put_fill(&b, 129, 0, 0x33);
        blob_bad("ssh-dss", &b, "truncated key data");

        b = (struct blob){0}; put_s(&b, "ecdsa-sha2-nistp521"); put_s(&b, "nistp521"); put_fill(&b, 133, 4, 9);
        blob_ok("ecdsa-sha2-nistp521", &b, "an ecdsa p-521 blob");
        b = (struct blob){0}; put_s(&b, "ecdsa-sha2-nistp521"); put_s(&b, "nistp384"); put_fill(&b, 133, 4, 9);
        blob_bad("ecdsa-sha2-nistp521", &b, "ecdsa curve does not match the key type");
        b = (struct blob){0}; put_s(&b, "ecdsa-sha2-nistp384"); put_s(&b, "nistp384"); put_fill(&b, 97, 2, 9);
        blob_bad("ecdsa-sha2-nistp384", &b, "invalid ecdsa public point");
        b = (struct blob){0}; put_s(&b, "ecdsa-sha2-nistp384"); put_s(&b, "nistp384"); put_fill(&b, 65, 4, 9);
        blob_bad("ecdsa-sha2-nistp384", &b, "invalid ecdsa public point");
        b = (struct blob){0}; put_s(&b, "sk-ecdsa-sha2-nistp256@openssh.com"); put_s(&b, "nistp256");
        put_fill(&b, 65, 4, 9); put_s(&b, "ssh:");
        blob_ok("sk-ecdsa-sha2-nistp256@openssh.com", &b, "a security key ecdsa blob");
        b = (struct blob){0}; put_s(&b, "sk-ecdsa-sha2-nistp256@openssh.com"); put_s(&b, "nistp256");
        put_fill(&b, 65, 4, 9); put_s(&b, "");
        blob_bad("sk-ecdsa-sha2-nistp256@openssh.com", &b, "empty security key application");
}

static void test_stored(void)
{
        struct gear_err e = {0};
        struct ssh_key k;
        const char *good = "ssh-ed25519 " ED_B64;
        const char *bad[] = {
                "ssh-ed25519 " ED_B64 "\n", "ssh-ed25519 " ED_B64 " c", "no-pty ssh-ed25519 " ED_B64,
                " ssh-ed25519 " ED_B64, "ssh-ed25519  " ED_B64, "", "# x",
        };

        ok(key_parse_stored(good, strlen(good), &k, true, &e) == 0 && !strcmp(k.fp, ED_FP),
           "a stored key is exactly TYPE BASE64");
        ssh_key_done(&k);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char what[256];

                snprintf(what, sizeof what, "not a stored key: '%s'", bad[i]);
                ok(key_parse_stored(bad[i], strlen(bad[i]), &k, false, &e) < 0 && !k.blob, what);
        }
        ok(key_fp_valid(ED_FP) && key_fp_valid(EC_FP), "fingerprints are valid names");
        ok(!key_fp_valid("") && !key_fp_valid(ED_FP "A") && !key_fp_valid("vf2Vlg2Lv+5Iod6QBxa2U3AgHGBpFTxV8XrDeC7f80o") &&
           !key_fp_valid("vf2Vlg2Lv-5Iod6QBxa2U3AgHGBpFTxV8XrDeC7f80p") && !key_fp_valid(".lock"),
           "other names are not fingerprints");
}

static void test_buf(void)
{
        struct gear_err e = {0};
        struct key_set s = {0};
        const char *in = "# keys\n\nssh-ed25519 " ED_B64 " a\necdsa-sha2-nistp256 " EC_B64 "\n"
                         "no-pty ssh-ed25519 " ED_B64 " again";
        const char *bad = "ssh-ed25519 " ED_B64 "\n\n# x\nssh-rsa AAAA\n";
        char *many;
        size_t n;

        ok(keys_parse_buf(in, strlen(in), "in", &s, &e) == 0 && s.n == 2 &&
           !strcmp(s.keys[0].fp, ED_FP) && !strcmp(s.keys[1].fp, EC_FP),
           "a buffer: duplicates dropped, input order kept, no final newline needed");
        key_set_done(&s);
        ok(keys_parse_buf(bad, strlen(bad), "f", &s, &e) < 0 && e.code == GEAR_EXIT_USAGE &&
           !strcmp(e.msg, "f:4: truncated key data") && !s.n && !s.keys,
           "an error names the input and the line");
        ok(keys_parse_buf("", 0, "f", &s, &e) == 0 && s.n == 0, "an empty buffer has no keys");
        key_set_done(&s);

        /* KEYS_MAX distinct lines are fine (the same key: dropped later), one more is not */
        n = strlen("ssh-ed25519 " ED_B64 "\n");
        many = malloc(n * (KEYS_MAX + 1));
        for (int i = 0; i <= KEYS_MAX; i++)
                memcpy(many + i * n, "ssh-ed25519 " ED_B64 "\n", n);
        ok(keys_parse_buf(many, n * KEYS_MAX, "m", &s, &e) == 0 && s.n == 1, "KEYS_MAX keys are accepted");
        key_set_done(&s);
        ok(keys_parse_buf(many, n * (KEYS_MAX + 1), "m", &s, &e) < 0 && !strcmp(e.msg, "m:4097: more than 4096 keys"),
           "one more key is refused");
        free(many);
}

struct seen {
        char lines[16][128];
        int n;
};

static void collect(const char *kind, const char *rel, void *ud)
{
        struct seen *s = ud;

        if (s->n < 16)
                snprintf(s->lines[s->n++], sizeof s->lines[0], "%s %s", kind, rel);
}

static void test_store(void)
{
        char dir[] = "/tmp/test-keys.XXXXXX", path[512];
        const char *in = "ssh-ed25519 " ED_B64 "\necdsa-sha2-nistp256 " EC_B64 "\n";
        struct gear_err e = {0};
        struct gear_tree t;
        struct gear_target ctr = { .kind = TARGET_CONTAINER, .id = "abcd" }, repo = { .kind = TARGET_REPO, .id = "repo1" };
        struct key_set all = {0}, ed = {0};
        struct key_entry *v;
        struct seen seen = {0};
        struct stat st;
        char *out;
        size_t n, len;

        if (!mkdtemp(dir)) {
                ok(0, "mkdtemp");
                return;
        }
        setenv("GEAR_SYSROOT", dir, 1);
        ok(tree_init(&t, &e) == 0, "tree_init");
        keys_parse_buf(in, strlen(in), "in", &all, &e);
        keys_parse_buf(in, strlen("ssh-ed25519 " ED_B64), "in", &ed, &e);

        ok(keys_add(&t, &ctr, 1, &all, false, &e) < 0 && e.code == GEAR_EXIT_NO &&
           !strcmp(e.msg, "no container 'abcd'") && (snprintf(path, sizeof path, "%s/var", dir),
           stat(path, &st) < 0), "keys_add to a container that does not exist: refused, nothing written");
        gear_err_clear(&e);
        snprintf(path, sizeof path, "mkdir -p %s/var/lib/containers/units/ab %s/var/lib/containers/git/re/repo1.git && "
                 "echo [Unit] >%s/var/lib/containers/units/ab/ctr-abcd.service", dir, dir, dir);
        ok(system(path) == 0, "a unit for abcd, a repository repo1");
        ok(keys_add(&t, &ctr, 1, &all, false, &e) == 0 && keys_add(&t, &repo, 1, &ed, true, &e) == 0,
           "keys_add to a container and a repository");
        snprintf(path, sizeof path, "%s/var/lib/containers/keys/vf/" ED_FP, dir);
        ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644 && st.st_size == 12 + (off_t)strlen(ED_B64),
           "the key file: mode 0644, TYPE BASE64 without newline");
        ok(keys_list(&t, &ctr, true, &v, &n, &e) == 0 && n == 2 && !strcmp(v[0].fp, EC_FP) &&
           !strcmp(v[1].fp, ED_FP) && v[1].access == KEY_ACCESS_SSH && v[1].text &&
           !strcmp(v[1].text, "ssh-ed25519 " ED_B64), "keys_list of the container, sorted");
        key_entries_free(v, n);
        ok(keys_list(&t, &repo, true, &v, &n, &e) == 0 && n == 1 && v[0].access == KEY_ACCESS_WRITE,
           "keys_list of the repository");
        key_entries_free(v, n);

        ok(keys_authorized(&t, "git-repo1", "/x/gear-switchns", &out, &len, &e) == 0 &&
           !strcmp(out, "restrict,command=\"/x/gear-switchns --git\" ssh-ed25519 " ED_B64 "\n"),
           "keys_authorized for git-repo1");
        free(out);
        ok(keys_authorized(&t, "ctr-abcd", "/x/gear-switchns", &out, &len, &e) == 0 && out &&
           !strncmp(out, "restrict,pty,command=\"/x/gear-switchns\" ", 39) && len > 39,
           "keys_authorized for a container without ports: restricted, with a terminal");
        free(out);
        snprintf(path, sizeof path, "%s/var/lib/containers/units/ab/ctr-abcd.service", dir);
        ok(unlink(path) == 0 && keys_authorized(&t, "ctr-abcd", "/x/gear-switchns", &out, &len, &e) == 0 &&
           len == 0, "keys_authorized for a container without a unit: nothing");
        free(out);
        snprintf(path, sizeof path, "echo [Unit] >%s/var/lib/containers/units/ab/ctr-abcd.service", dir);
        ok(system(path) == 0, "the unit again");
        ok(keys_authorized(&t, "git-repo1", "/x/\"", &out, &len, &e) < 0 && !out,
           "a forced command with a quote is refused");

        ok(keys_clean(&t, false, collect, &seen, &e) == 0 && seen.n == 0, "keys_clean: every key is linked");
        snprintf(path, sizeof path, "%s/var/lib/containers/access/containers/ab/abcd/" GEAR_TMP_PREFIX "x", dir);
        ok(symlink("../../../../keys/vf/" ED_FP, path) == 0 &&
           keys_clean(&t, true, collect, &seen, &e) == 0 && seen.n == 1 && lstat(path, &st) == 0 &&
           !strcmp(seen.lines[0], "temp access/containers/ab/abcd/" GEAR_TMP_PREFIX "x"),
           "keys_clean --dry-run reports a temporary link");
        seen.n = 0;
        ok(keys_clean(&t, false, collect, &seen, &e) == 0 && seen.n == 1 && lstat(path, &st) < 0,
           "keys_clean removes it");
        seen.n = 0;
        ok(keys_remove(&t, &ctr, 1, &all, false, &e) == 0, "keys_remove from the container");
        ok(keys_clean(&t, true, collect, &seen, &e) == 0 && seen.n == 1 &&
           !strcmp(seen.lines[0], "key keys/Rs/" EC_FP), "keys_clean --dry-run reports the unlinked key");
        snprintf(path, sizeof path, "%s/var/lib/containers/keys/Rs/" EC_FP, dir);
        ok(stat(path, &st) == 0, "and keeps it");
        seen.n = 0;
        ok(keys_clean(&t, false, collect, &seen, &e) == 0 && seen.n == 1 &&
           !strcmp(seen.lines[0], "key keys/Rs/" EC_FP), "keys_clean removes the unlinked key");
        ok(stat(path, &st) < 0, "which is gone");
        snprintf(path, sizeof path, "%s/var/lib/containers/keys/vf/" ED_FP, dir);
        ok(stat(path, &st) == 0, "the key still linked from the repository stays");
        ok(keys_remove(&t, &repo, 1, &ed, true, &e) == 0, "keys_remove --write from the repository");
        seen.n = 0;
        ok(keys_clean(&t, false, collect, &seen, &e) == 0 && seen.n == 1 && stat(path, &st) < 0,
           "keys_clean removes the last key");

        tree_done(&t);
        key_set_done(&all);
        key_set_done(&ed);
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        if (system(path) != 0)
                ok(0, "cleanup");
}

int main(void)
{
        test_lines();
        test_blobs();
        test_stored();
        test_buf();
        test_store();
        printf("1..%d\n", count);
        return failed ? 1 : 0;
}
