#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ports.h"
#include "../base/ctr-tree.h"
#include "../base/fsutil.h"

#define PORT_MAX 65535u
#define PORTS_DIR "ports/interfaces/1"

static int parse_port(const char *s, const char *end, unsigned *out, bool zero_ok)
{
        unsigned long v = 0;

        if (s == end || end - s > 5)
                return -1;
        for (const char *p = s; p < end; p++) {
                if (*p < '0' || *p > '9')
                        return -1;
                v = v * 10 + (*p - '0');
        }
        if (v > PORT_MAX || (!v && !zero_ok))
                return -1;
        *out = v;
        return 0;
}

int port_spec_parse(const char *s, struct port_map *m, struct gear_err *e)
{
        const char *colon = strchr(s, ':');
        const char *end = s + strlen(s);

        m->external = 0;
        if (parse_port(s, colon ? colon : end, &m->internal, false) < 0 ||
            (colon && parse_port(colon + 1, end, &m->external, true) < 0))
                return gear_err_set(e, GEAR_EXIT_USAGE,
                                    "invalid port mapping '%s': want INTERNAL[:EXTERNAL], ports 1-65535, EXTERNAL 0 to allocate", s);
        return 0;
}

int port_specs_parse(const char *s, struct port_map **maps, size_t *n, struct gear_err *e)
{
        _cleanup_free_ char *copy = strdup(s);
        char *save = NULL;

        if (!copy)
                return gear_err_sys(e, ENOMEM, "cannot parse ports");
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                struct port_map *p = realloc(*maps, (*n + 1) * sizeof **maps);
                if (!p)
                        return gear_err_sys(e, ENOMEM, "cannot parse ports");
                *maps = p;
                if (port_spec_parse(tok, &p[*n], e) < 0)
                        return -1;
                (*n)++;
        }
        return 0;
}

int port_range_parse(const char *s, struct port_range *r, struct gear_err *e)
{
        const char *dash = strchr(s, '-');

        if (!dash || parse_port(s, dash, &r->lo, false) < 0 ||
            parse_port(dash + 1, s + strlen(s), &r->hi, false) < 0 || r->lo > r->hi)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid port range '%s': want LO-HI within 1-65535", s);
        return 0;
}

static void port_path(char *buf, size_t n, unsigned port)
{
        snprintf(buf, n, PORTS_DIR "/%u/%u", port / 100, port);
}

/* the link target: relative, so the tree can move */
static void unit_target(char *buf, size_t n, const char *id)
{
        snprintf(buf, n, "../../../../units/%.2s/ctr-%s.service", id, id);
}

static int unit_rel(char *buf, size_t n, const char *id)
{
        return snprintf(buf, n, "units/%.2s/ctr-%s.service", id, id);
}

/* the owner of a link target, or -1 when it is not one of ours */
static int target_owner(const char *target, gear_id id)
{
        const char *p = "../../../../units/";
        size_t n = strlen(p), len;
        const char *name, *dot;

        if (strncmp(target, p, n))
                return -1;
        target += n;
        if (strlen(target) < 3 || target[2] != '/')
                return -1;
        name = target + 3;
        if (strncmp(name, "ctr-", 4) || !(dot = strrchr(name, '.')) || strcmp(dot, ".service"))
                return -1;
        len = dot - (name + 4);
        if (len > GEAR_ID_MAX)
                return -1;
        memcpy(id, name + 4, len);
        id[len] = 0;
        if (!id_valid(id) || strncmp(id, target, 2))
                return -1;
        return 0;
}

static int ports_lock(struct gear_tree *t, int op, struct gear_err *e)
{
        if (root_open(&t->ctr, ROOT_CREATE, e) < 0)
                return -1;
        return lock_dir(&t->ctr, "ports", op, e);
}

/* makes a port link change durable: fsync its block directory */
static int sync_block(struct gear_tree *t, unsigned port, struct gear_err *e)
{
        char path[64];

        port_path(path, sizeof path, port);
        return fsync_parent(&t->ctr, path, e);
}

/* a new block directory: fsync the directories above it, up to the root */
static int sync_new_block(struct gear_tree *t, struct gear_err *e)
{
        static const char *const dirs[] = { PORTS_DIR "/x", "ports/interfaces/x", "ports/x", "x" };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (fsync_parent(&t->ctr, dirs[i], e) < 0)
                        return -1;
        return 0;
}

/* 0 when made, 1 when it already was ours, -EEXIST when taken, <0 on error */
static int link_port(struct gear_tree *t, unsigned port, const char *target, struct gear_err *e)
{
        char path[64], have[PATH_MAX];
        bool made_dir = false;
        ssize_t n;

        port_path(path, sizeof path, port);
        for (int tries = 0; tries < 8; tries++) {
                if (symlinkat(target, t->ctr.fd, path) == 0)
                        return 0;
                if (errno == ENOENT && !made_dir) {
                        if (mkparent(&t->ctr, path, e) < 0)
                                return -1;
                        if (sync_new_block(t, e) < 0)
                                return -1;
                        made_dir = true;
                        continue;
                }
                if (errno != EEXIST)
                        return gear_err_sys(e, errno, "cannot create '%s/%s'", t->ctr.path, path);
                n = readlinkat(t->ctr.fd, path, have, sizeof have - 1);
                if (n < 0 && errno == ENOENT)
                        continue; /* released meanwhile: try again */
                if (n < 0)
                        return -EEXIST;
                have[n] = 0;
                return strcmp(have, target) ? -EEXIST : 1;
        }
        return -EEXIST;
}

/* removes the link of port when it still points at target */
static int unlink_port(struct gear_tree *t, unsigned port, const char *target, struct gear_err *e)
{
        char path[64], have[PATH_MAX];
        ssize_t n;

        port_path(path, sizeof path, port);
        n = readlinkat(t->ctr.fd, path, have, sizeof have - 1);
        if (n < 0)
                return errno == ENOENT || errno == EINVAL ? 0 : gear_err_sys(e, errno, "cannot read '%s/%s'", t->ctr.path, path);
        have[n] = 0;
        if (strcmp(have, target))
                return 0;
        if (unlinkat(t->ctr.fd, path, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, path);
        return 1;
}

struct linux_dirent64 {
        uint64_t d_ino;
        int64_t d_off;
        unsigned short d_reclen;
        unsigned char d_type;
        char d_name[];
};

/*
 * The used ports of one block of 100, as a bitmap. Allocation reads every
 * block below the first free port, so this is the hot path on a full host:
 * getdents64 into a stack buffer costs half the system calls of readdir(3).
 */
static void block_used(struct gear_tree *t, unsigned block, unsigned char used[100])
{
        char path[64], buf[8192] __attribute__((aligned(8)));
        _cleanup_close_ int fd = -1;
        long n;

        memset(used, 0, 100);
        snprintf(path, sizeof path, PORTS_DIR "/%u", block);
        fd = openat(t->ctr.fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
                for (long off = 0; off < n;) {
                        struct linux_dirent64 *de = (struct linux_dirent64 *)(buf + off);
                        char *end;
                        unsigned long p = strtoul(de->d_name, &end, 10);

                        if (!*end && end != de->d_name && p / 100 == block)
                                used[p % 100] = 1;
                        off += de->d_reclen;
                }
}

/* first free port from the low end of the range, block by block */
static int alloc_free(struct gear_tree *t, struct port_range r, const char *target, unsigned *out,
                      struct gear_err *e)
{
        unsigned char used[100];

        for (unsigned block = r.lo / 100; block <= r.hi / 100; block++) {
                unsigned lo = block * 100 < r.lo ? r.lo : block * 100;
                unsigned hi = block * 100 + 99 > r.hi ? r.hi : block * 100 + 99;

                block_used(t, block, used);
                for (unsigned p = lo; p <= hi; p++) {
                        if (used[p % 100])
                                continue;
                        int k = link_port(t, p, target, e);
                        if (k == -EEXIST)
                                continue; /* lost a race: keep scanning */
                        if (k < 0)
                                return k;
                        *out = p;
                        return 0;
                }
        }
        return gear_err_set(e, GEAR_EXIT_NO, "no free port in range %u-%u", r.lo, r.hi);
}

static void port_taken(struct gear_tree *t, unsigned port, struct gear_err *e)
{
        char path[64], have[PATH_MAX];
        gear_id owner;
        ssize_t n;

        port_path(path, sizeof path, port);
        n = readlinkat(t->ctr.fd, path, have, sizeof have - 1);
        if (n >= 0)
                have[n] = 0;
        if (n >= 0 && target_owner(have, owner) == 0)
                gear_err_set(e, GEAR_EXIT_NO, "port %u is taken by '%s'", port, owner);
        else
                gear_err_set(e, GEAR_EXIT_NO, "port %u is taken", port);
}

static int check_duplicates(const struct port_map *maps, size_t n, struct gear_err *e)
{
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < i; j++) {
                        if (maps[i].internal == maps[j].internal)
                                return gear_err_set(e, GEAR_EXIT_USAGE, "internal port %u given twice", maps[i].internal);
                        if (maps[i].external && maps[i].external == maps[j].external)
                                return gear_err_set(e, GEAR_EXIT_USAGE, "external port %u given twice", maps[i].external);
                }
        return 0;
}

int ports_alloc(struct gear_tree *t, const char *id, struct port_map *maps, size_t n,
                struct port_range r, struct gear_err *e)
{
        _cleanup_close_ int lock = -1;
        _cleanup_free_ bool *made = NULL;
        char target[PATH_MAX];
        size_t i;
        int k = 0;

        if (check_duplicates(maps, n, e) < 0)
                return -1;
        made = calloc(n ? n : 1, sizeof *made);
        if (!made)
                return gear_err_sys(e, ENOMEM, "cannot allocate ports");
        lock = ports_lock(t, LOCK_SH, e);
        if (lock < 0)
                return -1;
        unit_target(target, sizeof target, id);
        /* explicit ports first, so a taken one fails before anything is allocated */
        for (i = 0; i < n && k >= 0; i++) {
                if (!maps[i].external)
                        continue;
                k = link_port(t, maps[i].external, target, e);
                if (k == -EEXIST)
                        port_taken(t, maps[i].external, e);
                made[i] = k == 0;
        }
        for (i = 0; i < n && k >= 0; i++) {
                if (maps[i].external)
                        continue;
                k = alloc_free(t, r, target, &maps[i].external, e);
                made[i] = k == 0;
                if (k < 0)
                        maps[i].external = 0;
        }
        /* durable before the caller records the ports anywhere else */
        for (i = 0; i < n && k >= 0; i++)
                if (made[i] && sync_block(t, maps[i].external, e) < 0)
                        k = -1;
        if (k >= 0)
                return 0;
        /* all or nothing: undo what this call made */
        for (i = 0; i < n; i++)
                if (made[i]) {
                        struct gear_err ignore = {0};
                        unlink_port(t, maps[i].external, target, &ignore);
                }
        return -1;
}

int ports_release_some(struct gear_tree *t, const char *id, const struct port_map *maps, size_t n,
                       struct gear_err *e)
{
        char target[PATH_MAX];

        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        unit_target(target, sizeof target, id);
        for (size_t i = 0; i < n; i++) {
                int k = maps[i].external ? unlink_port(t, maps[i].external, target, e) : 0;
                if (k < 0 || (k > 0 && sync_block(t, maps[i].external, e) < 0))
                        return -1;
        }
        return 0;
}

/* calls fn for every link under ports/interfaces/1, in no particular order */
static int walk_links(struct gear_tree *t, int (*fn)(struct gear_tree *, unsigned, const char *, void *),
                      void *ud, struct gear_err *e)
{
        _cleanup_closedir_ DIR *top = NULL;
        struct dirent *b;
        int fd;

        if (dir_open_at(&t->ctr, t->ctr.fd, PORTS_DIR, &top, e) < 0)
                return -1;
        while (top && (b = readdir(top))) {
                _cleanup_closedir_ DIR *blk = NULL;
                struct dirent *de;
                char *end;
                unsigned long block = strtoul(b->d_name, &end, 10);

                if (*end || end == b->d_name)
                        continue;
                fd = openat(dirfd(top), b->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || !(blk = fdopendir(fd))) {
                        if (fd >= 0)
                                close(fd);
                        continue;
                }
                while ((de = readdir(blk))) {
                        char have[PATH_MAX];
                        unsigned long p = strtoul(de->d_name, &end, 10);
                        ssize_t n;

                        if (*end || end == de->d_name || p / 100 != block || p > PORT_MAX)
                                continue;
                        n = readlinkat(dirfd(blk), de->d_name, have, sizeof have - 1);
                        if (n < 0)
                                continue;
                        have[n] = 0;
                        if (fn(t, p, have, ud) < 0)
                                return -1;
                }
        }
        return 0;
}

struct release_ctx {
        const char *target;
        struct gear_err *e;
};

static int release_one(struct gear_tree *t, unsigned port, const char *have, void *ud)
{
        struct release_ctx *c = ud;

        if (strcmp(have, c->target))
                return 0;
        if (unlink_port(t, port, c->target, c->e) < 0)
                return -1;
        return sync_block(t, port, c->e);
}

int ports_release(struct gear_tree *t, const char *id, struct gear_err *e)
{
        _cleanup_close_ int lock = -1;
        char target[PATH_MAX];
        struct release_ctx c = { target, e };

        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        lock = ports_lock(t, LOCK_SH, e);
        if (lock < 0)
                return -1;
        unit_target(target, sizeof target, id);
        return walk_links(t, release_one, &c, e);
}

struct linked_ctx {
        const char *target;
        unsigned *v;
        size_t n;
        struct gear_err *e;
};

static int linked_one(struct gear_tree *t, unsigned port, const char *have, void *ud)
{
        struct linked_ctx *c = ud;
        unsigned *v;

        if (strcmp(have, c->target))
                return 0;
        v = realloc(c->v, (c->n + 1) * sizeof *v);
        if (!v)
                return gear_err_sys(c->e, ENOMEM, "cannot read ports");
        c->v = v;
        v[c->n++] = port;
        return 0;
}

static int by_number(const void *a, const void *b)
{
        unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

        return (x > y) - (x < y);
}

int ports_linked(struct gear_tree *t, const char *id, unsigned **ports, size_t *n, struct gear_err *e)
{
        char target[PATH_MAX];
        struct linked_ctx c = { target, NULL, 0, e };

        *ports = NULL;
        *n = 0;
        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        unit_target(target, sizeof target, id);
        if (walk_links(t, linked_one, &c, e) < 0) {
                free(c.v);
                return -1;
        }
        if (c.n > 1)
                qsort(c.v, c.n, sizeof *c.v, by_number);
        *ports = c.v;
        *n = c.n;
        return 0;
}

/* the X-PortMapping= lines of id's unit, and with backends its X-PortBackend= lines */
static int read_unit_ports(struct gear_tree *t, const char *id, bool backends, struct port_map **maps, size_t *n,
                           struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        char rel[PATH_MAX];
        int k;

        *maps = NULL;
        *n = 0;
        if (root_open(&t->ctr, 0, e) < 0)
                return -ENOENT;
        unit_rel(rel, sizeof rel, id);
        k = read_file(&t->ctr, rel, 1 << 20, &buf, NULL, e);
        if (k < 0)
                return k;
        for (char *line = buf, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                size_t k = !strncmp(line, "X-PortMapping=", 14) ? 14 :
                           backends && !strncmp(line, "X-PortBackend=", 14) ? 14 : 0;
                if (!k)
                        continue;
                struct port_map m, *p;
                if (port_spec_parse(line + k, &m, e) < 0)
                        return gear_err_wrap(e, "in '%s/%s'", t->ctr.path, rel);
                p = realloc(*maps, (*n + 1) * sizeof *p);
                if (!p)
                        return gear_err_sys(e, ENOMEM, "cannot read '%s/%s'", t->ctr.path, rel);
                *maps = p;
                p[(*n)++] = m;
        }
        return 0;
}

int unit_ports_read(struct gear_tree *t, const char *id, struct port_map **maps, size_t *n,
                    struct gear_err *e)
{
        return read_unit_ports(t, id, false, maps, n, e);
}

int unit_ports_held(struct gear_tree *t, const char *id, struct port_map **maps, size_t *n,
                    struct gear_err *e)
{
        return read_unit_ports(t, id, true, maps, n, e);
}

struct list_ctx {
        struct port_link *v;
        size_t n;
        struct gear_err *e;
};

static int list_one(struct gear_tree *t, unsigned port, const char *have, void *ud)
{
        struct list_ctx *c = ud;
        _cleanup_free_ struct port_map *maps = NULL;
        struct gear_err ignore = {0};
        struct port_link *l;
        size_t n = 0;
        int k;

        l = realloc(c->v, (c->n + 1) * sizeof *l);
        if (!l)
                return gear_err_sys(c->e, ENOMEM, "cannot list ports");
        c->v = l;
        l = &c->v[c->n++];
        *l = (struct port_link){ .external = port, .state = LINK_MISMATCH };
        if (target_owner(have, l->id) < 0) {
                strcpy(l->id, "-");
                l->state = LINK_FOREIGN;
                return 0;
        }
        k = unit_ports_held(t, l->id, &maps, &n, &ignore);
        if (k == -ENOENT) {
                l->state = LINK_GONE;
                return 0;
        }
        for (size_t i = 0; k >= 0 && i < n; i++)
                if (maps[i].external == port) {
                        l->internal = maps[i].internal;
                        l->state = LINK_OK;
                }
        return 0;
}

static int by_port(const void *a, const void *b)
{
        const struct port_link *x = a, *y = b;

        return (x->external > y->external) - (x->external < y->external);
}

int ports_list(struct gear_tree *t, struct port_link **links, size_t *n, struct gear_err *e)
{
        struct list_ctx c = { .e = e };

        *links = NULL;
        *n = 0;
        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        if (walk_links(t, list_one, &c, e) < 0) {
                free(c.v);
                return -1;
        }
        if (c.n)
                qsort(c.v, c.n, sizeof *c.v, by_port);
        *links = c.v;
        *n = c.n;
        return 0;
}

static const char *const link_state_name[] = {
        [LINK_OK] = "ok", [LINK_GONE] = "gone", [LINK_MISMATCH] = "mismatch", [LINK_FOREIGN] = "foreign",
};

const char *port_link_state(int state)
{
        return link_state_name[state];
}

/* links claimed by units that do not point back at them */
static int check_units(struct gear_tree *t, int flags, port_report_fn report, void *ud, struct gear_err *e)
{
        _cleanup_free_ gear_id *ids = NULL;
        size_t nids;
        int bad = 0;

        if (container_list(t, &ids, &nids, e) < 0)
                return -1;
        for (size_t j = 0; j < nids; j++) {
                _cleanup_free_ struct port_map *maps = NULL;
                struct gear_err ignore = {0};
                char target[PATH_MAX], have[PATH_MAX], path[64];
                size_t n = 0;

                if (unit_ports_held(t, ids[j], &maps, &n, &ignore) < 0)
                        continue;
                unit_target(target, sizeof target, ids[j]);
                for (size_t i = 0; i < n; i++) {
                        const char *action = NULL;
                        ssize_t k;

                        port_path(path, sizeof path, maps[i].external);
                        k = readlinkat(t->ctr.fd, path, have, sizeof have - 1);
                        /* a link to another unit: that side reports it as a mismatch */
                        if (k >= 0)
                                continue;
                        bad++;
                        if (flags & CHECK_REPAIR) {
                                int r = link_port(t, maps[i].external, target, e);
                                if (r < 0 && r != -EEXIST)
                                        return -1;
                                action = r >= 0 ? "restored" : "kept";
                                if (r >= 0)
                                        bad--;
                        }
                        report(maps[i].external, ids[j], "missing", action, ud);
                }
        }
        return bad;
}

int ports_check(struct gear_tree *t, int flags, port_report_fn report, void *ud, struct gear_err *e)
{
        _cleanup_close_ int lock = -1;
        _cleanup_free_ struct port_link *links = NULL;
        size_t n;
        int bad = 0, k;

        if (root_open(&t->ctr, 0, e) < 0)
                return e->code == GEAR_EXIT_NO ? (gear_err_clear(e), 0) : -1;
        lock = ports_lock(t, flags & (CHECK_REPAIR | CHECK_GONE_ONLY) ? LOCK_EX : LOCK_SH, e);
        if (lock < 0 || ports_list(t, &links, &n, e) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                struct port_link *l = &links[i];
                const char *action = NULL;
                char path[64];

                if (l->state == LINK_OK || ((flags & CHECK_GONE_ONLY) && l->state != LINK_GONE))
                        continue;
                bad++;
                if (flags & (CHECK_REPAIR | CHECK_GONE_ONLY)) {
                        action = "removed";
                        port_path(path, sizeof path, l->external);
                        if (!(flags & CHECK_DRY_RUN) && unlinkat(t->ctr.fd, path, 0) < 0 && errno != ENOENT)
                                return gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, path);
                        if (!(flags & CHECK_DRY_RUN))
                                bad--;
                }
                report(l->external, l->id, port_link_state(l->state), action, ud);
        }
        if (flags & CHECK_GONE_ONLY)
                return bad;
        k = check_units(t, flags, report, ud, e);
        return k < 0 ? -1 : bad + k;
}
