/*
 * libFuzzer target for the lists a store hands gear-pull: an access list is
 * accepted only when it is lines of 64 lowercase hex digits, and an object
 * map only when every line maps a digest to a blob digest that lookups find
 * again. Anything else is refused with code 111, without a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/remote/image-fetch.h"
#include "../common/remote/remote-internal.h"

static void check_access(const char *s, size_t len)
{
        struct gear_err e = {0};

        if (access_list_check(s, len, &e) < 0) {
                if (e.code != GEAR_EXIT_SYS || !e.msg[0])
                        abort();
                return;
        }
        if (len % (DIGEST_HEX_LEN + 1))
                abort();
        for (size_t i = 0; i < len; i++)
                if ((i + 1) % (DIGEST_HEX_LEN + 1) ? !strchr("0123456789abcdef", s[i]) || !s[i] : s[i] != '\n')
                        abort();
}

static void check_map(const char *s, size_t len)
{
        struct gear_err e = {0};
        struct object_map *m = NULL;
        char hex[DIGEST_HEX_LEN + 1];
        const size_t line = DIGEST_HEX_LEN + 1 + sizeof DIGEST_PREFIX - 1 + DIGEST_HEX_LEN;

        if (object_map_parse(s, len, &m, &e) < 0) {
                if (e.code != GEAR_EXIT_SYS || !e.msg[0])
                        abort();
                return;
        }
        /* every line's digest is found, and maps to that line's blob */
        for (size_t i = 0; i + line <= len; i += line + 1) {
                const char *blob;
                memcpy(hex, s + i, DIGEST_HEX_LEN);
                hex[DIGEST_HEX_LEN] = 0;
                if (!(blob = object_map_blob(m, hex)) || strlen(blob) != line - DIGEST_HEX_LEN - 1)
                        abort();
        }
        object_map_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        check_access((const char *)data, size);
        check_map((const char *)data, size);
        return 0;
}
