/* repositories: create, delete, and what killed ones left */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo.h"
#include "repo-git.h"
#include "../base/account.h"
#include "../base/ctr-tree.h"
#include "../base/fsutil.h"
#include "../keys/keys.h"

const struct account_kind repo_account = { "git-", "gear repository " };

int repo_id_parse(const char *arg, gear_id id, struct gear_err *e)
{
        if (id_parse(arg, id, e) < 0)
                return -1;
        /* never a path's ".." on the SSH side, where the path names the repository */
        if (strstr(id, ".."))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid repository identifier '%s': it contains '..'",
                                    arg);
        return 0;
}

void repo_path(const struct gear_tree *t, const char *id, char buf[static PATH_MAX])
{
        char rel[CTR_PATH_MAX];

        repo_rel(id, rel);
        snprintf(buf, PATH_MAX, "%s/%s", t->ctr.path, rel);
}

/* git/<ab>/ of id (its absolute path into shard), and a new temporary name for it there */
static int shard_open(struct gear_tree *t, const char *id, char shard[static PATH_MAX],
                      char tmp[static CTR_PATH_MAX], struct gear_err *e)
{
        uint64_t rnd = 0;
        int fd;

        if (getrandom(&rnd, sizeof rnd, 0) < 0)
                rnd = (uint64_t)getpid() << 20 ^ (uintptr_t)&rnd;
        snprintf(tmp, CTR_PATH_MAX, GEAR_TMP_PREFIX "%s.%016llx", id, (unsigned long long)rnd);
        snprintf(shard, PATH_MAX, "%s/git/%.2s", t->ctr.path, id);
        fd = open(shard, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return gear_err_sys(e, errno, "cannot open '%s'", shard);
        return fd;
}

/*
 * git-ID must reach git/<ab>/: git/ and the shard are made traversable, the
 * tree's top searchable by others (not readable: podman, which shares
 * /var/lib/containers, makes it 0700, and keeps its storage/ 0700 below it,
 * as gear keeps data/ and env/), and every directory above the tree must be
 * searchable already.
 */
static int reachable(struct gear_tree *t, const char *shard, struct gear_err *e)
{
        char path[PATH_MAX], *slash;
        struct stat st;

        if (fchmodat(t->ctr.fd, "git", 0755, 0) < 0 || fchmodat(t->ctr.fd, shard, 0755, 0) < 0)
                return gear_err_sys(e, errno, "cannot open up '%s/%s'", t->ctr.path, shard);
        if (fstat(t->ctr.fd, &st) < 0 ||
            (!(st.st_mode & S_IXOTH) && fchmod(t->ctr.fd, (st.st_mode & 07777) | S_IXOTH) < 0))
                return gear_err_sys(e, errno, "cannot make '%s' searchable", t->ctr.path);
        snprintf(path, sizeof path, "%s", t->ctr.path);
        for (;;) {
                if (stat(*path ? path : "/", &st) < 0)
                        return gear_err_sys(e, errno, "cannot read '%s'", *path ? path : "/");
                if ((st.st_mode & S_IXOTH) == 0)
                        return gear_err_set(e, GEAR_EXIT_SYS,
                                            "'%s' is not searchable by other users: no repository user could reach its repository",
                                            *path ? path : "/");
                if (!*path)
                        break;
                slash = strrchr(path, '/');
                *slash = 0;
        }
        return 0;
}

/* ---- the owner of a new repository ---- */

struct owner {
        uid_t uid;
        gid_t gid;
        int err;
};

static __thread struct owner *chowning;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        if (lchown(path, chowning->uid, chowning->gid) < 0) {
                chowning->err = errno;
                return 1;
        }
        return 0;
}

/* every file of the repository built at path becomes its user's, then all of it reaches the disk */
static int hand_over(const char *path, const struct account *a, struct gear_err *e)
{
        struct owner o = { a->uid, a->gid, 0 };
        _cleanup_close_ int fd = -1;

        chowning = &o;
        if (nftw(path, chown_one, 16, FTW_PHYS | FTW_MOUNT) != 0)
                return gear_err_sys(e, o.err ? o.err : errno, "cannot hand '%s' over to its user", path);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchmod(fd, 0700) < 0)
                return gear_err_sys(e, errno, "cannot close '%s' to others", path);
        if (syncfs(fd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s'", path);
        return 0;
}

/* ---- create ---- */

int repo_source_name(const char *from, char buf[static PATH_MAX], struct gear_err *e)
{
        char cwd[PATH_MAX];
        const char *colon = strchr(from, ':'), *slash = strchr(from, '/');

        for (const char *p = from; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid source '%s': control character", from);
        if (!*from)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid source: empty");
        if (from[0] == '/' || !colon || (slash && slash < colon)) {
                struct stat st;
                int err;

                if (from[0] != '/' && !getcwd(cwd, sizeof cwd))
                        return gear_err_sys(e, errno, "cannot resolve '%s'", from);
                if ((size_t)snprintf(buf, PATH_MAX, "%s%s%s", from[0] == '/' ? "" : cwd,
                                     from[0] == '/' ? "" : "/", from) >= PATH_MAX)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "source '%s' is too long", from);
                err = stat(buf, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
                if (err) {
                        gear_err_sys(e, err, "cannot clone '%s'", buf);
                        if (err == ENOENT || err == ENOTDIR)
                                e->code = GEAR_EXIT_USAGE;
                        return -1;
                }
                return 0;
        }
        snprintf(buf, PATH_MAX, "%s", from);
        return 0;
}

struct fetch_state {
        uint64_t max_size;
        bool too_big;
};

/* a fetch's progress: non-zero stops it */
static int fetch_progress(const git_indexer_progress *stats, void *payload)
{
        struct fetch_state *st = payload;

        if (st->max_size && stats->received_bytes > st->max_size) {
                st->too_big = true;
                return -1;
        }
        return 0;
}

static bool is_hex_oid(const char *s)
{
        return strlen(s) == GIT_OID_HEXSZ && strspn(s, "0123456789abcdef") == GIT_OID_HEXSZ;
}

/* the refspecs of what lim->ref can name; none: everything */
static void narrow_specs(const struct repo_fetch_limits *lim, const char *head, char specs[2][600], size_t *n)
{
        const char *ref = lim && lim->ref ? lim->ref : NULL;

        if (!lim || (ref && is_hex_oid(ref)))
                return;
        if (!ref || !strcmp(ref, "HEAD")) {
                if (!head || !*head)
                        return;
                snprintf(specs[0], sizeof specs[0], "+%s:%s", head, head);
                *n = 1;
        } else if (!strncmp(ref, "refs/", 5)) {
                snprintf(specs[0], sizeof specs[0], "+%s:%s", ref, ref);
                *n = 1;
        } else {
                snprintf(specs[0], sizeof specs[0], "+refs/heads/%s:refs/heads/%s", ref, ref);
                snprintf(specs[1], sizeof specs[1], "+refs/tags/%s:refs/tags/%s", ref, ref);
                *n = 2;
        }
}

/*
 * What git clone --bare fetches: every branch and tag under its own name,
 * and HEAD naming the source's default branch (with lim->ref, only what it
 * names). Not git_clone, whose bare clones keep only the default branch.
 */
static int fetch_all(git_repository *repo, const char *source, const struct repo_fetch_limits *lim,
                     struct gear_err *e)
{
        static char *all[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
        char narrow[2][600], *specs[2] = { narrow[0], narrow[1] };
        git_strarray refspecs = { all, ELEMENTSOF(all) };
        struct fetch_state st = { .max_size = lim ? lim->max_size : 0 };
        git_buf head = { 0 };
        git_fetch_options o;
        git_remote *remote = NULL;
        size_t n = 0;
        int r;

        if (sym_git_fetch_options_init(&o, GIT_FETCH_OPTIONS_VERSION) < 0 ||
            sym_git_remote_create_anonymous(&remote, repo, source) < 0)
                return repo_git_fail(e, GEAR_EXIT_USAGE, "cannot clone '%s'", source);
        o.update_fetchhead = 0;
        o.callbacks.transfer_progress = fetch_progress;
        o.callbacks.payload = &st;
        o.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
        r = sym_git_remote_connect(remote, GIT_DIRECTION_FETCH, NULL, NULL, NULL);
        if (r == 0) {
                r = sym_git_remote_default_branch(&head, remote);
                /* an empty source has no default branch: HEAD stays as made */
                if (r == GIT_ENOTFOUND)
                        r = 0;
        }
        if (r == 0) {
                narrow_specs(lim, head.ptr, narrow, &n);
                if (n)
                        refspecs.strings = specs, refspecs.count = n;
                r = sym_git_remote_fetch(remote, &refspecs, &o, "clone");
        }
        if (r == 0 && head.ptr && *head.ptr && sym_git_repository_set_head(repo, head.ptr) < 0)
                r = -1;
        if (r < 0 && st.too_big)
                gear_err_set(e, GEAR_EXIT_USAGE, "cannot clone '%s': more than %llu bytes", source,
                             (unsigned long long)st.max_size);
        else if (r < 0)
                repo_git_fail(e, GEAR_EXIT_SYS, "cannot clone '%s'", source);
        sym_git_buf_dispose(&head);
        sym_git_remote_free(remote);
        return r < 0 ? -1 : 0;
}

int repo_git_clone(const char *path, const char *source, const struct repo_fetch_limits *lim, struct gear_err *e)
{
        git_repository_init_options o;
        git_repository *repo = NULL;
        int r = 0;

        if (repo_git_ready(e) < 0)
                return -1;
        if (sym_git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION) < 0)
                return repo_git_fail(e, GEAR_EXIT_SYS, "cannot create a repository in '%s'", path);
        o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT;
        if (sym_git_repository_init_ext(&repo, path, &o) < 0)
                return repo_git_fail(e, GEAR_EXIT_SYS, "cannot create a repository in '%s'", path);
        if (source)
                r = fetch_all(repo, source, lim, e);
        sym_git_repository_free(repo);
        return r;
}

/*
 * A temporary directory .gear-tmp.<ID>.<16 hex> in git/<ab>/ holds a
 * repository being made or removed, and is there before the user is made
 * and until it is removed: a user a kill leaves always has one beside it.
 * Emptied first, then the user goes (when user is set and it is ours), then
 * the directory: no file outlives its owner's account.
 */
static int drop_tmp(int sfd, const char *shard, const char *tmp, const char *id, bool user, bool *removed,
                    struct gear_err *e)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd, k;

        *removed = false;
        fd = openat(sfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && !(d = fdopendir(fd)))
                close(fd);
        if (!d && errno != ENOENT && errno != ENOTDIR)
                return gear_err_sys(e, errno, "cannot open '%s/%s'", shard, tmp);
        while (d && (errno = 0, de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && rm_tree(dirfd(d), de->d_name, e) < 0)
                        return gear_err_wrap(e, "in '%s/%s'", shard, tmp);
        if (d && errno)
                return gear_err_sys(e, errno, "cannot read '%s/%s'", shard, tmp);
        if (user) {
                k = account_remove(&repo_account, id, e);
                if (k < 0)
                        return -1;
                *removed = k > 0;
        }
        if (rm_tree(sfd, tmp, e) < 0)
                return gear_err_wrap(e, "in '%s'", shard);
        if (fsync(sfd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s'", shard);
        return 0;
}

/* the id in a temporary name .gear-tmp.<ID>.<random> of the shard ab; -1 when there is none */
static int id_of_tmp(const char *ab, const char *name, gear_id id)
{
        const char *p = name + strlen(GEAR_TMP_PREFIX), *dot = strrchr(p, '.');

        if (!is_tmp_name(name) || !dot || dot - p > GEAR_ID_MAX)
                return -1;
        memcpy(id, p, dot - p);
        id[dot - p] = 0;
        return id_valid(id) && !strncmp(id, ab, 2) ? 0 : -1;
}

/* builds the repository under its temporary name, hands it over, renames it into place */
static int create_locked(struct gear_tree *t, const char *id, const char *source, bool had,
                         struct gear_err *e)
{
        char shard[PATH_MAX], tmp[CTR_PATH_MAX], rel[CTR_PATH_MAX], path[PATH_MAX];
        _cleanup_close_ int sfd = -1;
        struct account a;
        bool removed;

        repo_rel(id, rel);
        sfd = shard_open(t, id, shard, tmp, e);
        if (sfd < 0)
                return -1;
        if (mkdirat(sfd, tmp, 0700) < 0 || fsync(sfd) < 0)
                return gear_err_sys(e, errno, "cannot create '%s/%s'", shard, tmp);
        snprintf(path, sizeof path, "%s/%s", shard, tmp);
        if (account_ensure(&repo_account, id, NULL, &a, e) < 0 || repo_git_clone(path, source, NULL, e) < 0 ||
            hand_over(path, &a, e) < 0)
                goto fail;
        container_crash_point("repo-built");
        if (renameat(sfd, tmp, t->ctr.fd, rel) < 0) {
                gear_err_sys(e, errno, "cannot rename '%s' to '%s/%s'", path, t->ctr.path, rel);
                goto fail;
        }
        if (fsync(sfd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s'", shard);
        return 0;
fail:
        {
                struct gear_err ignore = {0};
                drop_tmp(sfd, shard, tmp, id, !had, &removed, &ignore);
                gear_err_clear(&ignore);
        }
        return -1;
}

int repo_create(struct gear_tree *t, const char *id, const char *from, struct gear_err *e)
{
        char source[PATH_MAX], shard[CTR_PATH_MAX], name[ACCOUNT_NAME_MAX];
        _cleanup_close_ int lock = -1;
        struct account a;
        int had, k;

        if (!id_valid(id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
        if (from && repo_source_name(from, source, e) < 0)
                return -1;
        account_name(&repo_account, id, name);
        lock = repo_lock(t, id, e);
        if (lock < 0)
                return -1;
        snprintf(shard, sizeof shard, "git/%.2s", id);
        if (reachable(t, shard, e) < 0)
                return -1;
        k = repo_exists(t, id, e);
        if (k < 0)
                return -1;
        if (k)
                return gear_err_set(e, GEAR_EXIT_NO, "repository '%s' exists", id);
        had = account_lookup(&repo_account, id, &a, e);
        if (had < 0)
                return -1;
        if (had && !a.ours)
                return gear_err_set(e, GEAR_EXIT_NO, "user '%s' exists and is not one gear made", name);
        return create_locked(t, id, from ? source : NULL, had, e);
}

/* ---- delete ---- */

int repo_delete(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char rel[CTR_PATH_MAX], tmp[CTR_PATH_MAX], shard[PATH_MAX];
        _cleanup_close_ int lock = -1, sfd = -1;
        bool removed;
        int k;

        if (!id_valid(id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
        k = root_open_maybe(&t->ctr, e);
        if (k < 0)
                return -1;
        if (k) {
                lock = repo_lock(t, id, e);
                if (lock < 0)
                        return -1;
                k = repo_exists(t, id, e);
                if (k < 0)
                        return -1;
        }
        /* its access first: a kill never leaves keys that a new repository of this name would inherit */
        if (keys_drop_repo(t, id, e) < 0)
                return -1;
        container_crash_point("repo-access");
        if (!k) {
                /* a user an older gear left without its repository */
                if (account_remove(&repo_account, id, e) < 0)
                        return -1;
                gear_err_set(e, GEAR_EXIT_NO, "no repository '%s'", id);
                return -ENOENT;
        }
        repo_rel(id, rel);
        sfd = shard_open(t, id, shard, tmp, e);
        if (sfd < 0)
                return -1;
        if (renameat(t->ctr.fd, rel, sfd, tmp) < 0)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, rel);
        if (fsync(sfd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s'", shard);
        container_crash_point("repo-renamed");
        return drop_tmp(sfd, shard, tmp, id, true, &removed, e);
}

/* ---- clean ---- */

struct repo_clean {
        struct gear_tree *t;
        bool dry_run;
        void (*report)(const char *kind, const char *what, void *ud);
        void *ud;
};

/*
 * A temporary directory and, when its repository is gone, the user gear
 * made for it: what a killed create or delete left.
 */
static int clean_tmp(struct repo_clean *c, int sfd, const char *shard, const char *ab, const char *name,
                     struct gear_err *e)
{
        char path[PATH_MAX], user[ACCOUNT_NAME_MAX];
        struct account a;
        bool gone = false, removed = false;
        gear_id id;
        int k;

        snprintf(path, sizeof path, "%s/%s", shard, name);
        if (id_of_tmp(ab, name, id) == 0) {
                k = repo_exists(c->t, id, e);
                if (k < 0)
                        return -1;
                gone = !k;
        }
        if (!c->dry_run) {
                if (drop_tmp(sfd, shard, name, id, gone, &removed, e) < 0)
                        return -1;
        } else if (gone) {
                k = account_lookup(&repo_account, id, &a, e);
                if (k < 0)
                        return -1;
                removed = k && a.ours;
        }
        c->report("temp", path, c->ud);
        if (removed) {
                account_name(&repo_account, id, user);
                c->report("user", user, c->ud);
        }
        return 0;
}

/* the temporary directories of git/<ab>, under its lock, not waited for: a shard in use is left as it is */
static int clean_shard(struct repo_clean *c, DIR *d, const char *ab, struct gear_err *e)
{
        _cleanup_close_ int lock = -1;
        _cleanup_free_ char (*tmps)[NAME_MAX + 1] = NULL;
        char shard[PATH_MAX], rel[CTR_PATH_MAX];
        struct dirent *de;
        size_t n = 0, cap = 0;

        snprintf(shard, sizeof shard, "%s/git/%s", c->t->ctr.path, ab);
        snprintf(rel, sizeof rel, "git/%s", ab);
        if (!c->dry_run) {
                lock = lock_dir(&c->t->ctr, rel, LOCK_EX | LOCK_NB, e);
                if (lock < 0) {
                        if (e->code != GEAR_EXIT_NO)
                                return -1;
                        gear_err_clear(e);
                        return 0;
                }
        }
        /* all names first: the removals change the directory */
        while ((errno = 0, de = readdir(d))) {
                if (!is_tmp_name(de->d_name))
                        continue;
                if (n == cap) {
                        void *p = realloc(tmps, (cap = cap ? cap * 2 : 8) * sizeof *tmps);
                        if (!p)
                                return gear_err_sys(e, ENOMEM, "cannot read '%s'", shard);
                        tmps = p;
                }
                snprintf(tmps[n++], sizeof tmps[0], "%s", de->d_name);
        }
        if (errno)
                return gear_err_sys(e, errno, "cannot read '%s'", shard);
        for (size_t i = 0; i < n; i++)
                if (clean_tmp(c, dirfd(d), shard, ab, tmps[i], e) < 0)
                        return -1;
        return 0;
}

int repo_clean(struct gear_tree *t, bool dry_run, void (*report)(const char *kind, const char *what, void *ud),
               void *ud, struct gear_err *e)
{
        struct repo_clean c = { t, dry_run, report, ud };
        _cleanup_closedir_ DIR *git = NULL;
        struct dirent *s;

        if (ctr_dir_open(t, "git", &git, e) < 0)
                return -1;
        while (git && (s = readdir(git))) {
                _cleanup_closedir_ DIR *shard = ctr_shard_open(git, s->d_name);

                if (shard && clean_shard(&c, shard, s->d_name, e) < 0)
                        return -1;
        }
        return 0;
}
