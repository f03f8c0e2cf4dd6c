/*
 * gear-gc: the public/ cache trimmed to a size, never below what mounted
 * images need; and the objects/ no image names any more removed
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/fsutil.h"
#include "../image/image.h"
#include "../store/cache.h"
#include "../store/frames.h"

struct entry {
        char hex[65];
        uint64_t size;
        struct timespec atime;
        bool keep;
};

struct gc {
        const struct gear_root *img;
        bool every;             /* every image, not only those in use */
        char (*keep)[65];
        size_t nkeep, keep_cap;
        struct cache_gc_result *res;
        struct gear_err *e;
};

static int by_name(const void *a, const void *b)
{
        return strcmp(a, b);
}

static int by_atime(const void *a, const void *b)
{
        const struct entry *x = a, *y = b;

        if (x->atime.tv_sec != y->atime.tv_sec)
                return x->atime.tv_sec < y->atime.tv_sec ? -1 : 1;
        if (x->atime.tv_nsec != y->atime.tv_nsec)
                return x->atime.tv_nsec < y->atime.tv_nsec ? -1 : 1;
        return strcmp(x->hex, y->hex);
}

static int keep_blob(struct tnode *n, const char *path, void *ud)
{
        struct gc *g = ud;

        if (!S_ISREG(n->ino->mode) || !n->ino->blob)
                return 0;
        if (g->nkeep == g->keep_cap) {
                size_t cap = g->keep_cap ? 2 * g->keep_cap : 1024;
                void *p = realloc(g->keep, cap * sizeof *g->keep);
                if (!p)
                        return gear_err_sys(g->e, ENOMEM, "cannot collect garbage");
                g->keep = p;
                g->keep_cap = cap;
        }
        memcpy(g->keep[g->nkeep++], n->ino->blob->hex, 65);
        return 0;
}

/*
 * An image in use (a gear-fs or a prefetch holds its fs.lock): every content
 * it has is kept. So for a generation a pull or a build replaced while it was
 * mounted, under its temp name; a temp directory still being written does not
 * read back yet.
 */
static int check_image(const char *rel, const struct image_ref *r, bool tmp, void *ud)
{
        struct gc *g = ud;
        char lock[PATH_MAX + 16];
        _cleanup_close_ int fd = -1;
        struct image_ref any = { .tag = "" };
        struct image im;
        struct itree *t;
        int ret;

        if (!tmp && !r)
                return 0;
        snprintf(lock, sizeof lock, "%s/" CACHE_MOUNT_LOCK, rel);
        if (!g->every) {
                if ((fd = openat(g->img->fd, lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                        return 0;
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
        }
        if (tmp) {
                /* images/NAME/.gear-tmp.*: NAME, for messages */
                size_t k = strrchr(rel, '/') - rel;
                if (k > strlen(IMAGES_DIR "/"))
                        snprintf(any.name, sizeof any.name, "%.*s", (int)(k - strlen(IMAGES_DIR "/")),
                                 rel + strlen(IMAGES_DIR "/"));
                if (image_open_dir(g->img, rel, &any, &im, g->e) < 0) {
                        gear_err_clear(g->e);
                        return 0;
                }
        } else if (image_open(g->img, r, &im, g->e) < 0) {
                return -1;
        }
        g->res->mounted++;
        ret = image_load_tree(&im, &t, g->e);
        image_close(&im);
        if (ret < 0)
                return -1;
        ret = itree_walk(t, keep_blob, g);
        itree_free(t);
        return ret;
}

/* the files <dir>/<ab>/<rest> (public/ or objects/), named by their digest */
static int list_cache(const struct gear_root *img, const char *dir, struct entry **out, size_t *n,
                      struct gear_err *e)
{
        _cleanup_closedir_ DIR *top = NULL;
        struct dirent *de;
        size_t cap = 0;
        int fd = openat(img->fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        *out = NULL;
        *n = 0;
        if (fd < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot open '%s/%s'", img->path, dir);
        if (!(top = fdopendir(fd))) {
                close(fd);
                return gear_err_sys(e, errno, "cannot read '%s/%s'", img->path, dir);
        }
        while ((de = readdir(top))) {
                _cleanup_closedir_ DIR *sub = NULL;
                struct dirent *f;
                int sfd;
                if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
                        continue;
                if ((sfd = openat(dirfd(top), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                        continue;
                if (!(sub = fdopendir(sfd))) {
                        close(sfd);
                        continue;
                }
                while ((f = readdir(sub))) {
                        struct stat st;
                        if (strlen(f->d_name) != 62 || f->d_name[0] == '.')
                                continue;
                        if (fstatat(dirfd(sub), f->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                                continue;
                        if (*n == cap) {
                                void *p;
                                cap = cap ? 2 * cap : 1024;
                                if (!(p = realloc(*out, cap * sizeof **out)))
                                        return gear_err_sys(e, ENOMEM, "cannot collect garbage");
                                *out = p;
                        }
                        snprintf((*out)[*n].hex, 65, "%s%s", de->d_name, f->d_name);
                        (*out)[*n].size = st.st_size;
                        (*out)[*n].atime = st.st_atim;
                        (*out)[*n].keep = false;
                        (*n)++;
                }
        }
        return 0;
}

/* public/ locked exclusively, so no image starts being used until gc is done; -ENOENT: no cache */
static int lock_cache(const struct gear_root *img, struct gear_err *e)
{
        int fd = openat(img->fd, CACHE_GC_LOCK, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return errno == ENOENT ? -ENOENT : gear_err_sys(e, errno, "cannot open lock '%s/%s'", img->path,
                                                                  CACHE_GC_LOCK);
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR) {
                        int err = errno;
                        close(fd);
                        return gear_err_sys(e, err, "cannot lock '%s/%s'", img->path, CACHE_GC_LOCK);
                }
        return fd;
}

/*
 * The files of dir (public/ or objects/) that no image g walks to names,
 * oldest access first when by_atime, removed until what stays is at most
 * max bytes.
 */
static int sweep(struct gc *g, const char *dir, bool by_access, uint64_t max, bool dry_run, cache_gc_fn fn,
                 void *ud)
{
        const struct gear_root *img = g->img;
        _cleanup_free_ struct entry *v = NULL;
        struct cache_gc_result *res = g->res;
        uint64_t total = 0;
        size_t n;

        if (image_walk(img, check_image, g, g->e) < 0)
                return -1;
        qsort(g->keep, g->nkeep, sizeof *g->keep, by_name);
        if (list_cache(img, dir, &v, &n, g->e) < 0)
                return -1;
        qsort(v, n, sizeof *v, by_access ? by_atime : by_name);
        for (size_t i = 0; i < n; i++) {
                total += v[i].size;
                v[i].keep = g->nkeep && bsearch(v[i].hex, g->keep, g->nkeep, sizeof *g->keep, by_name);
        }
        for (size_t i = 0; i < n; i++) {
                char rel[PATH_MAX];

                if (v[i].keep || total <= max) {
                        res->kept++;
                        res->kept_bytes += v[i].size;
                        continue;
                }
                snprintf(rel, sizeof rel, "%s/%.2s/%s", dir, v[i].hex, v[i].hex + 2);
                if (!dry_run && unlinkat(img->fd, rel, 0) < 0 && errno != ENOENT)
                        return gear_err_sys(g->e, errno, "cannot remove '%s/%s'", img->path, rel);
                total -= v[i].size;
                res->removed++;
                res->removed_bytes += v[i].size;
                if (fn)
                        fn(v[i].hex, v[i].size, ud);
        }
        return 0;
}

/* the solid frames one of whose members no image names (g->keep, sorted, is what they name) */
static int sweep_frames(struct gc *g, bool dry_run)
{
        struct frame_index *x = NULL;

        if (frame_index_load(g->img, &x, g->e) < 0)
                return -1;
        for (size_t i = 0; i < frame_index_count(x); i++) {
                const struct store_frame *f = frame_index_at(x, i);
                char rel[FRAME_REL_MAX];
                bool stale = false;
                for (size_t k = 0; k < f->n && !stale; k++)
                        stale = !g->nkeep || !bsearch(f->m[k].hex, g->keep, g->nkeep, sizeof *g->keep, by_name);
                if (!stale)
                        continue;
                frame_rel(f->name, rel);
                if (!dry_run && unlinkat(g->img->fd, rel, 0) < 0 && errno != ENOENT) {
                        frame_index_free(x);
                        return gear_err_sys(g->e, errno, "cannot remove '%s/%s'", g->img->path, rel);
                }
                g->res->frames_removed++;
                g->res->frames_removed_bytes += f->data_off + f->data_len;
        }
        frame_index_free(x);
        return 0;
}

int cache_gc(const struct gear_root *img, uint64_t max, bool dry_run, cache_gc_fn fn, void *ud,
             struct cache_gc_result *res, struct gear_err *e)
{
        struct gc g = { .img = img, .res = res, .e = e };
        _cleanup_close_ int lock = -1;
        int r;

        *res = (struct cache_gc_result){0};
        if ((lock = lock_cache(img, e)) < 0)
                return lock == -ENOENT ? 0 : -1;
        r = sweep(&g, CACHE_DIR, true, max, dry_run, fn, ud);
        free(g.keep);
        return r;
}

/*
 * With objects/ locked exclusively no build runs (each holds it shared from
 * its first look at the store to its image in place), so every image of the
 * tree, in place or under a temp name, says what stays. A temp directory
 * that does not read back is a pull's (its contents come from its store) or
 * a leftover. One build running: nothing is removed this time.
 */
int object_gc(const struct gear_root *img, bool dry_run, cache_gc_fn fn, void *ud, struct cache_gc_result *res,
              struct gear_err *e)
{
        struct gc g = { .img = img, .every = true, .res = res, .e = e };
        _cleanup_close_ int lock = -1;
        struct stat st;
        int r;

        *res = (struct cache_gc_result){0};
        if (fstatat(img->fd, STORE_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot stat '%s/%s'", img->path, STORE_DIR);
        if ((lock = store_lock(img, LOCK_EX | LOCK_NB, e)) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        r = sweep(&g, STORE_DIR, false, 0, dry_run, fn, ud);
        if (r == 0)
                r = sweep_frames(&g, dry_run);
        free(g.keep);
        return r;
}
