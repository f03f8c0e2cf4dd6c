/* docker save archives, for the source readers of gear-build (image-source.c) */
#ifndef GEAR_IMAGE_DOCKER_H
#define GEAR_IMAGE_DOCKER_H

#include "image.h"

struct archive;

/* the outer docker archive at path, positioned at member's data */
int docker_find(const char *path, const char *member, struct archive **out, struct gear_err *e);
/* manifest.json, the config and the layer list of s->ref */
int docker_load(struct image_source *s, struct gear_err *e);

#endif
