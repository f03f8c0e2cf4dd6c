/* what gear-push's and gear-pull's operands name: an image and a store, gear.conf's store= when none */
#include <stdio.h>
#include <string.h>

#include "remote.h"
#include "../base/config.h"
#include "../image/image.h"

static const char *registry_rest(const char *spec)
{
        if (!strncmp(spec, "docker://", 9))
                return spec + 9;
        if (!strncmp(spec, "docker+http://", 14))
                return spec + 14;
        return NULL;
}

bool remote_spec_is_registry(const char *spec)
{
        return registry_rest(spec) != NULL;
}

int remote_spec_image(const char *spec, struct image_ref *ref, struct gear_err *e)
{
        const char *rest = registry_rest(spec), *slash, *base, *at;
        char name[IMAGE_NAME_MAX + IMAGE_TAG_MAX + 2];

        if (!rest || !(slash = strchr(rest, '/')) || !slash[1])
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' names no image: want docker://HOST[:PORT]/REPO[:TAG]", spec);
        base = strrchr(slash, '/') + 1;
        if ((at = strchr(base, '@')))
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' names no tag: give NAME[:TAG] too", spec);
        if (strlen(base) >= sizeof name)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid reference '%s'", spec);
        snprintf(name, sizeof name, "%s", base);
        if (image_ref_parse(name, ref, e) < 0)
                return gear_err_wrap(e, "'%s'", spec);
        return 0;
}

int remote_target(const struct gear_tree *tree, const char *store, const char *name, struct image_ref *ref,
                  char *spec, size_t n, struct gear_err *e)
{
        struct gear_config conf;
        const char *rest;
        size_t len;

        if (!name)
                return remote_spec_image(store, ref, e) < 0 ? -1 : (snprintf(spec, n, "%s", store), 0);
        if (image_ref_parse(name, ref, e) < 0)
                return -1;
        if (store) {
                if ((size_t)snprintf(spec, n, "%s", store) >= n)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "store '%.64s...' is too long", store);
                return 0;
        }
        if (config_load(&conf, tree, e) < 0)
                return -1;
        if (!conf.store[0]) {
                gear_err_set(e, GEAR_EXIT_USAGE, "no STORE given and no store= in '%s'", conf.path);
                config_done(&conf);
                return -1;
        }
        rest = registry_rest(conf.store);
        len = strlen(conf.store);
        while (rest && len && conf.store[len - 1] == '/')
                len--;
        /* a registry: the repository PREFIX/NAME, or NAME when store= names only the host */
        if ((size_t)(rest ? snprintf(spec, n, "%.*s/%s:%s", (int)len, conf.store, ref->name, ref->tag)
                          : snprintf(spec, n, "%s", conf.store)) >= n) {
                config_done(&conf);
                return gear_err_set(e, GEAR_EXIT_USAGE, "store= in '%s' is too long", conf.path);
        }
        config_done(&conf);
        return 0;
}
