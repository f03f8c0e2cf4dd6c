/* unit tests of gear.conf parsing in common/base/config.c; TAP on stdout */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/base/config.h"

#include "tap.h"

static void parse_bad(const char *text, const char *msg)
{
        struct gear_err e = {0};
        struct gear_config c;
        char what[512];

        config_init(&c);
        snprintf(what, sizeof what, "refused: %s", msg);
        ok(config_parse(&c, "gear.conf", text, &e) == -1 && e.code == GEAR_EXIT_USAGE && !strcmp(e.msg, msg),
           what);
        if (strcmp(e.msg, msg))
                printf("# got '%s'\n", e.msg);
        config_done(&c);
}

static char *join(const struct gear_strv *s)
{
        static char buf[1024];

        buf[0] = 0;
        for (size_t i = 0; i < s->n; i++) {
                if (i)
                        strcat(buf, "|");
                strcat(buf, s->v[i]);
        }
        return buf;
}

int main(int argc, char **argv)
{
        struct gear_err e = {0};
        struct gear_config c;
        struct gear_strv args = {0};
        char path[] = "/tmp/test-config.XXXXXX";
        int fd;

        config_init(&c);
        ok(!strcmp(c.podman, "/usr/bin/podman") && !*c.runtime && !*c.publish_address && c.stop_timeout == 10 &&
           c.ulimits.n == 0 && c.podman_args.n == 0 && c.run_args.n == 0, "defaults");
        ok(config_podman_args(&c, &args, &e) == 0 && args.n == 0, "no global podman arguments by default");
        strv_done(&args);

        ok(config_parse(&c,
                        "gear.conf",
                        "# comment\n"
                        "\n"
                        "  podman = /opt/podman  \n"
                        "runtime=runc\n"
                        "ulimit=nofile=20000:20000\n"
                        "ulimit = nproc=4096:4096\r\n"
                        "publish-address=127.0.0.1\n"
                        "stop-timeout=3\n"
                        "podman-arg=--log-level=warning\n"
                        "run-arg=--pull=never\n"
                        "run-arg=--log-driver=passthrough",
                        &e) == 0,
           "a full file parses");
        ok(!strcmp(c.podman, "/opt/podman"), "podman, spaces trimmed");
        ok(!strcmp(c.runtime, "runc"), "runtime");
        ok(!strcmp(join(&c.ulimits), "nofile=20000:20000|nproc=4096:4096"), "ulimit repeats, CR trimmed");
        ok(!strcmp(c.publish_address, "127.0.0.1") && c.stop_timeout == 3, "publish-address and stop-timeout");
        ok(!strcmp(join(&c.run_args), "--pull=never|--log-driver=passthrough"), "run-arg repeats");
        ok(config_podman_args(&c, &args, &e) == 0 &&
           !strcmp(join(&args), "--runtime=runc|--log-level=warning"), "global podman arguments");
        strv_done(&args);
        ok(config_run_args(&c, &args, &e) == 0 &&
           !strcmp(join(&args), "--ulimit=nofile=20000:20000|--ulimit=nproc=4096:4096|--pull=never|"
                                "--log-driver=passthrough"),
           "podman run arguments");
        strv_done(&args);
        ok(config_parse(&c, "gear.conf", "ulimit=\nrun-arg=\n", &e) == 0 && c.ulimits.n == 0 && c.run_args.n == 0,
           "an empty value clears a list");
        ok(config_parse(&c, "gear.conf", "ulimit=core=unlimited\nulimit=nofile=-1\nulimit=nproc=5\n", &e) == 0 &&
           c.ulimits.n == 3, "unlimited, -1 and a soft limit alone");
        config_done(&c);

        parse_bad("runtime", "gear.conf:1: expected KEY=VALUE");
        parse_bad("\n\ncolour=blue\n", "gear.conf:3: unknown key 'colour'");
        parse_bad("podman=podman\n", "gear.conf:1: podman must be an absolute path, not 'podman'");
        parse_bad("runtime=run c\n", "gear.conf:1: invalid runtime 'run c'");
        config_init(&c);
        ok(c.max_index_size == 64u << 20 && c.max_config_size == 4u << 20, "size limits: defaults");
        ok(config_parse(&c, "gear.conf", "max-index-size=1G\nmax-config-size=512K\n", &e) == 0 &&
           c.max_index_size == 1u << 30 && c.max_config_size == 512u << 10, "size limits with suffixes");
        ok(config_parse(&c, "gear.conf", "max-index-size=64G\nmax-config-size=100\n", &e) == 0 &&
           c.max_index_size == 64ull << 30 && c.max_config_size == 100, "size limits: the largest, and bytes");
        config_done(&c);
        parse_bad("max-index-size=0\n", "gear.conf:1: max-index-size must be 1 to 64G bytes, not '0'");
        parse_bad("max-index-size=65G\n", "gear.conf:1: max-index-size must be 1 to 64G bytes, not '65G'");
        parse_bad("max-index-size=1T\n", "gear.conf:1: max-index-size must be 1 to 64G bytes, not '1T'");
        parse_bad("max-index-size=-1\n", "gear.conf:1: max-index-size must be 1 to 64G bytes, not '-1'");
        parse_bad("max-index-size=1MB\n", "gear.conf:1: max-index-size must be 1 to 64G bytes, not '1MB'");
        parse_bad("max-config-size=99999999999999999999\n",
                  "gear.conf:1: max-config-size must be 1 to 16M bytes, not '99999999999999999999'");
        parse_bad("max-config-size=16385K\n", "gear.conf:1: max-config-size must be 1 to 16M bytes, not '16385K'");
        config_init(&c);
        ok(c.build_fetch_timeout == 600 && c.max_source_size == 1u << 30, "build source bounds: defaults");
        ok(config_parse(&c, "gear.conf", "build-fetch-timeout=2\nmax-source-size=3M\n", &e) == 0 &&
           c.build_fetch_timeout == 2 && c.max_source_size == 3u << 20, "build source bounds");
        config_done(&c);
        {
                struct gear_strv run = {0}, build = {0};

                config_init(&c);
                ok(config_parse(&c, "gear.conf", "ulimit=nofile=5\nrun-arg=--a\nbuild-run-arg=--b\n", &e) == 0 &&
                   config_run_args(&c, &run, &e) == 0 && config_build_run_args(&c, &build, &e) == 0 &&
                   run.n == 2 && !strcmp(run.v[1], "--a") && build.n == 2 && !strcmp(build.v[0], "--ulimit=nofile=5") &&
                   !strcmp(build.v[1], "--b"), "build-run-arg: a build's, not run-arg");
                strv_done(&run);
                strv_done(&build);
                config_done(&c);
        }
        parse_bad("build-fetch-timeout=0\n", "gear.conf:1: build-fetch-timeout must be 1 to 86400 seconds, not '0'");
        parse_bad("max-source-size=65G\n", "gear.conf:1: max-source-size must be 1 to 64G bytes, not '65G'");
        parse_bad("stop-timeout=-1\n", "gear.conf:1: stop-timeout must be 0 to 3600 seconds, not '-1'");
        parse_bad("stop-timeout=3601\n", "gear.conf:1: stop-timeout must be 0 to 3600 seconds, not '3601'");
        parse_bad("stop-timeout=\n", "gear.conf:1: stop-timeout must be 0 to 3600 seconds, not ''");
        parse_bad("ulimit=nofile\n", "gear.conf:1: ulimit must be NAME=SOFT[:HARD], not 'nofile'");
        parse_bad("ulimit=nofile=1:\n", "gear.conf:1: ulimit must be NAME=SOFT[:HARD], not 'nofile=1:'");
        parse_bad("ulimit=nofile=1:2:3\n", "gear.conf:1: ulimit must be NAME=SOFT[:HARD], not 'nofile=1:2:3'");
        parse_bad("ulimit=NOFILE=1\n", "gear.conf:1: ulimit must be NAME=SOFT[:HARD], not 'NOFILE=1'");
        parse_bad("publish-address=1.2.3.4/8\n", "gear.conf:1: invalid publish-address '1.2.3.4/8'");
        parse_bad("run-arg=a\x01" "b\n", "gear.conf:1: control character in line");

        ok(config_load_file(&c, "/nonexistent/gear.conf", &e) == 0 && !strcmp(c.podman, "/usr/bin/podman"),
           "a missing file gives the defaults");
        config_done(&c);

        fd = mkstemp(path);
        if (fd >= 0) {
                static const char text[] = "runtime=runc\nbogus\n";

                if (write(fd, text, sizeof text - 1) != sizeof text - 1)
                        fd = -1;
        }
        ok(fd >= 0, "temporary file");
        ok(config_load_file(&c, path, &e) == -1 && e.code == GEAR_EXIT_USAGE &&
           !strncmp(e.msg, path, strlen(path)) && !strcmp(e.msg + strlen(path), ":2: expected KEY=VALUE"),
           "a bad file names its path and line");
        if (fd >= 0) {
                unlink(path);
                close(fd);
        }

        printf("1..%d\n", count);
        return failed ? 1 : 0;
}
