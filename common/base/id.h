/* identifiers of containers, environments and repositories */
#ifndef GEAR_ID_H
#define GEAR_ID_H

#include <stdbool.h>

#include "err.h"

#define GEAR_ID_MIN 4
#define GEAR_ID_MAX 24

typedef char gear_id[GEAR_ID_MAX + 1];

/*
 * 4 to 24 characters of [A-Za-z0-9_.-], not starting with '.' or '-':
 * the first two characters name a directory, so ".." must never be one.
 */
bool id_valid(const char *s);

/* accepts ID, localhost/ID and local/ID; 100 with a message when invalid */
int id_parse(const char *arg, gear_id out, struct gear_err *e);

enum target_kind { TARGET_CONTAINER, TARGET_REPO };

struct gear_target {
        enum target_kind kind;
        gear_id id;
        bool write; /* of a repository: its write access (keys_add) */
};

/* ID, ctr://ID or repo://ID (each with the localhost/ forms) */
int target_parse(const char *arg, struct gear_target *t, struct gear_err *e);

#endif
