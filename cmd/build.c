/*
 * gear-build: turns an OCI layout, a docker archive or a root directory into
 * a Gear image: every file's content once in the store, and an index image.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/progress.h"
#include "../common/base/tree.h"
#include "../common/image/image.h"
#include "../common/remote/remote.h"

static const char usage[] =
"usage: gear-build [-q] [-j JOBS] [--platform OS/ARCH[/VARIANT]] [--tls-verify=BOOL] [--authfile FILE]\n"
"                  SOURCE NAME[:TAG]\n";

static double percent(uint64_t part, uint64_t whole)
{
        return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

int cmd_build(int argc, char **argv)
{
        static const struct option options[] = {
                { "help",  no_argument,       NULL, 'h' },
                { "quiet", no_argument,       NULL, 'q' },
                { "jobs",  required_argument, NULL, 'j' },
                { "platform",   required_argument, NULL, 'P' },
                { "tls-verify", required_argument, NULL, 't' },
                { "authfile",   required_argument, NULL, 'a' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct build_opts o = {0};
        struct build_result res = {0};
        struct progress prog;
        struct remote_opts ro = { .tls_verify = true, .authfile = remote_default_authfile() };
        _cleanup_(source_close) struct image_source src = { .dfd = -1 };
        const char *platform = NULL;
        bool quiet = false;
        int c, k;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hqj:", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'q':
                        quiet = true;
                        break;
                case 'j':
                        if ((k = gear_opt_int(usage, "JOBS", optarg, 1, 256, &o.jobs)))
                                return k;
                        break;
                case 'P':
                        platform = optarg;
                        break;
                case 't':
                case 'a':
                        if ((k = remote_parse_opt(c, optarg, &ro, usage)))
                                return k;
                        break;
                case ':':
                default:
                        return gear_option_error(usage, argv, c);
                }
        }
        if (argc - optind != 2)
                return gear_usage_error(usage, argc - optind < 2 ? "missing SOURCE or NAME" : "too many arguments");
        o.source = argv[optind];
        if (image_ref_parse(argv[optind + 1], &o.ref, &err) < 0 || tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (remote_source_open(&tree, o.source, &ro, platform, &src, &err) < 0)
                return gear_fail(&err, "cannot build '%s:%s'", o.ref.name, o.ref.tag);
        o.src = &src;
        progress_init(&prog, "building", "layers");
        o.progress = &prog;
        image_build_malloc();
        k = image_build(&tree, &o, &res, &err);
        progress_end(&prog);
        if (k < 0)
                return gear_fail(&err, "cannot build '%s:%s'", o.ref.name, o.ref.tag);
        if (quiet) {
                printf("sha256:%s\n", res.manifest);
                return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
        }
        printf("image\t%s:%s\n", o.ref.name, o.ref.tag);
        printf("manifest\tsha256:%s\n", res.manifest);
        printf("files\t%llu\n", (unsigned long long)res.st.files);
        printf("bytes-in\t%llu\n", (unsigned long long)res.st.bytes_in);
        printf("objects-new\t%llu\n", (unsigned long long)res.st.objects_new);
        printf("objects-reused\t%llu\n", (unsigned long long)res.st.objects_reused);
        printf("bytes-new\t%llu\n", (unsigned long long)res.st.bytes_new);
        printf("bytes-stored\t%llu\n", (unsigned long long)res.st.bytes_stored);
        printf("dedup\t%.1f%%\n", 100.0 - percent(res.st.bytes_new, res.st.bytes_in));
        printf("saved\t%.1f%%\n", 100.0 - percent(res.st.bytes_stored, res.st.bytes_in));
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
