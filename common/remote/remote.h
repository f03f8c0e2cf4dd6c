/* Folder remote/: stores other hosts share; may use base/ to image/. (common/README) */
/*
 * A store other hosts share: a directory (usually an NFS mount) or an OCI
 * distribution registry. Objects keep the form the local store gives them
 * (zstd or raw, see store.h) and are named by the SHA-256 of their
 * uncompressed content; a reader verifies that digest after decoding, so a
 * store is never trusted.
 *
 *   DIR, dir:DIR                     objects/<ab>/<rest>, images/NAME/TAG/...
 *   docker://HOST[:PORT]/REPO        one registry repository per image name
 */
#ifndef GEAR_REMOTE_H
#define GEAR_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/digest.h"
#include "../base/err.h"

struct remote;

#include "../base/tree.h"

/* spec as above */
int remote_open(const char *spec, struct remote **r, struct gear_err *e);
void remote_free(struct remote *r);
/* the root of a directory store; NULL for a registry */
const struct gear_root *remote_dir(const struct remote *r);

/*
 * Where a registry keeps a content's stored bytes (an object map's entry,
 * see gear-tree(5)): len bytes at off of the blob pack, of pack_size bytes;
 * whole: the blob is the stored object alone (a map of the first format),
 * its length not known. member: those len bytes are a solid frame, one zstd
 * frame of several contents one after the other, and the content is its
 * size bytes at at of what the frame decodes to.
 */
struct map_chunk;
struct object_loc {
        digest_hex pack;
        uint64_t pack_size, off, len;
        bool whole, member;
        uint64_t at;
        /*
         * nchunks > 0: the len bytes are that many zstd frames one after the
         * other, chunks[i] the i-th (see chunks.h): a read fetches and checks
         * the frames it needs alone. Owned by the map (or whoever copied it).
         */
        const struct map_chunk *chunks;
        uint32_t nchunks;
};
/*
 * What solid frames hold: contents under SOLID_MEMBER_MAX, about
 * SOLID_FRAME_SIZE of them and at most SOLID_MEMBERS_MAX a frame. A map may
 * name a frame of at most SOLID_FRAME_MAX bytes, a content at most at
 * SOLID_AT_MAX of what it decodes to, and at most SOLID_MEMBERS_MAX
 * members of one frame; a member that does not fit these is not fetched.
 */
#define SOLID_MEMBER_MAX (1u << 20)
#define SOLID_FRAME_SIZE (4u << 20)
#define SOLID_MEMBERS_MAX 1024
#define SOLID_FRAME_MAX (16u << 20)
#define SOLID_AT_MAX (16u << 20)

/*
 * Writes the stored bytes of the object whose uncompressed content has SHA-256
 * hex to fd (from its current offset): for a registry from where loc says
 * (a byte range of a pack, or a whole blob), which a directory store
 * ignores (NULL). Bounded by timeouts (GEAR_FETCH_TIMEOUT, see store-read.h)
 * and by max, the most stored bytes the content can need (store_stored_max
 * of its size): a longer object is cut off, code 111. Code 111 on a
 * transport error, 1 when the store lacks the object. Safe to call from
 * several threads on one struct remote.
 */
int remote_fetch_object(struct remote *r, const char *hex, const struct object_loc *loc, uint64_t max, int fd,
                        struct gear_err *e);
/*
 * len bytes at off of a registry's blob pack (pack_size bytes, as the map
 * declares) to fd: a Range request; exactly len bytes or code 111. fn
 * (NULL: none) is told how many have been written to fd as they arrive
 * (from 0 again when the request is retried).
 */
int remote_fetch_range(struct remote *r, const char *pack, uint64_t pack_size, uint64_t off, uint64_t len, int fd,
                       void (*fn)(void *ud, uint64_t n), void *ud, struct gear_err *e);
/*
 * The n ranges at v (ascending, disjoint, at most BYTERANGES_MAX) of a
 * pack to fd, one after the other, as remote_fetch_range does one: a
 * request for all of them, or one each from a registry that answers that
 * with the whole pack or not with them (then remembered for r)
 */
struct byte_range;
int remote_fetch_ranges(struct remote *r, const char *pack, uint64_t pack_size, const struct byte_range *v, size_t n,
                        int fd, void (*fn)(void *ud, uint64_t n), void *ud, struct gear_err *e);
/* r is a registry */
bool remote_is_registry(const struct remote *r);

/*
 * A pulled image records where it came from in its image directory
 * (images/NAME/TAG/, given relative to the image tree, or "." when img is
 * the image directory itself): the store spec, and for a registry the
 * object map: where the registry keeps each content.
 */
/* 1 and spec filled when the image came from a store, 0 when it was built here */
int image_origin(const struct gear_root *img, const char *image_dir, char *spec, size_t n, struct gear_err *e);

struct object_map;
struct itree;
/*
 * An image without a map gives an empty one. A map in the compact form a
 * registry sends (as gear-pull keeps it) names contents by their place in
 * the index: t is the image's index when the caller has it, else (NULL) it
 * is read from image_dir.
 */
int object_map_load(const struct gear_root *img, const char *image_dir, struct itree *t, struct object_map **m,
                    struct gear_err *e);
/* the map of the image as text of the second format: 1 with *text, 0 none (code 1 set), -1 */
int object_map_text(const struct gear_root *img, const char *image_dir, struct itree *t, char **text, size_t *n,
                    struct gear_err *e);
/* that text, checked, to out (gear-index -m); code 1 when the image has no map */
int object_map_show(const struct gear_root *img, const char *image_dir, struct itree *t, FILE *out,
                    struct gear_err *e);
/* where the map puts content hex; false when it does not list it */
bool object_map_find(const struct object_map *m, const char *hex, struct object_loc *loc);
/*
 * The contents the map puts after content hex in its pack, in offset order,
 * as long as they end within window bytes of where hex starts; for a member
 * of a solid frame, the other members of that frame (its bytes bring them
 * all), whatever the window. fn for each, until it returns false; how many.
 * None when the map does not put hex in a pack.
 */
typedef bool (*object_map_fn)(void *ud, const char *hex, const struct object_loc *loc);
size_t object_map_after(const struct object_map *m, const char *hex, uint64_t window, object_map_fn fn, void *ud);
/*
 * How many chunks have digest hex (an access list names the chunks a mount
 * read of a chunked content: chunks.h; chunks of equal bytes, a MiB of
 * zeros say, may be of several contents), and of the i-th of them (when
 * there is one) the content (*content, the map's own copy) and its index k
 */
size_t object_map_find_chunk(const struct object_map *m, const char *hex, size_t i, const char **content,
                             uint32_t *k);
/* the map puts contents in packs (the second format) */
bool object_map_packed(const struct object_map *m);
void object_map_free(struct object_map *m);

/*
 * Beyond the above: options, and the two directions of gear-push and
 * gear-pull. In an image directory, REMOTE_ORIGIN_FILE holds the store spec
 * (one line) and REMOTE_MAP_FILE the object map of a registry image, as
 * the registry sent it, decompressed (object-map.c, gear-tree(5)); REMOTE_PUSHED_DIR/HOST/REPO.map the
 * map gear-push wrote to that registry repository, which later pushes to
 * the same registry reuse the packs of. docker+http://HOST... is a
 * registry spoken to in plain HTTP (what --tls-verify=false selects).
 */
#define REMOTE_ORIGIN_FILE "origin"
#define REMOTE_MAP_FILE "objects.map"
/* beside pushed/HOST/REPO.map: that push named places a pulled image's map gave */
#define REMOTE_RELAYED_SUFFIX ".relayed"
#define REMOTE_PUSHED_DIR "pushed"
#define REMOTE_MAP_ANNOTATION "io.gear.object-map"
/* the largest map read, as text: some 3 million objects */
#define REMOTE_MAP_MAX (256u << 20)
/* the largest pack a map may declare */
#define REMOTE_PACK_MAX (1ull << 40)

/* the blob of the image's access list (image-fetch.h), when it has one */
#define REMOTE_ACCESS_ANNOTATION "io.gear.access-list"

/* the largest config and index layer a store image may declare (gear.conf max-config-size=, max-index-size=) */
struct remote_limits {
        uint64_t config_max, index_max;
};

struct remote_opts {
        bool tls_verify;
        const char *authfile; /* NULL: none */
        bool *prefetch;       /* where --prefetch goes; NULL: not an option of this command */
        const struct remote_limits *limits; /* NULL: gear.conf's defaults */
        struct progress *progress;            /* of a push; NULL: none */
        uint64_t pack_size;                   /* of a push to a registry (gear.conf pack-size=); 0: its default */
        int solid_level;                      /* of its solid frames (gear.conf solid-level=); 0: none */
};
/* ${XDG_RUNTIME_DIR}/containers/auth.json, or NULL; remote_open uses it with TLS verification */
const char *remote_default_authfile(void);
int remote_open_opts(const char *spec, const struct remote_opts *o, struct remote **r, struct gear_err *e);

struct remote_stats {
        uint64_t sent, skipped; /* objects */
        uint64_t bytes;         /* stored bytes of the objects sent */
        uint64_t packs_sent, packs_skipped; /* a registry's packs: uploaded; present or mounted */
        bool packs;             /* the push made packs (a registry) */
};
struct image_ref;
/* objects the store lacks, then the index image (a registry tag: the spec's, else ref's) */
int remote_push(struct remote *r, const struct gear_root *img, const struct image_ref *ref,
                struct remote_stats *st, struct gear_err *e);
/* the index image only, into images/NAME/TAG of img; *bytes: what was fetched */
int remote_pull(struct remote *r, const struct gear_root *img, const struct image_ref *ref,
                uint64_t *bytes, struct gear_err *e);

/*
 * The options gear-push and gear-pull share (--tls-verify=BOOL, --authfile
 * FILE, --help; --prefetch where o->prefetch is set): -1 to go on with
 * argv[optind...], else the exit code.
 */
int remote_cmd_opts(int argc, char **argv, const char *usage, struct remote_opts *o);
/* one of them for a command with options of its own: c 't' (--tls-verify) or 'a' (--authfile); 0 or the exit code */
int remote_parse_opt(int c, const char *arg, struct remote_opts *o, const char *usage);

struct image_source;
/*
 * gear-build's source spec: a registry image docker://HOST[:PORT]/REPO[:TAG|@DIGEST]
 * (or docker+http://...), its layers streamed; containers-storage:NAME[:TAG]
 * through the podman of t's gear.conf; anything else as source_open_for
 * (image.h) opens it. platform picks from an index (NULL: linux and the host's).
 */
int remote_source_open(const struct gear_tree *t, const char *spec, const struct remote_opts *o,
                       const char *platform, struct image_source *s, struct gear_err *e);

/* spec is docker://... or docker+http://... */
bool remote_spec_is_registry(const char *spec);
/*
 * The image a registry reference docker://HOST/REPO[:TAG] names here: the
 * last component of REPO, and TAG (default latest); docker://h/team/web:1
 * gives web:1. Code 100 for anything else.
 */
int remote_spec_image(const char *spec, struct image_ref *ref, struct gear_err *e);
/*
 * The image and store spec (n bytes) of gear-push's and gear-pull's
 * operands: name NULL takes the image from store (remote_spec_image);
 * store NULL is gear.conf's store= (code 100 when unset), where a registry
 * docker://HOST[:PORT][/PREFIX] gives the repository PREFIX/NAME and tag TAG.
 */
int remote_target(const struct gear_tree *tree, const char *store, const char *name, struct image_ref *ref,
                  char *spec, size_t n, struct gear_err *e);

#endif
