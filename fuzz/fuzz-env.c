/*
 * libFuzzer target for the environment parsers: any input either parses to
 * variables that are valid and survive the stored form unchanged, or is
 * refused with code 100.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/env/env.h"

static char *lookup(const char *name)
{
        /* bare names starting with L are "set", with a value that must be checked */
        if (name[0] == 'L')
                return name[1] == 'N' ? "bad\nvalue" : "looked up";
        return NULL;
}

static void check_line(const char *s, size_t len, int flags)
{
        struct gear_err e = {0};
        struct env_line l;
        int r = env_line_parse(s, len, flags, &l, &e);

        if (r < 0) {
                if (e.code != GEAR_EXIT_USAGE || !e.msg[0])
                        abort();
                return;
        }
        if (r == 0) {
                if (flags & ENV_LINE_ARG)
                        abort();
                return;
        }
        if (l.name < s || l.name + l.name_len > s + len || l.name_len > ENV_NAME_MAX ||
            !env_name_valid(l.name, l.name_len))
                abort();
        if (l.value && (l.value < s || l.value + l.value_len > s + len || l.name_len + 1 + l.value_len > ENV_LINE_MAX ||
                        memchr(l.value, 0, l.value_len) || memchr(l.value, '\n', l.value_len) ||
                        memchr(l.value, '\r', l.value_len)))
                abort();
}

static void check_text(const char *s, size_t len)
{
        struct gear_err e = {0};
        struct env env = {0}, again = {0};
        char *out, *out2;
        size_t n, n2;

        if (env_parse_text(&env, s, len, "fuzz", lookup, &e) < 0) {
                if (e.code != GEAR_EXIT_USAGE)
                        abort();
                env_free(&env);
                return;
        }
        out = env_format(&env, &n);
        if (!out || n != env_size(&env) || env.n > ENV_VARS_MAX)
                abort();
        /* what is stored reads back as the same variables */
        if (env_parse_stored(&again, out, n, "stored", &e) < 0)
                abort();
        out2 = env_format(&again, &n2);
        if (!out2 || n2 != n || memcmp(out, out2, n))
                abort();
        free(out);
        free(out2);
        env_free(&env);
        env_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *s = (const char *)data;
        const char *nl = memchr(s, '\n', size);
        struct gear_err e = {0};
        struct env env = {0};

        check_line(s, nl ? (size_t)(nl - s) : size, 0);
        check_line(s, size, ENV_LINE_ARG);
        check_text(s, size);
        env_parse_stored(&env, s, size, "stored", &e);
        env_free(&env);
        return 0;
}
