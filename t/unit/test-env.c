/* unit tests of the environment parsers in common/env/env.c; TAP on stdout */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/env/env.h"

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

/* line parses to NAME=VALUE (value NULL: bare name) */
static void line_ok(const char *line, const char *name, const char *value)
{
        struct gear_err e = {0};
        struct env_line l;
        char what[512];
        int r;

        r = env_line_parse(line, strlen(line), 0, &l, &e);
        snprintf(what, sizeof what, "line '%s' -> %s=%s", line, name, value ? value : "(bare)");
        ok(r == 1 && l.name_len == strlen(name) && !memcmp(l.name, name, l.name_len) &&
           (value ? l.value && l.value_len == strlen(value) && !memcmp(l.value, value, l.value_len)
                  : !l.value), what);
}

static void line_skip(const char *line)
{
        struct gear_err e = {0};
        struct env_line l;
        char what[512];

        snprintf(what, sizeof what, "line '%s' is skipped", line);
        ok(env_line_parse(line, strlen(line), 0, &l, &e) == 0, what);
}

static void line_bad(const char *line, size_t len, int flags, const char *msg)
{
        struct gear_err e = {0};
        struct env_line l;
        char what[512];

        snprintf(what, sizeof what, "refused: %s", msg);
        ok(env_line_parse(line, len, flags, &l, &e) == -1 && e.code == GEAR_EXIT_USAGE &&
           !strcmp(e.msg, msg), what);
        if (strcmp(e.msg, msg))
                printf("# got '%s'\n", e.msg);
}

static char *fake_lookup(const char *name)
{
        if (!strcmp(name, "HOME"))
                return "/root";
        if (!strcmp(name, "BROKEN"))
                return "a\nb";
        return NULL;
}

static void text_is(const char *in, const char *want)
{
        struct gear_err e = {0};
        struct env env = {0};
        char *out = NULL;
        char what[512];
        int r;

        r = env_parse_text(&env, in, strlen(in), "f", fake_lookup, &e);
        if (r == 0)
                out = env_format(&env, NULL);
        snprintf(what, sizeof what, "text parses to '%s'", want);
        ok(r == 0 && out && !strcmp(out, want), what);
        if (r < 0)
                printf("# error '%s'\n", e.msg);
        free(out);
        env_free(&env);
}

static void text_bad(const char *in, size_t len, const char *msg)
{
        struct gear_err e = {0};
        struct env env = {0};
        char what[512];

        snprintf(what, sizeof what, "text refused: %s", msg);
        ok(env_parse_text(&env, in, len, "f", fake_lookup, &e) < 0 && e.code == GEAR_EXIT_USAGE &&
           !strcmp(e.msg, msg), what);
        if (strcmp(e.msg, msg))
                printf("# got '%s'\n", e.msg);
        env_free(&env);
}

static void test_lines(void)
{
        char buf[512], name[256];

        line_ok("A=1", "A", "1");
        line_ok("  A  =  1  ", "A", "1");
        line_ok("\tA\t=\t1\t", "A", "1");
        line_ok("A=1\r", "A", "1");
        line_ok("A= 1 \r", "A", "1");
        line_ok("A=", "A", "");
        line_ok("A=\"\"", "A", "");
        line_ok("A=''", "A", "");
        line_ok("A=\"x y\"", "A", "x y");
        line_ok("A='x y'", "A", "x y");
        line_ok("A=\"  padded  \"", "A", "  padded  ");
        line_ok("A=\"unmatched", "A", "\"unmatched");
        line_ok("A=\"mixed'", "A", "\"mixed'");
        line_ok("A=\"", "A", "\"");
        line_ok("A=\"in\"side\"", "A", "in\"side");
        line_ok("A=a=b", "A", "a=b");
        line_ok("A=x # y", "A", "x # y");
        line_ok("_=1", "_", "1");
        line_ok("a_B9=1", "a_B9", "1");
        line_ok("NAME", "NAME", NULL);
        line_ok("  NAME  \r", "NAME", NULL);
        line_skip("");
        line_skip("   ");
        line_skip("\r");
        line_skip(" \t \r");
        line_skip("# comment");
        line_skip("   #A=1");
        line_skip("#");

        line_bad("1ABC=2", 6, 0, "invalid variable name '1ABC'");
        line_bad("A B=2", 5, 0, "invalid variable name 'A B'");
        line_bad("=x", 2, 0, "invalid variable name ''");
        line_bad("A-B", 3, 0, "invalid variable name 'A-B'");
        line_bad("A\001B=1", 5, 0, "invalid variable name 'A\\x01B'");
        line_bad("A\0B=1", 5, 0, "invalid variable name 'A\\x00B'");
        line_bad("\xc3\xa9=1", 4, 0, "invalid variable name '\\xc3\\xa9'");
        line_bad("A=x\0y", 5, 0, "value of 'A' contains a NUL byte");
        line_bad("A=x\ry", 5, 0, "value of 'A' contains a carriage return");
        line_bad("A=x\r\r", 5, 0, "value of 'A' contains a carriage return");
        line_bad("A=x\ny", 5, ENV_LINE_ARG, "value of 'A' contains a newline");
        line_bad("", 0, ENV_LINE_ARG, "invalid variable name ''");
        line_bad("  ", 2, ENV_LINE_ARG, "invalid variable name ''");
        line_bad("#A=1", 4, ENV_LINE_ARG, "invalid variable name '#A'");

        memset(name, 'N', 255);
        name[255] = 0;
        snprintf(buf, sizeof buf, "%s=1", name);
        line_ok(buf, name, "1");
}

static void test_limits(void)
{
        struct gear_err e = {0};
        struct env_line l;
        char buf[70000];

        memset(buf, 'N', 256);
        strcpy(buf + 256, "=1");
        line_bad(buf, strlen(buf), 0,
                 "variable name 'NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN...' is longer than 255 bytes");

        /* V= and the value: the longest line podman --env-file reads */
        memcpy(buf, "V=", 2);
        memset(buf + 2, 'x', ENV_LINE_MAX - 2);
        ok(env_line_parse(buf, ENV_LINE_MAX, 0, &l, &e) == 1 && l.value_len == ENV_LINE_MAX - 2,
           "a NAME=VALUE of 65535 bytes is fine");
        buf[ENV_LINE_MAX] = 'x';
        line_bad(buf, ENV_LINE_MAX + 1, 0, "value of 'V' is longer than 65533 bytes (NAME=VALUE at most 65535)");
        /* the limit counts the value without its quotes */
        buf[2] = '"';
        buf[ENV_LINE_MAX + 1] = '"';
        ok(env_line_parse(buf, ENV_LINE_MAX + 2, 0, &l, &e) == 1 && l.value_len == ENV_LINE_MAX - 2,
           "a quoted value: its quotes do not count");
}

static void test_text(void)
{
        static const char nul[] = "A=1\nB=x\0y\n";
        char *big;
        size_t n = 0;

        text_is("", "");
        text_is("A=1\nB=2\n", "A=1\nB=2\n");
        text_is("A=1\r\nB=2\r\n", "A=1\nB=2\n");
        text_is("A=1", "A=1\n");
        text_is("# c\n\n  \nA=1\n\n", "A=1\n");
        text_is("A=1\nB=2\nA=3\n", "A=3\nB=2\n");
        text_is("HOME\nNOPE\nX=1\n", "HOME=/root\nX=1\n");
        text_bad("A=1\n# ok\n1ABC=2\n", 16, "f:3: invalid variable name '1ABC'");
        text_bad(nul, sizeof nul - 1, "f:2: value of 'B' contains a NUL byte");
        text_bad("BROKEN\n", 7, "f:1: environment variable 'BROKEN' contains a newline");

        big = malloc(ENV_FILE_MAX + 1);
        memset(big, '#', ENV_FILE_MAX + 1);
        text_bad(big, ENV_FILE_MAX + 1, "f: larger than 1048576 bytes");
        for (int i = 0; i <= ENV_VARS_MAX; i++)
                n += sprintf(big + n, "V%d=\n", i);
        text_bad(big, n, "f:4097: more than 4096 variables");
        free(big);
}

static void test_args(void)
{
        struct gear_err e = {0};
        struct env env = {0};
        char *out;

        ok(env_parse_arg(&env, "A=1", 1, fake_lookup, &e) == 0 &&
           env_parse_arg(&env, " B = \"two\" ", 2, fake_lookup, &e) == 0 &&
           env_parse_arg(&env, "HOME", 3, fake_lookup, &e) == 0 &&
           env_parse_arg(&env, "UNSET", 4, fake_lookup, &e) == 0 &&
           env_parse_arg(&env, "A=3", 5, NULL, &e) == 0 &&
           env_parse_arg(&env, "HOME", 6, NULL, &e) == 0, "arguments parse");
        out = env_format(&env, NULL);
        ok(out && !strcmp(out, "A=3\nB=two\nHOME=/root\n"), "arguments set, replace, look up, skip");
        free(out);
        ok(env_parse_arg(&env, "", 7, fake_lookup, &e) < 0 && !strcmp(e.msg, "argument 7: invalid variable name ''"),
           "an empty argument is refused with its position");
        ok(env_parse_arg(&env, "BROKEN", 2, fake_lookup, &e) < 0 &&
           !strcmp(e.msg, "argument 2: environment variable 'BROKEN' contains a newline"),
           "a bare name whose value has a newline is refused");
        env_free(&env);
}

static void test_stored(void)
{
        static const char in[] = "A= x \nB=\"q\"\n\n# admin\nC=a=b\nD=\n";
        struct gear_err e = {0};
        struct env env = {0};
        char *out;

        ok(env_parse_stored(&env, in, sizeof in - 1, "s", &e) == 0, "a stored file parses");
        out = env_format(&env, NULL);
        ok(out && !strcmp(out, "A= x \nB=\"q\"\nC=a=b\nD=\n"), "stored values are literal");
        free(out);
        env_free(&env);
        ok(env_parse_stored(&env, "A=1\n B=2\n", 9, "s", &e) < 0 &&
           !strcmp(e.msg, "s:2: invalid variable name ' B'"), "stored names are not trimmed");
        env_free(&env);
        ok(env_parse_stored(&env, "A=1\nB\n", 6, "s", &e) < 0 && !strcmp(e.msg, "s:2: no '=' after 'B'"),
           "a stored line without '=' is refused");
        env_free(&env);
}

static void test_set(void)
{
        struct gear_err e = {0};
        struct env env = {0};
        char *out;
        size_t len;

        ok(env_set(&env, "A", 1, "1", 1, &e) == 0 && env_set(&env, "AB", 2, "2", 1, &e) == 0 &&
           env_set(&env, "A", 1, "", 0, &e) == 0 && env_set(&env, "C", 1, "3", 1, &e) == 0,
           "env_set");
        out = env_format(&env, &len);
        ok(out && !strcmp(out, "A=\nAB=2\nC=3\n") && len == 12 && env_size(&env) == 12,
           "env_set replaces in place and appends");
        free(out);
        env_free(&env);
        ok(env.n == 0 && !env.vars, "env_free empties");
}

static void test_path(void)
{
        char p[ENV_PATH_MAX];

        env_path("a3408aabfed", p);
        ok(!strcmp(p, "env/contents/a3/a3408aabfed"), "env_path partitions by the first two characters");
        env_path("abcdefghijklmnopqrstuvwx", p);
        ok(!strcmp(p, "env/contents/ab/abcdefghijklmnopqrstuvwx"), "env_path of a 24 character id");
}

int main(void)
{
        test_lines();
        test_limits();
        test_text();
        test_args();
        test_stored();
        test_set();
        test_path();
        printf("1..%d\n", count);
        return failed ? 1 : 0;
}
