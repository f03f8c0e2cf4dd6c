/*
 * gear-push to a registry: the image's objects in packs.
 *
 * A pack is a blob made of objects' stored bytes (zstd frame or raw, as in
 * objects/) one after the other. The objects of the image the registry
 * does not keep already (pack-known.c) are laid out in the order the image
 * reads them (its access list), then in the index's path order, and cut
 * into packs of about gear.conf's pack-size=. The layout depends only on
 * the image and on what the registry keeps, so a push run again after an
 * interruption makes the same packs: those that arrived are found (HEAD)
 * and not sent again.
 *
 * With gear.conf's solid-level= set, the small contents (under
 * SOLID_MEMBER_MAX) go into solid frames instead, in the same order: one
 * zstd frame at that level of about SOLID_FRAME_SIZE of contents one after
 * the other, the access list's contents in frames of their own. Solid frames
 * compress far better than one frame per content; a lazy open of one of them
 * fetches and decodes its frame. They are written into a build staging
 * directory first (zstd gives the same bytes for the same input and level,
 * so a resumed push makes the same packs again).
 *
 * Each pack is read twice from objects/ (and the frames): once for its
 * digest, once as the body of its upload (POST, then a PUT streamed from the
 * files); nothing is held in memory whole. The object map (object-map.c), the
 * index image and the manifest follow, and the map's text is kept in the
 * image directory as pushed/HOST/REPO.map for the pushes after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunks.h"
#include "image-fetch.h"
#include "pack-push.h"
#include "../base/fsutil.h"
#include "../base/parallel.h"
#include "../base/progress.h"
#include "../image/image.h"
#include "../store/frames.h"

#define PACK_JOBS 4
#define HASH_BUF (1u << 20)

struct pobj {
        digest_hex hex;
        size_t pos;             /* its place among the contents, by first path in path order */
        size_t rank;            /* access list first, then path order */
        uint64_t size;          /* of its content */
        uint64_t stored;        /* its bytes in objects/ */
        const struct known_loc *known; /* where the registry keeps it already; NULL: in a new pack */
        uint64_t at;            /* in its unit's solid frame */
        const struct store_frame *sf; /* the store's frame it goes in; NULL: none */
        struct map_chunk *chunks; /* a new chunked object's frames (chunks.h) */
        uint32_t nchunks;
};

/* what a new pack holds one after the other: an object's stored bytes, or a solid frame */
enum unit_kind { U_OBJECT, U_FRAME, U_STORE_FRAME };
struct unit {
        enum unit_kind kind;    /* an object, a frame made now, a frame of the store's frames/ */
        struct pobj **m;        /* the object, or the frame's members the map lists */
        size_t n;
        uint64_t stored;        /* its bytes */
        uint64_t off;           /* in its pack */
        size_t frame;           /* U_FRAME: its file in the staging directory is frame-<frame> */
        const struct store_frame *sf; /* U_STORE_FRAME */
};

struct newpack {
        struct unit **m;        /* in pack order */
        size_t n;
        uint64_t size;
        size_t contents;
        digest_hex hex;
};

struct collect {
        struct pobj *v;
        size_t n;
        size_t nacc;            /* the contents of the access list: ranks below it */
        int level;              /* of solid frames; 0: none */
        int frames_dfd;         /* where they are written */
};

static int by_hex_only(const void *a, const void *b)
{
        return strcmp(((const struct pobj *)a)->hex, ((const struct pobj *)b)->hex);
}

static int by_rank(const void *a, const void *b)
{
        const struct pobj *x = *(struct pobj *const *)a, *y = *(struct pobj *const *)b;

        return (x->rank > y->rank) - (x->rank < y->rank);
}

/*
 * The distinct contents of the image, sorted by digest, each with its rank:
 * its place in the access list, else the list's length plus its first
 * place in path order.
 */
static int image_contents(const struct gear_root *img, struct image *im, struct collect *c, struct gear_err *e)
{
        _cleanup_free_ digest_hex *acc = NULL, *order = NULL;
        struct itree *t = NULL;
        char rel[PATH_MAX];
        size_t nacc = 0, n = 0;
        int r;

        if (image_load_tree(im, &t, e) < 0)
                return -1;
        /* the distinct contents, pos their place in path order, then sorted by digest */
        if ((r = itree_contents(t, &order, &n)) == 0 && n && !(c->v = calloc(n, sizeof *c->v)))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++) {
                c->v[i] = (struct pobj){ .pos = i };
                memcpy(c->v[i].hex, order[i], sizeof(digest_hex));
        }
        c->n = r == 0 ? n : 0;
        if (c->n)
                qsort(c->v, c->n, sizeof *c->v, by_hex_only);
        if (r == 0 && c->n) {
                const struct store_blob **b;
                size_t nb;
                if ((r = itree_blobs(t, &b, &nb)) == 0) {
                        for (size_t i = 0; i < nb; i++) {
                                struct pobj key, *x;
                                memcpy(key.hex, b[i]->hex, sizeof key.hex);
                                if ((x = bsearch(&key, c->v, c->n, sizeof *c->v, by_hex_only)))
                                        x->size = b[i]->size;
                        }
                        free((void *)b);
                }
        }
        itree_free(t);
        if (r < 0)
                return gear_err_sys(e, -r, "cannot list the objects of '%s:%s'", im->ref.name, im->ref.tag);
        image_rel(&im->ref, rel, sizeof rel);
        if (access_list_load(img, rel, &acc, &nacc, e) < 0)
                return -1;
        c->nacc = nacc;
        for (size_t i = 0; i < c->n; i++)
                c->v[i].rank = nacc + c->v[i].pos;
        for (size_t i = 0; i < nacc; i++) {
                struct pobj key, *x;
                memcpy(key.hex, acc[i], sizeof key.hex);
                key.pos = 0;
                x = c->n ? bsearch(&key, c->v, c->n, sizeof *c->v, by_hex_only) : NULL;
                if (x && x->rank >= nacc)
                        x->rank = i;
        }
        return 0;
}

/* the size in objects/ of each content the registry does not keep already (a pulled image has none there) */
static int stat_objects(const struct gear_root *img, struct collect *c, struct gear_err *e)
{
        for (size_t i = 0; i < c->n; i++) {
                char rel[STORE_REL_MAX];
                struct stat st;

                if (c->v[i].known) {
                        /* a member of a known frame: the frame's bytes are not this content's */
                        c->v[i].stored = c->v[i].known->loc.member ? 0 : c->v[i].known->loc.len;
                        continue;
                }
                store_object_rel(c->v[i].hex, rel);
                if (fstatat(img->fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return gear_err_sys(e, errno, "cannot open object sha256:%.12s", c->v[i].hex);
                if (!S_ISREG(st.st_mode))
                        return gear_err_set(e, GEAR_EXIT_SYS, "object sha256:%.12s is not a regular file", c->v[i].hex);
                c->v[i].stored = st.st_size;
        }
        return 0;
}

/* reads a pack: its units' files, one open at a time */
struct pack_reader {
        const struct gear_root *img;
        int frames_dfd;
        const struct newpack *p;
        size_t cur;
        int fd;
        uint64_t kill_at;       /* tests: SIGKILL once a read reaches it; 0: never */
        struct gear_err err;
};

static void reader_close(struct pack_reader *rd)
{
        if (rd->fd >= 0)
                close(rd->fd);
        rd->fd = -1;
}

/* opens unit i, which must still be a regular file of its size */
static int reader_open(struct pack_reader *rd, size_t i)
{
        const struct unit *u = rd->p->m[i];
        char rel[STORE_REL_MAX > FRAME_REL_MAX ? STORE_REL_MAX : FRAME_REL_MAX];
        const char *what = u->kind == U_OBJECT ? "object" : "solid frame";
        uint64_t skip = u->kind == U_OBJECT ? 0 : u->sf->data_off;
        struct stat st;

        reader_close(rd);
        rd->cur = i;
        if (u->kind == U_FRAME) {
                snprintf(rel, sizeof rel, "frame-%zu", u->frame);
                rd->fd = openat(rd->frames_dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        } else {
                if (u->kind == U_STORE_FRAME)
                        frame_rel(u->sf->name, rel);
                else
                        store_object_rel(u->m[0]->hex, rel);
                rd->fd = openat(rd->img->fd, rel, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        }
        if (rd->fd < 0)
                return gear_err_sys(&rd->err, errno, "cannot open %s sha256:%.12s", what, u->m[0]->hex);
        if (fstat(rd->fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != skip + u->stored) {
                reader_close(rd);
                return gear_err_set(&rd->err, GEAR_EXIT_SYS, "%s sha256:%.12s changed while pushed", what,
                                    u->m[0]->hex);
        }
        return 0;
}

static ssize_t pack_read(void *ud, uint64_t off, void *buf, size_t n)
{
        struct pack_reader *rd = ud;
        const struct newpack *p = rd->p;
        const struct unit *o;
        ssize_t k;

        if (rd->kill_at && off >= rd->kill_at)
                raise(SIGKILL);
        if (off >= p->size)
                return 0;
        o = rd->fd >= 0 ? p->m[rd->cur] : NULL;
        if (!o || off < o->off || off >= o->off + o->stored) {
                size_t lo = 0, hi = p->n;
                /* the last unit starting at or before off */
                while (hi - lo > 1) {
                        size_t mid = lo + (hi - lo) / 2;
                        if (p->m[mid]->off <= off)
                                lo = mid;
                        else
                                hi = mid;
                }
                while (lo < p->n && off >= p->m[lo]->off + p->m[lo]->stored)
                        lo++;
                if (lo >= p->n || reader_open(rd, lo) < 0)
                        return -1;
                o = p->m[lo];
        }
        if (n > o->off + o->stored - off)
                n = o->off + o->stored - off;
        while ((k = pread(rd->fd, buf, n, off - o->off + (o->kind == U_OBJECT ? 0 : o->sf->data_off))) < 0 &&
               errno == EINTR)
                ;
        if (k <= 0) {
                gear_err_sys(&rd->err, k < 0 ? errno : EIO, "cannot read object sha256:%.12s", o->m[0]->hex);
                return -1;
        }
        return k;
}

/* the digest of pack p, read from its units */
static int pack_digest(const struct gear_root *img, int frames_dfd, struct newpack *p, struct gear_err *e)
{
        struct pack_reader rd = { .img = img, .frames_dfd = frames_dfd, .p = p, .fd = -1 };
        _cleanup_free_ char *buf = malloc(HASH_BUF);
        struct digest dg = {0};
        uint64_t off = 0;

        if (!buf)
                return gear_err_sys(e, ENOMEM, "cannot hash a pack");
        if (digest_init(&dg, e) < 0)
                return -1;
        while (off < p->size) {
                ssize_t k = pack_read(&rd, off, buf, HASH_BUF);
                if (k <= 0) {
                        digest_done(&dg);
                        reader_close(&rd);
                        *e = rd.err;
                        return -1;
                }
                digest_update(&dg, buf, k);
                off += k;
        }
        digest_final(&dg, p->hex);
        digest_done(&dg);
        reader_close(&rd);
        return 0;
}

struct pack_job {
        struct remote *r;
        const struct gear_root *img;
        int frames_dfd;
        struct newpack *packs;
        pthread_mutex_t lock;   /* st */
        struct remote_stats st;
        unsigned long long kill_after;
};

/* digest, then the upload unless the registry has it */
static int pack_send(struct pack_job *j, struct newpack *p, struct gear_err *e)
{
        struct pack_reader rd = { .img = j->img, .frames_dfd = j->frames_dfd, .p = p, .fd = -1 };
        uint64_t size = 0;
        bool sent = false;
        int k;

        if (pack_digest(j->img, j->frames_dfd, p, e) < 0)
                return -1;
        if ((k = registry_stat_blob(j->r->reg, p->hex, &size, e)) < 0)
                return -1;
        if (!k || size != p->size) {
                pthread_mutex_lock(&j->lock);
                /* tests of resumed pushes: killed halfway through the pack after kill_after were sent */
                if (j->kill_after && j->st.packs_sent >= j->kill_after)
                        rd.kill_at = p->size / 2 + 1;
                pthread_mutex_unlock(&j->lock);
                k = registry_put_blob_read(j->r->reg, p->hex, pack_read, &rd, p->size, e);
                reader_close(&rd);
                if (k < 0) {
                        /* a failed read ends the upload: its reason is the reader's */
                        if (rd.err.code)
                                *e = rd.err;
                        return gear_err_wrap(e, "pack sha256:%.12s", p->hex);
                }
                sent = true;
        }
        progress_add(j->r->progress, p->size, p->contents);
        pthread_mutex_lock(&j->lock);
        if (sent) {
                j->st.packs_sent++;
                j->st.sent += p->contents;
                j->st.bytes += p->size;
        } else {
                j->st.packs_skipped++;
                j->st.skipped += p->contents;
        }
        pthread_mutex_unlock(&j->lock);
        return 0;
}

static int send_one(size_t i, void *ud, struct gear_err *e)
{
        struct pack_job *j = ud;

        return pack_send(j, &j->packs[i], e);
}

/* the pack of a known place can be named: the repository has it (or takes it by a mount), of its size */
static int pack_usable(struct remote *r, const char *repo, const struct object_loc *loc, struct gear_err *e)
{
        uint64_t size = 0;
        int k = registry_stat_blob(r->reg, loc->pack, &size, e);

        if (k < 0)
                return -1;
        if (!k && strcmp(repo, r->repo)) {
                if ((k = registry_mount_blob(r->reg, loc->pack, repo, e)) <= 0)
                        return k;
                if ((k = registry_stat_blob(r->reg, loc->pack, &size, e)) < 0)
                        return -1;
        }
        return k && size == loc->pack_size;
}

/* packs checked so far: 1 usable, 0 not */
struct checked {
        digest_hex hex;
        int ok;
};

/* keeps each content's known place whose pack the registry has; the rest go into new packs */
static int reuse_known(struct remote *r, struct collect *c, const struct known *k, struct remote_stats *st,
                       struct gear_err *e)
{
        _cleanup_free_ struct checked *seen = NULL;
        size_t nseen = 0, last = 0;
        uint64_t n = 0;

        for (size_t i = 0; i < c->n; i++) {
                const struct known_loc *kl = &k->v[i];
                size_t s;
                int ok;

                if (kl->repo < 0)
                        continue;
                if (nseen && !strcmp(seen[last].hex, kl->loc.pack))
                        s = last;
                else
                        for (s = 0; s < nseen && strcmp(seen[s].hex, kl->loc.pack); s++)
                                ;
                if (s == nseen) {
                        struct checked *v = realloc(seen, (nseen + 1) * sizeof *v);
                        if (!v)
                                return gear_err_sys(e, ENOMEM, "cannot push");
                        seen = v;
                        if ((ok = pack_usable(r, k->repos[kl->repo], &kl->loc, e)) < 0)
                                return gear_err_wrap(e, "pack sha256:%.12s", kl->loc.pack);
                        memcpy(seen[s].hex, kl->loc.pack, sizeof seen[s].hex);
                        seen[s].ok = ok;
                        nseen++;
                        if (ok)
                                st->packs_skipped++;
                }
                last = s;
                if (seen[s].ok) {
                        c->v[i].known = kl;
                        n++;
                }
        }
        st->skipped += n;
        return 0;
}

static int unit_rank(const void *a, const void *b)
{
        const struct unit *x = a, *y = b;

        return (x->m[0]->rank > y->m[0]->rank) - (x->m[0]->rank < y->m[0]->rank);
}

static bool solid_member(const struct collect *c, const struct pobj *o)
{
        return c->level > 0 && o->size > 0 && o->size < SOLID_MEMBER_MAX;
}

/*
 * The contents not kept already, in rank order, as units: each object alone,
 * or (solid frames) the small ones of a run of ranks gathered up to about
 * SOLID_FRAME_SIZE, those of the access list apart from the rest. order is
 * kept: the units point into it.
 */
static int plan_units(struct collect *c, const struct frame_index *fx, struct pobj **order, size_t n,
                      struct unit **units, size_t *nu, struct gear_err *e)
{
        struct unit *v = n ? calloc(n, sizeof *v) : NULL;
        size_t k = 0, nframes = 0, nf = frame_index_count(fx), s = 0, nmembers = 0;
        _cleanup_free_ struct pobj **big = n ? malloc(n * sizeof *big) : NULL;
        _cleanup_free_ size_t *at = nf ? calloc(nf + 1, sizeof *at) : NULL;
        size_t nbig = 0, first = 0, m = 0;
        uint64_t bytes = 0;

        if (n && (!v || !big || (nf && !at))) {
                free(v);
                return gear_err_sys(e, ENOMEM, "cannot push");
        }
        /* a content in a frame of the store's goes in it: the frame whole, its members this push sends listed */
        for (size_t i = 0; i < n; i++) {
                size_t mi;
                const struct store_frame *f = frame_index_find(fx, order[i]->hex, &mi);
                order[i]->sf = f;
                if (f) {
                        order[i]->at = f->m[mi].at;
                        at[f - frame_index_at(fx, 0) + 1]++;
                        s++;
                }
        }
        if (s) {
                _cleanup_free_ struct pobj **tmp = malloc(n * sizeof *tmp);
                size_t rest = s;
                if (!tmp) {
                        free(v);
                        return gear_err_sys(e, ENOMEM, "cannot push");
                }
                for (size_t i = 0; i < nf; i++)
                        at[i + 1] += at[i];
                for (size_t i = 0; i < nf; i++)
                        if (at[i + 1] > at[i])
                                v[k++] = (struct unit){ .kind = U_STORE_FRAME, .m = &order[at[i]], .n = at[i + 1] - at[i],
                                                        .sf = frame_index_at(fx, i),
                                                        .stored = frame_index_at(fx, i)->data_len };
                /* in rank order within each frame, the rest after them in rank order */
                for (size_t i = 0; i < n; i++)
                        if (order[i]->sf)
                                tmp[at[order[i]->sf - frame_index_at(fx, 0)]++] = order[i];
                        else
                                tmp[rest++] = order[i];
                memcpy(order, tmp, n * sizeof *order);
                order += s;
                n -= s;
        }
        /* the small ones first, each run in place in order; the others after them, for now */
        for (size_t i = 0; i <= n; i++) {
                bool cut = i == n || (m > first && ((order[m - 1]->rank < c->nacc) != (order[i]->rank < c->nacc)));
                if (i < n && !solid_member(c, order[i])) {
                        big[nbig++] = order[i];
                        if (!cut)
                                continue;
                }
                if (cut || bytes >= SOLID_FRAME_SIZE || nmembers >= SOLID_MEMBERS_MAX) {
                        if (m > first) {
                                v[k] = (struct unit){ .m = &order[first], .n = m - first };
                                if (v[k].n > 1) {
                                        v[k].kind = U_FRAME;
                                        v[k].frame = nframes++;
                                }
                                k++;
                        }
                        first = m;
                        bytes = 0;
                        nmembers = 0;
                }
                if (i < n && solid_member(c, order[i])) {
                        order[i]->at = bytes;
                        bytes += order[i]->size;
                        nmembers++;
                        order[m++] = order[i];
                }
        }
        /* a lone small one is an object of its own */
        for (size_t i = 0; i < nbig; i++) {
                order[m + i] = big[i];
                v[k++] = (struct unit){ .m = &order[m + i], .n = 1 };
        }
        for (size_t i = 0; i < k; i++)
                if (v[i].kind == U_OBJECT)
                        v[i].stored = v[i].m[0]->stored;
        /* ranks are distinct: the order is the same on every run */
        if (k)
                qsort(v, k, sizeof *v, unit_rank);
        *units = v;
        *nu = k;
        return 0;
}

/* the units cut into packs of about size bytes, in order */
static int plan_packs(struct unit *u, size_t nu, uint64_t size, struct newpack **packs, size_t *np,
                      struct gear_err *e)
{
        struct newpack *v = NULL;
        size_t nv = 0;

        for (size_t i = 0; i < nu;) {
                struct newpack *p;
                size_t first = i, contents = 0;
                uint64_t bytes = 0;

                while (i < nu && (i == first || bytes + u[i].stored <= size)) {
                        u[i].off = bytes;
                        contents += u[i].n;
                        bytes += u[i++].stored;
                }
                if (!(p = realloc(v, (nv + 1) * sizeof *v)) || !(p[nv].m = malloc((i - first) * sizeof *p[nv].m))) {
                        if (p)
                                v = p;
                        for (size_t k = 0; k < nv; k++)
                                free(v[k].m);
                        free(v);
                        return gear_err_sys(e, ENOMEM, "cannot push");
                }
                v = p;
                for (size_t k = first; k < i; k++)
                        v[nv].m[k - first] = &u[k];
                v[nv].n = i - first;
                v[nv].size = bytes;
                v[nv].contents = contents;
                nv++;
        }
        *packs = v;
        *np = nv;
        return 0;
}

/* the contents not kept already, in rank order */
static int new_contents(struct collect *c, struct pobj ***order, size_t *n, struct gear_err *e)
{
        *n = 0;
        if (c->n && !(*order = malloc(c->n * sizeof **order)))
                return gear_err_sys(e, ENOMEM, "cannot push");
        for (size_t i = 0; i < c->n; i++)
                if (!c->v[i].known)
                        (*order)[(*n)++] = &c->v[i];
        if (*n)
                qsort(*order, *n, sizeof **order, by_rank);
        return 0;
}

/* solid frames, made on a few threads (frames.h: the same file as the store's frames, in a staging directory) */
struct frame_job {
        const struct gear_root *img;
        struct collect *c;
        struct unit *u;
        struct store_frame *made; /* of each U_FRAME, by its frame number */
};

static int make_frame(size_t i, void *ud, struct gear_err *e)
{
        struct frame_job *j = ud;
        struct unit *u = &j->u[i];
        _cleanup_free_ struct frame_member *fm = NULL;
        char name[32];

        if (u->kind != U_FRAME)
                return 0;
        if (!(fm = calloc(u->n, sizeof *fm)))
                return gear_err_sys(e, ENOMEM, "cannot make a solid frame");
        for (size_t i = 0; i < u->n; i++) {
                memcpy(fm[i].hex, u->m[i]->hex, sizeof fm[i].hex);
                fm[i].size = u->m[i]->size;
        }
        snprintf(name, sizeof name, "frame-%zu", u->frame);
        if (frame_make(j->img, fm, u->n, j->c->level, j->c->frames_dfd, name, &j->made[u->frame], e) < 0)
                return -1;
        u->sf = &j->made[u->frame];
        u->stored = u->sf->data_len;
        return 0;
}

/* *made: one store_frame for each frame made, to free with free_made */
static int make_frames(const struct gear_root *img, struct collect *c, struct unit *u, size_t nu,
                       struct store_frame **made, size_t *nmade, struct gear_err *e)
{
        struct frame_job j = { .img = img, .c = c, .u = u };
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        *nmade = 0;
        for (size_t i = 0; i < nu; i++)
                if (u[i].kind == U_FRAME && u[i].frame + 1 > *nmade)
                        *nmade = u[i].frame + 1;
        if (!(*made = j.made = calloc(*nmade ? *nmade : 1, sizeof **made)))
                return gear_err_sys(e, ENOMEM, "cannot make a solid frame");
        return gear_parallel(nu, cpus < 1 ? 1 : cpus > PACK_JOBS ? PACK_JOBS : (unsigned)cpus, make_frame, &j, e);
}

struct chunk_job {
        const struct gear_root *img;
        struct unit *u;
};

/* the chunks of a large object of a new pack: its frames read, decoded and checked */
static int list_chunks(size_t i, void *ud, struct gear_err *e)
{
        struct chunk_job *j = ud;
        struct unit *u = &j->u[i];
        struct pobj *o = u->m[0];
        char rel[STORE_REL_MAX];
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (u->kind != U_OBJECT || o->size < CHUNKED_MIN)
                return 0;
        store_object_rel(o->hex, rel);
        if ((fd = openat(j->img->fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
                return gear_err_sys(e, errno, "cannot open object sha256:%.12s", o->hex);
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != u->stored)
                return gear_err_set(e, GEAR_EXIT_SYS, "object sha256:%.12s changed while pushed", o->hex);
        return chunk_table_kept(fd, u->stored, o->hex, o->size, &o->chunks, &o->nchunks, e);
}

static int list_all_chunks(const struct gear_root *img, struct unit *u, size_t nu, struct gear_err *e)
{
        struct chunk_job j = { .img = img, .u = u };
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        return gear_parallel(nu, cpus < 1 ? 1 : cpus > PACK_JOBS ? PACK_JOBS : (unsigned)cpus, list_chunks, &j, e);
}

/* the map: the new packs, then the packs kept already, each with its contents */
static int build_map(const struct collect *c, const struct newpack *packs, size_t np, struct object_map **mp,
                     struct gear_err *e)
{
        struct object_map *m;
        int idx = -1;

        if (object_map_new(&m, e) < 0)
                return -1;
        for (size_t i = 0; i < np; i++) {
                if ((idx = object_map_add_pack(m, packs[i].hex, packs[i].size, e)) < 0)
                        goto fail;
                for (size_t k = 0; k < packs[i].n; k++) {
                        const struct unit *u = packs[i].m[k];
                        if (u->kind == U_OBJECT && object_map_add(m, u->m[0]->hex, idx, u->off, u->stored, e) < 0)
                                goto fail;
                        for (uint32_t x = 0; u->kind == U_OBJECT && x < u->m[0]->nchunks; x++) {
                                const struct map_chunk *ch = &u->m[0]->chunks[x];
                                if (object_map_add_chunk(m, ch->clen, ch->size, ch->hex, e) < 0)
                                        goto fail;
                        }
                        for (size_t x = 0; u->kind != U_OBJECT && x < u->n; x++)
                                if (object_map_add_member(m, u->m[x]->hex, idx, u->off, u->stored, u->m[x]->at, e) < 0)
                                        goto fail;
                }
        }
        for (size_t i = 0; i < c->n; i++) {
                const struct object_loc *l;
                size_t p;

                if (!c->v[i].known)
                        continue;
                l = &c->v[i].known->loc;
                if (idx < 0 || strcmp(m->packs[idx].hex, l->pack)) {
                        for (p = np; p < m->npacks && strcmp(m->packs[p].hex, l->pack); p++)
                                ;
                        if (p == m->npacks && (int)(p = object_map_add_pack(m, l->pack, l->pack_size, e)) < 0)
                                goto fail;
                        idx = p;
                }
                if (l->member ? object_map_add_member(m, c->v[i].hex, idx, l->off, l->len, l->at, e) < 0
                              : object_map_add(m, c->v[i].hex, idx, l->off, l->len, e) < 0 ||
                                        object_map_add_chunks(m, l, e) < 0)
                        goto fail;
        }
        if (object_map_index(m, e) < 0)
                goto fail;
        *mp = m;
        return 0;
fail:
        object_map_free(m);
        return -1;
}

/* images/NAME/TAG/pushed/HOST/REPO.map: what later pushes to the registry learn from */
/*
 * pushed/HOST/REPO.map, and REPO.relayed when the push named places a pulled
 * image's map gave (pack-known.c): the flag is written before the map and
 * removed after it, so a kill never leaves such a map without it
 */
static int record_map(struct remote *r, const struct gear_root *img, struct image *im, const char *text, size_t n,
                      bool relayed, struct gear_err *e)
{
        char rel[PATH_MAX], dir[PATH_MAX], flag[PATH_MAX];

        image_rel(&im->ref, dir, sizeof dir);
        if ((size_t)snprintf(rel, sizeof rel, "%s/" REMOTE_PUSHED_DIR "/%s/%s.map", dir, r->host, r->repo) >=
                    sizeof rel ||
            (size_t)snprintf(flag, sizeof flag, "%s/" REMOTE_PUSHED_DIR "/%s/%s" REMOTE_RELAYED_SUFFIX, dir, r->host,
                             r->repo) >= sizeof flag)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot record the map pushed: name too long");
        if (mkparent(img, rel, e) < 0 || (relayed && atomic_write(img, flag, "", 0, 0644, e) < 0) ||
            atomic_write(img, rel, text, n, 0644, e) < 0)
                return gear_err_wrap(e, "cannot record the map pushed");
        if (!relayed && unlinkat(img->fd, flag, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot record the map pushed: cannot remove '%s'", flag);
        return 0;
}

/* a content is named where a pulled image's map said */
static bool relayed(const struct collect *c)
{
        for (size_t i = 0; i < c->n; i++)
                if (c->v[i].known && c->v[i].known->relayed)
                        return true;
        return false;
}

static int by_pos(const void *a, const void *b)
{
        const struct pobj *x = *(struct pobj *const *)a, *y = *(struct pobj *const *)b;

        return (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * The map as the registry gets it: compact, contents named by their place
 * in the index (itree_contents); with GEAR_TEST_PUSH_MAP_TEXT set, as
 * earlier versions sent it (the text itself), for the test that such
 * images still pull.
 */
static int wire_map(const struct collect *c, const struct object_map *m, const char *text, size_t ntext,
                    void **blob, size_t *nblob, struct gear_err *e)
{
        _cleanup_free_ struct pobj **by = c->n ? malloc(c->n * sizeof *by) : NULL;
        _cleanup_free_ digest_hex *order = c->n ? malloc(c->n * sizeof *order) : NULL;
        _cleanup_free_ char *wire = NULL;
        size_t nwire;

        if (getenv("GEAR_TEST_PUSH_MAP_TEXT"))
                return object_map_encode(text, ntext, blob, nblob, e);
        if (c->n && (!by || !order))
                return gear_err_sys(e, ENOMEM, "cannot write the object map");
        for (size_t i = 0; i < c->n; i++)
                by[i] = &c->v[i];
        if (c->n)
                qsort(by, c->n, sizeof *by, by_pos);
        for (size_t i = 0; i < c->n; i++)
                memcpy(order[i], by[i]->hex, sizeof *order);
        if (object_map_format_wire(m, order, c->n, &wire, &nwire, e) < 0)
                return -1;
        return object_map_encode(wire, nwire, blob, nblob, e);
}

int pack_push(struct remote *r, const struct gear_root *img, struct image *im, struct remote_stats *st,
              struct gear_err *e)
{
        struct collect c = {0};
        struct known k = {0};
        struct newpack *packs = NULL;
        size_t np = 0;
        _cleanup_free_ digest_hex *want = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ void *blob = NULL;
        size_t ntext = 0, nblob = 0;
        struct object_map *m = NULL;
        const char *kill_after = getenv("GEAR_TEST_PUSH_KILL_AFTER");
        struct pack_job j = { .r = r, .img = img, .frames_dfd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };
        uint64_t total = 0;
        _cleanup_close_ int lock = -1;
        _cleanup_free_ struct pobj **order = NULL;
        _cleanup_free_ struct unit *units = NULL;
        struct store_stage *stage = NULL;
        struct frame_index *fx = NULL;
        struct store_frame *made = NULL;
        size_t norder = 0, nunits = 0, nmade = 0;
        bool frames = false;
        int sent, rc = -1;

        st->packs = true;
        c.level = r->solid_level;
        if (kill_after)
                j.kill_after = strtoull(kill_after, NULL, 10);
        if (image_contents(img, im, &c, e) < 0)
                goto out;
        if (c.n && !(want = malloc(c.n * sizeof *want))) {
                gear_err_sys(e, ENOMEM, "cannot push");
                goto out;
        }
        for (size_t i = 0; i < c.n; i++)
                memcpy(want[i], c.v[i].hex, sizeof *want);
        /* the objects' stored bytes are read twice (digest, upload): gear-recompress waits meanwhile */
        if ((lock = store_lock(img, LOCK_SH, e)) < 0)
                goto out;
        test_pause_point("push:locked");
        if (known_learn(img, r->host, want, c.n, &k, e) < 0 || reuse_known(r, &c, &k, &j.st, e) < 0 ||
            stat_objects(img, &c, e) < 0 || new_contents(&c, &order, &norder, e) < 0 ||
            frame_index_load(img, &fx, e) < 0 || plan_units(&c, fx, order, norder, &units, &nunits, e) < 0)
                goto out;
        for (size_t i = 0; i < nunits; i++)
                frames |= units[i].kind == U_FRAME;
        /* solid frames are written into a staging directory, which a kill leaves to gear-clean */
        if (frames && (stage_begin(img, &stage, e) < 0 ||
                       (c.frames_dfd = j.frames_dfd = stage_dirfd(stage),
                        make_frames(img, &c, units, nunits, &made, &nmade, e)) < 0))
                goto out;
        if (list_all_chunks(img, units, nunits, e) < 0 || plan_packs(units, nunits, r->pack_size, &packs, &np, e) < 0)
                goto out;
        for (size_t i = 0; i < c.n; i++)
                if (c.v[i].known)
                        total += c.v[i].stored;
        for (size_t i = 0; i < nunits; i++)
                total += units[i].stored;
        progress_total(r->progress, total, c.n);
        for (size_t i = 0; i < c.n; i++)
                if (c.v[i].known)
                        progress_add(r->progress, c.v[i].stored, 1);
        j.packs = packs;
        /* one thread when a test wants an exact count of packs sent before the kill */
        sent = gear_parallel(np, j.kill_after ? 1 : PACK_JOBS, send_one, &j, e);
        *st = j.st;
        st->packs = true;
        if (sent < 0)
                goto out;
        if (build_map(&c, packs, np, &m, e) < 0 || object_map_format(m, &text, &ntext, e) < 0 ||
            wire_map(&c, m, text, ntext, &blob, &nblob, e) < 0 ||
            remote_push_index(r, img, im, blob, nblob, m, e) < 0 || record_map(r, img, im, text, ntext, relayed(&c), e) < 0)
                goto out;
        rc = 0;
out:
        object_map_free(m);
        for (size_t i = 0; i < np; i++)
                free(packs[i].m);
        free(packs);
        known_free(&k);
        for (size_t i = 0; i < c.n; i++)
                free(c.v[i].chunks);
        free(c.v);
        if (stage)
                stage_free(stage);
        frame_index_free(fx);
        for (size_t i = 0; i < nmade; i++)
                store_frame_free(&made[i]);
        free(made);
        pthread_mutex_destroy(&j.lock);
        return rc;
}
