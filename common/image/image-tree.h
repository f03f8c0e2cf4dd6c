/*
 * The flattened file system of an image, held in memory: layers are applied
 * to it (whiteouts delete subtrees) and the index is written from it; an
 * index read back becomes one again. Nodes are names in directories; inodes
 * carry the metadata, shared by the nodes of a hardlink group.
 */
#ifndef GEAR_IMAGE_TREE_H
#define GEAR_IMAGE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../store/store.h"

struct xattr {
        char *name;
        unsigned char *value;
        size_t len;
};

struct inode {
        mode_t mode; /* file type and permission bits */
        uid_t uid;
        gid_t gid;
        int64_t mtime;
        long mtime_nsec;
        dev_t rdev;                /* devices */
        char *target;              /* symlinks */
        struct store_blob *blob;   /* regular files, owned by the tree */
        struct xattr *xattrs;      /* sorted by name when written */
        size_t nxattrs;
        unsigned refs;
        char *first_path; /* set while walking: where the group was first seen */
};

struct tnode {
        char *name;
        struct tnode *parent, *child, *next, *prev, *hnext;
        struct inode *ino;
        unsigned layer; /* the layer that last wrote this node */
};

struct itree;

struct itree *itree_new(void);
void itree_free(struct itree *t);
struct tnode *itree_root(struct itree *t);
size_t itree_count(const struct itree *t);

struct inode *inode_new(mode_t mode);
void inode_unref(struct inode *ino);
int inode_add_xattr(struct inode *ino, const char *name, const void *value, size_t len);
/* a blob slot freed with the tree */
struct store_blob *itree_blob(struct itree *t);

struct tnode *itree_lookup(struct itree *t, struct tnode *dir, const char *name);
/* puts ino at dir/name, replacing what was there with its subtree; NULL on ENOMEM */
struct tnode *itree_put(struct itree *t, struct tnode *dir, const char *name, struct inode *ino,
                        unsigned layer);
/* removes n and its subtree */
void itree_remove(struct itree *t, struct tnode *n);

/*
 * A member name made relative and canonical: leading "/" is refused unless
 * allow_abs, "./" prefixes and "." or empty components dropped, ".." refused.
 * The root is ".". Returns false (with *why) when refused.
 */
bool itree_path_clean(const char *in, bool allow_abs, char *out, size_t n, const char **why);

/*
 * The directory that holds path (clean, not "."), and its last component.
 * Missing directories are created (mode 0755) when create is set; a symlink
 * or non-directory on the way is refused, naming it in *why.
 */
int itree_parent(struct itree *t, const char *path, unsigned layer, bool create, struct tnode **dir,
                 const char **base, char *why, size_t whyn);

/* node at a clean path, or NULL; never follows symlinks */
struct tnode *itree_find(struct itree *t, const char *path);

/* C-style escaping of a path for one-line output: \\ \t \n and \ooo for other control bytes */
void path_escape(const char *in, char *out, size_t n);

/* depth first, children sorted by name; path "." for the root; stops on a negative return */
typedef int (*itree_visit_fn)(struct tnode *n, const char *path, void *ud);
int itree_walk(struct itree *t, itree_visit_fn fn, void *ud);
/*
 * The content of each regular file, in walk order (a content as many times
 * as files have it): *v malloc'd, its entries the tree's; -ENOMEM
 */
int itree_blobs(struct itree *t, const struct store_blob ***v, size_t *n);
/* the distinct contents of the regular files, each at its first file in walk order: *v malloc'd; -ENOMEM */
int itree_contents(struct itree *t, digest_hex **v, size_t *n);

#endif
