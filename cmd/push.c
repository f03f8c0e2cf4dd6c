/* gear-push: a Gear image and the objects a store lacks */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "../common/base/config.h"
#include "../common/base/err.h"
#include "../common/base/progress.h"
#include "../common/base/tree.h"
#include "../common/image/image.h"
#include "../common/remote/remote.h"

static const char usage[] =
"usage: gear-push [--tls-verify=BOOL] [--authfile FILE] NAME[:TAG] [STORE]\n";

int cmd_push(int argc, char **argv)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct remote_opts o = { .tls_verify = true, .authfile = remote_default_authfile() };
        struct remote_stats st;
        struct gear_config conf;
        struct progress prog;
        struct image_ref ref;
        struct remote *r = NULL;
        char spec[PATH_MAX + IMAGE_NAME_MAX + IMAGE_TAG_MAX + 2];
        int k;

        if ((k = remote_cmd_opts(argc, argv, usage, &o)) >= 0)
                return k;
        if (argc - optind < 1 || argc - optind > 2)
                return gear_usage_error(usage, argc - optind < 1 ? "missing NAME" : "too many arguments");
        if (tree_init(&tree, &err) < 0 ||
            remote_target(&tree, argc - optind == 2 ? argv[optind + 1] : NULL, argv[optind], &ref, spec,
                          sizeof spec, &err) < 0 || config_load(&conf, &tree, &err) < 0)
                return gear_fail(&err, NULL);
        o.pack_size = conf.pack_size;
        o.solid_level = conf.solid_level;
        config_done(&conf);
        if (image_root_open(&tree.img, &ref, &err) < 0)
                return gear_fail(&err, NULL);
        progress_init(&prog, "pushing", "objects");
        o.progress = &prog;
        if (remote_open_opts(spec, &o, &r, &err) < 0)
                return gear_fail(&err, NULL);
        k = remote_push(r, &tree.img, &ref, &st, &err);
        progress_end(&prog);
        remote_free(r);
        if (k < 0 && err.code == GEAR_EXIT_NO)
                return gear_fail(&err, NULL);
        if (k < 0)
                return gear_fail(&err, "cannot push '%s:%s'", ref.name, ref.tag);
        printf("objects sent %" PRIu64 ", skipped %" PRIu64 ", bytes %" PRIu64, st.sent, st.skipped, st.bytes);
        if (st.packs)
                printf(", packs sent %" PRIu64 ", skipped %" PRIu64, st.packs_sent, st.packs_skipped);
        putchar('\n');
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
