#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image-tree.h"
#include "../base/fsutil.h"

struct blob_chunk {
        struct blob_chunk *next;
        size_t used;
        struct store_blob b[256];
};

struct itree {
        struct tnode root;
        struct tnode **buckets;
        size_t nbuckets, count;
        struct blob_chunk *blobs;
};

static size_t hash(const struct tnode *dir, const char *name)
{
        size_t h = (size_t)dir * 0x9e3779b97f4a7c15ull;

        for (; *name; name++)
                h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
        return h ^ h >> 29;
}

struct itree *itree_new(void)
{
        struct itree *t = calloc(1, sizeof *t);

        if (!t)
                return NULL;
        t->nbuckets = 1024;
        t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
        t->root.name = strdup(".");
        t->root.ino = inode_new(S_IFDIR | 0755);
        if (!t->buckets || !t->root.name || !t->root.ino) {
                itree_free(t);
                return NULL;
        }
        t->root.ino->refs = 1;
        return t;
}

struct inode *inode_new(mode_t mode)
{
        struct inode *ino = calloc(1, sizeof *ino);

        if (ino)
                ino->mode = mode;
        return ino;
}

void inode_unref(struct inode *ino)
{
        if (!ino || --ino->refs > 0)
                return;
        for (size_t i = 0; i < ino->nxattrs; i++) {
                free(ino->xattrs[i].name);
                free(ino->xattrs[i].value);
        }
        free(ino->xattrs);
        free(ino->target);
        free(ino->first_path);
        free(ino);
}

int inode_add_xattr(struct inode *ino, const char *name, const void *value, size_t len)
{
        struct xattr *x;

        /* archives may carry one xattr twice (SCHILY. and LIBARCHIVE. records): the last wins */
        for (size_t i = 0; i < ino->nxattrs; i++) {
                if (strcmp(ino->xattrs[i].name, name))
                        continue;
                unsigned char *v = malloc(len ? len : 1);
                if (!v)
                        return -ENOMEM;
                memcpy(v, value, len);
                free(ino->xattrs[i].value);
                ino->xattrs[i].value = v;
                ino->xattrs[i].len = len;
                return 0;
        }
        x = realloc(ino->xattrs, (ino->nxattrs + 1) * sizeof *x);

        if (!x)
                return -ENOMEM;
        ino->xattrs = x;
        x += ino->nxattrs;
        x->name = strdup(name);
        x->value = malloc(len ? len : 1);
        x->len = len;
        if (!x->name || !x->value) {
                free(x->name);
                free(x->value);
                return -ENOMEM;
        }
        memcpy(x->value, value, len);
        ino->nxattrs++;
        return 0;
}

struct store_blob *itree_blob(struct itree *t)
{
        if (!t->blobs || t->blobs->used == ELEMENTSOF(t->blobs->b)) {
                struct blob_chunk *c = calloc(1, sizeof *c);
                if (!c)
                        return NULL;
                c->next = t->blobs;
                t->blobs = c;
        }
        return &t->blobs->b[t->blobs->used++];
}

struct tnode *itree_root(struct itree *t)
{
        return &t->root;
}

size_t itree_count(const struct itree *t)
{
        return t->count;
}

struct tnode *itree_lookup(struct itree *t, struct tnode *dir, const char *name)
{
        struct tnode *n = t->buckets[hash(dir, name) & (t->nbuckets - 1)];

        for (; n; n = n->hnext)
                if (n->parent == dir && !strcmp(n->name, name))
                        return n;
        return NULL;
}

static void unhash(struct itree *t, struct tnode *n)
{
        struct tnode **p = &t->buckets[hash(n->parent, n->name) & (t->nbuckets - 1)];

        while (*p != n)
                p = &(*p)->hnext;
        *p = n->hnext;
}

static void grow(struct itree *t)
{
        size_t nb = t->nbuckets * 2;
        struct tnode **b = calloc(nb, sizeof *b);

        if (!b)
                return; /* longer chains, still correct */
        for (size_t i = 0; i < t->nbuckets; i++) {
                for (struct tnode *n = t->buckets[i], *next; n; n = next) {
                        next = n->hnext;
                        size_t h = hash(n->parent, n->name) & (nb - 1);
                        n->hnext = b[h];
                        b[h] = n;
                }
        }
        free(t->buckets);
        t->buckets = b;
        t->nbuckets = nb;
}

static void free_subtree(struct itree *t, struct tnode *n)
{
        while (n->child) {
                struct tnode *c = n->child;
                n->child = c->next;
                unhash(t, c);
                free_subtree(t, c);
                t->count--;
                inode_unref(c->ino);
                free(c->name);
                free(c);
        }
}

void itree_remove(struct itree *t, struct tnode *n)
{
        free_subtree(t, n);
        if (n == &t->root)
                return;
        unhash(t, n);
        if (n->prev)
                n->prev->next = n->next;
        else
                n->parent->child = n->next;
        if (n->next)
                n->next->prev = n->prev;
        t->count--;
        inode_unref(n->ino);
        free(n->name);
        free(n);
}

struct tnode *itree_put(struct itree *t, struct tnode *dir, const char *name, struct inode *ino,
                        unsigned layer)
{
        struct tnode *n = itree_lookup(t, dir, name);

        if (n) {
                /*
                 * Take the reference first: ino may live only below n (a
                 * hardlink "a" to "a/b"), and freeing the subtree would drop it.
                 */
                ino->refs++;
                /* a directory over a directory keeps what is below it */
                if (!S_ISDIR(n->ino->mode) || !S_ISDIR(ino->mode))
                        free_subtree(t, n);
                inode_unref(n->ino);
                n->ino = ino;
                n->layer = layer;
                return n;
        }
        n = calloc(1, sizeof *n);
        if (!n || !(n->name = strdup(name))) {
                free(n);
                return NULL;
        }
        if (t->count + 1 > t->nbuckets)
                grow(t);
        n->parent = dir;
        n->ino = ino;
        n->layer = layer;
        ino->refs++;
        n->next = dir->child;
        if (dir->child)
                dir->child->prev = n;
        dir->child = n;
        size_t h = hash(dir, name) & (t->nbuckets - 1);
        n->hnext = t->buckets[h];
        t->buckets[h] = n;
        t->count++;
        return n;
}

void itree_free(struct itree *t)
{
        if (!t)
                return;
        if (t->buckets)
                free_subtree(t, &t->root);
        inode_unref(t->root.ino);
        free(t->root.name);
        free(t->buckets);
        while (t->blobs) {
                struct blob_chunk *c = t->blobs;
                t->blobs = c->next;
                free(c);
        }
        free(t);
}

bool itree_path_clean(const char *in, bool allow_abs, char *out, size_t n, const char **why)
{
        size_t len = 0;

        if (*in == '/' && !allow_abs) {
                *why = "absolute name";
                return false;
        }
        for (const char *p = in; *p;) {
                const char *s = p;
                while (*p && *p != '/')
                        p++;
                size_t k = p - s;
                while (*p == '/')
                        p++;
                if (k == 0 || (k == 1 && *s == '.'))
                        continue;
                if (k == 2 && s[0] == '.' && s[1] == '.') {
                        *why = "'..' in name";
                        return false;
                }
                if (len + k + 2 > n) {
                        *why = "name too long";
                        return false;
                }
                if (len)
                        out[len++] = '/';
                memcpy(out + len, s, k);
                len += k;
        }
        if (!len) {
                if (n < 2) {
                        *why = "name too long";
                        return false;
                }
                out[len++] = '.';
        }
        out[len] = 0;
        return true;
}

int itree_parent(struct itree *t, const char *path, unsigned layer, bool create, struct tnode **dir,
                 const char **base, char *why, size_t whyn)
{
        struct tnode *d = &t->root;
        const char *p = path, *slash;
        char name[NAME_MAX + 1];

        while ((slash = strchr(p, '/'))) {
                size_t k = slash - p;
                if (k > NAME_MAX) {
                        snprintf(why, whyn, "name too long");
                        return -1;
                }
                memcpy(name, p, k);
                name[k] = 0;
                struct tnode *c = itree_lookup(t, d, name);
                if (!c) {
                        if (!create) {
                                snprintf(why, whyn, "'%.*s' does not exist", (int)(slash - path), path);
                                return -ENOENT;
                        }
                        struct inode *ino = inode_new(S_IFDIR | 0755);
                        if (!ino || !(c = itree_put(t, d, name, ino, layer))) {
                                free(ino);
                                snprintf(why, whyn, "out of memory");
                                return -ENOMEM;
                        }
                } else if (S_ISLNK(c->ino->mode)) {
                        snprintf(why, whyn, "'%.*s' is a symlink", (int)(slash - path), path);
                        return -ELOOP;
                } else if (!S_ISDIR(c->ino->mode)) {
                        snprintf(why, whyn, "'%.*s' is not a directory", (int)(slash - path), path);
                        return -ENOTDIR;
                }
                d = c;
                p = slash + 1;
        }
        if (strlen(p) > NAME_MAX) {
                snprintf(why, whyn, "name too long");
                return -1;
        }
        *dir = d;
        *base = p;
        return 0;
}

struct tnode *itree_find(struct itree *t, const char *path)
{
        struct tnode *dir;
        const char *base;
        char why[8];

        if (!strcmp(path, "."))
                return &t->root;
        if (itree_parent(t, path, 0, false, &dir, &base, why, sizeof why) < 0)
                return NULL;
        return itree_lookup(t, dir, base);
}

static int by_name(const void *a, const void *b)
{
        return strcmp((*(struct tnode *const *)a)->name, (*(struct tnode *const *)b)->name);
}

static int walk(struct tnode *d, char *path, size_t len, itree_visit_fn fn, void *ud)
{
        struct tnode **v;
        size_t n = 0, i;
        int r = 0;

        for (struct tnode *c = d->child; c; c = c->next)
                n++;
        if (!n)
                return 0;
        if (!(v = malloc(n * sizeof *v)))
                return -ENOMEM;
        i = 0;
        for (struct tnode *c = d->child; c; c = c->next)
                v[i++] = c;
        qsort(v, n, sizeof *v, by_name);
        for (i = 0; i < n && r >= 0; i++) {
                size_t k = strlen(v[i]->name);
                if (len + k + 2 > PATH_MAX) {
                        r = -ENAMETOOLONG;
                        break;
                }
                size_t at = len;
                if (len)
                        path[at++] = '/';
                memcpy(path + at, v[i]->name, k + 1);
                r = fn(v[i], path, ud);
                if (r >= 0 && S_ISDIR(v[i]->ino->mode))
                        r = walk(v[i], path, at + k, fn, ud);
                path[len] = 0;
        }
        free(v);
        return r;
}

int itree_walk(struct itree *t, itree_visit_fn fn, void *ud)
{
        char path[PATH_MAX] = ".";
        int r = fn(&t->root, path, ud);

        if (r < 0)
                return r;
        path[0] = 0;
        return walk(&t->root, path, 0, fn, ud);
}

struct blobs {
        const struct store_blob **v;
        size_t n, cap;
};

static int add_blob(struct tnode *tn, const char *path, void *ud)
{
        struct blobs *b = ud;

        (void)path;
        if (!tn->ino || !S_ISREG(tn->ino->mode) || !tn->ino->blob)
                return 0;
        if (array_room((void **)&b->v, &b->cap, b->n, sizeof *b->v) < 0)
                return -ENOMEM;
        b->v[b->n++] = tn->ino->blob;
        return 0;
}

int itree_blobs(struct itree *t, const struct store_blob ***v, size_t *n)
{
        struct blobs b = {0};
        int r = itree_walk(t, add_blob, &b);

        if (r < 0) {
                free(b.v);
                b.v = NULL;
                b.n = 0;
        }
        *v = b.v;
        *n = b.n;
        return r < 0 ? r : 0;
}

int itree_contents(struct itree *t, digest_hex **v, size_t *n)
{
        _cleanup_free_ const struct store_blob **b = NULL;
        _cleanup_free_ struct hex_pos *f = NULL;
        size_t nb, k = 0;
        int r;

        *v = NULL;
        *n = 0;
        if ((r = itree_blobs(t, &b, &nb)) < 0)
                return r;
        if (!nb)
                return 0;
        if (!(f = malloc(nb * sizeof *f)) || !(*v = malloc(nb * sizeof **v)))
                return -ENOMEM;
        for (size_t i = 0; i < nb; i++)
                f[i] = (struct hex_pos){ b[i]->hex, i };
        k = hex_pos_first(f, nb);
        for (size_t i = 0; i < k; i++)
                memcpy((*v)[i], f[i].hex, sizeof(digest_hex));
        *n = k;
        return 0;
}

void path_escape(const char *in, char *out, size_t n)
{
        size_t o = 0;

        for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < n; p++) {
                if (*p == '\\' || *p == '\t' || *p == '\n') {
                        out[o++] = '\\';
                        out[o++] = *p == '\\' ? '\\' : *p == '\t' ? 't' : 'n';
                } else if (*p < 0x20 || *p == 0x7f)
                        o += snprintf(out + o, n - o, "\\%03o", *p);
                else
                        out[o++] = *p;
        }
        out[o] = 0;
}
