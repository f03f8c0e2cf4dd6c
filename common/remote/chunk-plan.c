/*
 * The slices of large contents the images built here read (chunk-plan.h):
 * for each image whose access list names digests its index lacks (the
 * chunks its mounts read), each large content of it is read from objects/
 * once, verified, and the digest of each of its slices looked up in the
 * list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk-plan.h"
#include "chunks.h"
#include "frame-plan.h"
#include "image-fetch.h"
#include "../base/fsutil.h"
#include "../image/image.h"
#include "../store/store.h"

struct read_content {
        digest_hex hex;
        uint64_t size;
        digest_hex *slices;     /* the digest of each slice */
        unsigned char *read;    /* slice i is in an access list */
        bool any;
};

struct chunk_plan {
        struct read_content *v;
        size_t n, cap;
        bool sorted;
};

struct planner {
        const struct gear_root *img;
        struct chunk_plan *p;
        struct gear_err *e;
};

static int hex_cmp(const void *a, const void *b)
{
        return strcmp(a, b);
}

static int content_cmp(const void *a, const void *b)
{
        return strcmp(((const struct read_content *)a)->hex, ((const struct read_content *)b)->hex);
}

/* the digests of the slices of content hex (size bytes), read from objects/ and verified */
static int slice_digests(const struct gear_root *img, const char *hex, uint64_t size, digest_hex **out,
                         struct gear_err *e)
{
        uint64_t ns = (size + STORE_CHUNK - 1) / STORE_CHUNK;
        _cleanup_free_ unsigned char *buf = malloc(STORE_CHUNK);
        struct store_reader *r = NULL;
        digest_hex *v = calloc(ns, sizeof *v);
        uint64_t i = 0;
        size_t fill = 0;
        ssize_t k = 1;

        if (!buf || !v) {
                free(v);
                return gear_err_sys(e, ENOMEM, "cannot plan the chunks");
        }
        if (store_reader_open(img, hex, &r, e) < 0) {
                free(v);
                return -1;
        }
        store_reader_expect_size(r, size);
        /* 0 only at the end, once the whole matched its digest */
        while (k > 0) {
                k = store_reader_read(r, buf + fill, STORE_CHUNK - fill, e);
                if (k > 0)
                        fill += k;
                if ((fill == STORE_CHUNK || (k == 0 && fill)) && i < ns) {
                        if (digest_buf(buf, fill, v[i++], e) < 0)
                                k = -1;
                        fill = 0;
                }
        }
        store_reader_free(r);
        if (k < 0) {
                free(v);
                return -1;
        }
        *out = v;
        return 0;
}

static struct read_content *find(struct chunk_plan *p, const char *hex)
{
        struct read_content key;

        if (!p->sorted) {
                if (p->n)
                        qsort(p->v, p->n, sizeof *p->v, content_cmp);
                p->sorted = true;
        }
        memcpy(key.hex, hex, sizeof key.hex);
        return p->n ? bsearch(&key, p->v, p->n, sizeof *p->v, content_cmp) : NULL;
}

static int add_image(const struct image_ref *r, const struct image *im0, const struct gear_err *why, void *ud)
{
        struct planner *pl = ud;
        _cleanup_free_ digest_hex *acc = NULL, *names = NULL;
        _cleanup_free_ const struct store_blob **b = NULL;
        struct itree *t = NULL;
        char rel[PATH_MAX];
        size_t nacc = 0, nb = 0, nu = 0, nn = 0;
        int k;

        (void)im0;
        if (why || (k = built_image_tree(pl->img, r, rel, &t, pl->e)) <= 0)
                return why ? 0 : k;
        if (access_list_load(pl->img, rel, &acc, &nacc, pl->e) < 0 || !nacc) {
                gear_err_clear(pl->e);
                itree_free(t);
                return 0;
        }
        if ((k = itree_blobs(t, &b, &nb)) < 0 || (k = itree_contents(t, &names, &nn)) < 0) {
                itree_free(t);
                return gear_err_sys(pl->e, -k, "cannot plan the chunks");
        }
        /* the digests of the list its index lacks: chunks read, sorted; none, nothing to do */
        if (nn)
                qsort(names, nn, sizeof *names, hex_cmp);
        qsort(acc, nacc, sizeof *acc, hex_cmp);
        for (size_t i = 0; i < nacc; i++)
                if (!nn || !bsearch(acc[i], names, nn, sizeof *names, hex_cmp))
                        memmove(acc[nu++], acc[i], sizeof *acc);
        for (size_t j = 0; nu && j < nb; j++) {
                struct read_content *c;
                uint64_t ns;
                if (b[j]->size < CHUNKED_MIN)
                        continue;
                ns = (b[j]->size + STORE_CHUNK - 1) / STORE_CHUNK;
                if (!(c = find(pl->p, b[j]->hex))) {
                        struct read_content *v;
                        if (array_room((void **)&pl->p->v, &pl->p->cap, pl->p->n, sizeof *pl->p->v) < 0) {
                                itree_free(t);
                                return gear_err_sys(pl->e, ENOMEM, "cannot plan the chunks");
                        }
                        v = &pl->p->v[pl->p->n];
                        *v = (struct read_content){ .size = b[j]->size };
                        memcpy(v->hex, b[j]->hex, sizeof v->hex);
                        if (!(v->read = calloc(ns, 1)) || slice_digests(pl->img, v->hex, v->size, &v->slices, pl->e) < 0) {
                                /* an object that cannot be read is not laid out: gear-fsck finds it */
                                free(v->read);
                                gear_err_clear(pl->e);
                                continue;
                        }
                        pl->p->n++;
                        pl->p->sorted = false;
                        c = find(pl->p, b[j]->hex);
                }
                for (uint64_t i = 0; i < ns; i++)
                        if (bsearch(c->slices[i], acc, nu, sizeof *acc, hex_cmp))
                                c->read[i] = 1, c->any = true;
        }
        itree_free(t);
        return 0;
}

int chunk_plan_load(const struct gear_root *img, struct chunk_plan **p, struct gear_err *e)
{
        struct planner pl = { .img = img, .e = e };

        *p = NULL;
        if (!(pl.p = calloc(1, sizeof *pl.p)))
                return gear_err_sys(e, ENOMEM, "cannot plan the chunks");
        if (image_list(img, add_image, &pl, e) < 0) {
                chunk_plan_free(pl.p);
                return -1;
        }
        if (pl.p->n)
                qsort(pl.p->v, pl.p->n, sizeof *pl.p->v, content_cmp);
        pl.p->sorted = true;
        *p = pl.p;
        return 0;
}

int chunk_plan_layout(void *ud, const char *hex, uint64_t size, unsigned char *read)
{
        struct chunk_plan *p = ud;
        struct read_content key, *c;

        if (!p || !p->n || strlen(hex) != DIGEST_HEX_LEN)
                return 0;
        memcpy(key.hex, hex, sizeof key.hex);
        c = bsearch(&key, p->v, p->n, sizeof *p->v, content_cmp);
        if (!c || !c->any || c->size != size)
                return 0;
        memcpy(read, c->read, (size + STORE_CHUNK - 1) / STORE_CHUNK);
        return 1;
}

void chunk_plan_free(struct chunk_plan *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++) {
                free(p->v[i].slices);
                free(p->v[i].read);
        }
        free(p->v);
        free(p);
}
