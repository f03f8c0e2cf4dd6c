/* libFuzzer target: the authorized_keys parser of common/keys/keys.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/keys/keys.h"

/* every key that parses must survive its canonical form unchanged */
static void roundtrip(const struct ssh_key *k)
{
        struct gear_err e = {0};
        struct ssh_key again;
        char *text = key_text(k);

        if (!text)
                abort();
        if (key_parse_stored(text, strlen(text), &again, true, &e) < 0)
                abort();
        if (strcmp(again.fp, k->fp) || strcmp(again.type, k->type) || again.blob_len != k->blob_len ||
            memcmp(again.blob, k->blob, k->blob_len))
                abort();
        if (!key_fp_valid(k->fp))
                abort();
        ssh_key_done(&again);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gear_err e = {0};
        struct key_set set = {0};
        struct ssh_key k;
        const char *s = (const char *)data;
        const char *nl = memchr(s, '\n', size);
        int r;

        r = key_parse_line(s, nl ? (size_t)(nl - s) : size, &k, true, &e);
        if (r < 0 && e.code != GEAR_EXIT_USAGE && e.code != GEAR_EXIT_SYS)
                abort();
        if (r > 0) {
                roundtrip(&k);
                ssh_key_done(&k);
        } else if (k.blob)
                abort();

        if (keys_parse_buf(s, size, "fuzz", &set, &e) == 0) {
                for (size_t i = 0; i < set.n; i++) {
                        roundtrip(&set.keys[i]);
                        for (size_t j = 0; j < i; j++)
                                if (!strcmp(set.keys[i].fp, set.keys[j].fp))
                                        abort();
                }
                key_set_done(&set);
        } else if (set.keys || set.n)
                abort();
        return 0;
}
