/*
 * gear-install in the trees (gear-delete: container-remove.c). An install happens in this
 * order, each step durable before the next:
 *
 *   ports      the port links (they point at the unit path, which does not
 *              exist yet or still lists the old ports: "gone"/"mismatch"),
 *              and the loopback backends of an idle-capable container
 *   user       the container's user (--isolate)
 *   gear       for a Gear image: its gear-fs unit and the container's overlay
 *              directories (left behind by a failed install of a new one)
 *   version    units/<ab>/<ID>/<requestid>
 *   env        the environment file; one that exists and changes is first
 *              copied to units/<ab>/<ID>/.env-before (install-env.c)
 *   enable     UNITDIR/ctr-<ID>.service (dangling until the commit)
 *   commit     units/<ab>/ctr-<ID>.service swapped to the new version
 *   idle       the socket and proxy units the new version calls for (see
 *              container-idle.h), those it drops removed
 *   check      with a manager: reloaded as needed, it must load the unit (and
 *              the gear-fs unit, and the idle units), or the commit is undone
 *              with the rest, the idle units following the unit current again
 *   boot       the start-on-boot links, when the unit says so: the sockets',
 *              and the service's unless it is flagged idle
 *   release    ports the new version no longer lists
 *
 * Before the commit the container is what it was; after it, it is the new
 * one. A kill before the commit leaves only what no command mistakes for
 * state: a version file that is not current, port links that gear-ports
 * check reports as gone or mismatch, a dangling link in the unit directory,
 * and the environment file, which is written before the commit, with the
 * copy of what it held: the next install or delete, or gear-clean, puts it
 * back (ctr_env_settle). A kill after the commit may leave the idle units,
 * the boot links or the release of dropped ports undone: running the same
 * install again, or gear-init, finishes them.
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
#include "container-idle.h"
#include "container-run.h"
#include "../base/config.h"
#include "../base/fsutil.h"
#include "../systemd/unit.h"

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
        char *old_text;             /* the unit before */
        struct port_map *reused;    /* reuse_unit: the ports of the unit before */
        bool idle;                  /* the new version is idle-capable */
};

static void install_state_done(struct install_state *s)
{
        free(s->fresh);
        free(s->stale);
        free(s->env_old);
        free(s->links_old);
        free(s->old_text);
        free(s->reused);
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

/* the old version, its metadata and whether it starts on boot; 0 when there is none */
static int read_old(struct gear_tree *t, const char *id, struct unit_meta *old, bool *boot, char **text,
                    struct gear_err *e)
{
        int r;

        r = container_read_unit(t, id, text, e);
        if (r == -ENOENT) {
                gear_err_clear(e);
                return 0;
        }
        if (r < 0)
                return -1;
        if (unit_parse_meta(*text, old, e) < 0)
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
                for (size_t j = 0; j < old->n_backends; j++)
                        listed |= old->backends[j].external == (*out)[i];
                if (!listed)
                        (*out)[m++] = (*out)[i];
        }
        *n = m;
        return 0;
}

/* whether the old version holds port: an external or a backend */
static bool held_before(const struct unit_meta *old, unsigned port)
{
        for (size_t j = 0; j < old->n_ports; j++)
                if (old->ports[j].external == port)
                        return true;
        for (size_t j = 0; j < old->n_backends; j++)
                if (old->backends[j].external == port)
                        return true;
        return false;
}

/*
 * Ports, and the loopback backends of an idle-capable container (after the
 * externals, one each): kept where the mapping of an internal port is
 * unchanged, the rest reserved now.
 */
static int reserve_ports(struct gear_tree *t, struct ctr_install *in, const struct unit_meta *old,
                         struct install_state *s, struct gear_err *e)
{
        _cleanup_free_ unsigned *orphans = NULL;
        _cleanup_free_ struct port_map *all = NULL;
        size_t n = in->nports, total = s->idle ? 2 * n : n, norphans = 0;

        all = calloc(total + 1, sizeof *all);
        if (!all)
                return gear_err_sys(e, ENOMEM, "cannot allocate ports");
        for (size_t i = 0; i < n; i++) {
                all[i] = in->ports[i];
                for (size_t j = 0; !in->ports[i].external && j < old->n_ports; j++)
                        if (old->ports[j].internal == in->ports[i].internal)
                                all[i].external = old->ports[j].external;
        }
        for (size_t i = 0; i < n && s->idle; i++) {
                unsigned b = unit_meta_backend(old, &(struct unit_port){ in->ports[i].internal, 0 });

                /* an external given now may be what was a backend */
                all[n + i] = (struct port_map){ in->ports[i].internal, has_external(all, n, b) ? 0 : b };
        }
        if (s->interrupted && (n || old->n_ports) && orphan_ports(t, in->id, old, &orphans, &norphans, e) < 0)
                return -1;
        for (size_t i = 0, next = 0; i < total; i++) {
                if (all[i].external)
                        continue;
                while (next < norphans && (has_external(all, total, orphans[next]) ||
                                           orphans[next] < in->range.lo || orphans[next] > in->range.hi))
                        next++;
                if (next < norphans)
                        all[i].external = orphans[next++];
        }
        s->fresh = calloc(total + 1, sizeof *s->fresh);
        s->stale = calloc(old->n_ports + old->n_backends + norphans + 1, sizeof *s->stale);
        if (!s->fresh || !s->stale)
                return gear_err_sys(e, ENOMEM, "cannot allocate ports");
        /* a backend has the internal port of its external: one call for each */
        for (size_t half = 0; n && half < total; half += n) {
                if (ports_alloc(t, in->id, all + half, n, in->range, e) < 0)
                        return -1;
                for (size_t i = half; i < half + n; i++)
                        if (!held_before(old, all[i].external))
                                s->fresh[s->nfresh++] = all[i];
        }
        for (size_t j = 0; j < old->n_ports; j++)
                if (!has_external(all, total, old->ports[j].external))
                        s->stale[s->nstale++] = (struct port_map){ old->ports[j].internal, old->ports[j].external };
        for (size_t j = 0; j < old->n_backends; j++)
                if (!has_external(all, total, old->backends[j].external))
                        s->stale[s->nstale++] = (struct port_map){ old->backends[j].internal, old->backends[j].external };
        for (size_t j = 0; j < norphans; j++)
                if (!has_external(all, total, orphans[j]))
                        s->stale[s->nstale++] = (struct port_map){ 0, orphans[j] };
        for (size_t i = 0; i < n; i++) {
                in->ports[i].external = all[i].external;
                in->backends[i] = s->idle ? all[n + i].external : 0;
        }
        return 0;
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

/* reuse_unit: the unit as it is, a new version of it */
static int render_reused(struct ctr_install *in, struct install_state *s, bool boot, char **text,
                         struct gear_err *e)
{
        _cleanup_free_ char *booted = unit_text_boot(s->old_text, boot);

        if (!booted || !(*text = unit_text_set(booted, "X-ContainerRequestId=", in->request_id, "[Unit]")))
                return gear_err_sys(e, ENOMEM, "cannot rewrite the unit of '%s'", in->id);
        return 0;
}

/* the --publish= and idle lines of the text for the ports (and backends) reserved */
static int set_idle_lines(struct gear_tree *t, struct ctr_install *in, struct install_state *s,
                          const char *timeout, char **text, struct gear_err *e)
{
        _cleanup_(config_done) struct gear_config conf = {0};
        _cleanup_free_ struct unit_port *ports = calloc(in->nports + 1, sizeof *ports);
        char *out = NULL;

        if (!ports)
                return gear_err_sys(e, ENOMEM, "cannot render the unit");
        if (config_load(&conf, t, e) < 0)
                return -1;
        for (size_t i = 0; i < in->nports; i++)
                ports[i] = (struct unit_port){ in->ports[i].internal, in->ports[i].external };
        struct unit_idle idle = {
                .id = in->id, .ports = ports, .backends = s->idle ? in->backends : NULL, .n_ports = in->nports,
                .timeout = timeout, .publish_address = conf.publish_address,
        };
        if (unit_text_idle(*text, &idle, &out, e) < 0)
                return -1;
        free(*text);
        *text = out;
        return 0;
}

/* reuse_unit: the ports, image and idle timeout of the unit as it is */
static int take_old(struct ctr_install *in, const struct unit_meta *old, struct install_state *s, struct gear_err *e)
{
        if (!in->updated)
                return gear_err_set(e, GEAR_EXIT_NO, "no container '%s'", in->id);
        s->reused = calloc(old->n_ports + 1, sizeof *s->reused);
        if (!s->reused)
                return gear_err_sys(e, ENOMEM, "cannot read the unit of '%s'", in->id);
        for (size_t i = 0; i < old->n_ports; i++)
                s->reused[i] = (struct port_map){ old->ports[i].internal, old->ports[i].external };
        in->ports = s->reused;
        in->nports = old->n_ports;
        in->image = old->image;
        return 0;
}

/*
 * The idle units of the version just committed (gear-idle(1)), and with a
 * manager its check that it loads them and the unit; a failure undoes the
 * commit (and the idle units follow the unit that is current again).
 */
static int commit_idle(struct gear_tree *t, struct ctr_install *in, const struct unit_meta *old, const char *text,
                       struct install_state *s, struct gear_err *e)
{
        struct gear_err ignore = {0};
        struct unit_meta now;
        bool changed = false, reload = false;
        int held;

        container_crash_point("unit-committed");
        if (unit_parse_meta(text, &now, e) == 0 && container_idle_units_write(t, &now, &changed, e) == 0) {
                container_crash_point("idle-units");
                if (!in->manager)
                        return 0;
                s->checked = true;
                held = changed ? container_idle_held(in->manager, in->id, e) : 0;
                reload = held > 0;
                if (held >= 0 &&
                    container_check_loads(in->manager, in->id, in->mount_unit, in->mount_changed, reload, e) == 0 &&
                    container_idle_check_loads(in->manager, &now, e) == 0)
                        return 0;
        }
        uncommit(t, in->id, in->updated ? old->request_id : NULL);
        if (in->updated)
                container_idle_units_write(t, old, &changed, &ignore);
        else
                container_idle_units_remove(t, in->id, &ignore);
        gear_err_clear(&ignore);
        return -1;
}

static int install_locked(struct gear_tree *t, struct ctr_install *in, struct install_state *s, struct gear_err *e)
{
        _cleanup_close_ int ports_lock = -1;
        _cleanup_free_ char *text = NULL;
        const char **volumes = NULL;
        struct unit_meta old = {0};
        const char *timeout;
        bool boot = false;
        int r;

        r = read_old(t, in->id, &old, &boot, &s->old_text, e);
        if (r < 0)
                return -1;
        in->updated = r > 0;
        boot = boot || in->start;
        if (in->reuse_unit && take_old(in, &old, s, e) < 0)
                return -1;
        /* once idle-capable, an update keeps it so, and its timeout unless given */
        s->idle = in->idle || unit_meta_idle(&old);
        timeout = in->idle_timeout ? in->idle_timeout : old.idle_timeout;
        if (s->idle && !in->nports)
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' publishes no port: a connection could not wake it",
                                    in->id);
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
        if (in->isolate && !in->reuse_unit) {
                if (isolate_user_ensure(in->id, &in->user, e) < 0)
                        return -1;
                container_crash_point("user");
        }
        if (container_request_id(in->request_id, e) < 0)
                return -1;
        if (in->reuse_unit) {
                r = render_reused(in, s, boot, &text, e);
        } else {
                r = ctr_volumes_make(t, in, &volumes, e);
                if (r == 0)
                        r = render(t, in, volumes, boot, &text, e);
                ctr_volume_specs_free(volumes, in->nvolumes);
        }
        if (r < 0 || set_idle_lines(t, in, s, timeout, &text, e) < 0)
                return -1;
        snprintf(s->version, sizeof s->version, "units/%.2s/%s/%s", in->id, in->id, in->request_id);
        if (container_write_version(t, in->id, text, in->request_id, e) < 0) {
                *s->version = 0;
                return -1;
        }
        if (!in->reuse_unit && write_env(t, in, s, e) < 0)
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
        if (container_commit(t, in->id, in->request_id, e) < 0 || commit_idle(t, in, &old, text, s, e) < 0)
                return -1;
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
        /* an idle container listens on boot, and does not run */
        if (boot && container_idle_boot_sync(t, in->id, e) < 0)
                return -1;
        container_crash_point("boot");
        if (in->manager && container_idle_update(t, in->manager, in->id, &old, e) < 0)
                return -1;
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
        if (!in->reuse_unit && (!in->image || !*in->image))
                return gear_err_set(e, GEAR_EXIT_USAGE, "missing image");
        if (!in->reuse_unit && !strcmp(in->image, in->id))
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
        if (!in->reuse_unit && (r = ctr_gear_resolve(t, in->image, gimage, sizeof gimage, e)) < 0)
                return -1;
        if (!in->reuse_unit && r > 0)
                in->image = gimage;
        struct port_map *ports = in->ports;
        size_t nports = in->nports;
        r = install_locked(t, in, &s, e);
        in->image = image;
        if (in->reuse_unit) {
                in->ports = ports;
                in->nports = nports;
        }
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
