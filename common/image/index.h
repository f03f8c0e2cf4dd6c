/* the index layer's own records, and its one-line-per-entry listing */
#ifndef GEAR_INDEX_H
#define GEAR_INDEX_H

#include <stdbool.h>

#include "image-tree.h"
#include "../base/err.h"

/* written as PAX records SCHILY.xattr.GEAR.digest and SCHILY.xattr.GEAR.size */
#define INDEX_XATTR_DIGEST "GEAR.digest"
#define INDEX_XATTR_SIZE "GEAR.size"
#define INDEX_VERSION "1"

/*
 * "TYPE\tMODE\tUID\tGID\tSIZE\tDIGEST\tPATH" per entry, depth first in byte
 * order of names; with lng a LINK column follows (symlink or hardlink
 * target, MAJOR,MINOR of a device). TYPE is f d l c b p, or h for the second
 * and later paths of a hardlinked file; '-' marks a column that does not
 * apply; paths are escaped as path_escape() does.
 */
typedef int (*index_line_fn)(const char *line, void *ud);
int index_lines(struct itree *t, bool lng, index_line_fn fn, void *ud, struct gear_err *e);

#endif
