/* volumes of containers: parsed from gear-install's -v, and made for an install */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "../base/fsutil.h"

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

/* named volumes: data/<ab>/<ID>/<NAME>, owned by the container's user */
int ctr_volumes_make(struct gear_tree *t, struct ctr_install *in, const char ***specs, struct gear_err *e)
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

void ctr_volume_specs_free(const char **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free((char *)v[i]);
        free(v);
}
