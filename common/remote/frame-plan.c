/*
 * The store's solid frames (store/frames.h), made by gear-recompress for
 * gear-push: the small contents of the images built here, grouped by the
 * set of images that name them, so that every member of a frame is a
 * content of each image that fetches the frame, and then by the set of
 * images whose access lists name them, so that a prefetch fetches frames
 * of what its image reads at start only. Within a group, the contents are
 * in the order of their place in those lists, then in path order; a group
 * is cut into frames of about SOLID_FRAME_SIZE. The plan depends only on the images, so a run again finds its
 * frames made: only new ones are made, and those no longer planned removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame-plan.h"
#include "image-fetch.h"
#include "remote.h"
#include "../base/fsutil.h"
#include "../base/parallel.h"
#include "../image/image.h"
#include "../store/frames.h"
#include "../store/store.h"

#define NO_RANK ((size_t)-1)

/* a small content of one image */
struct seen {
        const char *hex;        /* into the image's list of contents */
        uint64_t size;
        uint32_t image;
        size_t rank;            /* in its access list; NO_RANK */
        size_t pos;             /* in its path order */
};

/*
 * a small content of the tree, with the images naming it (sig: nsig of them
 * at sigs[sig]) and those whose access lists name it (nacc at sigs[acc])
 */
struct content {
        const char *hex;
        uint64_t size;
        size_t sig, nsig, acc, nacc;
        size_t rank;            /* the lowest of its access list places */
        uint32_t image;         /* the first image naming it, and its place there */
        size_t pos;
};

struct planner {
        const struct gear_root *img;
        digest_hex **lists;     /* each image's contents (kept: seen points into them) */
        size_t nimages;
        struct seen *seen;
        size_t nseen, cap;
        uint32_t *sigs;
        struct gear_err *e;
};

static int seen_cmp(const void *a, const void *b)
{
        const struct seen *x = a, *y = b;
        int c = strcmp(x->hex, y->hex);

        return c ? c : (x->image > y->image) - (x->image < y->image);
}

int built_image_tree(const struct gear_root *img, const struct image_ref *r, char rel[PATH_MAX], struct itree **t,
                     struct gear_err *e)
{
        char spec[PATH_MAX + 256];
        struct image im = { .dfd = -1 };
        int k;

        *t = NULL;
        image_rel(r, rel, PATH_MAX);
        /* a pulled image: its contents are its store's, not objects/ */
        if ((k = image_origin(img, rel, spec, sizeof spec, e)) != 0)
                return k < 0 ? -1 : 0;
        k = image_open(img, r, &im, e) < 0 || image_load_tree(&im, t, e) < 0 ? 0 : 1;
        image_close(&im);
        /* gone or unreadable meanwhile: not this run's */
        if (!k)
                gear_err_clear(e);
        return k;
}

static int add_image(const struct image_ref *r, const struct image *im0, const struct gear_err *why, void *ud)
{
        struct planner *p = ud;
        _cleanup_free_ digest_hex *acc = NULL;
        _cleanup_free_ const struct store_blob **b = NULL;
        digest_hex *order = NULL;
        struct itree *t = NULL;
        char rel[PATH_MAX];
        size_t n = 0, nb = 0, nacc = 0;
        digest_hex **lists;
        int k;

        (void)im0;
        if (why || (k = built_image_tree(p->img, r, rel, &t, p->e)) <= 0)
                return why ? 0 : k;
        if ((k = itree_contents(t, &order, &n)) < 0 || (k = itree_blobs(t, &b, &nb)) < 0 ||
            !(lists = realloc(p->lists, (p->nimages + 1) * sizeof *lists))) {
                free(order);
                itree_free(t);
                return gear_err_sys(p->e, k < 0 ? -k : ENOMEM, "cannot plan the frames");
        }
        p->lists = lists;
        p->lists[p->nimages++] = order;
        if (access_list_load(p->img, rel, &acc, &nacc, p->e) < 0)
                gear_err_clear(p->e);
        /* sizes by digest: the blobs sorted */
        for (size_t i = 0; i < n; i++) {
                struct seen *s;
                if (p->nseen == p->cap) {
                        size_t cap = p->cap ? 2 * p->cap : 4096;
                        if (!(s = realloc(p->seen, cap * sizeof *s))) {
                                itree_free(t);
                                return gear_err_sys(p->e, ENOMEM, "cannot plan the frames");
                        }
                        p->seen = s;
                        p->cap = cap;
                }
                p->seen[p->nseen++] = (struct seen){ order[i], 0, (uint32_t)p->nimages - 1, NO_RANK, i };
        }
        {
                /* sizes: a pass over the blobs against the entries just added, sorted by digest */
                size_t first = p->nseen - n;
                qsort(p->seen + first, n, sizeof *p->seen, seen_cmp);
                for (size_t i = 0; i < nb; i++) {
                        struct seen key = { b[i]->hex, 0, (uint32_t)p->nimages - 1, 0, 0 }, *s;
                        if ((s = bsearch(&key, p->seen + first, n, sizeof *p->seen, seen_cmp)))
                                s->size = b[i]->size;
                }
                for (size_t i = nacc; i-- > 0;) {
                        struct seen key = { acc[i], 0, (uint32_t)p->nimages - 1, 0, 0 }, *s;
                        if ((s = bsearch(&key, p->seen + first, n, sizeof *p->seen, seen_cmp)))
                                s->rank = i;
                }
        }
        itree_free(t);
        return 0;
}

static const uint32_t *sig_of(const struct planner *p, const struct content *c)
{
        return p->sigs + c->sig;
}

static int content_cmp(const void *a, const void *b, void *ud)
{
        const struct content *x = a, *y = b;
        const uint32_t *sx = sig_of(ud, x), *sy = sig_of(ud, y);

        if (x->nsig != y->nsig)
                return x->nsig < y->nsig ? -1 : 1;
        for (size_t i = 0; i < x->nsig; i++)
                if (sx[i] != sy[i])
                        return sx[i] < sy[i] ? -1 : 1;
        /* what no access list names last */
        if (!x->nacc != !y->nacc)
                return x->nacc ? -1 : 1;
        if (x->nacc != y->nacc)
                return x->nacc < y->nacc ? -1 : 1;
        for (size_t i = 0; i < x->nacc; i++) {
                const uint32_t *v = ((const struct planner *)ud)->sigs;
                if (v[x->acc + i] != v[y->acc + i])
                        return v[x->acc + i] < v[y->acc + i] ? -1 : 1;
        }
        if (x->rank != y->rank)
                return x->rank < y->rank ? -1 : 1;
        if (x->image != y->image)
                return x->image < y->image ? -1 : 1;
        return (x->pos > y->pos) - (x->pos < y->pos);
}

static bool same_group(const struct planner *p, const struct content *x, const struct content *y)
{
        return x->nsig == y->nsig && !memcmp(sig_of(p, x), sig_of(p, y), x->nsig * sizeof *p->sigs) &&
               x->nacc == y->nacc && !memcmp(p->sigs + x->acc, p->sigs + y->acc, x->nacc * sizeof *p->sigs);
}

void frame_plan_free(struct frame_plan *fp)
{
        if (!fp)
                return;
        for (size_t i = 0; i < fp->n; i++)
                free(fp->v[i].m);
        free(fp->v);
        *fp = (struct frame_plan){0};
}

static int plan_add(struct frame_plan *fp, const struct content *c, size_t n, struct gear_err *e)
{
        struct planned *v, *f;

        if (n < 2)
                return 0;
        if (!(v = realloc(fp->v, (fp->n + 1) * sizeof *v)))
                return gear_err_sys(e, ENOMEM, "cannot plan the frames");
        fp->v = v;
        f = &fp->v[fp->n];
        *f = (struct planned){0};
        if (!(f->m = calloc(n, sizeof *f->m)))
                return gear_err_sys(e, ENOMEM, "cannot plan the frames");
        f->n = n;
        for (size_t i = 0; i < n; i++) {
                memcpy(f->m[i].hex, c[i].hex, sizeof f->m[i].hex);
                f->m[i].size = c[i].size;
        }
        fp->n++;
        return frame_name(f->m, n, f->name, e);
}

int frame_plan_make(const struct gear_root *img, struct frame_plan *fp, struct gear_err *e)
{
        struct planner p = { .img = img, .e = e };
        _cleanup_free_ struct content *c = NULL;
        size_t nc = 0, nsigs = 0;
        int rc = -1;

        *fp = (struct frame_plan){0};
        if (image_list(img, add_image, &p, e) < 0)
                goto out;
        if (p.nseen)
                qsort(p.seen, p.nseen, sizeof *p.seen, seen_cmp);
        if (p.nseen && (!(c = malloc(p.nseen * sizeof *c)) || !(p.sigs = malloc(2 * p.nseen * sizeof *p.sigs)))) {
                gear_err_sys(e, ENOMEM, "cannot plan the frames");
                goto out;
        }
        /* each small content once, with the images naming it */
        for (size_t i = 0, j; i < p.nseen; i = j) {
                struct content *x = &c[nc];
                for (j = i + 1; j < p.nseen && !strcmp(p.seen[j].hex, p.seen[i].hex); j++)
                        ;
                if (!p.seen[i].size || p.seen[i].size >= SOLID_MEMBER_MAX || !store_has(img, p.seen[i].hex))
                        continue;
                *x = (struct content){ p.seen[i].hex, p.seen[i].size, nsigs, 0, 0, 0, NO_RANK, p.seen[i].image,
                                       p.seen[i].pos };
                for (size_t k = i; k < j; k++) {
                        if (k == i || p.seen[k].image != p.seen[k - 1].image)
                                p.sigs[nsigs + x->nsig++] = p.seen[k].image;
                        if (p.seen[k].rank < x->rank)
                                x->rank = p.seen[k].rank;
                }
                nsigs += x->nsig;
                x->acc = nsigs;
                for (size_t k = i; k < j; k++)
                        if (p.seen[k].rank != NO_RANK)
                                p.sigs[nsigs + x->nacc++] = p.seen[k].image;
                nsigs += x->nacc;
                nc++;
        }
        if (nc)
                qsort_r(c, nc, sizeof *c, content_cmp, &p);
        for (size_t i = 0, first = 0, bytes = 0; i <= nc; i++) {
                if (i == nc || (i > first && (!same_group(&p, &c[first], &c[i]) || bytes >= SOLID_FRAME_SIZE ||
                                              i - first >= FRAME_MEMBERS_MAX))) {
                        if (plan_add(fp, c + first, i - first, e) < 0)
                                goto out;
                        first = i;
                        bytes = 0;
                }
                if (i < nc)
                        bytes += c[i].size;
        }
        rc = 0;
out:
        if (rc < 0)
                frame_plan_free(fp);
        for (size_t i = 0; i < p.nimages; i++)
                free(p.lists[i]);
        free(p.lists);
        free(p.seen);
        free(p.sigs);
        return rc;
}

/* making the frames not made yet, on a few threads */
struct maker {
        const struct gear_root *img;
        struct frame_plan *fp;
        int level, dfd;
        pthread_mutex_t lock;   /* st, fn */
        struct frames_stats *st;
        frames_fail_fn fn;
        void *ud;
};

/* a frame that cannot be made is counted and left out: the others are made all the same */
static int make_one(size_t i, void *ud, struct gear_err *unused)
{
        struct maker *mk = ud;
        struct planned *pl = &mk->fp->v[i];
        struct gear_err e = {0};
        struct store_frame f;
        int k;

        (void)unused;
        if (!pl->make)
                return 0;
        k = frame_make(mk->img, pl->m, pl->n, mk->level, mk->dfd, pl->name, &f, &e);
        pthread_mutex_lock(&mk->lock);
        if (k < 0) {
                pl->make = false;
                pl->failed = true;
                mk->st->failed++;
                if (mk->fn)
                        mk->fn(pl->name, &e, mk->ud);
        } else {
                mk->st->made++;
                mk->st->made_bytes += f.data_len;
        }
        pthread_mutex_unlock(&mk->lock);
        if (k == 0)
                store_frame_free(&f);
        return 0;
}

static int planned_cmp(const void *a, const void *b)
{
        return strcmp(((const struct planned *)a)->name, ((const struct planned *)b)->name);
}

/* the new frames renamed into frames/, those not planned removed: with the store lock held exclusive */
static int commit(const struct gear_root *img, struct frame_plan *fp, const struct frame_index *x, int sdfd,
                  struct frames_stats *st, struct gear_err *e)
{
        _cleanup_close_ int lock = store_lock(img, LOCK_EX, e);
        char rel[FRAME_REL_MAX], sub[sizeof FRAMES_DIR + 3];

        if (lock < 0)
                return -1;
        test_pause_point("frames:commit");
        for (size_t i = 0; i < fp->n; i++) {
                if (!fp->v[i].make)
                        continue;
                frame_rel(fp->v[i].name, rel);
                snprintf(sub, sizeof sub, FRAMES_DIR "/%.2s", fp->v[i].name);
                if ((mkdirat(img->fd, FRAMES_DIR, 0700) < 0 && errno != EEXIST) ||
                    (mkdirat(img->fd, sub, 0700) < 0 && errno != EEXIST) ||
                    renameat(sdfd, fp->v[i].name, img->fd, rel) < 0)
                        return gear_err_sys(e, errno, "cannot put frame '%s' in place", rel);
        }
        if (syncfs(img->fd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s'", img->path);
        /* the plan by name, for the frames it no longer has */
        if (fp->n)
                qsort(fp->v, fp->n, sizeof *fp->v, planned_cmp);
        for (size_t i = 0; i < frame_index_count(x); i++) {
                const struct store_frame *f = frame_index_at(x, i);
                struct planned key;
                memcpy(key.name, f->name, sizeof key.name);
                if (fp->n && bsearch(&key, fp->v, fp->n, sizeof *fp->v, planned_cmp))
                        continue;
                frame_rel(f->name, rel);
                if (unlinkat(img->fd, rel, 0) < 0 && errno != ENOENT)
                        return gear_err_sys(e, errno, "cannot remove '%s/%s'", img->path, rel);
                st->removed++;
        }
        return 0;
}

int frames_recompress(const struct gear_root *img, int level, int jobs, frames_fail_fn fn, void *ud,
                      struct frames_stats *st, struct gear_err *e)
{
        struct frame_plan fp = {0};
        struct frame_index *x = NULL;
        struct store_stage *stage = NULL;
        struct maker mk = { .img = img, .fp = &fp, .level = level, .lock = PTHREAD_MUTEX_INITIALIZER, .st = st,
                            .fn = fn, .ud = ud };
        int rc = -1;
        size_t todo = 0;

        *st = (struct frames_stats){0};
        if (frame_plan_make(img, &fp, e) < 0 || frame_index_load(img, &x, e) < 0)
                goto out;
        for (size_t i = 0; i < fp.n; i++) {
                const struct store_frame *f = frame_index_named(x, fp.v[i].name);
                st->planned++;
                /* made already, at this level or above */
                if (f && f->level >= level) {
                        st->kept++;
                        st->bytes += f->data_len;
                        continue;
                }
                fp.v[i].make = true;
                todo++;
        }
        if (todo) {
                if (stage_begin(img, &stage, e) < 0)
                        goto out;
                mk.dfd = stage_dirfd(stage);
                if (gear_parallel(fp.n, jobs < 1 ? 1 : (unsigned)jobs, make_one, &mk, e) < 0)
                        goto out;
                st->bytes += st->made_bytes;
        }
        if ((todo || st->kept < frame_index_count(x)) && commit(img, &fp, x, todo ? mk.dfd : -1, st, e) < 0)
                goto out;
        rc = 0;
out:
        if (stage)
                stage_free(stage);
        frame_index_free(x);
        frame_plan_free(&fp);
        pthread_mutex_destroy(&mk.lock);
        return rc;
}
