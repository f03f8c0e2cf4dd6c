/* unit tests of the identifier, target and port parsers; TAP on stdout */
#include <stdio.h>
#include <string.h>

#include "../../common/base/id.h"
#include "../../common/ports/ports.h"

static int count, failed;

static void ok(int cond, const char *fmt, const char *arg)
{
        count++;
        if (!cond)
                failed++;
        printf("%sok %d - ", cond ? "" : "not ", count);
        char safe[256];
        size_t i = 0;
        for (const char *c = arg; *c && i < sizeof safe - 5; c++)
                i += (unsigned char)*c < 0x20 ? (size_t)sprintf(safe + i, "\\x%02x", *c) : (safe[i] = *c, 1);
        safe[i] = 0;
        printf(fmt, safe);
        putchar('\n');
}

static void id_case(const char *arg, const char *want)
{
        struct gear_err e = {0};
        gear_id id;
        int r = id_parse(arg, id, &e);

        if (want)
                ok(r == 0 && !strcmp(id, want), "id '%s' accepted", arg);
        else
                ok(r < 0 && e.code == GEAR_EXIT_USAGE && strstr(e.msg, "invalid identifier"), "id '%s' refused", arg);
}

static void target_case(const char *arg, int kind, const char *want)
{
        struct gear_err e = {0};
        struct gear_target t;
        int r = target_parse(arg, &t, &e);

        if (want)
                ok(r == 0 && (int)t.kind == kind && !strcmp(t.id, want), "target '%s' accepted", arg);
        else
                ok(r < 0 && e.code == GEAR_EXIT_USAGE, "target '%s' refused", arg);
}

static void spec_case(const char *arg, unsigned in, unsigned ex, int good)
{
        struct gear_err e = {0};
        struct port_map m;
        int r = port_spec_parse(arg, &m, &e);

        if (good)
                ok(r == 0 && m.internal == in && m.external == ex, "port spec '%s' accepted", arg);
        else
                ok(r < 0 && e.code == GEAR_EXIT_USAGE, "port spec '%s' refused", arg);
}

int main(void)
{
        id_case("abcd", "abcd");
        id_case("a_b-c.d", "a_b-c.d");
        id_case("ABCDEFGHIJKLMNOPQRSTUVWX", "ABCDEFGHIJKLMNOPQRSTUVWX");
        id_case("localhost/web1", "web1");
        id_case("local/web1", "web1");
        id_case("0123", "0123");
        id_case("ab..", "ab..");
        id_case("", NULL);
        id_case("abc", NULL);
        id_case("ABCDEFGHIJKLMNOPQRSTUVWXY", NULL);
        id_case("..ab", NULL);
        id_case(".abc", NULL);
        id_case("-abc", NULL);
        id_case("ab/cd", NULL);
        id_case("../../etc", NULL);
        id_case("localhost/../ab", NULL);
        id_case("localhost/", NULL);
        id_case("remote/web1", NULL);
        id_case("ab cd", NULL);
        id_case("ab\ncd", NULL);
        id_case("abc\xc3\xa9", NULL);

        target_case("web1", TARGET_CONTAINER, "web1");
        target_case("ctr://web1", TARGET_CONTAINER, "web1");
        target_case("repo://code", TARGET_REPO, "code");
        target_case("repo://localhost/code", TARGET_REPO, "code");
        target_case("repo://", TARGET_REPO, NULL);
        target_case("git://code", TARGET_CONTAINER, NULL);
        target_case("repo://../x", TARGET_REPO, NULL);

        spec_case("80", 80, 0, 1);
        spec_case("80:0", 80, 0, 1);
        spec_case("8080:4000", 8080, 4000, 1);
        spec_case("65535:65535", 65535, 65535, 1);
        spec_case("0", 0, 0, 0);
        spec_case("0:80", 0, 0, 0);
        spec_case("65536", 0, 0, 0);
        spec_case("80:65536", 0, 0, 0);
        spec_case("", 0, 0, 0);
        spec_case(":", 0, 0, 0);
        spec_case("80:", 0, 0, 0);
        spec_case(":80", 0, 0, 0);
        spec_case("+80", 0, 0, 0);
        spec_case("-80", 0, 0, 0);
        spec_case(" 80", 0, 0, 0);
        spec_case("80:4000:1", 0, 0, 0);
        spec_case("000080", 0, 0, 0);
        spec_case("99999999999999999999", 0, 0, 0);

        {
                struct gear_err e = {0};
                struct port_map *maps = NULL;
                size_t n = 0;
                int r = port_specs_parse("80:0,443:4443,22", &maps, &n, &e);
                ok(r == 0 && n == 3 && maps[1].internal == 443 && maps[1].external == 4443 && maps[2].internal == 22,
                   "port list '%s' parsed", "80:0,443:4443,22");
                free(maps);
                maps = NULL, n = 0;
                ok(port_specs_parse("80,x", &maps, &n, &e) < 0, "port list '%s' refused", "80,x");
                free(maps);
        }
        {
                struct gear_err e = {0};
                struct port_range r;
                ok(port_range_parse("4000-60000", &r, &e) == 0 && r.lo == 4000 && r.hi == 60000, "range '%s'", "4000-60000");
                ok(port_range_parse("5-5", &r, &e) == 0 && r.lo == 5 && r.hi == 5, "range '%s'", "5-5");
                ok(port_range_parse("6-5", &r, &e) < 0, "range '%s' refused", "6-5");
                ok(port_range_parse("0-5", &r, &e) < 0, "range '%s' refused", "0-5");
                ok(port_range_parse("5", &r, &e) < 0, "range '%s' refused", "5");
                ok(port_range_parse("1-70000", &r, &e) < 0, "range '%s' refused", "1-70000");
        }
        printf("1..%d\n", count);
        return failed ? 1 : 0;
}
