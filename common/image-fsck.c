/* gear-fsck: every object against its name, every image against its blobs and the store */
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

#include "fsutil.h"
#include "image.h"
#include "remote.h"

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

/* a temp directory's build token: the last 16 hex digits of its name */
static const char *token_of(const char *name)
{
        const char *base = strrchr(name, '/');
        size_t n;

        name = base ? base + 1 : name;
        n = strlen(name);
        return n >= 16 && is_hex(name + n - 16, 16) ? name + n - 16 : NULL;
}

/* name (below dfd) is a temp file or directory; rel names it below the image tree */
static void stale(struct fsck *f, int dfd, const char *rel, const char *name, bool dir)
{
        const char *tok = token_of(name);

        if (dir ? !tok || !stage_token_stale(f->img, tok) : !tmp_is_stale(dfd, name, 60))
                return;
        f->c->stale++;
        f->fn("stale", rel, NULL, f->ud);
        if (f->repair && store_rm_rf(dfd, name) == 0)
                f->c->repaired++;
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
                        stale(f, dfd, rel, de->d_name, false);
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
                        stale(f, f->img->fd, name, name, false);
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
                stale(f, f->img->fd, rel, rel, true);
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
        char dir[PATH_MAX], spec[PATH_MAX];
        struct gear_err ignore = {0};
        image_rel(r, dir, sizeof dir);
        if (image_origin(f->img, dir, spec, sizeof spec, &ignore) != 1)
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
                        stale(f, f->img->fd, rel, rel, true);
                }
                free(v[i]);
        }
        free(v);
        return 0;
}

int image_fsck(const struct gear_root *img, bool repair, fsck_report_fn fn, void *ud, struct fsck_counts *c,
               struct gear_err *e)
{
        struct fsck f = { .img = img, .repair = repair, .fn = fn, .ud = ud, .c = c, .e = e };
        _cleanup_close_ int lock = -1;

        memset(c, 0, sizeof *c);
        /* moving objects aside waits for running builds, which may be about to reuse them */
        if (repair && (lock = store_lock(img, LOCK_EX, e)) < 0)
                return -1;
        if (check_objects(&f) < 0 || image_walk(img, check_image, &f, e) < 0 || check_builds(&f) < 0)
                return -1;
        return 0;
}
