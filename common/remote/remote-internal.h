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
        struct remote_limits limits;          /* what gear-pull accepts */
        struct progress *progress;            /* objects pushed; NULL: none */
        uint64_t pack_size;                   /* where a push cuts packs */
        int solid_level;                      /* of a push's solid frames; 0: none */
        bool one_range;                       /* the registry answers a request for several ranges with the whole blob */
};

/* what the manifest of a Gear index image names */
struct store_manifest {
        digest_hex config, layer, map, access;
        uint64_t config_size, layer_size;
        bool has_map, has_access;             /* the io.gear.object-map and io.gear.access-list annotations */
        char type[256];                       /* its mediaType, "" when it has none */
};
/* a manifest from a store: code 100 "not a Gear index image" unless it names one config and one layer */
int manifest_parse(const char *buf, size_t n, struct store_manifest *m, struct gear_err *e);
/* the declared sizes within l: code 100 else */
int manifest_check_limits(const struct store_manifest *m, const struct remote_limits *l, struct gear_err *e);
/* index.json of an OCI layout: the digest and size of its (first) manifest; code 100 when invalid */
int layout_index_parse(const char *buf, size_t n, digest_hex hex, uint64_t *size, struct gear_err *e);

/* an object map (object-map.c): packs, and the contents in them */
struct map_pack {
        digest_hex hex;
        uint64_t size;          /* 0 in a map of the first format */
};
struct map_entry {
        digest_hex hex;
        uint32_t pack;          /* index in packs */
        bool member;            /* of the solid frame of len bytes at off, at at of what it decodes to */
        uint64_t off, len, at;
        uint32_t chunk0, nchunks; /* its frames: chunks[chunk0] on (chunks.h) */
};
struct object_map {
        struct map_pack *packs;
        size_t npacks, cap_packs;
        struct map_entry *v;
        size_t n, cap;
        struct map_chunk *chunks;
        size_t nchunks, cap_chunks;
        uint32_t *chunk_owner;  /* once sorted: the entry of v each chunk is of */
        uint32_t *chunk_by_hex; /* indices of chunks by digest */
        bool whole;             /* the first format: each blob is one object */
        bool sorted;            /* v sorted by content, as object_map_find needs */
        uint32_t *by_off;       /* packed: indices of v by pack and offset (once sorted) */
        uint32_t *rank;         /* v[i] is by_off[rank[i]] */
};
int object_map_new(struct object_map **m, struct gear_err *e);
/* the index of the new pack, or -1 */
int object_map_add_pack(struct object_map *m, const char *hex, uint64_t size, struct gear_err *e);
int object_map_add(struct object_map *m, const char *hex, uint32_t pack, uint64_t off, uint64_t len,
                   struct gear_err *e);
/* a content at at of the solid frame of len bytes at off of the pack */
int object_map_add_member(struct object_map *m, const char *hex, uint32_t pack, uint64_t off, uint64_t len,
                          uint64_t at, struct gear_err *e);
/* a chunk of the content added last (not a member): its frame of clen bytes decodes to size bytes of digest hex */
int object_map_add_chunk(struct object_map *m, uint32_t clen, uint32_t size, const char *hex, struct gear_err *e);
/* the chunks of loc, for the content added last */
int object_map_add_chunks(struct object_map *m, const struct object_loc *loc, struct gear_err *e);
/* sorts the contents for object_map_find; code 111 when a content or a pack is named twice */
int object_map_index(struct object_map *m, struct gear_err *e);
/* the text of either format, checked and indexed; code 111 "invalid object map: ..." */
int object_map_parse(const char *buf, size_t len, struct object_map **m, struct gear_err *e);
/* m as text of the second format (each pack with its contents in offset order) */
int object_map_format(const struct object_map *m, char **text, size_t *n, struct gear_err *e);
/* the map blob of a registry (zstd of the text) from text, and back (bounded by REMOTE_MAP_MAX;
   a blob that is not zstd is text as it is: maps of the first format) */
#define REMOTE_MAP_ZSTD_LEVEL 12
int object_map_encode(const char *text, size_t n, void **blob, size_t *bn, struct gear_err *e);
/*
 * The compact form a registry gets (object-map.c): contents named by their
 * place in order, the image's distinct contents by first file in path order
 * (itree_contents); code 111 for a content order lacks. from_wire turns it
 * back into the second format, refusing a number out of range (code 111).
 */
int object_map_format_wire(const struct object_map *m, const digest_hex *order, size_t norder, char **text,
                           size_t *n, struct gear_err *e);
bool object_map_is_wire(const char *text, size_t n);
int object_map_from_wire(const char *wire, size_t n, const digest_hex *order, size_t norder, char **text,
                         size_t *tn, struct gear_err *e);
/*
 * The compact form checked without the index (gear-pull): each content
 * stands in as its number, so every rule of the second format is checked,
 * but not that the count is the index's (object_map_load does)
 */
int object_map_wire_check(const char *wire, size_t n, struct gear_err *e);
int object_map_decode(const char *blob, size_t n, char **text, size_t *tn, struct gear_err *e);
/* root/rel as an object map; none when it is missing */
int object_map_load_file(const struct gear_root *root, const char *rel, struct object_map **m, struct gear_err *e);
/*
 * the index image of im to registry r: config, index layer, the map blob and
 * the access list (access_list_shipped of om, the map), then the manifest
 */
int remote_push_index(struct remote *r, const struct gear_root *img, struct image *im, const void *map,
                      size_t maplen, const struct object_map *om, struct gear_err *e);
/* the spec an image pulled with tag from r records as its origin */
void remote_origin_spec(const struct remote *r, const char *tag, char *buf, size_t n);
/* a store's Gear index image, read whole and checked before anything is written */
struct store_image {
        char *idx, *layout, *man, *config, *layer; /* index.json, oci-layout, the manifest and its blobs */
        char *map, *access;                        /* the object map (a registry's), the access list: NULL when none */
        char *map_text;                            /* the map as text (the blob may be compressed) */
        size_t nidx, nlayout, nman, nconfig, nlayer, nmap, naccess, nmap_text;
        bool access_blob;                          /* the access list is the manifest's blob (a registry's) */
        digest_hex mhex;                           /* of the manifest */
        struct store_manifest m;
};
void store_image_free(struct store_image *s);
/*
 * The Gear index image at from/src, an OCI layout: index.json, oci-layout,
 * the manifest, the config and index layer it names, the access list when
 * there is one. Each file is read as store-read.h reads a store's; declared
 * sizes are checked against l (NULL: no limits) before their blobs are read,
 * and each blob against its digest and size. Code 1 when there is no
 * index.json. *bytes (may be NULL) counts what was read.
 */
int store_image_read(const struct gear_root *from, const char *src, const struct remote_limits *l,
                     struct store_image *s, uint64_t *bytes, struct gear_err *e);
/*
 * s as an OCI layout in the new directory to/dst (its blobs, the object map
 * and access list as files too, index.json last); index.json and oci-layout
 * must be set.
 */
int store_image_write(const struct gear_root *to, const char *dst, const struct store_image *s, struct gear_err *e);

#endif
