/*
 * Reading the files of a directory store, which may hold anything and sit on
 * a file system that stops answering (NFS): a fifo, a device, a socket or a
 * symbolic link is refused (opened O_NONBLOCK | O_NOFOLLOW, then fstat), a
 * file is read up to a bound and no further, and a read that moves no byte
 * for the fetch timeout fails.
 *
 * The timeout is GEAR_FETCH_TIMEOUT seconds (default 10, as for a registry;
 * 0: none) without an answer: to the open of the store's directory, to the
 * open of a file, to each read. These run on a helper thread while the
 * caller waits: when the file system is stuck the caller gets code 111 in
 * time and the helper is left behind, writing nowhere that matters.
 */
#ifndef GEAR_STORE_READ_H
#define GEAR_STORE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../base/tree.h"

#define FETCH_TIMEOUT_DEFAULT 10

/* GEAR_FETCH_TIMEOUT, in seconds */
unsigned fetch_timeout(void);

/*
 * Appends the regular file root/rel to out (from out's offset), at most max
 * bytes: a longer one is code 111 "... is larger than MAX bytes". Code 1 when
 * it is missing. *n (may be NULL) gets the bytes copied.
 */
int store_file_copy(const struct gear_root *root, const char *rel, int out, uint64_t max, uint64_t *n,
                    struct gear_err *e);
/* the same into a NUL-terminated buffer */
int store_file_read(const struct gear_root *root, const char *rel, size_t max, char **buf, size_t *n,
                    struct gear_err *e);
/* opens the store directory dir: root gets its real path and an fd; code 111 when it does not answer */
int store_dir_open(const char *dir, struct gear_root *root, struct gear_err *e);

#endif
