/*
 * The units of large contents the images built here read (chunk-plan.h):
 * for each image with an access.runs (image-fetch.h), the units its runs of
 * a content of CHUNKED_MIN bytes or more cover.
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
        unsigned char *read;    /* unit i is in a run */
        bool any;               /* some unit is */
        bool unknown;           /* of an image whose list is from before access.runs */
};

struct chunk_plan {
        struct read_content *v;
        size_t n, cap;
};

struct planner {
        const struct gear_root *img;
        struct chunk_plan *p;
        struct gear_err *e;
};

static int blob_cmp(const void *a, const void *b)
{
        return strcmp((*(const struct store_blob *const *)a)->hex, (*(const struct store_blob *const *)b)->hex);
}

static int hex_cmp(const void *a, const void *b)
{
        return strcmp(a, b);
}

static int content_cmp(const void *a, const void *b)
{
        return strcmp(((const struct read_content *)a)->hex, ((const struct read_content *)b)->hex);
}

/* the content hex of size bytes in the plan, added when missing; NULL when out of memory */
static struct read_content *content(struct chunk_plan *p, const char *hex, uint64_t size)
{
        struct read_content *c;

        for (size_t i = 0; i < p->n; i++)
                if (!strcmp(p->v[i].hex, hex) && p->v[i].size == size)
                        return &p->v[i];
        if (array_room((void **)&p->v, &p->cap, p->n, sizeof *p->v) < 0)
                return NULL;
        c = &p->v[p->n];
        *c = (struct read_content){ .size = size };
        memcpy(c->hex, hex, sizeof c->hex);
        if (!(c->read = calloc((size + ACCESS_RUN_UNIT - 1) / ACCESS_RUN_UNIT, 1)))
                return NULL;
        p->n++;
        return c;
}

/*
 * An image without access.runs whose access list names digests its index
 * lacks (chunks, as mounts listed them before access.runs): what it read of
 * its large contents is unknown
 */
static int old_list(struct planner *pl, struct itree *t, const char *rel, const struct store_blob **b, size_t nb)
{
        _cleanup_free_ digest_hex *acc = NULL, *names = NULL;
        size_t nacc = 0, nn = 0;
        bool old = false;
        int k;

        if (access_list_load(pl->img, rel, &acc, &nacc, pl->e) < 0 || !nacc) {
                gear_err_clear(pl->e);
                return 0;
        }
        if ((k = itree_contents(t, &names, &nn)) < 0)
                return gear_err_sys(pl->e, -k, "cannot plan the chunks");
        if (nn)
                qsort(names, nn, sizeof *names, hex_cmp);
        for (size_t i = 0; i < nacc && !old; i++)
                old = !nn || !bsearch(acc[i], names, nn, sizeof *names, hex_cmp);
        for (size_t j = 0; old && j < nb; j++) {
                struct read_content *c;
                if (b[j]->size < CHUNKED_MIN)
                        continue;
                if (!(c = content(pl->p, b[j]->hex, b[j]->size)))
                        return gear_err_sys(pl->e, ENOMEM, "cannot plan the chunks");
                c->unknown = true;
        }
        return 0;
}

static int add_image(const struct image_ref *r, const struct image *im0, const struct gear_err *why, void *ud)
{
        struct planner *pl = ud;
        _cleanup_free_ struct access_run *runs = NULL;
        _cleanup_free_ const struct store_blob **b = NULL;
        struct itree *t = NULL;
        char rel[PATH_MAX];
        size_t nruns = 0, nb = 0;
        int k;

        (void)im0;
        if (why || (k = built_image_tree(pl->img, r, rel, &t, pl->e)) <= 0)
                return why ? 0 : k;
        /* a list that cannot be read lays out nothing */
        if (access_runs_load(pl->img, rel, &runs, &nruns, pl->e) < 0) {
                gear_err_clear(pl->e);
                itree_free(t);
                return 0;
        }
        if ((k = itree_blobs(t, &b, &nb)) < 0) {
                itree_free(t);
                return gear_err_sys(pl->e, -k, "cannot plan the chunks");
        }
        if (!nruns) {
                k = old_list(pl, t, rel, b, nb);
                itree_free(t);
                return k;
        }
        if (nb)
                qsort(b, nb, sizeof *b, blob_cmp);
        for (size_t i = 0; i < nruns; i++) {
                struct store_blob key, *kp = &key;
                const struct store_blob **f;
                struct read_content *c;
                uint64_t end;
                memcpy(key.hex, runs[i].hex, sizeof key.hex);
                /* a run of a content the index names at that size */
                if (!runs[i].len || !nb || !(f = bsearch(&kp, b, nb, sizeof *b, blob_cmp)) ||
                    (*f)->size < CHUNKED_MIN || runs[i].off >= (*f)->size)
                        continue;
                if (!(c = content(pl->p, (*f)->hex, (*f)->size))) {
                        itree_free(t);
                        return gear_err_sys(pl->e, ENOMEM, "cannot plan the chunks");
                }
                c->any = true;
                end = runs[i].len > c->size - runs[i].off ? c->size : runs[i].off + runs[i].len;
                memset(c->read + runs[i].off / ACCESS_RUN_UNIT, 1,
                       (end + ACCESS_RUN_UNIT - 1) / ACCESS_RUN_UNIT - runs[i].off / ACCESS_RUN_UNIT);
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
        if (!c || c->size != size || !c->any)
                return c && c->size == size && c->unknown ? -1 : 0;
        memcpy(read, c->read, (size + ACCESS_RUN_UNIT - 1) / ACCESS_RUN_UNIT);
        return 1;
}

void chunk_plan_free(struct chunk_plan *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++)
                free(p->v[i].read);
        free(p->v);
        free(p);
}
