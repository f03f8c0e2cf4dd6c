/* gear-build's sources: an OCI image layout, a docker archive, a root directory */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "image-docker.h"
#include "image.h"
#include "../base/progress.h"
#include "layer.h"
#include "../base/dl-archive.h"
#include "../base/fsutil.h"

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#else
#define HOST_ARCH ""
#endif

/* feeds libarchive from a file or from a member of an outer archive, hashing every byte */
struct blob_reader {
        int fd;
        struct archive *outer;
        struct digest dg;
        uint64_t total;
        int64_t want; /* the size the manifest gives, -1 when it gives none */
        struct progress *progress;
        struct gear_err *e;
        const char *label;
        size_t cap;
        char buf[];
};

/* reads of up to 1 MiB; a blob that declares itself smaller gets a buffer its size */
#define BLOB_BUF_MAX (1u << 20)
#define BLOB_BUF_MIN 4096u

static la_ssize_t blob_read(struct archive *a, void *ud, const void **out)
{
        struct blob_reader *br = ud;
        la_ssize_t k;

        if (br->outer) {
                k = sym_archive_read_data(br->outer, br->buf, br->cap);
                if (k < 0) {
                        gear_err_set(br->e, GEAR_EXIT_USAGE, "%s", sym_archive_error_string(br->outer));
                        sym_archive_set_error(a, EILSEQ, "%s", br->e->msg);
                        return -1;
                }
        } else {
                do
                        k = read(br->fd, br->buf, br->cap);
                while (k < 0 && errno == EINTR);
                if (k < 0) {
                        gear_err_sys(br->e, errno, "cannot read");
                        sym_archive_set_error(a, errno, "%s", br->e->msg);
                        return -1;
                }
        }
        /* a blob longer than its manifest says is refused as it comes, not read to its end */
        if (br->want >= 0 && (uint64_t)k > (uint64_t)br->want - br->total) {
                gear_err_set(br->e, GEAR_EXIT_USAGE, "blob has more than %lld bytes", (long long)br->want);
                sym_archive_set_error(a, EFBIG, "%s", br->e->msg);
                return -1;
        }
        digest_update(&br->dg, br->buf, k);
        br->total += k;
        progress_add(br->progress, k, 0);
        *out = br->buf;
        return k;
}

/* reads what libarchive left (padding, trailers) and checks the digest of the whole blob */
static int blob_finish(struct blob_reader *br, const struct source_layer *l, struct gear_err *e)
{
        struct archive *a = sym_archive_read_new();
        const void *p;
        digest_hex got;
        la_ssize_t k;

        while ((k = blob_read(a, br, &p)) > 0)
                ;
        sym_archive_read_free(a);
        if (k < 0)
                return gear_err_wrap(e, "%s", l->label);
        digest_final(&br->dg, got);
        if (l->size >= 0 && br->total != (uint64_t)l->size)
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s: blob has %llu bytes, want %lld", l->label,
                                    (unsigned long long)br->total, (long long)l->size);
        if (strcmp(got, l->hex))
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s: content does not match its digest (it is sha256:%s)",
                                    l->label, got);
        return 0;
}

static json_t *oci_json(struct image_source *s, json_t *desc, struct gear_err *e)
{
        const char *d = json_string_value(json_object_get(desc, "digest"));
        json_t *sz = json_object_get(desc, "size");
        _cleanup_free_ char *buf = NULL;
        digest_hex hex;
        json_error_t je;
        json_t *j;
        size_t n;

        if (!d || !digest_parse(d, hex) || !json_is_integer(sz)) {
                gear_err_set(e, GEAR_EXIT_USAGE, "invalid descriptor in '%s'", s->path);
                return NULL;
        }
        if (layout_read_blob(s->dfd, hex, json_integer_value(sz), IMAGE_JSON_MAX, &buf, &n, e) < 0) {
                gear_err_wrap(e, "in '%s'", s->path);
                return NULL;
        }
        if (!(j = json_loadb(buf, n, 0, &je)) || !json_is_object(j)) {
                json_decref(j);
                gear_err_set(e, GEAR_EXIT_USAGE, "blob %s in '%s' is not a JSON object", d, s->path);
                return NULL;
        }
        return j;
}

static bool is_index(json_t *desc)
{
        const char *mt = json_string_value(json_object_get(desc, "mediaType"));

        return mt && (!strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
                      !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

int source_platform_check(const char *platform, struct gear_err *e)
{
        size_t parts = 1;

        for (const char *p = platform; *p; p++)
                if (*p == '/') {
                        if (p == platform || !p[1] || p[-1] == '/')
                                parts = 9;
                        parts++;
                } else if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_", *p))
                        parts = 9;
        if (!*platform || parts < 2 || parts > 3 || strlen(platform) > 64)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid platform '%s': want OS/ARCH[/VARIANT]", platform);
        return 0;
}

static bool platform_is(json_t *p, const char *os, const char *arch, const char *variant)
{
        const char *o = json_string_value(json_object_get(p, "os"));
        const char *a = json_string_value(json_object_get(p, "architecture"));
        const char *v = json_string_value(json_object_get(p, "variant"));

        return o && a && !strcmp(o, os) && !strcmp(a, arch) && (!*variant || (v && !strcmp(v, variant)));
}

/* a manifest of an index: the one for the platform; without one asked for, the host's or the only one */
int source_pick_platform(json_t *list, const char *platform, json_t **out, struct gear_err *e)
{
        char os[65] = "linux", arch[65] = HOST_ARCH, variant[65] = "";
        size_t i;
        json_t *m;

        if (platform) {
                if (source_platform_check(platform, e) < 0)
                        return -1;
                sscanf(platform, "%64[^/]/%64[^/]/%64s", os, arch, variant);
        } else if (json_array_size(list) == 1) {
                *out = json_array_get(list, 0);
                return 0;
        }
        json_array_foreach(list, i, m)
                if (platform_is(json_object_get(m, "platform"), os, arch, variant)) {
                        *out = m;
                        return 0;
                }
        return gear_err_set(e, GEAR_EXIT_USAGE, "no %s/%s%s%s image", os, arch, *variant ? "/" : "", variant);
}

int source_layers_parse(struct image_source *s, json_t *man, struct gear_err *e)
{
        json_t *layers = json_object_get(man, "layers"), *m;
        size_t i;

        if (!json_is_array(layers))
                return gear_err_set(e, GEAR_EXIT_USAGE, "the manifest of '%s' has no layers", s->path);
        s->nlayers = json_array_size(layers);
        if (!(s->layers = calloc(s->nlayers + 1, sizeof *s->layers)))
                return gear_err_sys(e, ENOMEM, "cannot read '%s'", s->path);
        json_array_foreach(layers, i, m) {
                struct source_layer *l = &s->layers[i];
                const char *mt = json_string_value(json_object_get(m, "mediaType"));
                const char *d = json_string_value(json_object_get(m, "digest"));
                json_t *sz = json_object_get(m, "size");
                if (!d || !digest_parse(d, l->hex) || !json_is_integer(sz) || json_integer_value(sz) < 0)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid layer %zu in '%s'", i + 1, s->path);
                if (mt && !strstr(mt, "tar"))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "layer %zu in '%s' has unsupported media type '%s'",
                                            i + 1, s->path, mt);
                l->size = json_integer_value(sz);
                snprintf(l->label, sizeof l->label, "layer %zu (sha256:%.12s)", i + 1, l->hex);
        }
        return 0;
}

static int oci_load(struct image_source *s, struct gear_err *e)
{
        struct gear_root dir = { .fd = -1 };
        _cleanup_free_ char *buf = NULL;
        json_t *idx = NULL, *sub = NULL, *man = NULL, *m = NULL;
        json_error_t je;
        size_t n, i;
        int r = -1;

        s->dfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dfd < 0)
                return gear_err_set(e, errno == ENOENT || errno == ENOTDIR ? GEAR_EXIT_USAGE : GEAR_EXIT_SYS,
                                    "cannot open '%s': %s", s->path, strerror(errno));
        dir.fd = s->dfd;
        snprintf(dir.path, sizeof dir.path, "%s", s->path);
        if (read_file(&dir, "index.json", IMAGE_JSON_MAX, &buf, &n, e) < 0) {
                if (e->code == GEAR_EXIT_NO)
                        e->code = GEAR_EXIT_USAGE;
                return gear_err_wrap(e, "not an OCI image layout");
        }
        if (!(idx = json_loadb(buf, n, 0, &je)) || !json_is_array(json_object_get(idx, "manifests"))) {
                gear_err_set(e, GEAR_EXIT_USAGE, "invalid index.json in '%s'", s->path);
                goto out;
        }
        json_t *d;
        json_array_foreach(json_object_get(idx, "manifests"), i, d) {
                const char *name = json_string_value(json_object_get(json_object_get(d, "annotations"),
                                                                     IMAGE_REF_ANNOTATION));
                if (!s->ref || (name && !strcmp(name, s->ref))) {
                        m = d;
                        break;
                }
        }
        if (!s->ref && json_array_size(json_object_get(idx, "manifests")) > 1) {
                gear_err_set(e, GEAR_EXIT_USAGE, "'%s' holds several images: name one as oci:%s:REF", s->path, s->path);
                goto out;
        }
        if (!m) {
                gear_err_set(e, GEAR_EXIT_USAGE, "no image '%s' in '%s'", s->ref ? s->ref : "", s->path);
                goto out;
        }
        if (is_index(m)) {
                if (!(sub = oci_json(s, m, e)))
                        goto out;
                if (source_pick_platform(json_object_get(sub, "manifests"), s->platform, &m, e) < 0) {
                        gear_err_wrap(e, "'%s'", s->path);
                        goto out;
                }
        }
        if (!(man = oci_json(s, m, e)) || !(s->config = oci_json(s, json_object_get(man, "config"), e)))
                goto out;
        if (source_layers_parse(s, man, e) < 0)
                goto out;
        r = 0;
out:
        json_decref(idx);
        json_decref(sub);
        json_decref(man);
        return r;
}

int source_open(const char *spec, struct image_source *s, struct gear_err *e)
{
        return source_open_for(spec, NULL, s, e);
}

int source_open_for(const char *spec, const char *platform, struct image_source *s, struct gear_err *e)
{
        static const struct { const char *prefix; enum source_kind kind; } kinds[] = {
                { "oci:", SOURCE_OCI }, { "docker-archive:", SOURCE_DOCKER }, { "dir:", SOURCE_DIR },
        };
        const char *rest = NULL;

        memset(s, 0, sizeof *s);
        s->dfd = -1;
        s->platform = platform;
        for (size_t i = 0; i < ELEMENTSOF(kinds) && !rest; i++)
                if (!strncmp(spec, kinds[i].prefix, strlen(kinds[i].prefix))) {
                        rest = spec + strlen(kinds[i].prefix);
                        s->kind = kinds[i].kind;
                }
        if (!rest || !*rest)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid source '%s': want oci:DIR[:REF], "
                                    "docker-archive:FILE[:REF] or dir:PATH", spec);
        if (!(s->path = strdup(rest)))
                return gear_err_sys(e, ENOMEM, "cannot open source");
        if (s->kind == SOURCE_OCI || s->kind == SOURCE_DOCKER) {
                /* PATH:REF, where REF holds no '/' (docker-archive refs are NAME:TAG) */
                char *c = strchr(s->path, ':');
                if (s->kind == SOURCE_OCI)
                        c = strrchr(s->path, ':');
                if (c && (s->kind == SOURCE_DOCKER || !strchr(c, '/'))) {
                        *c = 0;
                        s->ref = c[1] ? c + 1 : NULL;
                }
        }
        if (s->kind == SOURCE_OCI)
                return oci_load(s, e);
        if (s->kind == SOURCE_DOCKER)
                return docker_load(s, e);
        size_t n = strlen(s->path);
        while (n > 1 && s->path[n - 1] == '/')
                s->path[--n] = 0;
        return 0;
}

void source_close(struct image_source *s)
{
        if (s->ops)
                s->ops->free(s);
        for (size_t i = 0; i < s->nlayers; i++)
                free(s->layers[i].member);
        free(s->layers);
        json_decref(s->config);
        if (s->dfd >= 0)
                close(s->dfd);
        free(s->path);
        memset(s, 0, sizeof *s);
        s->dfd = -1;
}

int source_layer_apply(struct image_source *s, size_t i, struct archive *outer, struct layer_ctx *c,
                       struct gear_err *e)
{
        struct source_layer *l = &s->layers[i];
        size_t cap = l->size >= 0 && (uint64_t)l->size < BLOB_BUF_MAX ? (size_t)l->size : BLOB_BUF_MAX;
        /* the buffer is not zeroed: only what a read put there is used */
        struct blob_reader *br = malloc(sizeof *br + (cap < BLOB_BUF_MIN ? BLOB_BUF_MIN : cap));
        struct archive *a = NULL;
        char rel[sizeof "blobs/sha256/" + DIGEST_HEX_LEN];
        struct stat st;
        bool streaming = false;
        int r = -1;

        if (!br)
                return gear_err_sys(e, ENOMEM, "cannot read %s", l->label);
        memset(br, 0, sizeof *br);
        br->cap = cap < BLOB_BUF_MIN ? BLOB_BUF_MIN : cap;
        br->fd = -1;
        br->e = e;
        br->label = l->label;
        br->want = l->size;
        br->progress = s->progress;
        if (digest_init(&br->dg, e) < 0)
                goto out;
        if (outer)
                br->outer = outer;
        else if (s->kind == SOURCE_OCI) {
                snprintf(rel, sizeof rel, "blobs/sha256/%s", l->hex);
                /* a regular file of the layout: no link out of it, no fifo or device to hang on */
                br->fd = openat(s->dfd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                if (br->fd < 0) {
                        gear_err_set(e, errno == ENOENT || errno == ELOOP ? GEAR_EXIT_USAGE : GEAR_EXIT_SYS,
                                     "%s: cannot open '%s/%s': %s", l->label, s->path, rel, strerror(errno));
                        goto out;
                }
                if (fstat(br->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                        gear_err_set(e, GEAR_EXIT_USAGE, "%s: cannot open '%s/%s': not a regular file", l->label,
                                     s->path, rel);
                        goto out;
                }
        } else if (s->kind == SOURCE_STREAM) {
                if (s->ops->open_layer(s, i, &br->fd, e) < 0)
                        goto out;
                streaming = true;
        } else if (docker_find(s->path, l->member, &br->outer, e) < 0) {
                gear_err_wrap(e, "%s", l->label);
                goto out;
        }
        c->index = i + 1;
        c->label = l->label;
        c->whiteouts = true;
        c->ignore_errno = s->kind == SOURCE_DOCKER || s->kind == SOURCE_PODMAN;
        if (!(a = layer_reader_new(e))) {
                gear_err_wrap(e, "%s", l->label);
                goto out;
        }
        if (sym_archive_read_open(a, br, NULL, blob_read, NULL) != ARCHIVE_OK) {
                layer_archive_error(c, a, NULL, e);
                goto out;
        }
        if (layer_apply(c, a, e) < 0 || blob_finish(br, l, e) < 0)
                goto out;
        progress_add(s->progress, 0, 1);
        r = 0;
out:
        sym_archive_read_free(a);
        if (br->fd >= 0)
                close(br->fd);
        if (streaming) {
                /* the writer's failure (a transfer cut off, a bad digest) says more than a short read */
                struct gear_err we = {0};
                /* but not when it failed only because this reader gave up first and closed the pipe */
                if (s->ops->end_layer(s, i, &we) < 0 && (r == 0 || !strstr(we.msg, strerror(EPIPE)))) {
                        gear_err_clear(e);
                        *e = we;
                        gear_err_wrap(e, "%s", l->label);
                        r = -1;
                }
        }
        if (!outer)
                sym_archive_read_free(br->outer);
        digest_done(&br->dg);
        free(br);
        return r;
}

/*
 * The entry libarchive described, found again below the source's root with
 * no symbolic link on the way and checked to be the same file (device,
 * inode and type): the walk goes by names, which whoever owns the tree can
 * swap for links out of it between the description and the read. A regular
 * file is opened for its content (read from this descriptor, not by name
 * again); anything else as a path only. -1 with e set when it is not there
 * as described.
 */
static int entry_open(const char *top, int root, const char *name, struct archive_entry *ent, struct gear_err *e)
{
        bool reg = sym_archive_entry_filetype(ent) == AE_IFREG && !sym_archive_entry_hardlink(ent);
        /* "." or "./" (of dir:/) is the root itself */
        const char *rel = name[1] && name[2] ? name + 2 : ".";
        char point[PATH_MAX + 16];
        struct stat st;
        int fd;

        /* a test swaps the entry here */
        snprintf(point, sizeof point, "dir-entry:%s", name);
        test_pause_point(point);
        fd = openat_beneath(root, rel, O_PATH);
        if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != (dev_t)sym_archive_entry_dev(ent) ||
            st.st_ino != (ino_t)sym_archive_entry_ino64(ent) ||
            (st.st_mode & S_IFMT) != (mode_t)sym_archive_entry_filetype(ent)) {
                if (fd >= 0)
                        close(fd);
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot read '%s': '%s' changed while it was read", top, rel);
        }
        if (reg) {
                /* the same inode, now for reading: through its descriptor, not its name */
                char self[64];
                int rfd;

                snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
                rfd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
                close(fd);
                if (rfd < 0)
                        return gear_err_sys(e, errno, "cannot read '%s/%s'", top, rel);
                fd = rfd;
        }
        return fd;
}

static int apply_dir(struct image_source *s, struct layer_ctx *c, struct gear_err *e)
{
        struct archive *d = sym_archive_read_disk_new();
        struct archive_entry_linkresolver *lr = sym_archive_entry_linkresolver_new();
        struct archive_entry *ent = sym_archive_entry_new(), *sparse = NULL;
        char label[PATH_MAX + 16];
        size_t plen = strcmp(s->path, "/") ? strlen(s->path) : 0;
        _cleanup_close_ int root = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = -1;

        snprintf(label, sizeof label, "'%s'", s->path);
        if (root < 0) {
                gear_err_set(e, GEAR_EXIT_USAGE, "cannot read '%s': %s", s->path, strerror(errno));
                goto out;
        }
        c->index = 1;
        c->label = label;
        if (!d || !lr || !ent) {
                gear_err_sys(e, ENOMEM, "cannot read '%s'", s->path);
                goto out;
        }
        sym_archive_entry_linkresolver_set_strategy(lr, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
        sym_archive_read_disk_set_symlink_physical(d);
        sym_archive_read_disk_set_behavior(d, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS |
                                              ARCHIVE_READDISK_NO_ACL);
        if (sym_archive_read_disk_open(d, s->path) != ARCHIVE_OK) {
                gear_err_set(e, GEAR_EXIT_USAGE, "cannot read '%s': %s", s->path, sym_archive_error_string(d));
                goto out;
        }
        for (;;) {
                struct archive_entry *cur = ent;
                int k = sym_archive_read_next_header2(d, ent);
                if (k == ARCHIVE_EOF)
                        break;
                if (k != ARCHIVE_OK && k != ARCHIVE_WARN) {
                        gear_err_set(e, GEAR_EXIT_SYS, "cannot read '%s': %s", s->path, sym_archive_error_string(d));
                        goto out;
                }
                sym_archive_read_disk_descend(d);
                const char *p = sym_archive_entry_pathname(ent);
                if (!p || strncmp(p, s->path, plen) || (p[plen] && p[plen] != '/'))
                        continue;
                char name[PATH_MAX];
                if ((size_t)snprintf(name, sizeof name, ".%s", p + plen) >= sizeof name) {
                        gear_err_set(e, GEAR_EXIT_USAGE, "cannot read '%s': a name longer than %d bytes", s->path,
                                     PATH_MAX - 2);
                        goto out;
                }
                sym_archive_entry_linkify(lr, &cur, &sparse);
                if (cur && sym_archive_entry_hardlink(cur)) {
                        const char *h = sym_archive_entry_hardlink(cur);
                        char target[PATH_MAX];
                        snprintf(target, sizeof target, ".%s", h + (strncmp(h, s->path, plen) ? 0 : plen));
                        sym_archive_entry_copy_hardlink(cur, target);
                }
                if (cur) {
                        int k2;
                        if ((c->content_fd = entry_open(s->path, root, name, cur, e)) < 0)
                                goto out;
                        /* only a regular file's is read; the others are checked and closed */
                        k2 = layer_apply_entry(c, d, cur, name, e);
                        close(c->content_fd);
                        c->content_fd = -1;
                        if (k2 < 0)
                                goto out;
                }
                if (cur && sym_archive_entry_filetype(cur) == AE_IFREG)
                        progress_add(s->progress, (uint64_t)sym_archive_entry_size(cur), 1);
        }
        r = 0;
out:
        sym_archive_entry_linkresolver_free(lr);
        sym_archive_entry_free(ent);
        sym_archive_read_free(d);
        return r;
}

/* the bytes of every layer blob; 0 (unknown) when one's size is not known */
static uint64_t layers_size(const struct image_source *s)
{
        uint64_t n = 0;

        for (size_t i = 0; i < s->nlayers; i++) {
                if (s->layers[i].size < 0)
                        return 0;
                n += (uint64_t)s->layers[i].size;
        }
        return n;
}

int source_apply(struct image_source *s, struct itree *t, struct store_stage *stage,
                 struct store_pool *pool, struct gear_err *e)
{
        struct layer_ctx c = { .tree = t, .stage = stage, .pool = pool, .content_fd = -1 };

        if (dl_archive(e) < 0)
                return -1;
        if (s->kind == SOURCE_DIR) {
                progress_unit(s->progress, "files"); /* totals unknown: the tree is read as it is walked */
                return apply_dir(s, &c, e);
        }
        if (s->kind == SOURCE_PODMAN)
                return podman_apply(s, &c, e);
        progress_total(s->progress, layers_size(s), s->nlayers);
        for (size_t i = 0; i < s->nlayers; i++)
                if (source_layer_apply(s, i, NULL, &c, e) < 0)
                        return -1;
        return 0;
}
