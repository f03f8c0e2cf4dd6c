/*
 * gear-repo archive: a tree of the repository written as tar, tar.gz or zip
 * with libarchive, entry for entry what git archive writes: every tree and
 * submodule a directory, blobs with git's modes under its default tar.umask
 * (002): 0664, executables 0775, directories 0775; symbolic links 0777; all
 * with the commit's time, in GNU tar headers (raw names, long ones too).
 * In a zip git gives executables 0755 and the rest
 * no Unix mode at all, which libarchive cannot write: they get what bsdtar
 * makes of git's (0664, directories 0775). Paths marked export-ignore in the commit's
 * .gitattributes (or the repository's info/attributes) are left out, as git
 * archive does. libgit2 matches a pattern for directories only ("dir/")
 * against what is a directory in the repository's work tree, which a bare
 * repository lacks: the walk lends it one, a scratch directory into which
 * it makes each directory of the tree as it reaches it.
 *
 * The same writer gives gear-build-image its source: the tree of a commit
 * fetched from anywhere, as a checkout would have it, under a directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "repo.h"
#include "repo-git.h"
#include "../base/ctr-tree.h"
#include "../base/dl-archive.h"
#include "../base/fsutil.h"

int repo_format_parse(const char *s, enum repo_format *f, struct gear_err *e)
{
        if (!strcmp(s, "tar"))
                *f = REPO_TAR;
        else if (!strcmp(s, "tar.gz") || !strcmp(s, "tgz"))
                *f = REPO_TGZ;
        else if (!strcmp(s, "zip"))
                *f = REPO_ZIP;
        else
                return gear_err_set(e, GEAR_EXIT_USAGE, "unknown archive format '%s': want zip, tar or tar.gz", s);
        return 0;
}

static bool is_hex_id(const char *s)
{
        return strlen(s) == GIT_OID_HEXSZ && strspn(s, "0123456789abcdef") == GIT_OID_HEXSZ;
}

int repo_ref_check(const char *ref, struct gear_err *e)
{
        char full[512];
        int valid = 0;

        if (repo_git_ready(e) < 0)
                return -1;
        if (!strcmp(ref, "HEAD") || is_hex_id(ref))
                return 0;
        if (ref[0] != '-' && strlen(ref) < 256) {
                snprintf(full, sizeof full, "%s%s", strncmp(ref, "refs/", 5) ? "refs/heads/" : "", ref);
                if (sym_git_reference_name_is_valid(&valid, full) < 0)
                        valid = 0;
        }
        if (!valid)
                return gear_err_set(e, GEAR_EXIT_USAGE,
                                    "invalid reference '%s': want HEAD, a branch or tag name or a full object id",
                                    ref);
        return 0;
}

/* the commit (or tree) ref names, peeled */
static int resolve(git_repository *repo, const char *id, const char *ref, git_object **out,
                   struct gear_err *e)
{
        git_reference *r = NULL;
        git_object *obj = NULL;
        git_oid oid;
        int k;

        if (is_hex_id(ref)) {
                if (sym_git_oid_fromstr(&oid, ref) < 0)
                        return repo_git_fail(e, GEAR_EXIT_USAGE, "invalid reference '%s'", ref);
                k = sym_git_object_lookup(&obj, repo, &oid, GIT_OBJECT_ANY);
        } else {
                k = sym_git_reference_dwim(&r, repo, ref);
                if (k == 0) {
                        k = sym_git_reference_peel(&obj, r, GIT_OBJECT_ANY);
                        sym_git_reference_free(r);
                }
        }
        if (k == GIT_ENOTFOUND || k == GIT_EUNBORNBRANCH)
                return gear_err_set(e, GEAR_EXIT_USAGE, "unknown reference '%s' in repository '%s'", ref, id);
        if (k < 0)
                return repo_git_fail(e, GEAR_EXIT_SYS, "cannot resolve '%s' in repository '%s'", ref, id);
        /* a tag is peeled to what it names: a commit, or a tree */
        k = sym_git_object_peel(out, obj, GIT_OBJECT_COMMIT);
        if (k == GIT_EINVALIDSPEC || k == GIT_ENOTFOUND || k == GIT_EPEEL)
                k = sym_git_object_peel(out, obj, GIT_OBJECT_TREE);
        sym_git_object_free(obj);
        if (k < 0)
                return gear_err_set(e, GEAR_EXIT_USAGE, "reference '%s' in repository '%s' names no tree", ref,
                                    id);
        return 0;
}

struct writer {
        git_repository *repo;
        struct archive *a;
        struct archive_entry *entry;
        git_attr_options attrs;
        time_t mtime;
        struct gear_err *e;
        int scratch;            /* the work tree lent to libgit2 */
        const char *prefix;     /* before every path: "" or "DIR/" */
        bool checkout;          /* a checkout's files (umask 022), no export-ignore, no .git */
        bool zip;
        bool reader_gone;       /* a write failed with EPIPE */
        git_odb *odb;           /* with max_size: the sizes of blobs read first */
        uint64_t max_size;      /* the files' bytes together at most; 0: no bound */
        uint64_t total;
        char **seen;            /* the paths written (without a trailing slash), hashed */
        size_t seen_cap, seen_n;
        char last[4096];        /* the path written last: git's order makes each larger */
        char path[4096];
};

static int archive_fail(struct writer *w, const char *what, const char *path)
{
        w->reader_gone = sym_archive_errno(w->a) == EPIPE;
        return gear_err_set(w->e, GEAR_EXIT_SYS, "cannot write %s '%s': %s", what, path,
                            sym_archive_error_string(w->a) ? sym_archive_error_string(w->a) : "unknown error");
}

/* the tree's .gitattributes say export-ignore */
static int ignored(struct writer *w, const char *path)
{
        const char *v = NULL;

        if (sym_git_attr_get_ext(&v, w->repo, &w->attrs, path, "export-ignore") < 0)
                return repo_git_fail(w->e, GEAR_EXIT_SYS, "cannot read the attributes of '%s'", path);
        return sym_git_attr_value(v) == GIT_ATTR_VALUE_TRUE;
}

static void put_header(struct writer *w, const char *path, mode_t type, mode_t perm, size_t size)
{
        sym_archive_entry_clear(w->entry);
        /* the tree's bytes as they are, as git writes them */
        sym_archive_entry_set_pathname(w->entry, path);
        sym_archive_entry_set_filetype(w->entry, type);
        sym_archive_entry_set_perm(w->entry, perm);
        sym_archive_entry_set_size(w->entry, size);
        sym_archive_entry_set_mtime(w->entry, w->mtime, 0);
        sym_archive_entry_set_uname(w->entry, "root");
        sym_archive_entry_set_gname(w->entry, "root");
}

static int put_blob(struct writer *w, const git_tree_entry *te, git_filemode_t mode)
{
        git_blob *blob = NULL;
        const char *data;
        size_t size;
        int r = 0;

        if (sym_git_blob_lookup(&blob, w->repo, sym_git_tree_entry_id(te)) < 0)
                return repo_git_fail(w->e, GEAR_EXIT_SYS, "cannot read '%s'", w->path);
        data = sym_git_blob_rawcontent(blob);
        size = sym_git_blob_rawsize(blob);
        if (mode == GIT_FILEMODE_LINK) {
                char target[4096];

                if (size >= sizeof target || memchr(data, 0, size)) {
                        sym_git_blob_free(blob);
                        return gear_err_set(w->e, GEAR_EXIT_USAGE, "invalid symbolic link '%s'", w->path);
                }
                memcpy(target, data, size);
                target[size] = 0;
                /* 0777 whatever the umask, as git archive writes them */
                put_header(w, w->path, AE_IFLNK, 0777, 0);
                sym_archive_entry_set_symlink(w->entry, target);
                size = 0;
        } else if (w->checkout) {
                put_header(w, w->path, AE_IFREG, mode & 0100 ? 0755 : 0644, size);
        } else {
                put_header(w, w->path, AE_IFREG, !(mode & 0100) ? 0664 : w->zip ? 0755 : 0775, size);
        }
        if (sym_archive_write_header(w->a, w->entry) < ARCHIVE_OK)
                r = archive_fail(w, "the header of", w->path);
        for (size_t off = 0; !r && off < size;) {
                la_ssize_t k = sym_archive_write_data(w->a, data + off, size - off);

                if (k <= 0)
                        r = archive_fail(w, "the data of", w->path);
                else
                        off += k;
        }
        sym_git_blob_free(blob);
        return r;
}

/* a blob's size, from its header, before it is loaded: the tree's files stay under max_size together */
static int size_check(struct writer *w, const git_tree_entry *te)
{
        git_object_t type;
        size_t size;

        if (sym_git_odb_read_header(&size, &type, w->odb, sym_git_tree_entry_id(te)) < 0)
                return repo_git_fail(w->e, GEAR_EXIT_SYS, "cannot read '%s'", w->path);
        w->total += size;
        if (size > w->max_size || w->total > w->max_size)
                return gear_err_set(w->e, GEAR_EXIT_USAGE, "the tree's files are larger than %llu bytes (at '%s')",
                                    (unsigned long long)w->max_size, w->path);
        return 0;
}

static uint64_t path_hash(const char *s, size_t n)
{
        uint64_t h = 14695981039346656037ull;

        while (n--)
                h = (h ^ (unsigned char)*s++) * 1099511628211ull;
        return h;
}

/* path (n bytes) among the paths written: 1 when new (added), 0 when there already, -1 without memory */
static int seen_add(struct writer *w, const char *path, size_t n)
{
        size_t i;

        if (2 * (w->seen_n + 1) > w->seen_cap) {
                size_t cap = w->seen_cap ? 2 * w->seen_cap : 256;
                char **v = calloc(cap, sizeof *v);

                if (!v)
                        return -1;
                for (size_t j = 0; j < w->seen_cap; j++)
                        if (w->seen[j]) {
                                for (i = path_hash(w->seen[j], strlen(w->seen[j])) & (cap - 1); v[i];
                                     i = (i + 1) & (cap - 1))
                                        ;
                                v[i] = w->seen[j];
                        }
                free(w->seen);
                w->seen = v;
                w->seen_cap = cap;
        }
        for (i = path_hash(path, n) & (w->seen_cap - 1); w->seen[i]; i = (i + 1) & (w->seen_cap - 1))
                if (strlen(w->seen[i]) == n && !memcmp(w->seen[i], path, n))
                        return 0;
        if (!(w->seen[i] = strndup(path, n)))
                return -1;
        w->seen_n++;
        return 1;
}

static void seen_free(struct writer *w)
{
        for (size_t i = 0; i < w->seen_cap; i++)
                free(w->seen[i]);
        free(w->seen);
}

/*
 * What no git writes, and what would make an extraction write through a
 * symbolic link: a name twice in a tree (a link, then a directory of that
 * name), or names out of git's order.
 */
static int order_check(struct writer *w, bool tree)
{
        size_t n = strlen(w->path), key = n - (!tree && w->path[n - 1] == '/');
        int k;

        /* git sorts a tree's entries by name, a tree's name with a slash after it (not a submodule's) */
        if (strncmp(w->path, w->last, key) < 0 || (strncmp(w->path, w->last, key) == 0 && strlen(w->last) >= key))
                return gear_err_set(w->e, GEAR_EXIT_USAGE, "invalid tree: '%s' out of order, after '%s'", w->path,
                                    w->last);
        if ((k = seen_add(w, w->path, n - (w->path[n - 1] == '/'))) < 0)
                return gear_err_sys(w->e, ENOMEM, "cannot walk the tree");
        if (!k)
                return gear_err_set(w->e, GEAR_EXIT_USAGE, "invalid tree: '%s' twice", w->path);
        memcpy(w->last, w->path, key);
        w->last[key] = 0;
        return 0;
}

static int walk_entry(const char *root, const git_tree_entry *te, void *payload)
{
        struct writer *w = payload;
        git_filemode_t mode = sym_git_tree_entry_filemode(te);
        const char *name = sym_git_tree_entry_name(te);
        bool dir = mode == GIT_FILEMODE_TREE || mode == GIT_FILEMODE_COMMIT;
        int k;

        /* what no git writes: an entry that would leave the archive's root */
        if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/')) {
                gear_err_set(w->e, GEAR_EXIT_USAGE, "invalid name '%s' in the tree at '%s'", name, root);
                return -1;
        }
        if ((size_t)snprintf(w->path, sizeof w->path, "%s%s%s%s", w->prefix, root, name, dir ? "/" : "") >=
            sizeof w->path) {
                gear_err_set(w->e, GEAR_EXIT_USAGE, "path too long in the tree: '%s...'", root);
                return -1;
        }
        if (order_check(w, mode == GIT_FILEMODE_TREE) < 0)
                return -1;
        /* what a checkout never writes: a repository of its own */
        if (w->checkout && !strcasecmp(name, ".git"))
                return 1;
        if (!w->checkout && dir && mkdirat(w->scratch, w->path, 0700) < 0 && errno != EEXIST) {
                gear_err_sys(w->e, errno, "cannot make '%s' in the scratch work tree", w->path);
                return -1;
        }
        k = w->checkout ? 0 : ignored(w, w->path);
        if (k < 0)
                return -1;
        if (k)
                return 1; /* a tree left out with all it holds */
        if (dir) {
                put_header(w, w->path, AE_IFDIR, w->checkout ? 0755 : 0775, 0);
                if (sym_archive_write_header(w->a, w->entry) < ARCHIVE_OK) {
                        archive_fail(w, "the header of", w->path);
                        return -1;
                }
                return 0;
        }
        if (w->odb && size_check(w, te) < 0)
                return -1;
        return put_blob(w, te, mode) < 0 ? -1 : 0;
}

static int open_writer(struct writer *w, enum repo_format f, int fd)
{
        int r;

        w->a = sym_archive_write_new();
        w->entry = sym_archive_entry_new();
        if (!w->a || !w->entry)
                return gear_err_sys(w->e, ENOMEM, "cannot write the archive");
        w->zip = f == REPO_ZIP;
        if (w->zip)
                r = sym_archive_write_set_format_zip(w->a);
        else
                r = sym_archive_write_set_format_gnutar(w->a);
        if (r == ARCHIVE_OK && f == REPO_TGZ)
                r = sym_archive_write_add_filter_gzip(w->a);
        if (r == ARCHIVE_OK)
                r = sym_archive_write_open_fd(w->a, fd);
        if (r != ARCHIVE_OK)
                return archive_fail(w, "the archive", "stdout");
        return 0;
}

static int write_tree(struct writer *w, git_object *obj, enum repo_format f, int fd)
{
        git_tree *tree = NULL;
        int r = 0;

        if (sym_git_object_type(obj) == GIT_OBJECT_COMMIT) {
                git_commit *c = (git_commit *)obj;

                w->mtime = sym_git_commit_time(c);
                w->attrs.flags = GIT_ATTR_CHECK_INDEX_ONLY | GIT_ATTR_CHECK_NO_SYSTEM | GIT_ATTR_CHECK_INCLUDE_COMMIT;
                w->attrs.attr_commit_id = *sym_git_commit_id(c);
                if (sym_git_commit_tree(&tree, c) < 0)
                        return repo_git_fail(w->e, GEAR_EXIT_SYS, "cannot read the tree");
        } else {
                /* a bare tree has no time of its own: git archive gives it the present */
                w->mtime = time(NULL);
                w->attrs.flags = GIT_ATTR_CHECK_INDEX_ONLY | GIT_ATTR_CHECK_NO_SYSTEM;
                tree = (git_tree *)obj;
        }
        if (open_writer(w, f, fd) < 0)
                r = -1;
        else if (*w->prefix && (put_header(w, w->prefix, AE_IFDIR, 0755, 0),
                                sym_archive_write_header(w->a, w->entry) < ARCHIVE_OK))
                r = archive_fail(w, "the header of", w->prefix);
        else if (sym_git_tree_walk(tree, GIT_TREEWALK_PRE, walk_entry, w) < 0)
                r = w->e->code ? -1 : repo_git_fail(w->e, GEAR_EXIT_SYS, "cannot read the tree");
        else if (sym_archive_write_close(w->a) != ARCHIVE_OK)
                r = archive_fail(w, "the end of", "the archive");
        if ((git_object *)tree != obj)
                sym_git_tree_free(tree);
        return r;
}

/* an empty directory of our own to lend libgit2 as the repository's work tree */
static int scratch_open(struct writer *w, char dir[static PATH_MAX])
{
        snprintf(dir, PATH_MAX, "/tmp/gear-archive.XXXXXX");
        if (!mkdtemp(dir))
                return gear_err_sys(w->e, errno, "cannot make a scratch directory");
        w->scratch = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (w->scratch < 0) {
                int err = errno;
                rmdir(dir);
                return gear_err_sys(w->e, err, "cannot open '%s'", dir);
        }
        if (sym_git_repository_set_workdir(w->repo, dir, 0) < 0)
                return repo_git_fail(w->e, GEAR_EXIT_SYS, "cannot read attributes");
        return 0;
}

static void scratch_close(struct writer *w, const char *dir)
{
        struct gear_err ignore = {0};

        if (w->scratch < 0)
                return;
        close(w->scratch);
        rm_tree(AT_FDCWD, dir, &ignore);
        gear_err_clear(&ignore);
}

static void writer_done(struct writer *w, git_object *obj)
{
        if (obj)
                sym_git_object_free(obj);
        if (w->entry)
                sym_archive_entry_free(w->entry);
        if (w->odb)
                sym_git_odb_free(w->odb);
        seen_free(w);
        if (w->a)
                sym_archive_write_free(w->a);
        sym_git_repository_free(w->repo);
}

int repo_archive(struct gear_tree *t, const char *id, const char *ref, enum repo_format f, int fd,
                 struct gear_err *e)
{
        struct writer w = { .attrs = GIT_ATTR_OPTIONS_INIT, .e = e, .scratch = -1, .prefix = "" };
        git_object *obj = NULL;
        char path[PATH_MAX], scratch[PATH_MAX];
        int k, r;

        if (!ref)
                ref = "HEAD";
        if (!id_valid(id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
        if (repo_git_ready(e) < 0 || dl_archive(e) < 0 || repo_ref_check(ref, e) < 0)
                return -1;
        k = repo_exists(t, id, e);
        if (k <= 0)
                return k < 0 ? -1 : gear_err_set(e, GEAR_EXIT_NO, "no repository '%s'", id);
        repo_path(t, id, path);
        if (repo_git_open(&w.repo, path, e) < 0)
                return -1;
        r = resolve(w.repo, id, ref, &obj, e);
        if (r == 0)
                r = scratch_open(&w, scratch);
        if (r == 0)
                r = write_tree(&w, obj, f, fd);
        scratch_close(&w, scratch);
        writer_done(&w, obj);
        return r < 0 && w.reader_gone ? -EPIPE : r;
}

/* a local source must be a repository: what libgit2 says of anything else is no better than "not found" */
static int local_repo_check(const char *path, struct gear_err *e)
{
        git_repository *r = NULL;

        if (sym_git_repository_open_ext(&r, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
                return gear_err_set(e, GEAR_EXIT_USAGE, "cannot fetch '%s': not a Git repository", path);
        sym_git_repository_free(r);
        return 0;
}

int repo_fetch_tree(const char *source, const char *ref, const char *dir, const char *prefix, int fd,
                    uint64_t max_size, char commit[static GIT_OID_HEXSZ + 1], struct gear_err *e)
{
        struct writer w = { .attrs = GIT_ATTR_OPTIONS_INIT, .e = e, .scratch = -1, .prefix = prefix,
                            .checkout = true, .max_size = max_size };
        struct repo_fetch_limits lim = { .ref = ref, .max_size = max_size };
        git_object *obj = NULL;
        char src[PATH_MAX];
        int r;

        if (!ref)
                ref = "HEAD";
        if (repo_git_ready(e) < 0 || dl_archive(e) < 0 || repo_ref_check(ref, e) < 0 ||
            repo_source_name(source, src, e) < 0 || (*src == '/' && local_repo_check(src, e) < 0) ||
            repo_git_clone(dir, src, &lim, e) < 0 || repo_git_open(&w.repo, dir, e) < 0)
                return -1;
        if (max_size && sym_git_repository_odb(&w.odb, w.repo) < 0) {
                sym_git_repository_free(w.repo);
                return repo_git_fail(e, GEAR_EXIT_SYS, "cannot read the repository fetched");
        }
        r = resolve(w.repo, source, ref, &obj, e);
        if (r == 0) {
                snprintf(commit, GIT_OID_HEXSZ + 1, "%s", sym_git_oid_tostr_s(sym_git_object_id(obj)));
                r = write_tree(&w, obj, REPO_TAR, fd);
        }
        writer_done(&w, obj);
        return r;
}
