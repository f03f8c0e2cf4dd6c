/*
 * Prefetching: the contents of an image's access list into public/, on a
 * few threads, before anything opens them.
 *
 * From a registry whose map puts contents in packs, the contents missing
 * from public/ that lie near each other in one pack are fetched with one
 * Range request: members sorted by offset, a gap of at most
 * PREFETCH_GAP_MAX between two (its bytes fetched and dropped: a gap costs
 * what a few dozen requests' headers cost), at most PREFETCH_RANGE_MAX bytes
 * a request. gear-push lays new packs out in the access list's order, so
 * the list reads as a few long ranges. The range lands in a temporary file,
 * and each member goes into public/ as soon as its bytes are in, decoded and
 * verified on its own (cache_fill): a member that does not match fails
 * alone. Anything else (a directory store, a map of the first format) is
 * fetched one content at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image-fetch.h"
#include "prefetch-int.h"
#include "remote.h"
#include "solid.h"
#include "../base/fsutil.h"
#include "../base/progress.h"
#include "../image/image.h"
#include "../store/store.h"

#define PREFETCH_GAP_MAX (16u << 10)
#define PREFETCH_RANGE_MAX (8u << 20)
#define PREFETCH_JOBS_MAX 64

static int by_hex(const void *a, const void *b)
{
        return strcmp(((const struct sized *)a)->hex, ((const struct sized *)b)->hex);
}

int sizes_load(struct itree *t, struct sizes *s)
{
        _cleanup_free_ const struct store_blob **b = NULL;
        size_t n;
        int r;

        *s = (struct sizes){0};
        if ((r = itree_blobs(t, &b, &n)) < 0)
                return r;
        if (n && !(s->v = malloc(n * sizeof *s->v)))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                s->v[i] = (struct sized){ b[i]->hex, b[i]->size };
        s->n = n;
        if (n)
                qsort(s->v, n, sizeof *s->v, by_hex);
        return 0;
}

const struct sized *sizes_find(const struct sizes *s, const char *hex)
{
        struct sized key = { hex, 0 };

        return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, by_hex) : NULL;
}

static void failed(struct prefetch_job *j, const char *hex, const struct gear_err *e)
{
        pthread_mutex_lock(&j->lock);
        j->st.failed++;
        if (!j->err.code) {
                j->err = *e;
                gear_err_wrap(&j->err, "content sha256:%.12s", hex);
        }
        pthread_mutex_unlock(&j->lock);
}

static void done(struct prefetch_job *j, const struct sized *x, int fd, const struct cache_result *res, bool wire)
{
        pthread_mutex_lock(&j->lock);
        if (res->fetched) {
                j->st.fetched++;
                j->st.fetched_bytes += x->size;
                if (wire)
                        j->st.wire_bytes += res->wire;
        } else {
                j->st.present++;
        }
        pthread_mutex_unlock(&j->lock);
        close(fd);
}

/* a member's stored bytes from the range file */
struct from_range {
        int fd;
        uint64_t off, len;
};

static int copy_from_range(const char *hex, uint64_t size, int fd, void *ud, struct gear_err *e)
{
        struct from_range *f = ud;
        char buf[1 << 16];
        uint64_t done = 0;

        (void)hex;
        (void)size;
        while (done < f->len) {
                size_t n = f->len - done < sizeof buf ? (size_t)(f->len - done) : sizeof buf;
                ssize_t k = pread(f->fd, buf, n, f->off + done);
                int r;
                if (k <= 0)
                        return gear_err_sys(e, k < 0 ? errno : EIO, "cannot read the fetched range");
                if ((r = write_all(fd, buf, k)) < 0)
                        return gear_err_sys(e, -r, "cannot write the fetched object");
                done += k;
        }
        return 0;
}

/*
 * A range of a pack being fetched: its members staged (decoded and
 * verified) as their bytes arrive, and put into public/ in batches of at
 * most PUBLISH_BATCH contents or PUBLISH_BYTES bytes, at the cost of one
 * sync a batch (cache_publish): a lazy open of a member waits for its batch,
 * unless the range's hooks hand it the staged file (a mount's, read-around.c).
 */
#define PUBLISH_BATCH 16
#define PUBLISH_BYTES (1u << 20)

struct range_run {
        struct prefetch_job *j;
        const struct pjob *p;
        const struct range_hooks *h;
        struct cache_claim **claims;    /* of each member: held while it is ours to fill, else NULL */
        struct cache_claim **pend;      /* the staged ones not yet in public/ ... */
        size_t *pend_idx, npend;        /* ... and their members */
        uint64_t pend_bytes;
        int fd;                         /* the range, as it arrives */
        uint64_t start, len;
        size_t next;                    /* members before it are done */
        struct solid_frame frame;       /* the solid frame decoded last */
};

/* a member from the decoded solid frame */
struct from_frame {
        const struct solid_frame *f;
        const struct object_loc *loc;
};

static int copy_from_frame(const char *hex, uint64_t size, int fd, void *ud, struct gear_err *e)
{
        struct from_frame *f = ud;

        (void)hex;
        return solid_member_write(f->f, f->loc, size, fd, e);
}

/*
 * The members of p from i on in the solid frame of member i: how much of it
 * they need decoded. One past the limits (remote.h) is left out: it fails
 * alone, at its own turn.
 */
static uint64_t frame_want(const struct pjob *p, size_t i)
{
        const struct object_loc *l = &p->m[i]->loc;
        uint64_t want = 0;

        for (size_t k = i; k < p->n && p->m[k]->loc.member && p->m[k]->loc.off == l->off; k++) {
                uint64_t at = p->m[k]->loc.at, size = p->m[k]->x->size;
                if (at <= SOLID_AT_MAX && size <= SOLID_MEMBER_MAX && at + size > want)
                        want = at + size;
        }
        return want;
}

static void gone(struct range_run *rr, size_t i)
{
        if (rr->h && rr->h->gone)
                rr->h->gone(rr->h->ud, i);
}

static void published(void *ud, size_t k, const struct gear_err *e)
{
        struct range_run *rr = ud;
        size_t i = rr->pend_idx[k];
        const struct member *m = rr->p->m[i];

        if (e) {
                failed(rr->j, m->x->hex, e);
        } else {
                pthread_mutex_lock(&rr->j->lock);
                rr->j->st.fetched++;
                rr->j->st.fetched_bytes += m->x->size;
                if (i == 0)
                        rr->j->first_published = true;
                pthread_mutex_unlock(&rr->j->lock);
        }
        gone(rr, i);
        progress_add(rr->j->progress, m->x->size, 1);
}

static void publish(struct range_run *rr)
{
        if (rr->npend)
                cache_publish(rr->pend, rr->npend, published, rr);
        rr->npend = 0;
        rr->pend_bytes = 0;
}

static void fill_member(struct range_run *rr, size_t i)
{
        const struct member *m = rr->p->m[i];
        struct from_range f = { rr->fd, m->loc.off - rr->start, m->loc.len };
        struct from_frame ff = { &rr->frame, &m->loc };
        struct gear_err e = {0};
        struct cache_result res;
        struct cache_claim *c = rr->claims[i];
        int k = 0;

        rr->claims[i] = NULL;
        /* a frame is decoded once, for all of its members the range brings */
        if (m->loc.member && (!rr->frame.buf || rr->frame.off != m->loc.off || rr->frame.len != m->loc.len))
                k = solid_frame_load(&rr->frame, rr->fd, m->loc.off - rr->start, &m->loc, frame_want(rr->p, i), &e);
        if (k < 0) {
                /* counted as this member's failure; the frame's next member tries it again */
        } else if (!m->loc.member && m->loc.len > store_stored_max(m->x->size)) {
                gear_err_set(&e, GEAR_EXIT_SYS, "the map gives it %llu bytes, more than %llu",
                             (unsigned long long)m->loc.len, (unsigned long long)store_stored_max(m->x->size));
        } else if (m->loc.member ? cache_stage(c, copy_from_frame, &ff, &res, &e) == 0
                                 : cache_stage(c, copy_from_range, &f, &res, &e) == 0) {
                rr->pend[rr->npend] = c;
                rr->pend_idx[rr->npend++] = i;
                rr->pend_bytes += m->x->size;
                if (rr->h && rr->h->staged)
                        rr->h->staged(rr->h->ud, i, cache_staged_fd(c));
                if (rr->npend >= PUBLISH_BATCH || rr->pend_bytes >= PUBLISH_BYTES)
                        publish(rr);
                return;
        }
        cache_claim_free(c);
        failed(rr->j, m->x->hex, &e);
        gone(rr, i);
        progress_add(rr->j->progress, m->x->size, 1);
}

/* n bytes of the range are in: every member they hold whole is staged, in offset order (see run_range) */
static void arrived(void *ud, uint64_t n)
{
        struct range_run *rr = ud;

        for (; rr->next < rr->p->n; rr->next++) {
                if (rr->h && rr->h->rest_at_end && rr->next > 0 && n < rr->len)
                        return;
                const struct member *m = rr->p->m[rr->next];
                if (!rr->claims[rr->next])
                        continue;
                if (m->loc.off + m->loc.len > rr->start + n)
                        return;
                fill_member(rr, rr->next);
        }
}

void run_range(struct prefetch_job *j, const struct pjob *p, const struct range_hooks *h, struct cache_claim *first)
{
        struct range_run rr = { .j = j, .p = p, .fd = -1, .h = h };
        const struct object_loc *loc = &p->m[0]->loc;
        struct gear_err e = {0};
        uint64_t end = 0;
        bool any = false;

        if (!(rr.claims = calloc(p->n, sizeof *rr.claims)) || !(rr.pend = calloc(p->n, sizeof *rr.pend)) ||
            !(rr.pend_idx = calloc(p->n, sizeof *rr.pend_idx))) {
                gear_err_sys(&e, ENOMEM, "cannot prefetch");
                cache_claim_free(first);
                for (size_t i = 0; i < p->n; i++) {
                        failed(j, p->m[i]->x->hex, &e);
                        gone(&rr, i);
                }
                free(rr.claims);
                free(rr.pend);
                return;
        }
        for (size_t i = 0; i < p->n; i++) {
                const struct member *m = p->m[i];
                struct gear_err ce = {0};
                int k = 1;

                if (i == 0 && first)
                        rr.claims[0] = first;
                else
                        k = cache_claim(j->img, m->x->hex, m->x->size, &rr.claims[i], &ce);
                if (k <= 0)
                        gone(&rr, i);
                if (k < 0) {
                        failed(j, m->x->hex, &ce);
                } else if (!k) {
                        /* in public/, or another fetch brings it */
                        pthread_mutex_lock(&j->lock);
                        j->st.present++;
                        pthread_mutex_unlock(&j->lock);
                } else {
                        if (!any)
                                rr.start = m->loc.off;
                        end = m->loc.off + m->loc.len;
                        any = true;
                        continue;
                }
                progress_add(j->progress, m->x->size, 1);
        }
        if (any) {
                rr.len = end - rr.start;
                rr.fd = cache_temp(j->img->fd, end - rr.start);
                if (rr.fd < 0)
                        gear_err_sys(&e, errno, "cannot create a temporary file in '%s'", j->img->path);
                else if (remote_fetch_range(j->origin->remote, loc->pack, loc->pack_size, rr.start, end - rr.start,
                                            rr.fd, arrived, &rr, &e) == 0) {
                        pthread_mutex_lock(&j->lock);
                        j->st.wire_bytes += end - rr.start;
                        pthread_mutex_unlock(&j->lock);
                        arrived(&rr, end - rr.start);
                }
        }
        if (h && h->fetched)
                h->fetched(h->ud);
        publish(&rr);
        /* what the range did not bring is given up: a lazy open waiting for it fetches it itself */
        for (size_t i = 0; i < p->n; i++)
                if (rr.claims[i]) {
                        cache_claim_free(rr.claims[i]);
                        gone(&rr, i);
                        if (!e.code)
                                gear_err_set(&e, GEAR_EXIT_SYS, "the range did not bring it");
                        failed(j, p->m[i]->x->hex, &e);
                        progress_add(j->progress, p->m[i]->x->size, 1);
                }
        if (rr.fd >= 0)
                close(rr.fd);
        solid_frame_free(&rr.frame);
        free(rr.claims);
        free(rr.pend);
        free(rr.pend_idx);
}

static void *prefetch_worker(void *ud)
{
        struct prefetch_job *j = ud;

        for (;;) {
                struct gear_err e = {0};
                struct cache_result res;
                const struct pjob *p;
                bool stop;
                int fd;

                pthread_mutex_lock(&j->lock);
                /* in the background only *stop ends it; otherwise the first failure */
                stop = j->stop ? __atomic_load_n(j->stop, __ATOMIC_ACQUIRE) : j->err.code != 0;
                p = stop || j->next >= j->njobs ? NULL : &j->jobs[j->next++];
                pthread_mutex_unlock(&j->lock);
                if (!p)
                        return NULL;
                if (p->m[0]->packed) {
                        if (j->around)
                                around_range(j->around, j, p);
                        else
                                run_range(j, p, NULL, NULL);
                        continue;
                }
                fd = origin_cache_open(j->origin, j->img, p->m[0]->x->hex, p->m[0]->x->size, &res, &e);
                if (fd < 0)
                        failed(j, p->m[0]->x->hex, &e);
                else
                        done(j, p->m[0]->x, fd, &res, true);
                progress_add(j->progress, p->m[0]->x->size, 1);
        }
}

static int by_pack_off(const void *a, const void *b)
{
        const struct member *x = *(struct member *const *)a, *y = *(struct member *const *)b;
        int c;

        if (x->packed != y->packed)
                return x->packed ? -1 : 1;
        if (!x->packed)
                return (x->order > y->order) - (x->order < y->order);
        if ((c = strcmp(x->loc.pack, y->loc.pack)))
                return c;
        if (x->loc.off != y->loc.off)
                return x->loc.off < y->loc.off ? -1 : 1;
        /* an empty content first; the members of a solid frame in the order of what it decodes to */
        if (x->loc.len != y->loc.len)
                return x->loc.len < y->loc.len ? -1 : 1;
        if (x->loc.member != y->loc.member)
                return x->loc.member ? 1 : -1;
        return (x->loc.at > y->loc.at) - (x->loc.at < y->loc.at);
}

/* y is a member of the solid frame of x */
static bool same_frame(const struct member *x, const struct member *y)
{
        return x->packed && y->packed && x->loc.member && y->loc.member && x->loc.off == y->loc.off &&
               x->loc.len == y->loc.len && !strcmp(x->loc.pack, y->loc.pack);
}

static int by_order(const void *a, const void *b)
{
        const struct pjob *x = a, *y = b;

        return (x->order > y->order) - (x->order < y->order);
}

/*
 * The requests for the members (sorted by pack and offset, then the ones
 * fetched alone): near members of a pack share one; in list order.
 */
static int plan(struct member **m, size_t n, struct pjob **jobs, size_t *njobs)
{
        struct pjob *v = calloc(n ? n : 1, sizeof *v);
        size_t k = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n;) {
                struct pjob *p = &v[k++];

                *p = (struct pjob){ .m = &m[i], .n = 1, .order = m[i]->order, .start = m[i]->loc.off,
                                    .end = m[i]->loc.off + m[i]->loc.len };
                for (i++; m[i - 1]->packed && i < n && m[i]->packed && !strcmp(m[i]->loc.pack, p->m[0]->loc.pack) &&
                          (same_frame(m[i - 1], m[i]) ||
                           (m[i]->loc.off >= p->end && m[i]->loc.off - p->end <= PREFETCH_GAP_MAX &&
                            m[i]->loc.off + m[i]->loc.len - p->start <= PREFETCH_RANGE_MAX));
                     i++) {
                        p->n++;
                        p->end = m[i]->loc.off + m[i]->loc.len;
                        if (m[i]->order < p->order)
                                p->order = m[i]->order;
                }
        }
        qsort(v, k, sizeof *v, by_order);
        *jobs = v;
        *njobs = k;
        return 0;
}

int image_prefetch(const struct gear_root *img, const struct image_ref *r, const struct prefetch_opts *o,
                   struct prefetch_stats *st, struct gear_err *e)
{
        struct prefetch_job j = { .img = img, .lock = PTHREAD_MUTEX_INITIALIZER, .stop = o->stop,
                                  .origin = o->origin, .progress = o->progress, .around = o->around };
        uint64_t total = 0;
        _cleanup_free_ digest_hex *own = NULL;
        _cleanup_free_ struct member *mv = NULL;
        _cleanup_free_ struct member **mp = NULL;
        const digest_hex *list = o->list;
        size_t nlist = o->nlist, nm = 0, k;
        struct sizes sz = {0};
        _cleanup_free_ unsigned char *taken = NULL;
        struct itree *own_tree = NULL, *t = o->tree;
        struct image im = { .dfd = -1 };
        /* what is not given is read from one generation of the image, opened once */
        struct gear_root dir = { .fd = -1 };
        pthread_t th[PREFETCH_JOBS_MAX];
        unsigned nth = 0, jobs = o->jobs < 1 ? 1 : o->jobs;
        bool packs;
        int rc = -1;

        memset(st, 0, sizeof *st);
        /* a range holds a few descriptors per content it brings */
        fd_limit_raise();
        if (!list || !t || !j.origin) {
                char rel[PATH_MAX];
                if (image_open(img, r, &im, e) < 0)
                        goto out;
                image_rel(r, rel, sizeof rel);
                dir.fd = im.dfd;
                snprintf(dir.path, sizeof dir.path, "%s/%s", img->path, rel);
        }
        if (!list) {
                if (access_list_load(&dir, ".", &own, &nlist, e) < 0)
                        goto out;
                list = own;
        }
        if (!nlist) {
                rc = 0;
                goto out;
        }
        if (!t) {
                if (image_load_tree(&im, &own_tree, e) < 0)
                        goto out;
                t = own_tree;
        }
        if (sizes_load(t, &sz) < 0 || !(mv = calloc(nlist, sizeof *mv)) ||
            !(mp = calloc(nlist, sizeof *mp))) {
                gear_err_sys(e, ENOMEM, "cannot prefetch '%s:%s'", r->name, r->tag);
                goto out;
        }
        if (!j.origin) {
                if (origin_open(&dir, ".", t, o->ro, &j.own, e) < 0)
                        goto out;
                j.origin = &j.own;
        }
        if (sz.n && !(taken = calloc(sz.n, 1))) {
                gear_err_sys(e, ENOMEM, "cannot prefetch '%s:%s'", r->name, r->tag);
                goto out;
        }
        for (size_t i = 0; i < nlist; i++) {
                const struct sized *x = sizes_find(&sz, list[i]);
                const char *content;
                uint32_t k;
                /* a chunk a mount read (chunks.h): its whole content, which public/ keeps whole (one chunk of several, none) */
                if (!x && object_map_find_chunk(j.origin->map, list[i], 0, &content, &k) == 1)
                        x = sizes_find(&sz, content);
                else if (!x && object_map_find_chunk(j.origin->map, list[i], 0, &content, &k))
                        continue;
                if (x && !taken[x - sz.v]) {
                        taken[x - sz.v] = 1;
                        mv[nm] = (struct member){ .x = x, .order = i };
                        mp[nm] = &mv[nm];
                        nm++;
                        total += x->size;
                } else if (!x)
                        j.st.unknown++;
        }
        j.st.listed = nm;
        progress_total(j.progress, total, nm);
        /* packed contents already in public/ are counted and left out of the ranges */
        packs = j.origin && j.origin->remote && remote_is_registry(j.origin->remote) &&
                object_map_packed(j.origin->map);
        k = 0;
        for (size_t i = 0; i < nm; i++) {
                struct member *m = mp[i];
                if (packs && object_map_find(j.origin->map, m->x->hex, &m->loc) && !m->loc.whole) {
                        if (cache_has(img, m->x->hex, m->x->size)) {
                                j.st.present++;
                                progress_add(j.progress, m->x->size, 1);
                                continue;
                        }
                        m->packed = true;
                }
                mp[k++] = m;
        }
        nm = k;
        if (nm)
                qsort(mp, nm, sizeof *mp, by_pack_off);
        if (packs && o->range_jobs)
                jobs = o->range_jobs;
        if (plan(mp, nm, &j.jobs, &j.njobs) < 0) {
                gear_err_sys(e, ENOMEM, "cannot prefetch '%s:%s'", r->name, r->tag);
                goto out;
        }
        for (; nth < jobs && nth < PREFETCH_JOBS_MAX && nth < j.njobs; nth++)
                if (pthread_create(&th[nth], NULL, prefetch_worker, &j) != 0)
                        break;
        if (!nth)
                prefetch_worker(&j);
        for (unsigned i = 0; i < nth; i++)
                pthread_join(th[i], NULL);
        *st = j.st;
        if (j.err.code) {
                *e = j.err;
                goto out;
        }
        rc = 0;
out:
        origin_close(&j.own);
        free(j.jobs);
        free(sz.v);
        itree_free(own_tree);
        image_close(&im);
        pthread_mutex_destroy(&j.lock);
        return rc;
}
