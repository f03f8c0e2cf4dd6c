/* the index layer: the image's tree as a tar whose regular files carry a digest, not content */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "image.h"
#include "index.h"
#include "layer.h"
#include "../base/dl-archive.h"

struct writer {
        struct archive *a;
        struct archive_entry *ent;
        struct index_summary *sum;
        struct store_blob **blobs; /* to count distinct contents */
        size_t nblobs, cap;
        struct gear_err *e;
};

static int by_xattr_name(const void *a, const void *b)
{
        return strcmp((*(struct xattr *const *)a)->name, (*(struct xattr *const *)b)->name);
}

static int clear_first(struct tnode *n, const char *path, void *ud)
{
        free(n->ino->first_path);
        n->ino->first_path = NULL;
        return 0;
}

static int put_entry(struct tnode *n, const char *path, void *ud)
{
        struct writer *w = ud;
        struct inode *ino = n->ino;
        struct archive_entry *ent = w->ent;
        char name[PATH_MAX + 2], size[24];
        struct xattr **xs = NULL;

        sym_archive_entry_clear(ent);
        snprintf(name, sizeof name, "%s%s", path, S_ISDIR(ino->mode) ? "/" : "");
        sym_archive_entry_set_pathname(ent, !strcmp(path, ".") ? "./" : name);
        w->sum->entries++;
        if (ino->first_path) {
                sym_archive_entry_set_filetype(ent, AE_IFREG);
                sym_archive_entry_set_perm(ent, ino->mode & 07777);
                sym_archive_entry_set_hardlink(ent, ino->first_path);
                sym_archive_entry_set_uid(ent, ino->uid);
                sym_archive_entry_set_gid(ent, ino->gid);
                sym_archive_entry_set_mtime(ent, ino->mtime, ino->mtime_nsec);
                sym_archive_entry_set_size(ent, 0);
                goto write;
        }
        if (!S_ISDIR(ino->mode) && !(ino->first_path = strdup(path)))
                return gear_err_sys(w->e, ENOMEM, "cannot write index");
        sym_archive_entry_set_mode(ent, ino->mode);
        sym_archive_entry_set_uid(ent, ino->uid);
        sym_archive_entry_set_gid(ent, ino->gid);
        sym_archive_entry_set_mtime(ent, ino->mtime, ino->mtime_nsec);
        sym_archive_entry_set_size(ent, 0);
        if (S_ISLNK(ino->mode))
                sym_archive_entry_set_symlink(ent, ino->target);
        if (S_ISCHR(ino->mode) || S_ISBLK(ino->mode))
                sym_archive_entry_set_rdev(ent, ino->rdev);
        if (ino->nxattrs) {
                if (!(xs = malloc(ino->nxattrs * sizeof *xs)))
                        return gear_err_sys(w->e, ENOMEM, "cannot write index");
                for (size_t i = 0; i < ino->nxattrs; i++)
                        xs[i] = &ino->xattrs[i];
                qsort(xs, ino->nxattrs, sizeof *xs, by_xattr_name);
                for (size_t i = 0; i < ino->nxattrs; i++)
                        sym_archive_entry_xattr_add_entry(ent, xs[i]->name, xs[i]->value, xs[i]->len);
                free(xs);
        }
        if (S_ISREG(ino->mode)) {
                char digest[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN];
                snprintf(digest, sizeof digest, DIGEST_PREFIX "%s", ino->blob->hex);
                snprintf(size, sizeof size, "%" PRIu64, ino->blob->size);
                sym_archive_entry_xattr_add_entry(ent, INDEX_XATTR_DIGEST, digest, strlen(digest));
                sym_archive_entry_xattr_add_entry(ent, INDEX_XATTR_SIZE, size, strlen(size));
                w->sum->files++;
                w->sum->bytes += ino->blob->size;
                if (w->nblobs == w->cap) {
                        size_t cap = w->cap ? 2 * w->cap : 1024;
                        void *p = realloc(w->blobs, cap * sizeof *w->blobs);
                        if (!p)
                                return gear_err_sys(w->e, ENOMEM, "cannot write index");
                        w->blobs = p;
                        w->cap = cap;
                }
                w->blobs[w->nblobs++] = ino->blob;
        }
write:
        if (sym_archive_write_header(w->a, ent) != ARCHIVE_OK)
                return gear_err_set(w->e, GEAR_EXIT_SYS, "cannot write index entry '%s': %s", path,
                                    sym_archive_error_string(w->a));
        return 0;
}

static int by_hex(const void *a, const void *b)
{
        return strcmp((*(struct store_blob *const *)a)->hex, (*(struct store_blob *const *)b)->hex);
}

int index_write(struct itree *t, char **tar, size_t *len, struct index_summary *sum, struct gear_err *e)
{
        struct membuf out = {0};
        struct writer w = { .sum = sum, .e = e };
        int r = -1;

        memset(sum, 0, sizeof *sum);
        if (dl_archive(e) < 0)
                return -1;
        w.a = sym_archive_write_new();
        w.ent = sym_archive_entry_new();
        if (!w.a || !w.ent) {
                gear_err_sys(e, ENOMEM, "cannot write index");
                goto out;
        }
        if (sym_archive_write_set_format_pax(w.a) != ARCHIVE_OK ||
            sym_archive_write_set_format_option(w.a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
            /* names are bytes: no conversion through the locale */
            sym_archive_write_set_format_option(w.a, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK ||
            sym_archive_write_open(w.a, &out, NULL, membuf_write, NULL) != ARCHIVE_OK) {
                gear_err_set(e, GEAR_EXIT_SYS, "cannot write index: %s", sym_archive_error_string(w.a));
                goto out;
        }
        itree_walk(t, clear_first, NULL);
        if (itree_walk(t, put_entry, &w) < 0) {
                if (!e->code)
                        gear_err_sys(e, ENAMETOOLONG, "cannot write index");
                goto out;
        }
        if (sym_archive_write_close(w.a) != ARCHIVE_OK) {
                gear_err_set(e, GEAR_EXIT_SYS, "cannot write index: %s", sym_archive_error_string(w.a));
                goto out;
        }
        /* distinct contents: sort the digests and count the runs */
        if (w.nblobs)
                qsort(w.blobs, w.nblobs, sizeof *w.blobs, by_hex);
        for (size_t i = 0; i < w.nblobs; i++) {
                if (i && !by_hex(&w.blobs[i], &w.blobs[i - 1]))
                        continue;
                sum->objects++;
                sum->object_bytes += w.blobs[i]->size;
        }
        *tar = TAKE_PTR(out.p);
        *len = out.n;
        r = 0;
out:
        sym_archive_entry_free(w.ent);
        sym_archive_write_free(w.a);
        free(out.p);
        free(w.blobs);
        return r;
}

struct reader {
        struct itree *t;
        struct archive *a;
        struct archive_entry *ent;
        const char *name;
        struct gear_err *e;
};

static int bad(struct reader *rd, const char *fmt, ...) _printf_(2, 3);

static int bad(struct reader *rd, const char *fmt, ...)
{
        char msg[PATH_MAX + 128], esc[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (!rd->name)
                return gear_err_set(rd->e, GEAR_EXIT_USAGE, "invalid index: %s", msg);
        path_escape(rd->name, esc, sizeof esc);
        return gear_err_set(rd->e, GEAR_EXIT_USAGE, "invalid index: entry '%s': %s", esc, msg);
}

/* a file size: decimal digits; -ERANGE past INT64_MAX (no file, off_t or tar size goes further) */
static int parse_size(const char *s, size_t n, uint64_t *out)
{
        uint64_t v = 0;
        bool big = false;

        if (!n)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                if (v > (uint64_t)(INT64_MAX - (s[i] - '0')) / 10)
                        big = true;
                else
                        v = v * 10 + (s[i] - '0');
        }
        if (big)
                return -ERANGE;
        *out = v;
        return 0;
}

static int read_meta(struct reader *rd, struct inode *ino)
{
        struct archive_entry *ent = rd->ent;
        const char *xn;
        const void *xv;
        size_t xl;
        bool has_digest = false, has_size = false;
        char digest[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN];

        ino->uid = sym_archive_entry_uid(ent);
        ino->gid = sym_archive_entry_gid(ent);
        ino->mtime = sym_archive_entry_mtime(ent);
        ino->mtime_nsec = sym_archive_entry_mtime_nsec(ent);
        if (S_ISREG(ino->mode) && !(ino->blob = itree_blob(rd->t)))
                return gear_err_sys(rd->e, ENOMEM, "cannot read index");
        sym_archive_entry_xattr_reset(ent);
        while (sym_archive_entry_xattr_next(ent, &xn, &xv, &xl) == ARCHIVE_OK) {
                /* a writer may give a record twice (as SCHILY. and as LIBARCHIVE.xattr) */
                if (!strcmp(xn, INDEX_XATTR_DIGEST) && ino->blob) {
                        digest_hex hex;
                        if (xl >= sizeof digest)
                                return bad(rd, "invalid digest");
                        memcpy(digest, xv, xl);
                        digest[xl] = 0;
                        if (!digest_parse(digest, hex))
                                return bad(rd, "invalid digest");
                        if (has_digest && strcmp(hex, ino->blob->hex))
                                return bad(rd, "conflicting digests");
                        memcpy(ino->blob->hex, hex, sizeof hex);
                        has_digest = true;
                } else if (!strcmp(xn, INDEX_XATTR_SIZE) && ino->blob) {
                        uint64_t size;
                        int k = parse_size(xv, xl, &size);
                        if (k == -ERANGE)
                                return bad(rd, "size %.*s%s is larger than %" PRId64 " bytes", xl > 40 ? 40 : (int)xl,
                                           (const char *)xv, xl > 40 ? "..." : "", INT64_MAX);
                        if (k < 0)
                                return bad(rd, "invalid size");
                        if (has_size && size != ino->blob->size)
                                return bad(rd, "conflicting sizes");
                        ino->blob->size = size;
                        has_size = true;
                } else if (!strncmp(xn, GEAR_XATTR_PREFIX, strlen(GEAR_XATTR_PREFIX))) {
                        return bad(rd, "unexpected record '%s'", xn);
                } else if (inode_add_xattr(ino, xn, xv, xl) < 0) {
                        return gear_err_sys(rd->e, ENOMEM, "cannot read index");
                }
        }
        if (ino->blob && (!has_digest || !has_size))
                return bad(rd, "regular file without %s", has_digest ? "size" : "digest");
        return 0;
}

static int read_entry(struct reader *rd)
{
        struct archive_entry *ent = rd->ent;
        const char *why, *base, *link = sym_archive_entry_hardlink(ent);
        mode_t type = sym_archive_entry_filetype(ent);
        char path[PATH_MAX], msg[PATH_MAX + 64];
        struct tnode *dir, *n;
        struct inode *ino;
        int r;

        if (!itree_path_clean(rd->name, false, path, sizeof path, &why))
                return bad(rd, "%s", why);
        if (sym_archive_entry_size(ent) != 0)
                return bad(rd, "entry with content");
        if (!strcmp(path, ".")) {
                if (link || type != AE_IFDIR)
                        return bad(rd, "the root is not a directory");
                if (itree_count(rd->t) || itree_root(rd->t)->layer)
                        return bad(rd, "the root is not the first entry");
                dir = itree_root(rd->t);
                dir->layer = 1;
                dir->ino->mode = sym_archive_entry_mode(ent);
                return read_meta(rd, dir->ino);
        }
        if (itree_parent(rd->t, path, 1, false, &dir, &base, msg, sizeof msg) < 0)
                return bad(rd, "%s", msg);
        if (itree_lookup(rd->t, dir, base))
                return bad(rd, "duplicate entry");
        if (link) {
                if (!itree_path_clean(link, false, msg, sizeof msg, &why))
                        return bad(rd, "hardlink target: %s", why);
                n = itree_find(rd->t, msg);
                if (!n || S_ISDIR(n->ino->mode))
                        return bad(rd, "hardlink to %s", n ? "a directory" : "a missing entry");
                return itree_put(rd->t, dir, base, n->ino, 1) ? 0 : gear_err_sys(rd->e, ENOMEM, "cannot read index");
        }
        switch (type) {
        case AE_IFREG: case AE_IFDIR: case AE_IFLNK: case AE_IFCHR: case AE_IFBLK: case AE_IFIFO:
                break;
        default:
                return bad(rd, "unsupported type 0%o", (unsigned)type);
        }
        if (!(ino = inode_new(sym_archive_entry_mode(ent))))
                return gear_err_sys(rd->e, ENOMEM, "cannot read index");
        ino->refs = 1;
        r = read_meta(rd, ino);
        if (r == 0 && type == AE_IFLNK) {
                const char *t = sym_archive_entry_symlink(ent);
                if (!t || !*t)
                        r = bad(rd, "symlink without target");
                else if (!(ino->target = strdup(t)))
                        r = gear_err_sys(rd->e, ENOMEM, "cannot read index");
        }
        if (type == AE_IFCHR || type == AE_IFBLK)
                ino->rdev = sym_archive_entry_rdev(ent);
        if (r == 0 && !itree_put(rd->t, dir, base, ino, 1))
                r = gear_err_sys(rd->e, ENOMEM, "cannot read index");
        inode_unref(ino);
        return r;
}

int index_parse(const void *buf, size_t len, struct itree **out, struct gear_err *e)
{
        struct reader rd = { .e = e };
        int r = -1;

        if (dl_archive(e) < 0)
                return -1;
        rd.t = itree_new();
        rd.a = sym_archive_read_new();
        if (!rd.t || !rd.a) {
                gear_err_sys(e, ENOMEM, "cannot read index");
                goto out;
        }
        sym_archive_read_support_format_tar(rd.a);
        sym_archive_read_support_filter_gzip(rd.a);
        sym_archive_read_support_filter_zstd(rd.a);
        if (sym_archive_read_open_memory(rd.a, buf, len) != ARCHIVE_OK) {
                bad(&rd, "%s", sym_archive_error_string(rd.a));
                goto out;
        }
        for (;;) {
                int k = sym_archive_read_next_header(rd.a, &rd.ent);
                if (k == ARCHIVE_EOF)
                        break;
                if (k != ARCHIVE_OK && k != ARCHIVE_WARN) {
                        bad(&rd, "%s", sym_archive_error_string(rd.a) ? sym_archive_error_string(rd.a) : "malformed tar");
                        goto out;
                }
                rd.name = sym_archive_entry_pathname(rd.ent);
                if (!rd.name) {
                        bad(&rd, "entry without a name");
                        goto out;
                }
                if (read_entry(&rd) < 0)
                        goto out;
                rd.name = NULL;
        }
        *out = TAKE_PTR(rd.t);
        r = 0;
out:
        sym_archive_read_free(rd.a);
        itree_free(rd.t);
        return r;
}
