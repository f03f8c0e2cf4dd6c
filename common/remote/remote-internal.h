/* what remote*.c share */
#ifndef GEAR_REMOTE_INTERNAL_H
#define GEAR_REMOTE_INTERNAL_H

#include <stdbool.h>

#include "remote-registry.h"
#include "remote.h"
#include "../image/image.h"

enum remote_kind { REMOTE_DIR, REMOTE_REGISTRY };

struct remote {
        enum remote_kind kind;
        struct gear_root dir;                 /* REMOTE_DIR */
        struct registry *reg;                 /* REMOTE_REGISTRY */
        bool http;
        char host[256];
        char repo[IMAGE_NAME_MAX + 1];
        char tag[IMAGE_TAG_MAX + 1];          /* "" when the spec names none */
};

/* copies the rest of in to out, counting bytes when not NULL */
int copy_fd(int in, int out, uint64_t *bytes, struct gear_err *e);
int object_map_parse(const char *buf, size_t len, struct object_map **m, struct gear_err *e);
/* the spec an image pulled with tag from r records as its origin */
void remote_origin_spec(const struct remote *r, const char *tag, char *buf, size_t n);
/* the OCI layout at sfd/src into a new directory dfd/dst; blobs checked against their names */
int copy_layout(int sfd, const char *src, int dfd, const char *dst, uint64_t *bytes, struct gear_err *e);

#endif
