/*
 * gear-recompress: the store's objects again at a slower zstd level, in place,
 * and the store's solid frames of small contents made at that level for
 * gear-push; built to run in the background after builds
 * (gear-recompress.service).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/remote/chunk-plan.h"
#include "../common/remote/frame-plan.h"
#include "../common/store/store.h"

static const char usage[] =
"usage: gear-recompress [-v] [-l LEVEL] [-j JOBS] [--no-frames]\n";

static void report(const char *hex, enum recompress_result r, uint64_t before, uint64_t after,
                   const struct gear_err *err, void *ud)
{
        if (r == RECOMPRESS_FAILED)
                gear_warn("%s", err->msg);
        else if (*(bool *)ud && r == RECOMPRESS_SMALLER)
                printf("smaller\tsha256:%s\t%" PRIu64 "\t%" PRIu64 "\n", hex, before, after);
        else if (*(bool *)ud && r == RECOMPRESS_KEPT)
                printf("kept\tsha256:%s\t%" PRIu64 "\n", hex, before);
}

static void frame_failed(const char *name, const struct gear_err *err, void *ud)
{
        (void)ud;
        gear_warn("solid frame %.12s not made: %s", name, err->msg);
}

int cmd_recompress(int argc, char **argv)
{
        static const struct option options[] = {
                { "help",    no_argument,       NULL, 'h' },
                { "verbose", no_argument,       NULL, 'v' },
                { "level",   required_argument, NULL, 'l' },
                { "jobs",    required_argument, NULL, 'j' },
                { "no-frames", no_argument,     NULL, 'F' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        /* a job at level 19 needs about 90 MB (at 22, 780 MB) */
        struct recompress_opts o = { .level = 19, .jobs = cpus > 4 ? 4 : cpus > 0 ? cpus : 1 };
        struct recompress_stats st;
        struct frames_stats fs = {0};
        struct chunk_plan *plan = NULL;
        bool verbose = false, frames = true;
        int c, k;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hvl:j:", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'v':
                        verbose = true;
                        break;
                case 'l':
                        if ((k = gear_opt_int(usage, "LEVEL", optarg, 1, 22, &o.level)))
                                return k;
                        break;
                case 'j':
                        if ((k = gear_opt_int(usage, "JOBS", optarg, 1, 256, &o.jobs)))
                                return k;
                        break;
                case 'F':
                        frames = false;
                        break;
                case ':':
                default:
                        return gear_option_error(usage, argv, c);
                }
        }
        if (optind != argc)
                return gear_usage_error(usage, "too many arguments");
        if (tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (root_open(&tree.img, 0, &err) < 0) {
                if (err.code != GEAR_EXIT_NO)
                        return gear_fail(&err, NULL);
                st = (struct recompress_stats){0};
        } else {
                /* large contents in frames by what the images' access lists read of them */
                if (chunk_plan_load(&tree.img, &plan, &err) < 0)
                        return gear_fail(&err, "cannot plan the chunks");
                o.layout = chunk_plan_layout;
                o.layout_ud = plan;
                k = store_recompress(&tree.img, &o, report, &verbose, &st, &err);
                chunk_plan_free(plan);
                if (k < 0)
                        return gear_fail(&err, "cannot recompress");
                if (frames && frames_recompress(&tree.img, o.level, o.jobs, frame_failed, NULL, &fs, &err) < 0)
                        return gear_fail(&err, "cannot make the solid frames");
        }
        const struct { const char *key; uint64_t v; } summary[] = {
                { "objects", st.objects }, { "skipped", st.skipped }, { "smaller", st.smaller },
                { "bytes-before", st.before }, { "bytes-after", st.after }, { "kept", st.kept },
                { "failed", st.failed }, { "frames", fs.planned }, { "frames-made", fs.made },
                { "frames-kept", fs.kept }, { "frames-removed", fs.removed }, { "frames-bytes", fs.bytes },
                { "frames-failed", fs.failed },
        };
        for (size_t i = 0; i < sizeof summary / sizeof *summary; i++)
                printf("%s\t%" PRIu64 "\n", summary[i].key, summary[i].v);
        if (fflush(stdout))
                return GEAR_EXIT_SYS;
        if (st.failed || fs.failed) {
                if (st.failed)
                        gear_warn("%" PRIu64 " objects left as they are; gear-fsck(1) checks them", st.failed);
                if (fs.failed)
                        gear_warn("%" PRIu64 " solid frames not made; gear-fsck(1) checks their objects", fs.failed);
                return GEAR_EXIT_SYS;
        }
        return GEAR_EXIT_OK;
}
