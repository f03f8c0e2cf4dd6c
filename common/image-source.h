/* between the source readers of gear-build */
#ifndef GEAR_IMAGE_SOURCE_H
#define GEAR_IMAGE_SOURCE_H

#include "image.h"

struct archive;

/* a reader for layer tars: gzip, zstd, xz, bzip2 or none */
struct archive *source_reader_new(struct gear_err *e);
/* the outer docker archive at path, positioned at member's data */
int docker_find(const char *path, const char *member, struct archive **out, struct gear_err *e);
/* manifest.json, the config and the layer list of s->ref */
int docker_load(struct image_source *s, struct gear_err *e);

#endif
