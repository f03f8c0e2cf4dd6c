/*
 * libFuzzer target for what gear-pull reads of a store's image before it
 * fetches anything else: the manifest (manifest_parse, then the declared
 * sizes against the limits) and an OCI layout's index.json
 * (layout_index_parse). Either gives descriptors that keep their promises
 * (digests of 64 lowercase hex digits, sizes within the limits) or is
 * refused with code 100; never a crash.
 *   'M' + a manifest    'I' + an index.json
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/image/image.h"
#include "../common/remote/remote-internal.h"

static void check_manifest(const char *s, size_t n)
{
        static const struct remote_limits l = { .config_max = 4096, .index_max = 1 << 20 };
        struct store_manifest m;
        struct gear_err e = {0};

        if (manifest_parse(s, n, &m, &e) < 0) {
                if (e.code != GEAR_EXIT_USAGE || !e.msg[0])
                        abort();
                return;
        }
        if (!digest_hex_valid(m.config) || !digest_hex_valid(m.layer) || (m.has_map && !digest_hex_valid(m.map)) ||
            (m.has_access && !digest_hex_valid(m.access)) || strnlen(m.type, sizeof m.type) >= sizeof m.type ||
            m.config_size > INT64_MAX || m.layer_size > INT64_MAX)
                abort();
        if (manifest_check_limits(&m, &l, &e) < 0) {
                if (e.code != GEAR_EXIT_USAGE || !e.msg[0] || (m.config_size <= l.config_max && m.layer_size <= l.index_max))
                        abort();
        } else if (m.config_size > l.config_max || m.layer_size > l.index_max) {
                abort();
        }
        if (manifest_check_limits(&m, NULL, &e) < 0)
                abort();
}

static void check_index(const char *s, size_t n)
{
        struct gear_err e = {0};
        digest_hex hex;
        uint64_t size;

        if (layout_index_parse(s, n, hex, &size, &e) < 0) {
                if (e.code != GEAR_EXIT_USAGE || !e.msg[0])
                        abort();
                return;
        }
        if (!digest_hex_valid(hex) || size > IMAGE_JSON_MAX)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        if (data[0] == 'M')
                check_manifest((const char *)data + 1, size - 1);
        else if (data[0] == 'I')
                check_index((const char *)data + 1, size - 1);
        return 0;
}
