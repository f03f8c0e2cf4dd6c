/* keys in the container tree: stored once, linked per container and repository */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "../base/ctr-tree.h"
#include "../base/dl-nettle.h"
#include "../base/fsutil.h"
#include "../ports/ports.h"

/* ---- the tree ---- */

static const char *target_dir(const struct gear_target *tg, const char *mode, char *buf, size_t n)
{
        if (tg->kind == TARGET_CONTAINER)
                snprintf(buf, n, "access/containers/%.2s/%s", tg->id, tg->id);
        else
                snprintf(buf, n, "access/git/%s/%.2s/%s", mode, tg->id, tg->id);
        return buf;
}

static void key_rel(const char *fp, char *buf, size_t n)
{
        snprintf(buf, n, "keys/%.2s/%s", fp, fp);
}

static int store_key(struct gear_root *r, const struct ssh_key *k, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        char rel[128];
        struct stat st;

        key_rel(k->fp, rel, sizeof rel);
        if (fstatat(r->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        if (errno != ENOENT)
                return gear_err_sys(e, errno, "cannot stat '%s/%s'", r->path, rel);
        text = key_text(k);
        if (!text)
                return gear_err_sys(e, ENOMEM, "cannot store key");
        return atomic_write(r, rel, text, strlen(text), 0644, e);
}

/* dir/fp -> the key, relative; an existing link with another target is replaced atomically */
static int link_key(struct gear_root *r, int dfd, const char *dir, unsigned depth, const char *fp,
                    struct gear_err *e)
{
        char target[256], old[256], tmp[128];
        size_t n = 0;
        ssize_t k;
        uint64_t rnd = 0;

        for (unsigned i = 0; i < depth; i++)
                n += snprintf(target + n, sizeof target - n, "../");
        key_rel(fp, target + n, sizeof target - n);
        if (symlinkat(target, dfd, fp) == 0)
                return 0;
        if (errno != EEXIST)
                return gear_err_sys(e, errno, "cannot link '%s/%s/%s'", r->path, dir, fp);
        k = readlinkat(dfd, fp, old, sizeof old - 1);
        if (k >= 0 && (size_t)k == strlen(target) && !memcmp(old, target, k))
                return 0;
        if (getrandom(&rnd, sizeof rnd, 0) < 0)
                rnd = (uint64_t)getpid() << 20 ^ (uintptr_t)&rnd;
        snprintf(tmp, sizeof tmp, GEAR_TMP_PREFIX "%s.%016llx", fp, (unsigned long long)rnd);
        if (symlinkat(target, dfd, tmp) < 0)
                return gear_err_sys(e, errno, "cannot link '%s/%s/%s'", r->path, dir, tmp);
        if (renameat(dfd, tmp, dfd, fp) < 0) {
                int err = errno;
                unlinkat(dfd, tmp, 0);
                return gear_err_sys(e, err, "cannot replace '%s/%s/%s'", r->path, dir, fp);
        }
        return 0;
}

static int open_dir(struct gear_root *r, const char *dir, struct gear_err *e)
{
        int fd = openat(r->fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0) {
                int err = errno;
                gear_err_sys(e, err, "cannot open '%s/%s'", r->path, dir);
                return -err;
        }
        return fd;
}

static int sync_dir(struct gear_root *r, int dfd, const char *dir, struct gear_err *e)
{
        if (fsync(dfd) < 0)
                return gear_err_sys(e, errno, "cannot sync '%s/%s'", r->path, dir);
        return 0;
}

int keys_add(struct gear_tree *t, const struct gear_target *targets, size_t ntargets,
             const struct key_set *set, bool write, struct gear_err *e)
{
        struct gear_root *r = &t->ctr;
        _cleanup_(key_locks_done) struct key_locks target_locks = {0};
        _cleanup_close_ int lock = -1;
        char dir[128];

        /* target locks before the lock of keys/: the order every other holder follows */
        if (keys_lock_targets(t, targets, ntargets, &target_locks, e) < 0)
                return -1;
        if (root_open(r, ROOT_CREATE, e) < 0)
                return -1;
        lock = lock_dir(r, "keys", LOCK_SH, e);
        if (lock < 0)
                return -1;
        for (size_t i = 0; i < set->n; i++)
                if (store_key(r, &set->keys[i], e) < 0)
                        return -1;
        for (size_t i = 0; i < ntargets; i++) {
                const struct gear_target *tg = &targets[i];
                _cleanup_close_ int dfd = -1;

                target_dir(tg, write || tg->write ? "write" : "read", dir, sizeof dir);
                if (mkdir_p_at(r->fd, dir, 0755, e) < 0)
                        return gear_err_wrap(e, "in '%s'", r->path);
                dfd = open_dir(r, dir, e);
                if (dfd < 0)
                        return -1;
                for (size_t j = 0; j < set->n; j++)
                        if (link_key(r, dfd, dir, tg->kind == TARGET_CONTAINER ? 4 : 5,
                                     set->keys[j].fp, e) < 0)
                                return -1;
                if (sync_dir(r, dfd, dir, e) < 0)
                        return -1;
        }
        return 0;
}

static int unlink_keys(struct gear_root *r, const char *dir, const struct key_set *set,
                       struct gear_err *e)
{
        _cleanup_close_ int dfd = open_dir(r, dir, e);

        if (dfd == -ENOENT || dfd == -ENOTDIR) {
                gear_err_clear(e);
                return 0;
        }
        if (dfd < 0)
                return -1;
        for (size_t j = 0; j < set->n; j++)
                if (unlinkat(dfd, set->keys[j].fp, 0) < 0 && errno != ENOENT)
                        return gear_err_sys(e, errno, "cannot remove '%s/%s/%s'", r->path, dir,
                                            set->keys[j].fp);
        return sync_dir(r, dfd, dir, e);
}

int keys_remove(struct gear_tree *t, const struct gear_target *targets, size_t ntargets,
                const struct key_set *set, bool write, struct gear_err *e)
{
        struct gear_root *r = &t->ctr;
        _cleanup_close_ int lock = -1;
        char dir[128];
        int k;

        k = root_open_maybe(r, e);
        if (k <= 0)
                return k;
        lock = lock_dir(r, "keys", LOCK_SH, e);
        if (lock < 0)
                return -1;
        for (size_t i = 0; i < ntargets; i++) {
                const struct gear_target *tg = &targets[i];

                if (unlink_keys(r, target_dir(tg, "write", dir, sizeof dir), set, e) < 0)
                        return -1;
                if (tg->kind == TARGET_REPO && !write &&
                    unlink_keys(r, target_dir(tg, "read", dir, sizeof dir), set, e) < 0)
                        return -1;
        }
        return 0;
}

const char *key_access_name(enum key_access a)
{
        return a == KEY_ACCESS_SSH ? "ssh" : a == KEY_ACCESS_READ ? "read" : "write";
}

struct entries {
        struct key_entry *v;
        size_t n, cap;
};

static bool is_link(int dfd, const struct dirent *de)
{
        struct stat st;

        if (de->d_type != DT_UNKNOWN)
                return de->d_type == DT_LNK;
        return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* the links of one access directory; a missing directory has none */
static int entries_scan(struct gear_root *r, const char *dir, enum key_access acc,
                        struct entries *out, struct gear_err *e)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd = open_dir(r, dir, e);

        if (fd == -ENOENT || fd == -ENOTDIR) {
                gear_err_clear(e);
                return 0;
        }
        if (fd < 0)
                return -1;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, dir);
        }
        while ((errno = 0, de = readdir(d))) {
                if (!key_fp_valid(de->d_name) || !is_link(dirfd(d), de))
                        continue;
                if (out->n == out->cap) {
                        size_t cap = out->cap ? out->cap * 2 : 16;
                        struct key_entry *p = realloc(out->v, cap * sizeof *p);
                        if (!p)
                                return gear_err_sys(e, ENOMEM, "cannot read '%s/%s'", r->path, dir);
                        out->v = p;
                        out->cap = cap;
                }
                memset(&out->v[out->n], 0, sizeof out->v[0]);
                strcpy(out->v[out->n].fp, de->d_name);
                out->v[out->n++].access = acc;
        }
        if (errno)
                return gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, dir);
        return 0;
}

static int entry_cmp(const void *a, const void *b)
{
        const struct key_entry *x = a, *y = b;
        int c = strcmp(x->fp, y->fp);

        /* write before read, so that the first of a pair is kept */
        return c ? c : (int)y->access - (int)x->access;
}

/* the key's file, only if it is exactly a valid stored key (and has its name) */
static char *key_load(struct gear_root *r, const char *fp, bool verify)
{
        _cleanup_(gear_err_clear) struct gear_err e = {0};
        _cleanup_free_ char *text = NULL;
        struct ssh_key k;
        char rel[128];
        size_t len;
        bool ok;

        key_rel(fp, rel, sizeof rel);
        if (read_file(r, rel, KEY_FILE_MAX, &text, &len, &e) < 0)
                return NULL;
        if (key_parse_stored(text, len, &k, verify, &e) < 0)
                return NULL;
        ok = !verify || !strcmp(k.fp, fp);
        ssh_key_done(&k);
        return ok ? TAKE_PTR(text) : NULL;
}

void key_entries_free(struct key_entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].text);
        free(v);
}

int keys_list(struct gear_tree *t, const struct gear_target *tg, bool verify,
              struct key_entry **out, size_t *n, struct gear_err *e)
{
        struct gear_root *r = &t->ctr;
        struct entries en = {0};
        char dir[128];
        size_t i, m = 0;
        int k;

        *out = NULL;
        *n = 0;
        /* a fingerprint checked is a SHA-256: its library missing is not a key missing */
        if (verify && dl_nettle(e) < 0)
                return -1;
        k = root_open_maybe(r, e);
        if (k <= 0)
                return k;
        if (entries_scan(r, target_dir(tg, "write", dir, sizeof dir),
                         tg->kind == TARGET_CONTAINER ? KEY_ACCESS_SSH : KEY_ACCESS_WRITE, &en, e) < 0 ||
            (tg->kind == TARGET_REPO &&
             entries_scan(r, target_dir(tg, "read", dir, sizeof dir), KEY_ACCESS_READ, &en, e) < 0)) {
                free(en.v);
                return -1;
        }
        if (en.n)
                qsort(en.v, en.n, sizeof en.v[0], entry_cmp);
        for (i = 0; i < en.n; i++)
                if (!m || strcmp(en.v[m - 1].fp, en.v[i].fp))
                        en.v[m++] = en.v[i];
        for (i = 0; i < m; i++)
                en.v[i].text = key_load(r, en.v[i].fp, verify);
        *out = en.v;
        *n = m;
        return 0;
}

static bool user_target(const char *user, struct gear_target *tg)
{
        if (!strncmp(user, "ctr-", 4))
                tg->kind = TARGET_CONTAINER;
        else if (!strncmp(user, "git-", 4))
                tg->kind = TARGET_REPO;
        else
                return false;
        if (!id_valid(user + 4))
                return false;
        strcpy(tg->id, user + 4);
        return true;
}

/*
 * restrict first, then only what a container's users need: a terminal and,
 * when it publishes ports, local forwarding (ssh -L) to those. No key option
 * allows -L but not -R, so permitlisten admits only port 1 of the loopback,
 * which the container's unprivileged account cannot bind; sshd_config's
 * AllowTcpForwarding local and AllowStreamLocalForwarding no close the rest
 * (see gear-auth-keys-command(1)).
 */
static void put_ctr_options(FILE *f, const char *switchns, const struct port_map *maps, size_t n)
{
        bool any = false;

        fprintf(f, "restrict,pty,command=\"%s\"", switchns);
        for (size_t i = 0; i < n; i++) {
                unsigned p = maps[i].external;
                bool seen = false;

                for (size_t j = 0; j < i && !seen; j++)
                        seen = maps[j].external == p;
                if (!p || seen)
                        continue;
                if (!any)
                        fputs(",port-forwarding", f);
                fprintf(f, ",permitopen=\"localhost:%u\",permitopen=\"127.0.0.1:%u\"", p, p);
                any = true;
        }
        if (any)
                fputs(",permitlisten=\"" KEYS_NO_LISTEN "\"", f);
}

int keys_authorized(struct gear_tree *t, const char *user, const char *switchns,
                    char **out, size_t *len, struct gear_err *e)
{
        struct gear_root *r = &t->ctr;
        _cleanup_free_ struct port_map *maps = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        struct key_entry *v = NULL;
        struct gear_target tg;
        size_t nmaps = 0, n = 0;
        char *buf = NULL;
        int k;

        *out = NULL;
        *len = 0;
        if (strpbrk(switchns, "\"\\\n"))
                return gear_err_set(e, GEAR_EXIT_SYS, "invalid forced command '%s'", switchns);
        if (!user_target(user, &tg))
                return 0;
        k = root_open_maybe(r, e);
        if (k <= 0)
                return k;
        if (tg.kind == TARGET_CONTAINER) {
                char unit[128];
                struct stat st;

                snprintf(unit, sizeof unit, "units/%.2s/ctr-%s.service", tg.id, tg.id);
                if (fstatat(r->fd, unit, &st, 0) < 0) {
                        if (errno == ENOENT)
                                return 0;
                        return gear_err_sys(e, errno, "cannot stat '%s/%s'", r->path, unit);
                }
                k = unit_ports_read(t, tg.id, &maps, &nmaps, e);
                if (k == -ENOENT) {
                        gear_err_clear(e);
                        return 0;
                }
                if (k < 0)
                        return -1;
        } else {
                k = repo_exists(t, tg.id, e);
                if (k <= 0)
                        return k;
        }
        if (keys_list(t, &tg, false, &v, &n, e) < 0)
                return -1;
        f = open_memstream(&buf, len);
        if (!f) {
                key_entries_free(v, n);
                return gear_err_sys(e, errno, "cannot list keys");
        }
        for (size_t i = 0; i < n; i++) {
                if (!v[i].text)
                        continue;
                if (tg.kind == TARGET_CONTAINER)
                        put_ctr_options(f, switchns, maps, nmaps);
                else
                        fprintf(f, "restrict,command=\"%s %s\"",
                                switchns, v[i].access == KEY_ACCESS_WRITE ? "--git" : "--git-ro");
                fprintf(f, " %s\n", v[i].text);
        }
        key_entries_free(v, n);
        k = fclose(TAKE_PTR(f));
        if (k != 0) {
                free(buf);
                *len = 0;
                return gear_err_sys(e, ENOMEM, "cannot list keys");
        }
        *out = buf;
        return 0;
}

/* ---- clean ---- */

struct fp_set {
        char (*v)[KEY_FP_LEN + 1];
        size_t n, cap;
};

static int fp_set_add(struct fp_set *s, const char *fp)
{
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 256;
                void *p = realloc(s->v, cap * sizeof s->v[0]);
                if (!p)
                        return -ENOMEM;
                s->v = p;
                s->cap = cap;
        }
        strcpy(s->v[s->n++], fp);
        return 0;
}

static int fp_cmp(const void *a, const void *b)
{
        return strcmp(a, b);
}

static DIR *opendir_at(int dfd, const char *name)
{
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;

        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d)
                close(fd);
        return d;
}

struct clean_ctx {
        struct fp_set refs;
        bool dry_run;
        void (*report)(const char *kind, const char *relpath, void *ud);
        void *ud;
};

/*
 * Each entry's name and the last part of each link's target count as a
 * reference. A temporary link is what an add left when it died between
 * creating it and renaming it: with the lock of keys/ held exclusively no add runs.
 */
static int refs_scan_dir(DIR *d, const char *dir, struct clean_ctx *c)
{
        struct dirent *de;
        char target[512], rel[PATH_MAX];

        while ((de = readdir(d))) {
                ssize_t k;
                char *base;

                k = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
                if (is_tmp_name(de->d_name)) {
                        if (k < 0)
                                continue;
                        snprintf(rel, sizeof rel, "%s/%s", dir, de->d_name);
                        if (!c->dry_run && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                                return -errno;
                        if (c->report)
                                c->report("temp", rel, c->ud);
                        continue;
                }
                if (de->d_name[0] == '.')
                        continue;
                if (key_fp_valid(de->d_name) && fp_set_add(&c->refs, de->d_name) < 0)
                        return -ENOMEM;
                if (k < 0)
                        continue;
                target[k] = 0;
                base = strrchr(target, '/');
                base = base ? base + 1 : target;
                if (key_fp_valid(base) && fp_set_add(&c->refs, base) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* 1 when dir's links count: those of a gone container or repository do not (keys_clean_access removes them) */
static int refs_count(struct gear_tree *t, enum target_kind kind, const char *id, struct gear_err *e)
{
        struct gear_target tg = { .kind = kind };

        if (!id_valid(id))
                return 1;
        strcpy(tg.id, id);
        return target_exists(t, &tg, e);
}

/* access/.../<ab>/<ID>/<link> below base, which holds the access of targets of kind */
static int refs_scan(struct gear_tree *t, const char *base, enum target_kind kind, struct clean_ctx *c,
                     struct gear_err *e)
{
        struct gear_root *r = &t->ctr;
        _cleanup_closedir_ DIR *top = opendir_at(r->fd, base);
        struct dirent *a, *b;
        char dir[PATH_MAX];
        int k;

        if (!top)
                return errno == ENOENT || errno == ENOTDIR ? 0 :
                       gear_err_sys(e, errno, "cannot read '%s/%s'", r->path, base);
        while ((a = readdir(top))) {
                _cleanup_closedir_ DIR *part = NULL;

                if (a->d_name[0] == '.' || !(part = opendir_at(dirfd(top), a->d_name)))
                        continue;
                while ((b = readdir(part))) {
                        _cleanup_closedir_ DIR *id = NULL;

                        if (b->d_name[0] == '.')
                                continue;
                        k = refs_count(t, kind, b->d_name, e);
                        if (k < 0)
                                return -1;
                        if (!k || !(id = opendir_at(dirfd(part), b->d_name)))
                                continue;
                        snprintf(dir, sizeof dir, "%s/%s/%s", base, a->d_name, b->d_name);
                        k = refs_scan_dir(id, dir, c);
                        if (k < 0)
                                return gear_err_sys(e, -k, "cannot clean '%s/%s'", r->path, dir);
                }
        }
        return 0;
}

/* keys/<ab>/<fp> with no reference, sorted */
static int orphans_scan(struct gear_root *r, const struct fp_set *refs, struct fp_set *out,
                        struct gear_err *e)
{
        _cleanup_closedir_ DIR *top = opendir_at(r->fd, "keys");
        struct dirent *a, *b;

        if (!top)
                return errno == ENOENT || errno == ENOTDIR ? 0 :
                       gear_err_sys(e, errno, "cannot read '%s/keys'", r->path);
        while ((a = readdir(top))) {
                _cleanup_closedir_ DIR *part = NULL;

                if (a->d_name[0] == '.' || strlen(a->d_name) != 2 ||
                    !(part = opendir_at(dirfd(top), a->d_name)))
                        continue;
                while ((b = readdir(part))) {
                        if (!key_fp_valid(b->d_name) || strncmp(b->d_name, a->d_name, 2) ||
                            (refs->n && bsearch(b->d_name, refs->v, refs->n, sizeof refs->v[0], fp_cmp)))
                                continue;
                        if (fp_set_add(out, b->d_name) < 0)
                                return gear_err_sys(e, ENOMEM, "cannot read '%s/keys'", r->path);
                }
        }
        if (out->n)
                qsort(out->v, out->n, sizeof out->v[0], fp_cmp);
        return 0;
}

int keys_clean(struct gear_tree *t, bool dry_run,
               void (*report)(const char *kind, const char *relpath, void *ud), void *ud,
               struct gear_err *e)
{
        static const char *const bases[] = { "access/containers", "access/git/read", "access/git/write" };
        struct gear_root *r = &t->ctr;
        _cleanup_close_ int lock = -1;
        struct clean_ctx c = { .dry_run = dry_run, .report = report, .ud = ud };
        struct fp_set orphans = {0};
        struct stat st;
        char rel[128];
        int k, ret = -1;

        k = root_open_maybe(r, e);
        if (k <= 0)
                return k;
        if (fstatat(r->fd, "keys", &st, 0) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        /* before the scan: an add in progress has either linked its keys or not started */
        if (!dry_run) {
                lock = lock_dir(r, "keys", LOCK_EX, e);
                if (lock < 0)
                        return -1;
        }
        for (size_t i = 0; i < ELEMENTSOF(bases); i++)
                if (refs_scan(t, bases[i], i == 0 ? TARGET_CONTAINER : TARGET_REPO, &c, e) < 0)
                        goto out;
        if (c.refs.n)
                qsort(c.refs.v, c.refs.n, sizeof c.refs.v[0], fp_cmp);
        if (orphans_scan(r, &c.refs, &orphans, e) < 0)
                goto out;
        for (size_t i = 0; i < orphans.n; i++) {
                key_rel(orphans.v[i], rel, sizeof rel);
                if (!dry_run && unlinkat(r->fd, rel, 0) < 0 && errno != ENOENT) {
                        gear_err_sys(e, errno, "cannot remove '%s/%s'", r->path, rel);
                        goto out;
                }
                if (report)
                        report("key", rel, ud);
        }
        ret = 0;
out:
        free(c.refs.v);
        free(orphans.v);
        return ret;
}
