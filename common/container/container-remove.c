/* gear-delete in the trees: every file, link, port and version of a container */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "container-gear.h"
#include "container-idle.h"
#include "../base/fsutil.h"
#include "../keys/keys.h"

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
        if (container_unlink(t, id, e) < 0 || container_idle_units_remove(t, id, e) < 0)
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
