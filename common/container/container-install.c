/*
 * gear-install and gear-delete in the trees. An install happens in this
 * order, each step durable before the next:
 *
 *   ports      the port links (they point at the unit path, which does not
 *              exist yet or still lists the old ports: "gone"/"mismatch")
 *   user       the container's user (--isolate)
 *   gear       for a Gear image: its gear-fs unit and the container's overlay
 *              directories (left behind by a failed install of a new one)
 *   version    units/<ab>/<ID>/<requestid>
 *   env        the environment file; one that exists and changes is first
 *              copied to units/<ab>/<ID>/.env-before (install-env.c)
 *   enable     UNITDIR/ctr-<ID>.service (dangling until the commit)
 *   commit     units/<ab>/ctr-<ID>.service swapped to the new version
 *   check      with a manager: reloaded as needed, it must load the unit (and
 *              the gear-fs unit), or the commit is undone with the rest
 *   boot       the start-on-boot link, when the unit says so
 *   release    ports the new version no longer lists
 *
 * Before the commit the container is what it was; after it, it is the new
 * one. A kill before the commit leaves only what no command mistakes for
 * state: a version file that is not current, port links that gear-ports
 * check reports as gone or mismatch, a dangling link in the unit directory,
 * and the environment file, which is written before the commit, with the
 * copy of what it held: the next install or delete, or gear-clean, puts it
 * back (ctr_env_settle). A kill after the commit may leave the boot link or
 * the release of dropped ports undone: running the same install again, or
 * gear-init, finishes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container-gear.h"
#include "container-run.h"
#include "../base/config.h"
#include "../base/fsutil.h"
#include "../keys/keys.h"
#include "../systemd/unit.h"

static bool name_valid(const char *s)
{
        return id_valid(s) || (strlen(s) >= 1 && strlen(s) < GEAR_ID_MIN && s[0] != '.' && s[0] != '-' &&
                               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == strlen(s));
}

int ctr_volume_parse(const char *spec, struct ctr_volume *v, struct gear_err *e)
{
        _cleanup_free_ char *copy = strdup(spec);
        char *source, *target, *opt;

        memset(v, 0, sizeof *v);
        if (!copy)
                return gear_err_sys(e, ENOMEM, "cannot parse volume '%s'", spec);
        source = copy;
        target = strchr(source, ':');
        if (!target)
                goto bad;
        *target++ = 0;
        opt = strchr(target, ':');
        if (opt) {
                *opt++ = 0;
                if (!strcmp(opt, "ro"))
                        v->ro = true;
                else if (strcmp(opt, "rw"))
                        goto bad;
        }
        if (*target != '/' || strstr(target, "/../") || strchr(target, ',') || strchr(target, '\n'))
                goto bad;
        if (*source == '/') {
                if (strchr(source, ',') || strchr(source, '\n') || strstr(source, "/../"))
                        goto bad;
        } else if (name_valid(source)) {
                snprintf(v->name, sizeof v->name, "%s", source);
        } else
                goto bad;
        v->source = strdup(source);
        v->target = strdup(target);
        if (!v->source || !v->target)
                return gear_err_sys(e, ENOMEM, "cannot parse volume '%s'", spec);
        return 0;
bad:
        return gear_err_set(e, GEAR_EXIT_USAGE,
                            "invalid volume '%s': want NAME:PATH or /HOST/PATH:PATH, then :ro or :rw", spec);
}

void ctr_volume_done(struct ctr_volume *v)
{
        free(v->source);
        free(v->target);
        v->source = v->target = NULL;
}

static bool has_external(const struct port_map *m, size_t n, unsigned external)
{
        for (size_t i = 0; i < n; i++)
                if (m[i].external == external)
                        return true;
        return false;
}

struct install_state {
        struct port_map *fresh;     /* ports this call reserved */
        size_t nfresh;
        struct port_map *stale;     /* old ports the new version drops */
        size_t nstale;
        char version[PATH_MAX];     /* written, not yet current */
        char *env_old;              /* the environment before, to put back */
        size_t env_old_len;
        bool env_written, env_existed, linked;
        bool env_saved;             /* units/<ab>/<ID>/.env-before written */
        int env_lock;               /* env_lock, held from the env step to the check or the rollback */
        bool made_dir;              /* units/<ab>/<ID> made by this call */
        bool interrupted;           /* an earlier install did not finish */
        bool checked;               /* the manager was asked to load the new unit */
        char env_rel[ENV_PATH_MAX];
        char flag[CTR_PATH_MAX];    /* units/<ab>/<ID>/.installing */
        struct net_link *links_old; /* the links before, to put back */
        size_t nlinks_old;
        bool links_written;
};

static void install_state_done(struct install_state *s)
{
        free(s->fresh);
        free(s->stale);
        free(s->env_old);
        free(s->links_old);
        if (s->env_lock >= 0)
                close(s->env_lock);
        s->env_lock = -1;
}

/* undoes what an install did before its commit */
static void rollback(struct gear_tree *t, const char *id, struct install_state *s)
{
        struct gear_err ignore = {0};

        if (s->linked) {
                char name[CTR_PATH_MAX];
                container_unit_name(id, name);
                unlinkat(t->units.fd, name, 0);
        }
        if (s->env_written) {
                /* under the lock held since it was read: no other change to put back over */
                env_restore(t, s->env_rel, s->env_existed ? (s->env_old ? s->env_old : "") : NULL,
                            s->env_old_len, &ignore);
        }
        if (s->links_written)
                links_write(t, id, s->links_old, s->nlinks_old, &ignore);
        /* once the environment is back: a kill before leaves the copy to put it back */
        if (s->env_saved)
                ctr_env_saved_drop(t, id);
        if (*s->version)
                unlinkat(t->ctr.fd, s->version, 0);
        if (s->nfresh)
                ports_release_some(t, id, s->fresh, s->nfresh, &ignore);
        if (*s->flag && !s->interrupted)
                unlinkat(t->ctr.fd, s->flag, 0);
        if (s->made_dir) {
                char dir[CTR_PATH_MAX];
                container_versions_rel(id, dir);
                unlinkat(t->ctr.fd, dir, AT_REMOVEDIR);
        }
}

/* a commit the manager refused: the old version current again, or none */
static void uncommit(struct gear_tree *t, const char *id, const char *old_request_id)
{
        struct gear_err ignore = {0};
        char unit[CTR_PATH_MAX];

        if (old_request_id && *old_request_id && container_commit(t, id, old_request_id, &ignore) == 0)
                return;
        gear_err_clear(&ignore);
        container_unit_rel(id, unit);
        if (!old_request_id && unlinkat(t->ctr.fd, unit, 0) == 0)
                fsync_parent(&t->ctr, unit, &ignore);
        gear_err_clear(&ignore);
}

/*
 * units/<ab>/<ID>/.installing exists while an install runs, so the next
 * install knows when one was interrupted and looks for the ports it left.
 * Not synced: a kill leaves it in the page cache, and after a power loss the
 * cost of losing it is ports that gear-ports check reports.
 */
static int flag_install(struct gear_tree *t, const char *id, struct install_state *s, struct gear_err *e)
{
        char dir[CTR_PATH_MAX];
        int fd;

        container_versions_rel(id, dir);
        container_flag_rel(id, s->flag);
        if (mkdirat(t->ctr.fd, dir, 0755) == 0)
                s->made_dir = true;
        else if (errno != EEXIST)
                return gear_err_sys(e, errno, "cannot create '%s/%s'", t->ctr.path, dir);
        fd = openat(t->ctr.fd, s->flag, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
                return gear_err_sys(e, errno, "cannot create '%s/%s'", t->ctr.path, s->flag);
        s->interrupted = fd < 0;
        if (fd >= 0)
                close(fd);
        return 0;
}

/* the old version's metadata and whether it starts on boot; 0 when there is none */
static int read_old(struct gear_tree *t, const char *id, struct unit_meta *old, bool *boot, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = container_read_unit(t, id, &text, e);
        if (r == -ENOENT) {
                gear_err_clear(e);
                return 0;
        }
        if (r < 0)
                return -1;
        if (unit_parse_meta(text, old, e) < 0)
                return gear_err_wrap(e, "in the unit of '%s'", id);
        *boot = container_boot_recorded(t, id, e) > 0;
        return 1;
}

/*
 * Ports linked to id that its unit does not list: left by an install that
 * was interrupted. Those in the range are reused first, so that running the
 * same install again gives the same ports; the others are released after the
 * commit. Looked for (a walk of every port link) only after an interrupted
 * install, so that an install costs the same on a full host.
 */
static int orphan_ports(struct gear_tree *t, const char *id, const struct unit_meta *old, unsigned **out, size_t *n,
                        struct gear_err *e)
{
        size_t m = 0;

        if (ports_linked(t, id, out, n, e) < 0)
                return -1;
        for (size_t i = 0; i < *n; i++) {
                bool listed = false;
                for (size_t j = 0; j < old->n_ports; j++)
                        listed |= old->ports[j].external == (*out)[i];
                if (!listed)
                        (*out)[m++] = (*out)[i];
        }
        *n = m;
        return 0;
}

/* ports: kept where the mapping is unchanged, the rest reserved now */
static int reserve_ports(struct gear_tree *t, struct ctr_install *in, const struct unit_meta *old,
                         struct install_state *s, struct gear_err *e)
{
        _cleanup_free_ unsigned *orphans = NULL;
        size_t n = in->nports, norphans = 0;

        for (size_t i = 0; i < n; i++) {
                if (in->ports[i].external)
                        continue;
                for (size_t j = 0; j < old->n_ports; j++)
                        if (old->ports[j].internal == in->ports[i].internal)
                                in->ports[i].external = old->ports[j].external;
        }
        if (s->interrupted && (n || old->n_ports) && orphan_ports(t, in->id, old, &orphans, &norphans, e) < 0)
                return -1;
        for (size_t i = 0, next = 0; i < n; i++) {
                if (in->ports[i].external)
                        continue;
                while (next < norphans && (has_external(in->ports, n, orphans[next]) ||
                                           orphans[next] < in->range.lo || orphans[next] > in->range.hi))
                        next++;
                if (next < norphans)
                        in->ports[i].external = orphans[next++];
        }
        s->fresh = calloc(n ? n : 1, sizeof *s->fresh);
        s->stale = calloc(old->n_ports + norphans + 1, sizeof *s->stale);
        if (!s->fresh || !s->stale)
                return gear_err_sys(e, ENOMEM, "cannot allocate ports");
        if (n && ports_alloc(t, in->id, in->ports, n, in->range, e) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                bool kept = false;
                for (size_t j = 0; j < old->n_ports; j++)
                        kept |= old->ports[j].external == in->ports[i].external;
                if (!kept)
                        s->fresh[s->nfresh++] = in->ports[i];
        }
        for (size_t j = 0; j < old->n_ports; j++)
                if (!has_external(in->ports, n, old->ports[j].external))
                        s->stale[s->nstale++] = (struct port_map){ old->ports[j].internal, old->ports[j].external };
        for (size_t j = 0; j < norphans; j++)
                if (!has_external(in->ports, n, orphans[j]))
                        s->stale[s->nstale++] = (struct port_map){ 0, orphans[j] };
        return 0;
}

/* named volumes: data/<ab>/<ID>/<NAME>, owned by the container's user */
static int make_volumes(struct gear_tree *t, struct ctr_install *in, const char ***specs, struct gear_err *e)
{
        const char **v = calloc(in->nvolumes + 1, sizeof *v);

        if (!v)
                return gear_err_sys(e, ENOMEM, "cannot prepare volumes");
        *specs = v;
        for (size_t i = 0; i < in->nvolumes; i++) {
                struct ctr_volume *vol = &in->volumes[i];
                char rel[PATH_MAX], *spec;

                if (*vol->name) {
                        /* root-only above the volume: what the container writes is its own */
                        snprintf(rel, sizeof rel, "data/%.2s/%s", in->id, in->id);
                        if (mkdir_private_at(t->ctr.fd, "data", e) < 0 || mkdir_private_at(t->ctr.fd, rel, e) < 0)
                                return gear_err_wrap(e, "in '%s'", t->ctr.path);
                        snprintf(rel, sizeof rel, "data/%.2s/%s/%s", in->id, in->id, vol->name);
                        if (mkdir_p_at(t->ctr.fd, rel, 0755, e) < 0)
                                return gear_err_wrap(e, "in '%s'", t->ctr.path);
                        if (in->isolate && fchownat(t->ctr.fd, rel, in->user.uid, in->user.gid, 0) < 0)
                                return gear_err_sys(e, errno, "cannot give '%s/%s' to '%s'", t->ctr.path, rel,
                                                    in->user.name);
                        if (asprintf(&spec, "%s/%s:%s%s", t->ctr.path, rel, vol->target, vol->ro ? ":ro" : "") < 0)
                                return gear_err_sys(e, ENOMEM, "cannot prepare volumes");
                } else if (asprintf(&spec, "%s:%s%s", vol->source, vol->target, vol->ro ? ":ro" : "") < 0)
                        return gear_err_sys(e, ENOMEM, "cannot prepare volumes");
                v[i] = spec;
        }
        return 0;
}

static void specs_free(const char **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free((char *)v[i]);
        free(v);
}

/*
 * Written into the .installing flag before the install makes the
 * container's own environment file, so that gear-clean, finding the
 * flag of a new container that an install killed before its commit,
 * removes the file with the rest and never one that was there before.
 */
static void flag_env_made(struct gear_tree *t, struct ctr_install *in)
{
        struct gear_err ignore = {0};

        if (in->env_id && strcmp(in->env_id, in->id))
                return;
        /* a failed write only makes gear-clean leave the file: nothing is lost */
        ctr_flag_append(t, in->id, CTR_FLAG_ENV "\n", false, &ignore);
        gear_err_clear(&ignore);
}

/* the environment file: --env-id's, or the container's own (created empty when missing) */
static int write_env(struct gear_tree *t, struct ctr_install *in, struct install_state *s, struct gear_err *e)
{
        const char *envid = in->env_id ? in->env_id : in->id;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t len;
        int r;

        env_path(envid, s->env_rel);
        /*
         * Held until the commit or the rollback, so that what is put back is
         * what was there: no other install or gear-set-env writes in between
         * (and so reads what this one may undo, or has its change undone).
         */
        s->env_lock = env_lock(t, envid, e);
        if (s->env_lock < 0)
                return -1;
        if (!in->env) {
                if (fstatat(t->ctr.fd, s->env_rel, &st, 0) == 0)
                        return 0;
                if (errno != ENOENT)
                        return gear_err_sys(e, errno, "cannot read '%s/%s'", t->ctr.path, s->env_rel);
                if (in->env_id)
                        return gear_err_set(e, GEAR_EXIT_NO, "no environment '%s'", in->env_id);
                flag_env_made(t, in);
                s->env_written = true;
                return env_restore(t, s->env_rel, "", 0, e);
        }
        r = env_read(t, envid, &s->env_old, &s->env_old_len, e);
        if (r < 0 && r != -ENOENT)
                return -1;
        gear_err_clear(e);
        s->env_existed = r == 0;
        if (env_compose(t, envid, in->env, true, &text, &len, e) < 0)
                return -1;
        if (!s->env_existed) {
                flag_env_made(t, in);
        } else {
                /* the old unit must not run with the new environment: what undoes it, first */
                s->env_saved = true;
                if (ctr_env_save(t, in->id, in->request_id, envid, s->env_old ? s->env_old : "", s->env_old_len,
                                 text, len, e) < 0)
                        return -1;
        }
        s->env_written = true;
        return env_restore(t, s->env_rel, text, len, e);
}

static int render(struct gear_tree *t, struct ctr_install *in, const char **volumes, bool boot, char **text,
                  struct gear_err *e)
{
        _cleanup_(config_done) struct gear_config conf = {0};
        _cleanup_(ctr_gear_done) struct ctr_gear gear = {0};
        _cleanup_free_ struct unit_port *ports = NULL;
        _cleanup_free_ char *raw = NULL;
        char env_file[PATH_MAX + ENV_PATH_MAX], user[64], rel[ENV_PATH_MAX];

        if (config_load(&conf, t, e) < 0)
                return -1;
        if (ctr_gear_image(in->image) && ctr_gear_prepare(t, &conf, in->image, in->id, &gear, e) < 0)
                return -1;
        snprintf(in->mount_unit, sizeof in->mount_unit, "%s", gear.mount_unit);
        in->mount_changed = gear.mount_changed;
        ports = calloc(in->nports ? in->nports : 1, sizeof *ports);
        if (!ports)
                return gear_err_sys(e, ENOMEM, "cannot render the unit");
        for (size_t i = 0; i < in->nports; i++)
                ports[i] = (struct unit_port){ in->ports[i].internal, in->ports[i].external };
        env_path(in->env_id ? in->env_id : in->id, rel);
        snprintf(env_file, sizeof env_file, "%s/%s", t->ctr.path, rel);
        snprintf(user, sizeof user, "%u:%u", (unsigned)in->user.uid, (unsigned)in->user.gid);
        struct unit_spec spec = {
                .id = in->id,
                .image = in->image,
                .request_id = in->request_id,
                .ports = ports,
                .n_ports = in->nports,
                .env_file = env_file,
                .user = in->isolate ? user : NULL,
                .mcs_level = in->isolate ? in->user.level : NULL,
                .volumes = volumes,
                .n_volumes = in->nvolumes,
                .slice = in->slice,
                .conf = &conf,
                .sysroot = t->sysroot,
                .gear = ctr_gear_image(in->image) ? &gear.unit : NULL,
        };
        if (unit_render(&spec, &raw, NULL, e) < 0)
                return -1;
        *text = unit_text_boot(raw, boot);
        if (!*text)
                return gear_err_sys(e, ENOMEM, "cannot render the unit");
        return 0;
}

static int install_locked(struct gear_tree *t, struct ctr_install *in, struct install_state *s, struct gear_err *e)
{
        _cleanup_close_ int ports_lock = -1;
        _cleanup_free_ char *text = NULL;
        const char **volumes = NULL;
        struct unit_meta old = {0};
        bool boot = false;
        int r;

        r = read_old(t, in->id, &old, &boot, e);
        if (r < 0)
                return -1;
        in->updated = r > 0;
        boot = boot || in->start;
        if (in->env_id && !in->env) {
                char rel[ENV_PATH_MAX];
                struct stat st;
                env_path(in->env_id, rel);
                if (fstatat(t->ctr.fd, rel, &st, 0) < 0)
                        return gear_err_set(e, GEAR_EXIT_NO, "no environment '%s'", in->env_id);
        }
        /* held until the commit: a repair must not take links whose unit is being written */
        ports_lock = lock_dir(&t->ctr, "ports", LOCK_SH, e);
        if (ports_lock < 0 || flag_install(t, in->id, s, e) < 0)
                return -1;
        /* an environment an interrupted install changed without its commit goes back first */
        if (s->interrupted && ctr_env_settle(t, in->id, false, e) < 0)
                return -1;
        if (reserve_ports(t, in, &old, s, e) < 0)
                return -1;
        container_crash_point("ports");
        if (in->isolate) {
                if (isolate_user_ensure(in->id, &in->user, e) < 0)
                        return -1;
                container_crash_point("user");
        }
        if (container_request_id(in->request_id, e) < 0)
                return -1;
        r = make_volumes(t, in, &volumes, e);
        if (r == 0)
                r = render(t, in, volumes, boot, &text, e);
        specs_free(volumes, in->nvolumes);
        if (r < 0)
                return -1;
        snprintf(s->version, sizeof s->version, "units/%.2s/%s/%s", in->id, in->id, in->request_id);
        if (container_write_version(t, in->id, text, in->request_id, e) < 0) {
                *s->version = 0;
                return -1;
        }
        if (write_env(t, in, s, e) < 0)
                return -1;
        container_crash_point("env");
        container_pause_point("install:after-env");
        if (in->set_links) {
                if (links_read(t, in->id, &s->links_old, &s->nlinks_old, e) < 0)
                        return -1;
                s->links_written = true;
                if (links_write(t, in->id, in->links, in->nlinks, e) < 0)
                        return -1;
        }
        if (container_link_shared(t, e) < 0)
                return -1;
        /* a new container's link dangles until the commit; an update's is there already */
        s->linked = !in->updated;
        if (container_enable(t, in->id, false, e) < 0)
                return -1;
        container_crash_point("enable");
        if (container_commit(t, in->id, in->request_id, e) < 0)
                return -1;
        if (in->manager) {
                s->checked = true;
                if (container_check_loads(in->manager, in->id, in->mount_unit, in->mount_changed, e) < 0) {
                        uncommit(t, in->id, in->updated ? old.request_id : NULL);
                        return -1;
                }
        }
        /* committed: nothing is rolled back from here on */
        if (s->env_saved)
                ctr_env_saved_drop(t, in->id);
        s->env_saved = false;
        *s->version = 0;
        s->env_written = s->linked = s->made_dir = s->links_written = false;
        s->nfresh = 0;
        if (s->env_lock >= 0)
                close(s->env_lock);
        s->env_lock = -1;
        /* a failure from here leaves the flag: the next install finishes the job */
        s->interrupted = true;
        container_crash_point("commit");
        if (boot && container_enable(t, in->id, true, e) < 0)
                return -1;
        container_crash_point("boot");
        if (s->nstale && ports_release_some(t, in->id, s->stale, s->nstale, e) < 0)
                return -1;
        container_crash_point("release");
        if (unlinkat(t->ctr.fd, s->flag, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, s->flag);
        return 0;
}

int container_install(struct gear_tree *t, struct ctr_install *in, struct gear_err *e)
{
        const char *image = in->image;
        char gimage[PATH_MAX];
        struct install_state s = { .env_lock = -1 };
        _cleanup_close_ int lock = -1;
        int r;

        if (!id_valid(in->id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", in->id);
        if (!in->image || !*in->image)
                return gear_err_set(e, GEAR_EXIT_USAGE, "missing image");
        if (!strcmp(in->image, in->id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "image '%s' is the container's own id", in->image);
        if (in->env_id && !id_valid(in->env_id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid environment id '%s'", in->env_id);
        if (in->nports > UNIT_MAX_PORTS)
                return gear_err_set(e, GEAR_EXIT_USAGE, "more than %d ports", UNIT_MAX_PORTS);
        if (root_open(&t->ctr, ROOT_CREATE, e) < 0 || root_open(&t->units, ROOT_CREATE, e) < 0)
                return -1;
        lock = container_lock(t, in->id, e);
        if (lock < 0)
                return -1;
        if ((r = ctr_gear_resolve(t, in->image, gimage, sizeof gimage, e)) < 0)
                return -1;
        if (r > 0)
                in->image = gimage;
        r = install_locked(t, in, &s, e);
        in->image = image;
        if (r < 0) {
                rollback(t, in->id, &s);
                install_state_done(&s);
                /* the manager forgets the unit it refused, or takes the old one back */
                if (s.checked) {
                        struct gear_err ignore = {0};
                        systemd_reload(in->manager, &ignore);
                        gear_err_clear(&ignore);
                }
                return r;
        }
        install_state_done(&s);
        return 0;
}

int container_remove(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char rel[PATH_MAX];
        int existed;

        if (!id_valid(id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
        if (root_open(&t->ctr, 0, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return container_unlink(t, id, e) < 0 ? -1 : 0;
        }
        existed = container_exists(t, id, e);
        if (existed < 0)
                return -1;
        /* a shared environment an interrupted install changed goes back to the others */
        if (ctr_env_settle(t, id, false, e) < 0)
                return -1;
        /* its SSH access before anything else: a kill never leaves access without its container */
        if (keys_drop_container(t, id, e) < 0)
                return -1;
        /*
         * gone first, then its leftovers, links into the unit directory first: a kill
         * never leaves a container that systemd cannot see, only what gear-clean explains
         */
        container_unit_rel(id, rel);
        if (unlinkat(t->ctr.fd, rel, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, rel);
        if (fsync_parent(&t->ctr, rel, e) < 0)
                return -1;
        container_crash_point("unit-removed");
        if (container_unlink(t, id, e) < 0)
                return -1;
        container_crash_point("unlinked");
        if (ports_release(t, id, e) < 0 || links_write(t, id, NULL, 0, e) < 0)
                return -1;
        container_versions_rel(id, rel);
        if (rm_tree(t->ctr.fd, rel, e) < 0)
                return gear_err_wrap(e, "in '%s'", t->ctr.path);
        container_idle_rel(id, rel);
        if (unlinkat(t->ctr.fd, rel, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, rel);
        /* the container's own environment; shared ones (--env-id) stay for the others */
        env_path(id, rel);
        if (unlinkat(t->ctr.fd, rel, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, rel);
        snprintf(rel, sizeof rel, "data/%.2s/%s", id, id);
        if (rm_tree(t->ctr.fd, rel, e) < 0)
                return gear_err_wrap(e, "in '%s'", t->ctr.path);
        if (isolate_user_remove(id, e) < 0)
                return -1;
        /* the overlay of a container run from a Gear image */
        if (ctr_gear_remove(t, id, e) < 0)
                return -1;
        return existed;
}
