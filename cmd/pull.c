/* gear-pull: the index image of a Gear image from a store; with --prefetch, what it will read first */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "commands.h"
#include "../common/base/config.h"
#include "../common/base/err.h"
#include "../common/base/progress.h"
#include "../common/base/fsutil.h"
#include "../common/base/tree.h"
#include "../common/image/image.h"
#include "../common/remote/image-fetch.h"
#include "../common/remote/remote.h"
#include "../common/store/cache.h"

static const char usage[] =
"usage: gear-pull [--tls-verify=BOOL] [--authfile FILE] [--prefetch] STORE NAME[:TAG]\n"
"       gear-pull [--tls-verify=BOOL] [--authfile FILE] [--prefetch] docker://HOST[:PORT]/REPO[:TAG]\n"
"       gear-pull [--tls-verify=BOOL] [--authfile FILE] [--prefetch] NAME[:TAG]\n";

/* parallel fetches of --prefetch: enough to fill a link, few enough for a small registry */
#define PREFETCH_JOBS 8

int cmd_pull(int argc, char **argv)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        bool prefetch = false;
        struct remote_opts o = { .tls_verify = true, .authfile = remote_default_authfile(), .prefetch = &prefetch };
        struct prefetch_opts po = { .jobs = PREFETCH_JOBS, .ro = &o };
        struct prefetch_stats ps;
        struct gear_config conf;
        struct remote_limits lim;
        struct image_ref ref;
        struct remote *r = NULL;
        const char *store = NULL, *name = NULL;
        char spec[PATH_MAX + IMAGE_NAME_MAX + IMAGE_TAG_MAX + 2];
        uint64_t bytes;
        int k;

        if ((k = remote_cmd_opts(argc, argv, usage, &o)) >= 0)
                return k;
        if (argc - optind < 1 || argc - optind > 2)
                return gear_usage_error(usage, argc - optind < 1 ? "missing STORE or NAME" : "too many arguments");
        if (argc - optind == 2)
                store = argv[optind], name = argv[optind + 1];
        else if (remote_spec_is_registry(argv[optind]))
                store = argv[optind];
        else
                name = argv[optind];
        if (tree_init(&tree, &err) < 0 || remote_target(&tree, store, name, &ref, spec, sizeof spec, &err) < 0 ||
            config_load(&conf, &tree, &err) < 0)
                return gear_fail(&err, NULL);
        lim = (struct remote_limits){ .config_max = conf.max_config_size, .index_max = conf.max_index_size };
        config_done(&conf);
        o.limits = &lim;
        if (root_open(&tree.img, ROOT_CREATE, &err) < 0)
                return gear_fail(&err, NULL);
        if (remote_open_opts(spec, &o, &r, &err) < 0)
                return gear_fail(&err, NULL);
        k = remote_pull(r, &tree.img, &ref, &bytes, &err);
        remote_free(r);
        if (k < 0)
                return gear_fail(&err, "cannot pull '%s:%s'", ref.name, ref.tag);
        printf("bytes fetched %" PRIu64 "\n", bytes);
        if (prefetch) {
                char dir[PATH_MAX];
                _cleanup_close_ int use = -1;
                struct progress prog;
                /* in use while it fetches: gear-gc keeps what arrives */
                image_rel(&ref, dir, sizeof dir);
                progress_init(&prog, "prefetching", "files");
                po.progress = &prog;
                if ((use = cache_use(&tree.img, dir, &err)) >= 0)
                        k = image_prefetch(&tree.img, &ref, &po, &ps, &err);
                progress_end(&prog);
                if (use < 0 || k < 0)
                        return gear_fail(&err, "cannot prefetch '%s:%s'", ref.name, ref.tag);
                test_pause_point("pull:prefetched");
                printf("prefetched %" PRIu64 " of %" PRIu64 " files, %" PRIu64 " bytes (%" PRIu64
                       " on the wire), %" PRIu64 " present\n",
                       ps.fetched, ps.listed, ps.fetched_bytes, ps.wire_bytes, ps.present);
                if (ps.unknown)
                        gear_warn("%" PRIu64 " contents of the access list are not in the image: skipped", ps.unknown);
        }
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
