/* unit tests: image names, member names, the stored form of objects, streamed contents, the index layer */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <zstd.h>

#include "../../common/image/image.h"
#include "../../common/image/index.h"
#include "../../common/image/layer.h"
#include "../../common/store/store.h"

static int n, failed;

static void ok(int cond, const char *what)
{
        printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
        if (!cond)
                failed++;
}

static void names(void)
{
        struct gear_err e = {0};
        struct image_ref r;

        ok(image_name_valid("debian") && image_name_valid("library/debian") &&
           image_name_valid("a.b_c__d---e/f0") && image_name_valid("localhost/x"), "valid names");
        ok(!image_name_valid("") && !image_name_valid("Debian") && !image_name_valid("/a") &&
           !image_name_valid("a/") && !image_name_valid("a//b") && !image_name_valid("..") &&
           !image_name_valid("a/../b") && !image_name_valid(".a") && !image_name_valid("a.") &&
           !image_name_valid("a___b") && !image_name_valid("a b") && !image_name_valid("-a"),
           "invalid names");
        ok(image_tag_valid("latest") && image_tag_valid("V1.2_3-x") && !image_tag_valid(".x") &&
           !image_tag_valid("-x") && !image_tag_valid("a/b") && !image_tag_valid(""), "tags");
        ok(image_ref_parse("a/b", &r, &e) == 0 && !strcmp(r.name, "a/b") && !strcmp(r.tag, "latest"),
           "a name without a tag is :latest");
        ok(image_ref_parse("localhost:5000/a:v1", &r, &e) < 0 && e.code == GEAR_EXIT_USAGE,
           "a registry port is not a local name");
        ok(image_ref_parse("a/b:v1", &r, &e) == 0 && !strcmp(r.name, "a/b") && !strcmp(r.tag, "v1"),
           "NAME:TAG");
}

static int clean(const char *in, const char *want)
{
        char out[256];
        const char *why;

        if (!want)
                return !itree_path_clean(in, false, out, sizeof out, &why);
        return itree_path_clean(in, false, out, sizeof out, &why) && !strcmp(out, want);
}

static void paths(void)
{
        char buf[64];

        ok(clean("./a/b/", "a/b") && clean("a//./b", "a/b") && clean("./", ".") && clean("", ".") &&
           clean("a/.../b", "a/.../b"), "member names made canonical");
        ok(clean("../a", NULL) && clean("a/../b", NULL) && clean("/etc", NULL) && clean("a/..", NULL),
           "'..' and absolute names refused");
        path_escape("a\tb\nc\\d\001e\177", buf, sizeof buf);
        ok(!strcmp(buf, "a\\tb\\nc\\\\d\\001e\\177"), "escaping");
}

/* encodes buf, reads it back through a reader */
static int roundtrip(const void *buf, size_t len, int *compressed)
{
        struct gear_err e = {0};
        struct store_reader *r;
        void *enc;
        size_t encn;
        digest_hex hex;
        char out[4096];
        size_t got = 0;
        ssize_t k;
        int fd = memfd_create("obj", 0);

        if (fd < 0 || store_encode(buf, len, &enc, &encn, &e) < 0 || digest_buf(buf, len, hex, &e) < 0)
                return 0;
        *compressed = store_is_zstd(enc, encn);
        if (write(fd, enc, encn) != (ssize_t)encn || lseek(fd, 0, SEEK_SET) != 0)
                return 0;
        if (enc != buf)
                free(enc);
        if (store_reader_fdopen(fd, hex, "obj", &r, &e) < 0)
                return 0;
        store_reader_expect_size(r, len);
        while ((k = store_reader_read(r, out, sizeof out, &e)) > 0) {
                if (got + k > len || memcmp(out, (const char *)buf + got, k))
                        break;
                got += k;
        }
        store_reader_free(r);
        return k == 0 && got == len;
}

static void objects(void)
{
        static char text[100000], noise[100000];
        char magic[100] = "\x28\xb5\x2f\xfdnot a frame";
        int z = -1;

        for (size_t i = 0; i < sizeof text; i++)
                text[i] = "gear image index\n"[i % 17];
        srand(1);
        for (size_t i = 0; i < sizeof noise; i++)
                noise[i] = rand();
        ok(roundtrip("tiny", 4, &z) && !z, "a tiny object is raw");
        ok(roundtrip("", 0, &z) && !z, "the empty object is raw");
        ok(roundtrip(text, sizeof text, &z) && z, "a compressible object is a zstd frame");
        ok(roundtrip(noise, sizeof noise, &z) && !z, "an incompressible object is raw");
        ok(roundtrip(magic, sizeof magic, &z) && z, "content starting with the zstd magic is compressed");
}

static bool keep_all(const char *hex, void *ud)
{
        (void)hex;
        (void)ud;
        return true;
}

/*
 * the zstd frames of object hex in img: how many, -1 when the object is not
 * frames end to end or one before the last does not hold STORE_CHUNK bytes
 */
static int frame_count(const struct gear_root *img, const char *hex)
{
        char rel[STORE_REL_MAX];
        struct stat st;
        int fd, frames = 0;
        char *p;

        store_object_rel(hex, rel);
        if ((fd = openat(img->fd, rel, O_RDONLY)) < 0 || fstat(fd, &st) < 0)
                return -1;
        p = mmap(NULL, st.st_size ? st.st_size : 1, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (p == MAP_FAILED)
                return -1;
        for (size_t at = 0, k; at < (size_t)st.st_size; at += k, frames++) {
                k = ZSTD_findFrameCompressedSize(p + at, st.st_size - at);
                if (ZSTD_isError(k) ||
                    (at + k < (size_t)st.st_size && ZSTD_getFrameContentSize(p + at, k) != STORE_CHUNK)) {
                        frames = -1;
                        break;
                }
        }
        munmap(p, st.st_size ? st.st_size : 1);
        return frames;
}

/* a store of its own, for one test */
static int scratch(struct gear_root *img)
{
        snprintf(img->path, sizeof img->path, "/tmp/gear-test-store.XXXXXX");
        if (!mkdtemp(img->path))
                return -1;
        img->fd = open(img->path, O_RDONLY | O_DIRECTORY);
        return img->fd;
}

static void scratch_done(struct gear_root *img)
{
        if (img->fd >= 0) {
                close(img->fd);
                store_rm_rf(AT_FDCWD, img->path);
        }
}

/* a store of its own, its staging, a pool of threads workers and a stream open on it */
struct fixture {
        struct gear_root img;
        struct store_stage *stage;
        struct store_pool *pool;
        struct pool_stream *w;
};

static int fixture_open(struct fixture *f, int threads, struct gear_err *e)
{
        *f = (struct fixture){ .img.fd = -1 };
        if (scratch(&f->img) < 0 || stage_begin(&f->img, &f->stage, e) < 0 ||
            pool_new(f->stage, threads, &f->pool, e) < 0 || pool_stream_open(f->pool, &f->w, e) < 0)
                return -1;
        return 0;
}

static void fixture_close(struct fixture *f)
{
        pool_stream_free(f->w);
        pool_free(f->pool);
        stage_free(f->stage);
        scratch_done(&f->img);
}

/*
 * streams size bytes of buf, in pieces of step, through a pool of threads
 * workers, into a store of its own: the one object it stages is sound
 */
static int stream_one(const char *buf, size_t size, size_t step, int threads, int *frames)
{
        struct fixture f;
        struct gear_err e = {0};
        struct store_blob blob;
        struct store_stats st;
        digest_hex want;
        uint64_t got = 0;
        int r = 0;

        if (fixture_open(&f, threads, &e) < 0)
                goto out;
        for (size_t at = 0; at < size; at += step)
                if (pool_stream_write(f.w, buf + at, size - at < step ? size - at : step, &e) < 0)
                        goto out;
        r = pool_stream_finish(f.w, &blob, &e);
        f.w = NULL;
        if (r < 0 || pool_wait(f.pool, &e) < 0 || stage_commit(f.stage, keep_all, NULL, &e) < 0)
                goto out;
        stage_stats(f.stage, &st);
        digest_buf(buf, size, want, &e);
        *frames = frame_count(&f.img, blob.hex);
        r = st.objects_new == 1 && !strcmp(blob.hex, want) && blob.size == size &&
            store_verify(&f.img, blob.hex, &got, &e) == 0 && got == size;
out:
        fixture_close(&f);
        return r > 0;
}

/*
 * a worker fails (a small content cannot be staged: a file stands where its
 * subdirectory goes) while a stream is open: the stream's next chunk fails
 * with that failure, and the stream stages nothing
 */
static int stream_fails(int threads)
{
        static const char small[600] = "a small content";
        static char big[3 << 20];
        struct fixture f;
        struct gear_err e = {0};
        struct store_blob blob;
        struct store_stats st;
        digest_hex hex;
        char sub[3], msg[sizeof e.msg];
        int r = 0, fd;

        memset(big, 'x', sizeof big);
        digest_buf(small, sizeof small, hex, &e);
        snprintf(sub, sizeof sub, "%.2s", hex);
        if (fixture_open(&f, threads, &e) < 0 ||
            (fd = openat(stage_dirfd(f.stage), sub, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
                goto out;
        close(fd);
        pool_submit(f.pool, memcpy(malloc(sizeof small), small, sizeof small), sizeof small, &blob, &e);
        memset(&e, 0, sizeof e);
        if (pool_wait(f.pool, &e) == 0 || !strstr(e.msg, "Not a directory"))
                goto out;
        snprintf(msg, sizeof msg, "%s", e.msg);
        memset(&e, 0, sizeof e);
        r = pool_stream_write(f.w, big, sizeof big, &e) < 0 && !strcmp(e.msg, msg);
        pool_stream_free(f.w);
        f.w = NULL;
        stage_stats(f.stage, &st);
        r = r && st.objects_new == 0;
out:
        fixture_close(&f);
        return r;
}

static void streams(void)
{
        const size_t mib = STORE_CHUNK, size = 17 * mib + 1;
        char *buf = malloc(size), what[128];
        int frames;

        if (!buf) {
                ok(0, "memory for the streams");
                return;
        }
        srand(2);
        for (size_t i = 0; i < size; i++)
                buf[i] = (i / mib) % 3 ? "streamed content\n"[i % 17] : (char)rand();
        for (int threads = 0; threads <= 3; threads += 3) {
                snprintf(what, sizeof what, "a stream of 17 MiB + 1 byte, %d workers: 18 frames in order", threads);
                ok(stream_one(buf, size, 300001, threads, &frames) && frames == 18, what);
                snprintf(what, sizeof what, "a stream of exactly 17 MiB, %d workers: 17 frames", threads);
                ok(stream_one(buf + 1, size - 1, mib, threads, &frames) && frames == 17, what);
                snprintf(what, sizeof what, "a stream of 1 byte, %d workers: one frame", threads);
                ok(stream_one(buf, 1, 1, threads, &frames) && frames == 1, what);
                snprintf(what, sizeof what, "an empty stream, %d workers: one frame", threads);
                ok(stream_one(buf, 0, 1, threads, &frames) && frames == 1, what);
                snprintf(what, sizeof what, "a worker's failure ends the open stream with it, %d workers", threads);
                ok(stream_fails(threads), what);
        }
        free(buf);
}

/* a tree with every kind of entry */
static struct itree *sample(void)
{
        struct itree *t = itree_new();
        struct tnode *d, *root = itree_root(t);
        struct inode *ino;

        ino = inode_new(S_IFDIR | 01777);
        d = itree_put(t, root, "tmp", ino, 1);
        ino = inode_new(S_IFREG | 04755);
        ino->uid = 1000;
        ino->mtime = 1600000000;
        ino->mtime_nsec = 123456789;
        ino->blob = itree_blob(t);
        strcpy(ino->blob->hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        inode_add_xattr(ino, "security.capability", "\1\0\0\2", 4);
        inode_add_xattr(ino, "user.a", "b", 1);
        itree_put(t, d, "file\nname", ino, 1);
        itree_put(t, root, "link", ino, 1);
        ino = inode_new(S_IFLNK | 0777);
        ino->target = strdup("tmp/file\nname");
        itree_put(t, root, "sym", ino, 1);
        ino = inode_new(S_IFCHR | 0666);
        ino->rdev = makedev(1, 3);
        itree_put(t, root, "null", ino, 1);
        ino = inode_new(S_IFIFO | 0600);
        itree_put(t, root, "fifo", ino, 1);
        return t;
}

struct lines {
        char buf[4096];
        size_t n;
};

static int add_line(const char *line, void *ud)
{
        struct lines *l = ud;

        l->n += snprintf(l->buf + l->n, sizeof l->buf - l->n, "%s\n", line);
        return 0;
}

static void index_roundtrip(void)
{
        struct gear_err e = {0};
        struct index_summary s1, s2;
        struct itree *t = sample(), *back = NULL;
        struct lines a = {0}, b = {0};
        char *tar1 = NULL, *tar2 = NULL;
        size_t n1, n2;

        ok(index_write(t, &tar1, &n1, &s1, &e) == 0 && index_write(t, &tar2, &n2, &s2, &e) == 0 &&
           n1 == n2 && !memcmp(tar1, tar2, n1), "the index is reproducible");
        ok(s1.entries == 7 && s1.files == 1 && s1.objects == 1, "the summary counts entries and files");
        ok(index_parse(tar1, n1, &back, &e) == 0, "the index reads back");
        index_lines(t, true, add_line, &a, &e);
        if (back)
                index_lines(back, true, add_line, &b, &e);
        ok(a.n && !strcmp(a.buf, b.buf), "and lists the same");
        ok(strstr(a.buf, "h\t4755\t1000\t0\t0\tsha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                         "\ttmp/file\\nname\tlink\n") != NULL, "the second path of a file is a hardlink");
        ok(strstr(a.buf, "c\t0666\t0\t0\t-\t-\tnull\t1,3\n") != NULL, "devices list their numbers");
        struct tnode *f = back ? itree_find(back, "link") : NULL;
        ok(f && f->ino->mtime_nsec == 123456789 && f->ino->nxattrs == 2, "nanoseconds and xattrs survive");
        free(tar1);
        free(tar2);
        itree_free(t);
        itree_free(back);
}

struct member {
        const char *name;
        mode_t type;
        const char *link;
        const char *digest;
        int64_t size;
};

/* index_parse of a tar made of members */
static int parse(const struct member *m, size_t k, char *msg, size_t msgn)
{
        struct archive *a = archive_write_new();
        struct archive_entry *ent = archive_entry_new();
        struct gear_err e = {0};
        struct itree *t = NULL;
        static char buf[65536];
        size_t used = 0;
        int r;

        archive_write_set_format_pax(a);
        archive_write_open_memory(a, buf, sizeof buf, &used);
        for (size_t i = 0; i < k; i++) {
                archive_entry_clear(ent);
                archive_entry_set_pathname(ent, m[i].name);
                archive_entry_set_filetype(ent, m[i].type);
                archive_entry_set_perm(ent, 0644);
                archive_entry_set_size(ent, m[i].size);
                if (m[i].link)
                        archive_entry_set_hardlink(ent, m[i].link);
                if (m[i].digest) {
                        archive_entry_xattr_add_entry(ent, INDEX_XATTR_DIGEST, m[i].digest, strlen(m[i].digest));
                        archive_entry_xattr_add_entry(ent, INDEX_XATTR_SIZE, "3", 1);
                }
                archive_write_header(a, ent);
                for (int64_t j = 0; j < m[i].size; j++)
                        archive_write_data(a, "x", 1);
        }
        archive_write_close(a);
        archive_write_free(a);
        archive_entry_free(ent);
        r = index_parse(buf, used, &t, &e);
        snprintf(msg, msgn, "%s", e.msg);
        itree_free(t);
        return r;
}

static void index_hostile(void)
{
        const char *d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        char msg[1024];
        struct member good[] = { { .name = "etc", .type = AE_IFDIR }, { .name = "etc/a", .type = AE_IFREG, .digest = d }, { .name = "b", .type = AE_IFREG, .link = "etc/a" } };
        struct member dotdot[] = { { .name = "../a", .type = AE_IFREG, .digest = d } };
        struct member dup[] = { { .name = "a", .type = AE_IFREG, .digest = d }, { .name = "a", .type = AE_IFREG, .digest = d } };
        struct member orphan[] = { { .name = "etc/a", .type = AE_IFREG, .digest = d } };
        struct member nodigest[] = { { .name = "a", .type = AE_IFREG } };
        struct member baddigest[] = { { .name = "a", .type = AE_IFREG, .digest = "sha256:xyz" } };
        struct member content[] = { { .name = "a", .type = AE_IFREG, .digest = d, .size = 3 } };
        struct member nolink[] = { { .name = "b", .type = AE_IFREG, .link = "a" } };
        struct member through[] = { { .name = "etc", .type = AE_IFREG, .digest = d }, { .name = "etc/x", .type = AE_IFREG, .digest = d } };

        ok(parse(good, 3, msg, sizeof msg) == 0, "a well-formed index parses");
        if (*msg)
                printf("# %s\n", msg);
        ok(parse(dotdot, 1, msg, sizeof msg) < 0 && strstr(msg, "'..' in name"), "'..' refused");
        ok(parse(dup, 2, msg, sizeof msg) < 0 && strstr(msg, "duplicate entry"), "duplicates refused");
        ok(parse(orphan, 1, msg, sizeof msg) < 0 && strstr(msg, "'etc' does not exist"), "orphans refused");
        ok(parse(nodigest, 1, msg, sizeof msg) < 0 && strstr(msg, "without digest"), "files need a digest");
        ok(parse(baddigest, 1, msg, sizeof msg) < 0 && strstr(msg, "invalid digest"), "digests are checked");
        ok(parse(content, 1, msg, sizeof msg) < 0 && strstr(msg, "entry with content"), "content refused");
        ok(parse(nolink, 1, msg, sizeof msg) < 0 && strstr(msg, "hardlink to a missing entry"),
           "dangling hardlinks refused");
        ok(parse(through, 2, msg, sizeof msg) < 0 && strstr(msg, "'etc' is not a directory"),
           "entries below files refused");
}

int main(void)
{
        names();
        paths();
        objects();
        streams();
        index_roundtrip();
        index_hostile();
        printf("1..%d\n", n);
        return failed ? 1 : 0;
}
