/* gear-gc: trims the public/ cache, keeping what mounted images need */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/tree.h"
#include "../common/store/cache.h"

static const char usage[] =
"usage: gear-gc [--max-size SIZE] [--dry-run]\n";

/* N, NK, NM, NG, NT (powers of 1024) */
static int parse_size(const char *s, uint64_t *out)
{
        char *end;
        unsigned long long v;
        unsigned shift = 0;

        if (*s < '0' || *s > '9')
                return -1;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -1;
        switch (*end) {
        case 'K': shift = 10; end++; break;
        case 'M': shift = 20; end++; break;
        case 'G': shift = 30; end++; break;
        case 'T': shift = 40; end++; break;
        }
        if (*end || (shift && v > (UINT64_MAX >> shift)))
                return -1;
        *out = (uint64_t)v << shift;
        return 0;
}

static void report(const char *hex, uint64_t size, void *ud)
{
        printf("%s sha256:%s %" PRIu64 "\n", *(bool *)ud ? "would remove" : "removed", hex, size);
}

static void report_object(const char *hex, uint64_t size, void *ud)
{
        printf("%s object sha256:%s %" PRIu64 "\n", *(bool *)ud ? "would remove" : "removed", hex, size);
}

int cmd_gc(int argc, char **argv)
{
        static const struct option options[] = {
                { "max-size", required_argument, NULL, 's' },
                { "dry-run", no_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        struct cache_gc_result res;
        uint64_t max = 0;
        bool dry_run = false;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                switch (c) {
                case 's':
                        if (parse_size(optarg, &max) < 0)
                                return gear_usage_error(usage, "invalid size '%s'", optarg);
                        break;
                case 'n':
                        dry_run = true;
                        break;
                case 'h':
                        return gear_help(usage);
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
                if (err.code == GEAR_EXIT_NO) {
                        printf("removed 0 objects, 0 bytes; kept 0 objects, 0 bytes\n");
                        return GEAR_EXIT_OK;
                }
                return gear_fail(&err, NULL);
        }
        if (object_gc(&tree.img, dry_run, report_object, &dry_run, &res, &err) < 0)
                return gear_fail(&err, "cannot collect garbage");
        if (res.removed)
                printf("%s %" PRIu64 " stored objects no image names, %" PRIu64 " bytes\n",
                       dry_run ? "would remove" : "removed", res.removed, res.removed_bytes);
        if (res.frames_removed)
                printf("%s %" PRIu64 " solid frames of contents no image names, %" PRIu64 " bytes\n",
                       dry_run ? "would remove" : "removed", res.frames_removed, res.frames_removed_bytes);
        if (cache_gc(&tree.img, max, dry_run, report, &dry_run, &res, &err) < 0)
                return gear_fail(&err, "cannot collect garbage");
        printf("%s %" PRIu64 " objects, %" PRIu64 " bytes; kept %" PRIu64 " objects, %" PRIu64 " bytes\n",
               dry_run ? "would remove" : "removed", res.removed, res.removed_bytes, res.kept, res.kept_bytes);
        return GEAR_EXIT_OK;
}
