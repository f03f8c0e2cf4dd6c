/* Folder image/: Gear images; may use base/ to store/. (common/README) */
/*
 * Gear images in the image tree: images/NAME/TAG/ is an OCI image layout
 * holding one image whose single layer is the index: the image's whole
 * tree with real metadata, where each regular file carries its digest and
 * size (PAX records SCHILY.xattr.GEAR.digest and SCHILY.xattr.GEAR.size)
 * instead of its content, which lives in the store (store.h).
 */
#ifndef GEAR_IMAGE_H
#define GEAR_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "image-tree.h"
#include "../base/digest.h"
#include "../base/err.h"
#include "../base/tree.h"
#include "../store/store.h"

#define IMAGES_DIR "images"
#define IMAGE_NAME_MAX 255
#define IMAGE_TAG_MAX 128
#define IMAGE_DEFAULT_TAG "latest"
#define IMAGE_REF_ANNOTATION "org.opencontainers.image.ref.name"
#define IMAGE_JSON_MAX (16u << 20)

struct json_t;

struct image_ref {
        char name[IMAGE_NAME_MAX + 1];
        char tag[IMAGE_TAG_MAX + 1];
};

/*
 * NAME[:TAG]: NAME is '/'-separated components of lowercase letters and
 * digits joined by single '.', '_', '__' or runs of '-' (as in docker),
 * TAG is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} and defaults to "latest".
 */
int image_ref_parse(const char *arg, struct image_ref *r, struct gear_err *e);
bool image_name_valid(const char *s);
bool image_tag_valid(const char *s);
/* "images/NAME/TAG" */
void image_rel(const struct image_ref *r, char *buf, size_t n);
/* "IMAGE_DIR/NAME", or NAME for the image directory "." itself (an open generation) */
void image_file_rel(const char *image_dir, const char *name, char *buf, size_t n);

/* an image read from the tree; every blob checked against its digest */
struct image {
        struct image_ref ref;
        int dfd;
        digest_hex manifest, config, layer;
        uint64_t layer_size;
        struct json_t *manifest_json, *config_json;
        uint64_t entries, files, bytes; /* from the manifest's annotations */
};

/* code 1 "no image 'NAME:TAG'" when missing */
int image_open(const struct gear_root *img, const struct image_ref *r, struct image *im, struct gear_err *e);
/* the same for the image directory rel (a temp name of r), r naming it in messages */
int image_open_dir(const struct gear_root *img, const char *rel, const struct image_ref *r, struct image *im,
                   struct gear_err *e);
void image_close(struct image *im);
/* the index as a tree */
int image_load_tree(struct image *im, struct itree **t, struct gear_err *e);
/* opens the image tree to read r: code 1 "no image 'NAME:TAG'" when there is no tree at all */
int image_root_open(struct gear_root *img, const struct image_ref *r, struct gear_err *e);
/* image_root_open, image_open, image_load_tree and image_close in one */
int image_load(struct gear_root *img, const struct image_ref *r, struct itree **t, struct gear_err *e);
/* reads blobs/sha256/HEX of an OCI layout, checking digest (and size when >= 0) */
int layout_read_blob(int dfd, const char *hex, int64_t size, size_t max, char **buf, size_t *len,
                     struct gear_err *e);

/* what an index holds */
struct index_summary {
        uint64_t entries; /* paths */
        uint64_t files;   /* regular files, each hardlink group once */
        uint64_t bytes;   /* their content */
        uint64_t objects; /* distinct contents */
        uint64_t object_bytes;
};

/* the index layer (an uncompressed tar) of a tree */
int index_write(struct itree *t, char **tar, size_t *len, struct index_summary *sum, struct gear_err *e);
/* a tree from an index layer (tar, optionally compressed); 100 when malformed */
int index_parse(const void *buf, size_t len, struct itree **t, struct gear_err *e);

/*
 * sources of gear-build: oci:DIR[:REF], docker-archive:FILE[:REF], dir:PATH,
 * containers-storage:NAME[:TAG]; and streams another folder opens (a
 * registry, remote.h), whose layers arrive through ops
 */
enum source_kind { SOURCE_OCI, SOURCE_DOCKER, SOURCE_DIR, SOURCE_STREAM, SOURCE_PODMAN };

struct source_layer {
        digest_hex hex;  /* the blob's digest (docker: of the member) */
        int64_t size;    /* -1 when unknown */
        char *member;    /* docker archive member */
        char label[96];  /* "layer 2 (sha256:0123456789ab)" */
};

struct image_source;
struct source_ops {
        /* layer i as a stream: *fd to read it from, written by what end_layer waits for */
        int (*open_layer)(struct image_source *s, size_t i, int *fd, struct gear_err *e);
        /* after that fd is closed: how the writer ended (-1 with e set when it failed) */
        int (*end_layer)(struct image_source *s, size_t i, struct gear_err *e);
        void (*free)(struct image_source *s);
};

struct image_source {
        enum source_kind kind;
        char *path, *ref;
        int dfd; /* OCI layout */
        struct json_t *config;
        struct source_layer *layers;
        size_t nlayers;
        struct progress *progress; /* bytes of the layer blobs read, layers done; NULL: none */
        const char *platform;          /* OS/ARCH[/VARIANT] picked from an index; NULL: linux and the host's */
        const struct source_ops *ops;  /* SOURCE_STREAM */
        void *ops_data;
};

int source_open(const char *spec, struct image_source *s, struct gear_err *e);
/* the same with platform (NULL: linux and the host's architecture) for an index */
int source_open_for(const char *spec, const char *platform, struct image_source *s, struct gear_err *e);
void source_close(struct image_source *s);
/* applies every layer in order to t, file contents going through the pool */
int source_apply(struct image_source *s, struct itree *t, struct store_stage *stage,
                 struct store_pool *pool, struct gear_err *e);
/* the manifest of an index's list for platform (as above): code 100 when it has none */
int source_pick_platform(struct json_t *list, const char *platform, struct json_t **m, struct gear_err *e);
struct gear_config;
/*
 * containers-storage:NAME[:TAG] (name without the prefix): source_apply
 * reads what "podman image save" of it streams
 */
int podman_source_open(const struct gear_config *conf, const char *name, struct image_source *s,
                       struct gear_err *e);
/* what podman takes as an image reference (a name or an id), and never an option */
bool podman_name_valid(const char *s);
/* OS/ARCH[/VARIANT] with each part [a-z0-9_]+: code 100 else */
int source_platform_check(const char *platform, struct gear_err *e);
/* s->layers from the "layers" of manifest man (OCI or docker schema 2); s->path names it in messages */
int source_layers_parse(struct image_source *s, struct json_t *man, struct gear_err *e);

/* writes a temp directory (image_tmp_begin; an OCI layout) from a built tree; image_commit puts it in place */
struct layout_result {
        char tmp[PATH_MAX];
        int lock;
        digest_hex manifest;
        struct index_summary sum;
};
int layout_write(const struct gear_root *img, const struct image_ref *r, struct itree *t,
                 struct json_t *src_config, struct layout_result *res, struct gear_err *e);
/* NAME:TAG may be created: no prefix of NAME is an image, NAME/TAG is not a directory of names */
int image_check_free(const struct gear_root *img, const struct image_ref *r, struct gear_err *e);

/*
 * Generations of images/NAME/TAG (image-gen.c). fs.lock in an image
 * directory is held shared by whatever uses that generation: the command
 * writing it under its temp name, and every gear-fs serving it.
 *
 * image_tmp_begin makes images/NAME/.gear-tmp.TAG.RANDOM (rel in tmp) with
 * its fs.lock held: returns the fd holding it, to be closed after
 * image_commit. image_commit renames tmp to images/NAME/TAG (its layout
 * synced first); a generation it replaces is removed unless it is mounted,
 * then its last gear-fs removes it (image_gen_detach).
 */
int image_tmp_begin(const struct gear_root *root, const struct image_ref *ref, char *tmp, size_t n,
                    struct gear_err *e);
int image_commit(const struct gear_root *root, const struct image_ref *ref, const char *tmp,
                 struct gear_err *e);
/*
 * 1 when the temp directory rel (images/NAME/.gear-tmp.* or build/.gear-tmp.*)
 * was left by a kill: no command holds its fs.lock and no build its token;
 * *lockfd then holds fs.lock (when it has one) until the caller removed it
 * and closes it. 0 when it is live.
 */
int image_tmp_claim(const struct gear_root *root, const char *rel, int *lockfd);
/* image_open of the tag's current generation with its fs.lock held shared (*lockfd) */
int image_gen_attach(const struct gear_root *img, const struct image_ref *ref, struct image *im, int *lockfd,
                     struct gear_err *e);
/*
 * Takes images/NAME/TAG out of the image tree in one rename and removes it;
 * its objects stay for gear-gc. Code 1 when there is no such image or a
 * gear-fs serves it (holds its fs.lock). Takes turns with image_commit.
 */
int image_remove(const struct gear_root *root, const struct image_ref *ref, struct gear_err *e);
/* lets go of a generation (closes lockfd); one replaced meanwhile goes with its last user */
void image_gen_detach(const struct gear_root *img, const struct image_ref *ref, int dfd, int lockfd);

/* gear-build */
struct build_opts {
        const char *source;
        struct image_source *src; /* open already (the caller closes it); NULL: opens source */
        struct image_ref ref;
        int jobs;
        struct progress *progress; /* NULL: none */
};
struct build_result {
        struct store_stats st;
        struct index_summary sum;
        digest_hex manifest;
};
int image_build(struct gear_tree *t, const struct build_opts *o, struct build_result *res, struct gear_err *e);
/*
 * For a process that builds, once: file contents pass through buffers by the
 * thousand, freed on other threads, and freed memory stays for the next one
 * (no trim of the heap, no mmap per buffer) rather than costing page faults
 * on every copy. Process-wide: not for a process that stays.
 */
void image_build_malloc(void);

/* gear-export: DIR must be missing or empty */
int image_export(const struct gear_root *img, struct itree *t, const char *dir, struct gear_err *e);

/* walks images/: fn for every tag directory, and for temp directories (tmp set, r NULL) */
typedef int (*image_walk_fn)(const char *rel, const struct image_ref *r, bool tmp, void *ud);
int image_walk(const struct gear_root *img, image_walk_fn fn, void *ud, struct gear_err *e);
/* gear-images: every image, sorted by name and tag; im is NULL (and why set) when it cannot be read */
typedef int (*image_list_fn)(const struct image_ref *r, const struct image *im, const struct gear_err *why,
                             void *ud);
int image_list(const struct gear_root *img, image_list_fn fn, void *ud, struct gear_err *e);

/* gear-fsck: of the image tree, or of a directory store (store: objects and images only) */
struct fsck_opts {
        bool repair, store;
};
struct fsck_counts {
        uint64_t objects, cached, corrupt, missing, bad_images, images, stale, repaired;
};
/* kind: "corrupt", "missing", "badimage", "stale", "stray"; detail may be NULL */
typedef void (*fsck_report_fn)(const char *kind, const char *what, const char *detail, void *ud);
int image_fsck(const struct gear_root *img, const struct fsck_opts *o, fsck_report_fn fn, void *ud,
               struct fsck_counts *c, struct gear_err *e);

#endif
