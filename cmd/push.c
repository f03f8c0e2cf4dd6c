/* gear-push: a Gear image and the objects a store lacks */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../common/err.h"
#include "../common/image.h"
#include "../common/remote.h"
#include "../common/tree.h"
#include "commands.h"

static const char usage[] =
"usage: gear-push [--tls-verify=BOOL] [--authfile FILE] NAME[:TAG] STORE\n";

/* shared with gear-pull */
int remote_parse_opt(int c, const char *arg, struct remote_opts *o, const char *use);

int remote_parse_opt(int c, const char *arg, struct remote_opts *o, const char *use)
{
        if (c == 't') {
                if (!strcmp(arg, "true"))
                        o->tls_verify = true;
                else if (!strcmp(arg, "false"))
                        o->tls_verify = false;
                else
                        return gear_usage_error(use, "invalid --tls-verify '%s': want true or false", arg);
                return 0;
        }
        o->authfile = arg;
        return 0;
}

int cmd_push(int argc, char **argv)
{
        static const struct option options[] = {
                { "help",       no_argument,       NULL, 'h' },
                { "tls-verify", required_argument, NULL, 't' },
                { "authfile",   required_argument, NULL, 'a' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct remote_opts o = { .tls_verify = true, .authfile = remote_default_authfile() };
        struct remote_stats st;
        struct image_ref ref;
        struct remote *r = NULL;
        int c, k;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                if (c == 'h')
                        return gear_help(usage);
                if (c == 't' || c == 'a') {
                        if ((k = remote_parse_opt(c, optarg, &o, usage)))
                                return k;
                        continue;
                }
                if (c == ':')
                        return gear_usage_error(usage, "option '%s' needs a value", argv[optind - 1]);
                if (optopt)
                        return gear_usage_error(usage, "unknown option '-%c'", optopt);
                return gear_usage_error(usage, "unknown option '%s'", argv[optind - 1]);
        }
        if (argc - optind != 2)
                return gear_usage_error(usage, argc - optind < 2 ? "missing NAME or STORE" : "too many arguments");
        if (image_ref_parse(argv[optind], &ref, &err) < 0 || tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (root_open(&tree.img, 0, &err) < 0) {
                gear_err_set(&err, GEAR_EXIT_NO, "no image '%s:%s'", ref.name, ref.tag);
                return gear_fail(&err, NULL);
        }
        if (remote_open_opts(argv[optind + 1], &o, &r, &err) < 0)
                return gear_fail(&err, NULL);
        k = remote_push(r, &tree.img, &ref, &st, &err);
        remote_free(r);
        if (k < 0 && err.code == GEAR_EXIT_NO)
                return gear_fail(&err, NULL);
        if (k < 0)
                return gear_fail(&err, "cannot push '%s:%s'", ref.name, ref.tag);
        printf("objects sent %" PRIu64 ", skipped %" PRIu64 ", bytes %" PRIu64 "\n", st.sent, st.skipped, st.bytes);
        return GEAR_EXIT_OK;
}
