/* libFuzzer: identifiers, targets, port specs and ranges never crash and keep their promises */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/base/id.h"
#include "../common/ports/ports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gear_err e = {0};
        struct gear_target t;
        struct port_map m, *maps = NULL;
        struct port_range r;
        char *s = malloc(size + 1);
        size_t n = 0;
        gear_id id;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        if (id_parse(s, id, &e) == 0) {
                /* an accepted id can never leave its directory */
                if (!id_valid(id) || strchr(id, '/') || id[0] == '.' || strlen(id) > GEAR_ID_MAX)
                        abort();
        }
        target_parse(s, &t, &e);
        if (port_spec_parse(s, &m, &e) == 0 && (m.internal < 1 || m.internal > 65535 || m.external > 65535))
                abort();
        port_specs_parse(s, &maps, &n, &e);
        free(maps);
        if (port_range_parse(s, &r, &e) == 0 && (r.lo < 1 || r.lo > r.hi || r.hi > 65535))
                abort();
        free(s);
        return 0;
}
