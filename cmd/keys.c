/*
 * gear-keys: grants SSH keys access to containers and Git repositories.
 * Keys are read as authorized_keys lines; options and comments are dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "../common/base/err.h"
#include "../common/base/id.h"
#include "../common/base/tree.h"
#include "../common/hosts/targets.h"
#include "../common/keys/keys.h"

static const char usage[] =
"usage: gear-keys add [--key-file FILE] [--write] TARGET...\n"
"       gear-keys remove [--key-file FILE] [--write] TARGET...\n"
"       gear-keys list TARGET\n";

static int read_keys(const char *file, struct key_set *set, struct gear_err *e)
{
        _cleanup_close_ int fd = -1;
        const char *name = "stdin";

        if (strcmp(file, "-")) {
                fd = open(file, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        int err = errno;
                        gear_err_sys(e, err, "cannot open '%s'", file);
                        if (err == ENOENT || err == EISDIR)
                                e->code = GEAR_EXIT_USAGE;
                        return -1;
                }
                struct stat st;
                if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "cannot read '%s': is a directory", file);
                name = file;
        }
        if (keys_read_fd(fd >= 0 ? fd : STDIN_FILENO, name, set, e) < 0)
                return -1;
        if (!set->n)
                return gear_err_set(e, GEAR_EXIT_USAGE, "no keys in '%s'", name);
        return 0;
}

static int list(struct gear_tree *t, const struct gear_target *tg)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        struct key_entry *v;
        size_t n;
        int ret = GEAR_EXIT_OK;

        if (keys_list(t, tg, true, &v, &n, &err) < 0)
                return gear_fail(&err, "cannot list keys");
        for (size_t i = 0; i < n; i++) {
                if (!v[i].text) {
                        gear_warn("key '%s' is missing or invalid", v[i].fp);
                        ret = GEAR_EXIT_SYS;
                        continue;
                }
                printf("%s\t%s\t%s\n", v[i].fp, key_access_name(v[i].access), v[i].text);
        }
        key_entries_free(v, n);
        if (fflush(stdout))
                return GEAR_EXIT_SYS;
        return ret;
}

/*
 * HOST/ID targets: the keys are read and checked here, and each host's
 * gear-keys reads them on its standard input. -1 when every target is here.
 */
static int on_hosts(int argc, char **argv, const char *verb, const char *file, bool write)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(key_set_done) struct key_set set = {0};
        _cleanup_free_ char *input = NULL;
        char *opts[] = { write ? "--write" : NULL, NULL };
        struct targets_opts o = { .verb = verb, .options = opts, .schemes = true };
        size_t len = 0;
        bool ok = true;
        FILE *f;
        int k = targets_remote(argc, argv, 0, -1, &o, &err);

        if (k <= 0)
                return k < 0 ? gear_fail(&err, NULL) : -1;
        for (int i = optind; write && i < argc; i++)
                if (strncmp(argv[i], "repo://", 7))
                        return gear_usage_error(usage, "'--write' applies to repositories, not '%s'", argv[i]);
        if (strcmp(verb, "list")) {
                if (read_keys(file, &set, &err) < 0)
                        return gear_fail(&err, NULL);
                /* "TYPE BASE64" lines: what was checked here, without options or comments */
                if ((f = open_memstream(&input, &len)))
                        for (size_t i = 0; i < set.n; i++) {
                                _cleanup_free_ char *t = key_text(&set.keys[i]);
                                if (!t || fprintf(f, "%s\n", t) < 0)
                                        ok = false;
                        }
                if (!f || fclose(f) || !ok) {
                        gear_err_sys(&err, ENOMEM, "cannot read the keys");
                        return gear_fail(&err, NULL);
                }
                o.input = input;
                o.input_len = len;
        }
        return targets_run_opts(argc, argv, 0, -1, &o);
}

int cmd_keys(int argc, char **argv)
{
        static const char *const verbs[] = { "add", "remove", "list", NULL };
        static const struct option options[] = {
                { "help",     no_argument,       NULL, 'h' },
                { "key-file", required_argument, NULL, 'f' },
                { "write",    no_argument,       NULL, 'w' },
                {}
        };
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_(key_set_done) struct key_set set = {0};
        _cleanup_free_ struct gear_target *targets = NULL;
        const char *file = "-", *verb;
        bool write = false;
        int c, n;

        if ((c = gear_verb(argc, argv, usage, verbs, &n)) < 0)
                return n;
        verb = verbs[c];
        argc--, argv++;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hf:w", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return gear_help(usage);
                case 'f':
                        file = optarg;
                        break;
                case 'w':
                        write = true;
                        break;
                case ':':
                default:
                        return gear_option_error(usage, argv, c);
                }
        }
        n = argc - optind;
        if (n < 1)
                return gear_usage_error(usage, "missing TARGET");
        if (!strcmp(verb, "list") && (n > 1 || write || strcmp(file, "-")))
                return gear_usage_error(usage, "'list' takes one TARGET and no options");
        if ((c = on_hosts(argc, argv, verb, file, write)) >= 0)
                return c;
        targets = calloc(n, sizeof *targets);
        if (!targets) {
                gear_err_sys(&err, ENOMEM, "cannot parse arguments");
                return gear_fail(&err, NULL);
        }
        for (int i = 0; i < n; i++) {
                if (target_parse(argv[optind + i], &targets[i], &err) < 0)
                        return gear_fail(&err, NULL);
                if (write && targets[i].kind != TARGET_REPO)
                        return gear_usage_error(usage, "'--write' applies to repositories, not '%s'",
                                                argv[optind + i]);
        }
        if (tree_init(&tree, &err) < 0)
                return gear_fail(&err, NULL);
        if (!strcmp(verb, "list"))
                return list(&tree, &targets[0]);
        if (read_keys(file, &set, &err) < 0)
                return gear_fail(&err, NULL);
        if (!strcmp(verb, "remove")) {
                if (keys_remove(&tree, targets, n, &set, write, &err) < 0)
                        return gear_fail(&err, "cannot remove keys");
                return GEAR_EXIT_OK;
        }
        if (keys_add(&tree, targets, n, &set, write, &err) < 0)
                return gear_fail(&err, "cannot add keys");
        for (size_t i = 0; i < set.n; i++)
                printf("%s\n", set.keys[i].fp);
        return fflush(stdout) ? GEAR_EXIT_SYS : GEAR_EXIT_OK;
}
