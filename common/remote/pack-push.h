/* gear-push to a registry in packs (pack-push.c), and what it knows of the registry (pack-known.c) */
#ifndef GEAR_PACK_PUSH_H
#define GEAR_PACK_PUSH_H

#include <stdbool.h>

#include "remote-internal.h"

/* where the registry keeps a content already, as far as this host knows */
struct known_loc {
        int repo;               /* index in repos, -1: not known */
        struct object_loc loc;
        bool relayed;           /* from a pulled image's map: its publisher's word */
};
struct known {
        struct known_loc *v;    /* one for each content looked for (its chunks its own) */
        size_t n;
        char (*repos)[IMAGE_NAME_MAX + 1];
        size_t nrepos;
};
/*
 * For each content of want (n of them, sorted), the first place the maps of
 * this host's images put it in registry host: the maps of the images pulled
 * from there, then the maps pushed there (images/NAME/TAG/pushed/HOST/),
 * images in name order. A map that cannot be read is passed over.
 */
int known_learn(const struct gear_root *img, const char *host, const digest_hex *want, size_t n, struct known *k,
                struct gear_err *e);
void known_free(struct known *k);

/* the registry push of image im (remote_push) in packs */
int pack_push(struct remote *r, const struct gear_root *img, struct image *im, struct remote_stats *st,
              struct gear_err *e);

#endif
