/*
 * unit tests of the unit renderer in common/systemd/unit.c; TAP on stdout.
 * "test-unit render [--conf FILE] [--port INT:EXT] [--env FILE] [--user U]
 * [--mcs LEVEL] [--volume V] [--slice S] ID IMAGE REQUEST" prints a unit
 * instead, for the shell tests.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/systemd/unit.h"

static int count, failed;

static void ok(int cond, const char *what)
{
        count++;
        if (!cond)
                failed++;
        printf("%sok %d - ", cond ? "" : "not ", count);
        /* one TAP line: control characters escaped */
        for (const char *p = what; *p; p++)
                if ((unsigned char)*p < 0x20)
                        printf("\\x%02x", *p);
                else
                        putchar(*p);
        putchar('\n');
}

static void same(const char *got, const char *want, const char *what)
{
        ok(got && !strcmp(got, want), what);
        if (got && strcmp(got, want)) {
                printf("# got:\n# ");
                for (const char *p = got; *p; p++)
                        fputs(*p == '\n' ? "\n# " : (char[]){ *p, 0 }, stdout);
                printf("\n# want:\n# ");
                for (const char *p = want; *p; p++)
                        fputs(*p == '\n' ? "\n# " : (char[]){ *p, 0 }, stdout);
                putchar('\n');
        }
}

static const struct unit_port two_ports[] = { { 8080, 4000 }, { 22, 4001 } };
static const char *const one_volume[] = { "/srv/data:/data:Z" };

static const char full_unit[] =
"# A gear container: written by gear-install, do not edit.\n"
"[Unit]\n"
"Description=Container web1\n"
"X-ContainerId=web1\n"
"X-ContainerImage=localhost/web:1\n"
"X-ContainerRequestId=r-1\n"
"X-ContainerUserId=4001:4001\n"
"X-PortMapping=8080:4000\n"
"X-PortMapping=22:4001\n"
"PartOf=container.target\n"
"After=container.target\n"
"\n"
"[Service]\n"
"Type=notify\n"
"NotifyAccess=all\n"
"Slice=container-big.slice\n"
"Environment=PODMAN_SYSTEMD_UNIT=%n\n"
"ExecStartPre=/bin/mkdir -p /run/gear/cid\n"
"ExecStartPre=/bin/rm -f /run/gear/cid/web1\n"
"ExecStart=/usr/bin/podman \\\n"
"\t--runtime=runc \\\n"
"\trun --rm --replace --name ctr-web1 \\\n"
"\t--cgroups=split --sdnotify=conmon --stop-timeout=10 \\\n"
"\t--cidfile=/run/gear/cid/web1 \\\n"
"\t--ulimit=nofile=20000:20000 \\\n"
"\t--publish=127.0.0.1:4000:8080 \\\n"
"\t--publish=127.0.0.1:4001:22 \\\n"
"\t--env-file=/var/lib/containers/env/contents/ab/abc \\\n"
"\t--user=4001:4001 \\\n"
"\t--security-opt=label=level:s0:c1,c2 \\\n"
"\t--volume=/srv/data:/data:Z \\\n"
"\tlocalhost/web:1\n"
"ExecStartPost=" GEAR_BINDIR "/gear-link --apply web1\n"
"ExecStop=/usr/bin/podman \\\n"
"\t--runtime=runc \\\n"
"\tstop --ignore --time=10 ctr-web1\n"
"ExecStopPost=-/bin/rm -f /run/gear/cid/web1\n"
"ExecStopPost=/usr/bin/podman \\\n"
"\t--runtime=runc \\\n"
"\trm --force --ignore ctr-web1\n"
"KillMode=mixed\n"
"TimeoutStartSec=300\n"
"TimeoutStopSec=70\n"
"SuccessExitStatus=143\n"
"Restart=on-failure\n"
"RestartSec=5\n"
"\n"
"[Install]\n"
"WantedBy=container-active.target\n";

static const char minimal_exec[] =
"ExecStart=/usr/bin/podman \\\n"
"\trun --rm --replace --name ctr-web2 \\\n"
"\t--cgroups=split --sdnotify=conmon --stop-timeout=10 \\\n"
"\t--cidfile=/run/gear/cid/web2 \\\n"
"\tbusybox\n"
"ExecStartPost=" GEAR_BINDIR "/gear-link --apply web2\n"
"ExecStop=/usr/bin/podman \\\n"
"\tstop --ignore --time=10 ctr-web2\n";

static void render_tests(void)
{
        struct gear_err e = {0};
        struct gear_config c;
        struct unit_spec s = {
                .id = "web1", .image = "localhost/web:1", .request_id = "r-1",
                .ports = two_ports, .n_ports = 2,
                .env_file = "/var/lib/containers/env/contents/ab/abc",
                .user = "4001:4001", .mcs_level = "s0:c1,c2",
                .volumes = one_volume, .n_volumes = 1, .slice = "container-big", .conf = &c,
        };
        struct unit_meta meta;
        char *out = NULL;
        size_t len = 0;

        config_init(&c);
        config_parse(&c, "t", "runtime=runc\nulimit=nofile=20000:20000\npublish-address=127.0.0.1\n", &e);
        ok(unit_render(&s, &out, &len, &e) == 0 && len == strlen(out), "render a full spec");
        same(out, full_unit, "the full unit, lists repeated");

        ok(unit_parse_meta(out, &meta, &e) == 0, "parse the metadata back");
        ok(!strcmp(meta.id, "web1") && !strcmp(meta.image, "localhost/web:1") &&
           !strcmp(meta.request_id, "r-1") && !strcmp(meta.user, "4001:4001"), "id, image, request id, user");
        ok(meta.n_ports == 2 && meta.ports[0].internal == 8080 && meta.ports[0].external == 4000 &&
           meta.ports[1].internal == 22 && meta.ports[1].external == 4001, "port mappings");
        free(out);
        out = NULL;
        config_done(&c);

        /* nothing optional: the lines of empty lists go, the default slice is used */
        s = (struct unit_spec){ .id = "web2", .image = "busybox", .request_id = "r" };
        ok(unit_render(&s, &out, NULL, &e) == 0, "render a minimal spec");
        ok(out && strstr(out, minimal_exec) && strstr(out, "\nSlice=container-small.slice\n") &&
           !strstr(out, "X-PortMapping") && !strstr(out, "X-ContainerUserId") && !strstr(out, "--user") &&
           !strstr(out, "--env-file") && !strstr(out, "label=") && !strstr(out, "--publish"),
           "empty lists drop their lines");
        ok(unit_parse_meta(out, &meta, &e) == 0 && meta.n_ports == 0 && !*meta.user, "no ports, no user");
        free(out);
        out = NULL;

        /* escapes: Exec lines quote, X- lines keep the value */
        static const char *const odd_volume[] = { "/srv/my data:/d" };
        s = (struct unit_spec){ .id = "web3", .image = "reg/img:%1$x\"'", .request_id = "r",
                                .volumes = odd_volume, .n_volumes = 1 };
        ok(unit_render(&s, &out, NULL, &e) == 0, "render values that need escapes");
        ok(out && strstr(out, "\nX-ContainerImage=reg/img:%1$x\"'\n") &&
           strstr(out, "\n\treg/img:%%1$$x\\x22\\x27\n") && strstr(out, "\n\t--volume=/srv/my\\x20data:/d \\\n"),
           "exec values escaped, X- values raw");
        free(out);
        out = NULL;

        config_init(&c);
        config_parse(&c, "t", "publish-address=::1\n", &e);
        s = (struct unit_spec){ .id = "web4", .image = "i", .request_id = "r", .ports = two_ports, .n_ports = 1,
                                .conf = &c };
        ok(unit_render(&s, &out, NULL, &e) == 0 && strstr(out, "\n\t--publish=[::1]:4000:8080 \\\n"),
           "an IPv6 publish address in brackets");
        free(out);
        out = NULL;
        config_done(&c);
}

static void render_bad(const struct unit_spec *s, const char *msg)
{
        struct gear_err e = {0};
        char *out = NULL;
        char what[256];

        snprintf(what, sizeof what, "refused: %s", msg);
        ok(unit_render(s, &out, NULL, &e) == -1 && !out && e.code == GEAR_EXIT_USAGE && !strcmp(e.msg, msg), what);
        if (strcmp(e.msg, msg))
                printf("# got '%s'\n", e.msg);
        free(out);
}

static void error_tests(void)
{
        static const struct unit_port zero[] = { { 80, 0 } };
        static const struct unit_port many[UNIT_MAX_PORTS + 1] = { { 80, 81 } };
        static const char *const bad_volume[] = { "/a\n:/b" };
        struct unit_spec s = { .id = "../x", .image = "i", .request_id = "r" };
        struct gear_err e = {0};
        char *out = NULL;

        render_bad(&s, "invalid container id '../x'");
        s.id = "web1";
        s.image = "";
        render_bad(&s, "invalid image ''");
        s.image = "--privileged";
        render_bad(&s, "invalid image '--privileged'");
        s.image = "a\nb";
        render_bad(&s, "invalid image 'a\nb': control character");
        s.image = "i";
        s.request_id = NULL;
        render_bad(&s, "missing request id");
        s.request_id = "r";
        s.slice = "a/b";
        render_bad(&s, "invalid slice 'a/b'");
        s.slice = "-x.slice";
        render_bad(&s, "invalid slice '-x.slice'");
        s.slice = NULL;
        s.ports = zero;
        s.n_ports = 1;
        render_bad(&s, "invalid port mapping 80:0");
        s.ports = many;
        s.n_ports = UNIT_MAX_PORTS + 1;
        render_bad(&s, "more than 64 ports");
        s.n_ports = 0;
        s.env_file = "env/x";
        render_bad(&s, "environment file 'env/x' is not absolute");
        s.env_file = NULL;
        s.volumes = bad_volume;
        s.n_volumes = 1;
        render_bad(&s, "invalid volume '/a\n:/b': control character");
        s.n_volumes = 0;

        ok(unit_render_template("A=@NOPE@\n", &s, &out, NULL, &e) == -1 && !out &&
           !strcmp(e.msg, "unit template line 1: unknown value '@NOPE@'"), "an unknown placeholder");
        ok(unit_render_template("## gone\n# kept @ID@\nA=@ID@ user@host @VOLUME@x\nB=@\n", &s, &out, NULL, &e) == 0 &&
           !strcmp(out, "# kept @ID@\nB=@\n"), "## lines dropped, # lines kept, empty list drops a line");
        free(out);
        out = NULL;
        ok(unit_render_template("A=@PUBLISH@ @VOLUME@\n", &s, &out, NULL, &e) == -1 &&
           !strcmp(e.msg, "unit template line 1: two lists"), "two lists on one line");

        struct unit_meta meta;
        ok(unit_parse_meta("[Unit]\nDescription=x\n", &meta, &e) == -1 &&
           !strcmp(e.msg, "no X-ContainerId in the unit"), "metadata without an id");
        ok(unit_parse_meta("[Unit]\nX-ContainerId=abcd\nX-PortMapping=80:x\n", &meta, &e) == -1 &&
           !strcmp(e.msg, "invalid X-PortMapping '80:x'"), "a bad port mapping");
        ok(unit_parse_meta("[Service]\nX-ContainerId=abcd\n[Unit]\nX-ContainerId=efgh\n", &meta, &e) == 0 &&
           !strcmp(meta.id, "efgh"), "only the [Unit] section counts");
}

/* the built-in unit files are share/units/'s, whole, with their names */
static void share_tests(void)
{
        ok(!strncmp(unit_template, "## The template of a container's unit", 37), "unit_template built in");
        ok(strstr(unit_gear_template, "--rootfs @MERGED@") != NULL, "unit_gear_template built in");
        ok(strstr(unit_gear_fs_template, "gear-fs @FS_OPTIONS@") != NULL, "unit_gear_fs_template built in");
        ok(unit_static_count == 4, "four static units");
        for (size_t i = 0; i < unit_static_count; i++)
                ok(strstr(unit_static_files[i].text, "[Unit]\nDescription=") != NULL, unit_static_files[i].name);
}

static int render_main(int argc, char **argv)
{
        static const struct option options[] = {
                { "conf", required_argument, NULL, 'c' }, { "port", required_argument, NULL, 'p' },
                { "env", required_argument, NULL, 'e' },  { "user", required_argument, NULL, 'u' },
                { "mcs", required_argument, NULL, 'm' },  { "volume", required_argument, NULL, 'v' },
                { "slice", required_argument, NULL, 's' }, {},
        };
        struct unit_port ports[UNIT_MAX_PORTS];
        const char *volumes[UNIT_MAX_VOLUMES];
        struct unit_spec s = { .ports = ports, .volumes = volumes };
        struct gear_err e = {0};
        struct gear_config c;
        const char *conf = "/nonexistent";
        char *out;
        int opt;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        conf = optarg;
                        break;
                case 'p':
                        if (s.n_ports == UNIT_MAX_PORTS ||
                            sscanf(optarg, "%u:%u", &ports[s.n_ports].internal, &ports[s.n_ports].external) != 2)
                                return 100;
                        s.n_ports++;
                        break;
                case 'e':
                        s.env_file = optarg;
                        break;
                case 'u':
                        s.user = optarg;
                        break;
                case 'm':
                        s.mcs_level = optarg;
                        break;
                case 'v':
                        if (s.n_volumes == UNIT_MAX_VOLUMES)
                                return 100;
                        volumes[s.n_volumes++] = optarg;
                        break;
                case 's':
                        s.slice = optarg;
                        break;
                default:
                        return 100;
                }
        }
        if (argc - optind != 3)
                return 100;
        s.id = argv[optind];
        s.image = argv[optind + 1];
        s.request_id = argv[optind + 2];
        s.conf = &c;
        if (config_load_file(&c, conf, &e) < 0 || unit_render(&s, &out, NULL, &e) < 0)
                return gear_fail(&e, "cannot render");
        fputs(out, stdout);
        free(out);
        config_done(&c);
        return 0;
}

/* a Gear image's command: every word on the ExecStart line, one argument each */
static void gear_command_tests(void)
{
        static const char *const command[] = { "python3", "-m", "http.server", "8080", "", "a b", "50%" };
        static const char *const env[] = { "PATH=/usr/bin" };
        struct unit_gear g = {
                .mount_unit = "gear-fs-web:1.service", .lower = "/m/web/1", .upper = "/c/up", .work = "/c/work",
                .merged = "/c/merged", .command = command, .n_command = 7, .env = env, .n_env = 1,
        };
        struct unit_spec s = { .id = "web3", .image = "gear:web:1", .request_id = "r-3", .gear = &g };
        struct gear_err e = {0};
        char *out = NULL;

        ok(unit_render(&s, &out, NULL, &e) == 0, "a Gear image unit renders");
        ok(out && strstr(out, "\t--rootfs /c/merged \\\n"
                              "\tpython3 -m http.server 8080 \"\" a\\x20b 50%%\n"
                              "ExecStartPost=") != NULL,
           "its command is one line of words, the empty one quoted, escapes kept");
        free(out);
}

/* what systemd's unit file parser takes, as systemd-analyze verify tells */
static void utf8_tests(void)
{
        static const struct { const char *s; bool valid; } cases[] = {
                { "plain", true }, { "caf\xc3\xa9", true }, { "\xc2\x85", true }, { "\xe2\x80\xa8", true },
                { "\xef\xbb\xbf", true }, { "\xef\xbf\xbd", true }, { "\xf0\x90\x80\x80", true },
                { "\xf0\x9f\x98\x80", true }, { "\xf4\x80\x80\x80", true },
                { "caf\xe9", false }, { "\xc3", false }, { "\xc0\x80", false }, { "\xc1\xbf", false },
                { "\xe0\x80\x80", false }, { "\xed\xa0\x80", false }, { "\xef\xb7\x90", false },
                { "\xef\xbf\xbe", false }, { "\xf3\xbf\xbf\xbf", false }, { "\xf4\x8f\xbf\xbf", false },
                { "\xf4\x90\x80\x80", false }, { "\xf8\x88\x80\x80\x80", false }, { "\x80", false },
        };
        struct gear_err e = {0};
        char what[128];

        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                snprintf(what, sizeof what, "case %zu is %sUTF-8 for systemd", i, cases[i].valid ? "" : "not ");
                ok(unit_utf8_valid(cases[i].s) == cases[i].valid, what);
        }
        ok(unit_value_check("GREETING=caf\xef\xb7\x90", "environment", &e) < 0 && e.code == GEAR_EXIT_USAGE &&
                   !strcmp(e.msg, "invalid environment 'GREETING=caf\\xef\\xb7\\x90': not UTF-8 as systemd takes it"),
           "a value that is not shows its bytes escaped");
        gear_err_clear(&e);
}

/* unit_text_idle on full_unit: its ports published on backends, and back */
static void idle_tests(void)
{
        static const unsigned backends[] = { 4100, 4101 };
        static const char want_lines[] =
                "X-PortMapping=22:4001\n"
                "X-PortBackend=8080:4100\n"
                "X-PortBackend=22:4101\n"
                "X-IdleTimeout=90s\n"
                "Wants=ctr-web1:4000.socket\n"
                "Wants=ctr-web1:4000.service\n"
                "Wants=ctr-web1:4001.socket\n"
                "Wants=ctr-web1:4001.service\n"
                "PartOf=container.target\n";
        struct unit_idle idle = { .id = "web1", .ports = two_ports, .backends = backends, .n_ports = 2,
                                  .timeout = "90s", .publish_address = "127.0.0.1" };
        struct gear_err e = {0};
        struct unit_meta meta;
        char *out = NULL, *back = NULL, *again = NULL;

        ok(unit_text_idle(full_unit, &idle, &out, &e) == 0, "idle-capable: rendered");
        ok(out && strstr(out, want_lines) != NULL, "idle-capable: backends, timeout and wants after the ports");
        ok(out && strstr(out, "\t--publish=127.0.0.1:4100:8080 \\\n\t--publish=127.0.0.1:4101:22 \\\n"
                                  "\t--env-file=") != NULL, "idle-capable: published on the backends, in place");
        ok(out && unit_parse_meta(out, &meta, &e) == 0 && meta.n_backends == 2 && meta.backends[1].internal == 22 &&
           meta.backends[1].external == 4101 && !strcmp(meta.idle_timeout, "90s") &&
           unit_meta_backend(&meta, &two_ports[0]) == 4100, "idle-capable: read back");
        ok(out && unit_text_idle(out, &idle, &again, &e) == 0 && !strcmp(out, again), "idle-capable: idempotent");
        idle.backends = NULL;
        idle.timeout = NULL;
        ok(out && unit_text_idle(out, &idle, &back, &e) == 0, "not idle-capable: rendered");
        same(back, full_unit, "not idle-capable: the unit as rendered at first");
        free(out);
        free(back);
        free(again);
        out = NULL;
        ok(unit_text_idle(minimal_exec, &(struct unit_idle){ .id = "web2", .ports = two_ports, .backends = backends,
                                                              .n_ports = 1, .publish_address = "" }, &out, &e) < 0 &&
           e.code == GEAR_EXIT_USAGE, "a text without X- lines is refused");
        gear_err_clear(&e);
        ok(unit_parse_meta("[Unit]\nX-ContainerId=abcd\nX-IdleTimeout=3\n", &meta, &e) < 0 &&
           !strcmp(e.msg, "invalid X-IdleTimeout '3'"), "an X-IdleTimeout not normalized");
        gear_err_clear(&e);
}

static void idle_name_tests(void)
{
        static const struct { const char *in, *out; } spans[] = {
                { "3s", "3s" }, { "3", "3s" }, { "90sec", "90s" }, { "2min", "120s" }, { "5m", "300s" },
                { "1h", "3600s" }, { "2hr", "7200s" }, { "30d", "2592000s" }, { "1500ms", "1500ms" },
                { "1000ms", "1s" }, { "infinity", "" },
        };
        static const char *const bad[] = { "", "0", "0s", "999ms", "31d", "3x", "s", "-1", " 3s", "3 s",
                                           "12345678901", "3S", "inf" };
        char out[UNIT_TIMESPAN_MAX], sock[64], proxy[64], msg[160];
        struct gear_err e = {0};
        gear_id id;
        unsigned port;
        bool socket;

        for (size_t i = 0; i < ELEMENTSOF(spans); i++) {
                snprintf(msg, sizeof msg, "timespan '%s'", spans[i].in);
                ok(unit_timespan_parse(spans[i].in, out, &e) == 0 && !strcmp(out, spans[i].out), msg);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                snprintf(msg, sizeof msg, "timespan '%s' refused", bad[i]);
                ok(unit_timespan_parse(bad[i], out, &e) < 0 && e.code == GEAR_EXIT_USAGE, msg);
                gear_err_clear(&e);
        }
        unit_idle_names("web1", 4000, sock, proxy);
        ok(!strcmp(sock, "ctr-web1:4000.socket") && !strcmp(proxy, "ctr-web1:4000.service"), "idle unit names");
        ok(unit_idle_of_name(sock, id, &port, &socket) == 0 && !strcmp(id, "web1") && port == 4000 && socket &&
           unit_idle_of_name(proxy, id, &port, &socket) == 0 && !socket, "idle unit names read back");
        ok(unit_idle_of_name("ctr-a.b-c:65535.service", id, &port, &socket) == 0 && !strcmp(id, "a.b-c") &&
           port == 65535, "an id with dots and dashes");
        static const char *const not_idle[] = { "ctr-web1.service", "ctr-web1:0.socket", "ctr-web1:04000.socket",
                                                "ctr-web1:65536.socket", "ctr-web1:4000.timer", "ctr-:4000.socket",
                                                "ctr-.web:4000.socket", "web1:4000.socket", "ctr-web1:4000",
                                                "ctr-web1:40a0.socket" };
        for (size_t i = 0; i < ELEMENTSOF(not_idle); i++) {
                snprintf(msg, sizeof msg, "'%s' is not an idle unit", not_idle[i]);
                ok(unit_idle_of_name(not_idle[i], id, &port, &socket) < 0, msg);
        }
}

int main(int argc, char **argv)
{
        if (argc > 1 && !strcmp(argv[1], "render"))
                return render_main(argc - 1, argv + 1);
        render_tests();
        error_tests();
        share_tests();
        gear_command_tests();
        utf8_tests();
        idle_tests();
        idle_name_tests();
        printf("1..%d\n", count);
        return failed ? 1 : 0;
}
