/*
 * gear-fsck: every object and every cached file against its name, every
 * image against its blobs and the store; what killed commands left behind
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/fsutil.h"
#include "../image/image.h"
#include "../remote/remote.h"
#include "../store/cache.h"
#include "../store/frames.h"

struct fsck {
        const struct gear_root *img;
        bool repair;
        fsck_report_fn fn;
        void *ud;
        struct fsck_counts *c;
        struct gear_err *e;
        const struct image_ref *ref;
};

static bool is_hex(const char *s, size_t n)
{
        return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

static void found_stale(struct fsck *f, const char *rel, bool removed)
{
        f->c->stale++;
        f->fn("stale", rel, NULL, f->ud);
        if (removed)
                f->c->repaired++;
}

/* name (below dfd) is a temp file; rel names it below the tree */
static void stale_file(struct fsck *f, int dfd, const char *rel, const char *name)
{
        if (tmp_is_stale(dfd, name, 60))
                found_stale(f, rel, f->repair && unlinkat(dfd, name, 0) == 0);
}

/* rel is a temp directory: of a build, pull or push, or an image generation a mount used */
static void stale_dir(struct fsck *f, const char *rel)
{
        int lock;

        if (image_tmp_claim(f->img, rel, &lock) != 1)
                return;
        found_stale(f, rel, f->repair && store_rm_rf(f->img->fd, rel) == 0);
        if (lock >= 0)
                close(lock);
}

static int quarantine(struct fsck *f, const char *rel, const char *hex)
{
        char to[sizeof STORE_CORRUPT_DIR + DIGEST_HEX_LEN + 2];

        if (mkdir_synced_at(f->img->fd, STORE_CORRUPT_DIR, 0700, f->e) < 0)
                return gear_err_wrap(f->e, "in '%s'", f->img->path);
        snprintf(to, sizeof to, STORE_CORRUPT_DIR "/%s", hex);
        if (renameat(f->img->fd, rel, f->img->fd, to) < 0)
                return gear_err_sys(f->e, errno, "cannot move '%s' aside", rel);
        f->c->repaired++;
        return 0;
}

static int check_objects_in(struct fsck *f, const char *sub)
{
        char rel[PATH_MAX], hex[DIGEST_HEX_LEN + 1];
        _cleanup_close_ int dfd = -1;
        DIR *d;
        struct dirent *de;
        int r = 0;

        snprintf(rel, sizeof rel, STORE_DIR "/%s", sub);
        dfd = openat(f->img->fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0 || !(d = fdopendir(dup(dfd))))
                return gear_err_sys(f->e, errno, "cannot read '%s/%s'", f->img->path, rel);
        while ((de = readdir(d)) && r >= 0) {
                struct gear_err why = {0};
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                snprintf(rel, sizeof rel, STORE_DIR "/%s/%s", sub, de->d_name);
                if (is_tmp_name(de->d_name)) {
                        stale_file(f, dfd, rel, de->d_name);
                        continue;
                }
                if (!is_hex(de->d_name, DIGEST_HEX_LEN - 2)) {
                        f->fn("stray", rel, "not an object name", f->ud);
                        continue;
                }
                snprintf(hex, sizeof hex, "%s%s", sub, de->d_name);
                f->c->objects++;
                int k = store_verify(f->img, hex, NULL, &why);
                if (k == 0)
                        continue;
                if (k != -EBADMSG) {
                        r = gear_err_set(f->e, why.code ? why.code : GEAR_EXIT_SYS, "%s", why.msg);
                        break;
                }
                f->c->corrupt++;
                f->fn("corrupt", rel, why.msg, f->ud);
                if (f->repair)
                        r = quarantine(f, rel, hex);
        }
        closedir(d);
        return r;
}

/* a solid frame (frames.h): a cache of contents objects/ has too; a corrupt one is removed by a repair */
static void check_frame(struct fsck *f, int dfd, const char *sub, const char *name)
{
        char rel[PATH_MAX], full[DIGEST_HEX_LEN + 1];
        _cleanup_close_ int fd = -1;
        struct gear_err why = {0};
        struct store_frame fr = {0};
        struct stat st;

        snprintf(rel, sizeof rel, FRAMES_DIR "/%s/%s", sub, name);
        if (is_tmp_name(name)) {
                stale_file(f, dfd, rel, name);
                return;
        }
        if (!is_hex(name, DIGEST_HEX_LEN - 2) || (fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0 ||
            fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                f->fn("stray", rel, "not a solid frame", f->ud);
                return;
        }
        snprintf(full, sizeof full, "%s%s", sub, name);
        if (frame_read_head(fd, st.st_size, &fr, &why) == 0 && strcmp(fr.name, full))
                gear_err_set(&why, GEAR_EXIT_SYS, "not named by its members");
        else if (!why.code)
                frame_verify(fd, &fr, &why);
        store_frame_free(&fr);
        if (!why.code)
                return;
        f->c->corrupt++;
        f->fn("corrupt", rel, why.msg, f->ud);
        if (f->repair && unlinkat(dfd, name, 0) == 0)
                f->c->repaired++;
}

static int check_frames(struct fsck *f)
{
        struct dirent **v = NULL;
        int n;

        n = scandirat(f->img->fd, FRAMES_DIR, &v, NULL, alphasort);
        if (n < 0)
                return errno == ENOENT ? 0 : gear_err_sys(f->e, errno, "cannot read '%s/" FRAMES_DIR "'", f->img->path);
        for (int i = 0; i < n; i++) {
                char rel[sizeof FRAMES_DIR + 3];
                struct dirent **w = NULL;
                _cleanup_close_ int dfd = -1;
                int m;
                if (is_hex(v[i]->d_name, 2)) {
                        snprintf(rel, sizeof rel, FRAMES_DIR "/%s", v[i]->d_name);
                        dfd = openat(f->img->fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        m = dfd < 0 ? -1 : scandirat(dfd, ".", &w, NULL, alphasort);
                        for (int k = 0; k < m; k++) {
                                if (strcmp(w[k]->d_name, ".") && strcmp(w[k]->d_name, ".."))
                                        check_frame(f, dfd, v[i]->d_name, w[k]->d_name);
                                free(w[k]);
                        }
                        free(w);
                }
                free(v[i]);
        }
        free(v);
        return 0;
}

static int check_objects(struct fsck *f)
{
        struct dirent **v = NULL;
        int n, r = 0;

        n = scandirat(f->img->fd, STORE_DIR, &v, NULL, alphasort);
        if (n < 0)
                return errno == ENOENT ? 0 : gear_err_sys(f->e, errno, "cannot read '%s/" STORE_DIR "'", f->img->path);
        for (int i = 0; i < n; i++) {
                const char *name = v[i]->d_name;
                if (r >= 0 && is_hex(name, 2))
                        r = check_objects_in(f, name);
                else if (r >= 0 && is_tmp_name(name))
                        stale_file(f, f->img->fd, name, name);
                free(v[i]);
        }
        free(v);
        return r;
}

static int check_ref(struct tnode *n, const char *path, void *ud)
{
        struct fsck *f = ud;
        char what[IMAGE_NAME_MAX + IMAGE_TAG_MAX + 8];

        if (!S_ISREG(n->ino->mode) || n->ino->first_path)
                return 0;
        n->ino->first_path = strdup("");
        if (store_has(f->img, n->ino->blob->hex))
                return 0;
        snprintf(what, sizeof what, "%s:%s", f->ref->name, f->ref->tag);
        char detail[PATH_MAX + 100];
        snprintf(detail, sizeof detail, "sha256:%s %s", n->ino->blob->hex, path);
        f->c->missing++;
        f->fn("missing", what, detail, f->ud);
        return 0;
}

static int check_image(const char *rel, const struct image_ref *r, bool tmp, void *ud)
{
        struct fsck *f = ud;
        struct gear_err why = {0};
        struct itree *t = NULL;
        struct image im;
        char what[IMAGE_NAME_MAX + IMAGE_TAG_MAX + 8];

        if (tmp) {
                stale_dir(f, rel);
                return 0;
        }
        f->c->images++;
        snprintf(what, sizeof what, "%s:%s", r->name, r->tag);
        if (image_open(f->img, r, &im, &why) < 0 || (image_load_tree(&im, &t, &why), image_close(&im), !t)) {
                f->c->bad_images++;
                f->fn("badimage", what, why.msg, f->ud);
                return 0;
        }
        f->ref = r;
        /* a pulled image fetches its objects from its store on demand: none is missing here */
        char spec[PATH_MAX];
        struct gear_err ignore = {0};
        if (image_origin(f->img, rel, spec, sizeof spec, &ignore) != 1)
                itree_walk(t, check_ref, f);
        itree_free(t);
        return 0;
}

static int check_builds(struct fsck *f)
{
        struct dirent **v = NULL;
        char rel[PATH_MAX];
        int n;

        n = scandirat(f->img->fd, STORE_BUILD_DIR, &v, NULL, alphasort);
        if (n < 0)
                return errno == ENOENT ? 0 : gear_err_sys(f->e, errno, "cannot read '%s/" STORE_BUILD_DIR "'", f->img->path);
        for (int i = 0; i < n; i++) {
                if (is_tmp_name(v[i]->d_name)) {
                        snprintf(rel, sizeof rel, STORE_BUILD_DIR "/%s", v[i]->d_name);
                        stale_dir(f, rel);
                }
                free(v[i]);
        }
        free(v);
        return 0;
}

/* one cached file: its content against its name; a corrupt one goes (gear-fs fetches it again) */
static int check_cached(struct fsck *f, int dfd, const char *rel, const char *hex, const char *name)
{
        _cleanup_close_ int fd = -1;
        struct stat a, b;
        digest_hex got;
        uint64_t size;
        char detail[160];
        struct gear_err why = {0};

        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return 0; /* trimmed by gear-gc meanwhile */
        if ((fd < 0 && errno != ELOOP) || (fd >= 0 && fstat(fd, &a) < 0))
                return gear_err_sys(f->e, errno, "cannot open '%s/%s'", f->img->path, rel);
        if (fd < 0 || !S_ISREG(a.st_mode)) {
                f->fn("stray", rel, "not a regular file", f->ud);
                return 0;
        }
        f->c->cached++;
        if (digest_fd(fd, got, &size, &why) < 0)
                return gear_err_set(f->e, GEAR_EXIT_SYS, "'%s/%s': %s", f->img->path, rel, why.msg);
        if (!strcmp(got, hex))
                return 0;
        f->c->corrupt++;
        snprintf(detail, sizeof detail, "cached file is corrupt: content has digest sha256:%s", got);
        f->fn("corrupt", rel, detail, f->ud);
        /* only the file checked: one fetched afresh under the name meanwhile stays */
        if (f->repair && fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev && unlinkat(dfd, name, 0) == 0)
                f->c->repaired++;
        return 0;
}

/* name in public/<sub>/ (dfd) */
static int check_cache_entry(struct fsck *f, int dfd, const char *sub, const char *name)
{
        char rel[PATH_MAX], hex[DIGEST_HEX_LEN + 1];
        int lock;

        snprintf(rel, sizeof rel, CACHE_DIR "/%s/%s", sub, name);
        if (is_hex(name, DIGEST_HEX_LEN - 2)) {
                snprintf(hex, sizeof hex, "%s%s", sub, name);
                return check_cached(f, dfd, rel, hex, name);
        }
        if (cache_lock_name(name)) {
                /* a fetch killed while it held its lock */
                if ((lock = cache_lock_claim(dfd, name)) >= 0) {
                        found_stale(f, rel, f->repair && unlinkat(dfd, name, 0) == 0);
                        close(lock);
                }
        } else if (is_tmp_name(name)) {
                stale_file(f, dfd, rel, name);
        } else {
                f->fn("stray", rel, "not a cached file", f->ud);
        }
        return 0;
}

static int check_cache_dir(struct fsck *f, const char *sub)
{
        char rel[sizeof CACHE_DIR + 3];
        _cleanup_close_ int dfd = -1;
        struct dirent **v = NULL;
        int n, r = 0;

        snprintf(rel, sizeof rel, CACHE_DIR "/%s", sub);
        dfd = openat(f->img->fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0 || (n = scandirat(dfd, ".", &v, NULL, alphasort)) < 0)
                return gear_err_sys(f->e, errno, "cannot read '%s/%s'", f->img->path, rel);
        for (int i = 0; i < n; i++) {
                if (r >= 0 && strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, ".."))
                        r = check_cache_entry(f, dfd, sub, v[i]->d_name);
                free(v[i]);
        }
        free(v);
        return r;
}

static int check_cache(struct fsck *f)
{
        struct dirent **v = NULL;
        int n, r = 0;

        n = scandirat(f->img->fd, CACHE_DIR, &v, NULL, alphasort);
        if (n < 0)
                return errno == ENOENT ? 0 : gear_err_sys(f->e, errno, "cannot read '%s/" CACHE_DIR "'", f->img->path);
        for (int i = 0; i < n; i++) {
                if (r >= 0 && is_hex(v[i]->d_name, 2))
                        r = check_cache_dir(f, v[i]->d_name);
                free(v[i]);
        }
        free(v);
        return r;
}

int image_fsck(const struct gear_root *img, const struct fsck_opts *o, fsck_report_fn fn, void *ud,
               struct fsck_counts *c, struct gear_err *e)
{
        struct fsck f = { .img = img, .repair = o->repair, .fn = fn, .ud = ud, .c = c, .e = e };
        _cleanup_close_ int lock = -1;

        memset(c, 0, sizeof *c);
        /* moving objects aside waits for running builds, which may be about to reuse them */
        if (o->repair && !o->store && (lock = store_lock(img, LOCK_EX, e)) < 0)
                return -1;
        if (check_objects(&f) < 0 || image_walk(img, check_image, &f, e) < 0)
                return -1;
        /* a directory store has no builds and no cache */
        if (!o->store && (check_builds(&f) < 0 || check_cache(&f) < 0 || check_frames(&f) < 0))
                return -1;
        return 0;
}
