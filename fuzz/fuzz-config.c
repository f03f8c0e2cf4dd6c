/*
 * libFuzzer target for the parsers of host-written text: gear.conf and the
 * X-Container* metadata of a unit. Either parses to values that keep their
 * promises or is refused with code 100; never a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/base/config.h"
#include "../common/systemd/unit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gear_config c;
        struct unit_meta m;
        struct gear_err e = {0};
        char *s = malloc(size + 1);

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;

        config_init(&c);
        if (config_parse(&c, "fuzz", s, &e) < 0) {
                if (e.code != GEAR_EXIT_USAGE || !e.msg[0])
                        abort();
        } else if (c.podman[0] != '/' || !c.max_index_size || c.max_index_size > GEAR_CONF_MAX_INDEX_SIZE_LIMIT ||
                   !c.max_config_size || c.max_config_size > GEAR_CONF_MAX_CONFIG_SIZE_LIMIT) {
                abort();
        }
        config_done(&c);

        gear_err_clear(&e);
        memset(&m, 0, sizeof m);
        if (unit_parse_meta(s, &m, &e) < 0) {
                if (e.code != GEAR_EXIT_USAGE || !e.msg[0])
                        abort();
        } else if (!id_valid(m.id) || m.n_ports > UNIT_MAX_PORTS) {
                abort();
        }
        free(s);
        return 0;
}
