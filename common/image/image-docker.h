/* docker save archives, for the source readers of gear-build (image-source.c) */
#ifndef GEAR_IMAGE_DOCKER_H
#define GEAR_IMAGE_DOCKER_H

#include "image.h"

struct archive;

/* the outer docker archive at path, positioned at member's data */
int docker_find(const char *path, const char *member, struct archive **out, struct gear_err *e);
/* manifest.json, the config and the layer list of s->ref */
int docker_load(struct image_source *s, struct gear_err *e);

struct layer_ctx;
/* layer i of s, from outer (a docker archive positioned at its member, left open) when not NULL */
int source_layer_apply(struct image_source *s, size_t i, struct archive *outer, struct layer_ctx *c,
                       struct gear_err *e);
/* containers-storage: the docker archive "podman image save" streams, applied as it arrives */
int podman_apply(struct image_source *s, struct layer_ctx *c, struct gear_err *e);

#endif
