/* libgit2 as repo/ uses it: opened on first use, set up once */
#ifndef GEAR_REPO_GIT_H
#define GEAR_REPO_GIT_H

#include <limits.h>
#include <signal.h>
#include <git2.h>

#include "../base/dl-git2.h"
#include "../base/err.h"

/*
 * Opens libgit2 and sets it up once: no system, global or XDG
 * configuration (what root's own Git settings say must not change a
 * repository), and repositories owned by their git-ID users open for root.
 */
int repo_git_ready(struct gear_err *e);
/* code with the message, ": " and libgit2's last error */
int repo_git_fail(struct gear_err *e, int code, const char *fmt, ...) _printf_(3, 4);
/* opens the bare repository at path, nothing searched around it */
int repo_git_open(git_repository **repo, const char *path, struct gear_err *e);
/*
 * A source to clone from: a local directory made absolute (code 100 when it
 * is not one); URLs (scheme://, or scp-like host:path) as they are
 */
int repo_source_name(const char *from, char buf[static PATH_MAX], struct gear_err *e);
/* what a fetch takes: NULL, everything git clone --bare would */
struct repo_fetch_limits {
        const char *ref;    /* only what ref can name: HEAD the default branch, a name its branch and tag */
        uint64_t max_size;  /* at most that many bytes received (code 100 past them); 0: no bound */
};
/*
 * A bare repository made in the empty directory path and, when source is
 * not NULL, fetched from it as git clone --bare does, or as lim says
 */
int repo_git_clone(const char *path, const char *source, const struct repo_fetch_limits *lim, struct gear_err *e);

#endif
