#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer.h"
#include "../base/dl-archive.h"

#define WH_PREFIX ".wh."
#define WH_META ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

static int fail(struct layer_ctx *c, const char *name, struct gear_err *e, int code, const char *fmt, ...)
        _printf_(5, 6);

static int fail(struct layer_ctx *c, const char *name, struct gear_err *e, int code, const char *fmt, ...)
{
        char msg[512], esc[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (name) {
                path_escape(name, esc, sizeof esc);
                return gear_err_set(e, code, "%s: entry '%s': %s", c->label, esc, msg);
        }
        return gear_err_set(e, code, "%s: %s", c->label, msg);
}

static int archive_code(struct layer_ctx *c, struct archive *a)
{
        int err = sym_archive_errno(a);

        if (!c->ignore_errno && (err == EIO || err == ENOMEM || err == ENOSPC || err == EACCES ||
                                 err == EMFILE || err == ENFILE))
                return GEAR_EXIT_SYS;
        return GEAR_EXIT_USAGE;
}

int layer_archive_error(struct layer_ctx *c, struct archive *a, const char *name, struct gear_err *e)
{
        const char *s = sym_archive_error_string(a);

        /* an error our own read callback set says more than libarchive's */
        if (e->code)
                return gear_err_wrap(e, "%s", c->label);
        return fail(c, name, e, archive_code(c, a), "%s", s ? s : "malformed archive");
}

/* removes the children of dir that lower layers wrote */
static void opaque(struct itree *t, struct tnode *dir, unsigned layer)
{
        for (struct tnode *n = dir->child, *next; n; n = next) {
                next = n->next;
                if (n->layer < layer)
                        itree_remove(t, n);
                else if (S_ISDIR(n->ino->mode))
                        opaque(t, n, layer);
        }
}

static int whiteout(struct layer_ctx *c, const char *name, const char *path, struct gear_err *e)
{
        char why[PATH_MAX + 64];
        struct tnode *dir, *n;
        const char *base;
        int r;

        r = itree_parent(c->tree, path, c->index, false, &dir, &base, why, sizeof why);
        if (r == -ENOENT)
                return 0; /* nothing below to hide */
        if (r < 0)
                return fail(c, name, e, GEAR_EXIT_USAGE, "%s", why);
        if (!strcmp(base, WH_OPAQUE)) {
                opaque(c->tree, dir, c->index);
                return 0;
        }
        if (!strncmp(base, WH_META, strlen(WH_META)))
                return 0; /* other aufs bookkeeping */
        base += strlen(WH_PREFIX);
        if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
                return fail(c, name, e, GEAR_EXIT_USAGE, "invalid whiteout");
        n = itree_lookup(c->tree, dir, base);
        /* a whiteout hides only what lower layers wrote */
        if (n && n->layer < c->index)
                itree_remove(c->tree, n);
        return 0;
}

static int read_content(struct layer_ctx *c, struct archive *a, const char *name, int64_t size,
                        struct store_blob *blob, struct gear_err *e)
{
        struct pool_stream *w = NULL;
        char *buf;
        int64_t got = 0;
        size_t cap;

        if (size < 0)
                return fail(c, name, e, GEAR_EXIT_USAGE, "invalid size");
        cap = size < LAYER_STREAM_MIN ? (size_t)size : 1u << 20;
        if (!(buf = malloc(cap ? cap : 1)))
                return gear_err_sys(e, ENOMEM, "cannot read '%s'", name);
        if (size >= LAYER_STREAM_MIN && pool_stream_open(c->pool, &w, e) < 0)
                goto fail;
        for (;;) {
                size_t want = w ? cap : cap - got;
                la_ssize_t k;
                /* a file on disk may grow meanwhile: no more than one byte past its size is read */
                if (c->content_fd >= 0 && w && want > (uint64_t)(size - got) + 1)
                        want = (size_t)(size - got) + 1;
                if (c->content_fd >= 0) {
                        while ((k = read(c->content_fd, w ? buf : buf + got, want)) < 0 && errno == EINTR)
                                ;
                        if (k < 0) {
                                gear_err_sys(e, errno, "%s: cannot read '%s'", c->label, name);
                                goto fail;
                        }
                } else if ((k = sym_archive_read_data(a, w ? buf : buf + got, want)) < 0) {
                        layer_archive_error(c, a, name, e);
                        goto fail;
                }
                if (k == 0)
                        break;
                got += k;
                if (got > size)
                        break;
                if (w && pool_stream_write(w, buf, k, e) < 0)
                        goto fail;
                if (!w && (size_t)got == cap)
                        break;
        }
        if (got != size && c->content_fd >= 0) {
                fail(c, name, e, GEAR_EXIT_SYS, "changed while it was read");
                goto fail;
        }
        if (got != size) {
                fail(c, name, e, GEAR_EXIT_USAGE, "header says %lld bytes, archive holds %lld",
                     (long long)size, (long long)got);
                goto fail;
        }
        /* a file read from disk ends where its stat said */
        if (c->content_fd >= 0) {
                char more;
                ssize_t k;
                while ((k = read(c->content_fd, &more, 1)) < 0 && errno == EINTR)
                        ;
                if (k != 0) {
                        fail(c, name, e, GEAR_EXIT_SYS, "changed while it was read");
                        goto fail;
                }
        }
        if (w) {
                free(buf);
                return pool_stream_finish(w, blob, e);
        }
        return pool_submit(c->pool, buf, size, blob, e);
fail:
        pool_stream_free(w);
        free(buf);
        return -1;
}

static int hardlink(struct layer_ctx *c, const char *name, const char *target, struct tnode *dir,
                    const char *base, struct gear_err *e)
{
        char path[PATH_MAX], esc[512];
        const char *why;
        struct tnode *t;

        if (!itree_path_clean(target, false, path, sizeof path, &why))
                return fail(c, name, e, GEAR_EXIT_USAGE, "hardlink target: %s", why);
        t = itree_find(c->tree, path);
        path_escape(target, esc, sizeof esc);
        if (!t)
                return fail(c, name, e, GEAR_EXIT_USAGE, "hardlink to missing '%s'", esc);
        if (S_ISDIR(t->ino->mode))
                return fail(c, name, e, GEAR_EXIT_USAGE, "hardlink to directory '%s'", esc);
        if (t->parent == dir && !strcmp(t->name, base))
                return 0;
        if (!itree_put(c->tree, dir, base, t->ino, c->index))
                return gear_err_sys(e, ENOMEM, "cannot apply '%s'", name);
        return 0;
}

static int set_meta(struct layer_ctx *c, struct archive_entry *ent, const char *name, struct inode *ino,
                    struct gear_err *e)
{
        const char *xn;
        const void *xv;
        size_t xl;

        ino->uid = sym_archive_entry_uid(ent);
        ino->gid = sym_archive_entry_gid(ent);
        if (sym_archive_entry_mtime_is_set(ent)) {
                ino->mtime = sym_archive_entry_mtime(ent);
                ino->mtime_nsec = sym_archive_entry_mtime_nsec(ent);
        }
        sym_archive_entry_xattr_reset(ent);
        while (sym_archive_entry_xattr_next(ent, &xn, &xv, &xl) == ARCHIVE_OK) {
                if (!strncmp(xn, GEAR_XATTR_PREFIX, strlen(GEAR_XATTR_PREFIX)))
                        return fail(c, name, e, GEAR_EXIT_USAGE, "reserved xattr '%s'", xn);
                if (inode_add_xattr(ino, xn, xv, xl) < 0)
                        return gear_err_sys(e, ENOMEM, "cannot apply '%s'", name);
        }
        return 0;
}

int layer_apply_entry(struct layer_ctx *c, struct archive *a, struct archive_entry *ent,
                      const char *name, struct gear_err *e)
{
        char path[PATH_MAX], why[PATH_MAX + 64];
        const char *base, *w, *link = sym_archive_entry_hardlink(ent);
        mode_t type = sym_archive_entry_filetype(ent);
        struct tnode *dir;
        struct inode *ino;
        int r;

        if (!itree_path_clean(name, false, path, sizeof path, &w))
                return fail(c, name, e, GEAR_EXIT_USAGE, "%s", w);
        base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (c->whiteouts && !strncmp(base, WH_PREFIX, strlen(WH_PREFIX)))
                return whiteout(c, name, path, e);
        if (!strcmp(path, ".")) {
                if (link || type != AE_IFDIR)
                        return fail(c, name, e, GEAR_EXIT_USAGE, "the root is not a directory");
                dir = itree_root(c->tree);
                if (!(ino = inode_new(sym_archive_entry_mode(ent))))
                        return gear_err_sys(e, ENOMEM, "cannot apply '%s'", name);
                ino->refs = 1;
                inode_unref(dir->ino);
                dir->ino = ino;
                dir->layer = c->index;
                return set_meta(c, ent, name, ino, e);
        }
        r = itree_parent(c->tree, path, c->index, true, &dir, &base, why, sizeof why);
        if (r < 0)
                return fail(c, name, e, r == -ENOMEM ? GEAR_EXIT_SYS : GEAR_EXIT_USAGE, "%s", why);
        if (link)
                return hardlink(c, name, link, dir, base, e);
        switch (type) {
        case AE_IFREG: case AE_IFDIR: case AE_IFLNK: case AE_IFCHR: case AE_IFBLK: case AE_IFIFO:
                break;
        case AE_IFSOCK:
                return 0; /* a socket means nothing in an image */
        default:
                return fail(c, name, e, GEAR_EXIT_USAGE, "unsupported type 0%o", (unsigned)type);
        }
        if (!(ino = inode_new(sym_archive_entry_mode(ent))))
                return gear_err_sys(e, ENOMEM, "cannot apply '%s'", name);
        ino->refs = 1; /* ours until it is in the tree */
        if (set_meta(c, ent, name, ino, e) < 0)
                goto fail;
        if (type == AE_IFLNK) {
                const char *t = sym_archive_entry_symlink(ent);
                if (!t || !*t) {
                        fail(c, name, e, GEAR_EXIT_USAGE, "symlink without target");
                        goto fail;
                }
                if (!(ino->target = strdup(t)))
                        goto nomem;
        } else if (type == AE_IFCHR || type == AE_IFBLK)
                ino->rdev = sym_archive_entry_rdev(ent);
        else if (type == AE_IFREG) {
                if (!(ino->blob = itree_blob(c->tree)))
                        goto nomem;
                if (read_content(c, a, name, sym_archive_entry_size(ent), ino->blob, e) < 0)
                        goto fail;
        }
        if (!itree_put(c->tree, dir, base, ino, c->index))
                goto nomem;
        inode_unref(ino);
        return 0;
nomem:
        gear_err_sys(e, ENOMEM, "cannot apply '%s'", name);
fail:
        inode_unref(ino);
        return -1;
}

int layer_apply(struct layer_ctx *c, struct archive *a, struct gear_err *e)
{
        struct archive_entry *ent;
        char prev[512] = "";

        for (;;) {
                int r = sym_archive_read_next_header(a, &ent);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
                        const char *s = sym_archive_error_string(a);
                        if (e->code || !*prev)
                                return layer_archive_error(c, a, NULL, e);
                        return gear_err_set(e, archive_code(c, a), "%s: after entry '%s': %s", c->label, prev,
                                            s ? s : "malformed archive");
                }
                const char *name = sym_archive_entry_pathname(ent);
                if (!name)
                        return fail(c, NULL, e, GEAR_EXIT_USAGE, "entry without a name");
                if (layer_apply_entry(c, a, ent, name, e) < 0)
                        return -1;
                path_escape(name, prev, sizeof prev);
        }
}

long membuf_write(struct archive *a, void *ud, const void *buf, size_t n)
{
        struct membuf *m = ud;

        if (m->n + n > m->cap) {
                size_t cap = m->cap ? m->cap : 1 << 16;
                while (cap < m->n + n)
                        cap *= 2;
                char *p = realloc(m->p, cap);
                if (!p) {
                        sym_archive_set_error(a, ENOMEM, "out of memory");
                        return -1;
                }
                m->p = p;
                m->cap = cap;
        }
        memcpy(m->p + m->n, buf, n);
        m->n += n;
        return n;
}

struct archive *layer_reader_new(struct gear_err *e)
{
        struct archive *a;

        if (dl_archive(e) < 0)
                return NULL;
        if (!(a = sym_archive_read_new())) {
                gear_err_sys(e, ENOMEM, "cannot read a layer");
                return NULL;
        }
        sym_archive_read_support_format_tar(a);
        sym_archive_read_support_filter_gzip(a);
        sym_archive_read_support_filter_zstd(a);
        sym_archive_read_support_filter_xz(a);
        sym_archive_read_support_filter_bzip2(a);
        return a;
}
