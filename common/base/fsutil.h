/* file primitives every tree write goes through */
#ifndef GEAR_FSUTIL_H
#define GEAR_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "tree.h"

/* temporary files of interrupted writes start with this; gear-clean removes them */
#define GEAR_TMP_PREFIX ".gear-tmp."

/*
 * A directory a tree gains is synced into its parent once made, before
 * anything is written below it: mkdir_synced_at makes one (1: made, 0: it
 * was there), mkdir_p_at every missing one of a path, each synced.
 */
int mkdir_synced_at(int dfd, const char *path, mode_t mode, struct gear_err *e);
/* mkdir -p of a path relative to dfd (or absolute with AT_FDCWD) */
int mkdir_p_at(int dfd, const char *path, mode_t mode, struct gear_err *e);
/* a directory only root may enter: makes rel 0700 (its missing parents 0755), or
   takes the group and other bits off an existing one */
int mkdir_private_at(int dfd, const char *rel, struct gear_err *e);
/* the same for an existing rel only: 0 when it is missing */
int dir_private_at(int dfd, const char *rel, struct gear_err *e);
/* mkdir -p of the directory holding rel */
int mkparent(const struct gear_root *r, const char *rel, struct gear_err *e);

/* write(2) until done, through EINTR; -errno on failure */
int write_all(int fd, const void *buf, size_t len);
/* pwrite(2) of all len bytes at off, the same way */
int pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* replaces rel with buf: temp file in the same directory, fsync, rename, fsync dir */
int atomic_write(const struct gear_root *r, const char *rel, const void *buf, size_t len,
                 mode_t mode, struct gear_err *e);

/* reads rel into a NUL-terminated buffer; -ENOENT (code 1) when missing; -EFBIG past max */
int read_file(const struct gear_root *r, const char *rel, size_t max, char **out, size_t *len,
              struct gear_err *e);

/* flock(op) on rel (created if missing); returns the fd that holds the lock */
int lock_file(const struct gear_root *r, const char *rel, int op, struct gear_err *e);
/* the directory rel of r (at dfd, r's fd or one below it) into *d; 0 with *d NULL when it does not exist */
int dir_open_at(const struct gear_root *r, int dfd, const char *rel, DIR **d, struct gear_err *e);
/*
 * flock(op) on the directory rel (made 0755 if missing): the lock of what
 * the directory holds, so that no lock file sits among the data
 */
int lock_dir(const struct gear_root *r, const char *rel, int op, struct gear_err *e);

bool is_tmp_name(const char *name);
/* a temp file nobody holds open for writing and older than age seconds */
bool tmp_is_stale(int dfd, const char *name, unsigned age);

/*
 * rm -rf of rel below dfd, never following a symbolic link nor entering
 * another mount (EBUSY), at any depth with a bounded number of descriptors;
 * a failure names the path (shortened) and the error once. 0 when missing.
 * (rmtree.c)
 */
int rm_tree(int dfd, const char *rel, struct gear_err *e);

/* fsync the directory holding rel */
int fsync_parent(const struct gear_root *r, const char *rel, struct gear_err *e);

/*
 * openat of rel below dfd that follows no symbolic link at all, nor ".."
 * out of dfd (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or one
 * component at a time with O_NOFOLLOW where openat2 is missing); -1 and
 * errno (ELOOP for a symlink on the way) on failure. O_NOFOLLOW and
 * O_CLOEXEC are added to flags.
 */
int openat_beneath(int dfd, const char *rel, int flags);

/*
 * Test hook: with GEAR_TEST_PAUSE=POINT and GEAR_TEST_PAUSE_FILE=PATH, the
 * process creates PATH on reaching POINT and waits (at most two minutes)
 * until it is removed, so a test can run another command at that instant.
 */
void test_pause_point(const char *point);

/* directory part of rel into buf ("." when none) */
void path_dirname(const char *rel, char *buf, size_t n);

/* n bytes of p after the *len bytes of *buf (malloc'd, kept NUL-terminated); 0 or -ENOMEM */
int mem_append(char **buf, size_t *len, const void *p, size_t n);
/* room in *v (an array of *cap elements of size bytes, malloc'd) for element n: doubled when full; 0 or -ENOMEM */
int array_room(void **v, size_t *cap, size_t n, size_t size);
/*
 * The soft limit of open files raised to the hard one: a fetch of a range
 * holds a few descriptors per content of it (select(2) is not used)
 */
void fd_limit_raise(void);

#endif
