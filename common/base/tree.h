/* Folder base/: what every other folder stands on; uses only libraries. (common/README) */
/* the trees gear reads and writes, and the one relocation knob GEAR_SYSROOT */
#ifndef GEAR_TREE_H
#define GEAR_TREE_H

#include <limits.h>
#include <stdbool.h>

#include "err.h"

#define GEAR_CTR_TREE "/var/lib/containers"
#define GEAR_IMG_TREE "/var/lib/gear"
#define GEAR_UNIT_DIR "/etc/systemd/system"

/* a directory gear owns: every path below it is built from validated parts */
struct gear_root {
        int fd;               /* O_DIRECTORY, -1 until opened */
        char path[PATH_MAX];  /* for messages and for other programs */
        bool private;         /* root-only (0700): nothing below it is for other users */
};

struct gear_tree {
        char sysroot[PATH_MAX]; /* GEAR_SYSROOT made absolute (against the working directory), or "" */
        struct gear_root ctr;   /* container tree */
        struct gear_root img;   /* image tree */
        struct gear_root units; /* systemd's unit directory */
};

enum { ROOT_CREATE = 1 };

/* fills the paths from GEAR_SYSROOT (a relative one is taken from the working
   directory, once: every path and unit gear writes is absolute); opens nothing */
int tree_init(struct gear_tree *t, struct gear_err *e);
void tree_done(struct gear_tree *t);
/* opens (and with ROOT_CREATE makes) a root; -ENOENT (code 1) when it is missing.
   A private root is made 0700, and an existing one loses its group and other bits
   (an error only with ROOT_CREATE) */
int root_open(struct gear_root *r, int flags, struct gear_err *e);
/* opens a root that may be missing: 1, 0 when it is missing (nothing in it to
   read or remove), -1 on any other error */
int root_open_maybe(struct gear_root *r, struct gear_err *e);
/* takes group and other access off every existing directory through which
   containers' files, images' contents and secrets are reachable */
int tree_make_private(struct gear_tree *t, struct gear_err *e);

#endif
