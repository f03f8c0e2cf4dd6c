/* an OCI distribution registry repository over HTTP(S), for remote.c */
#ifndef GEAR_REMOTE_REGISTRY_H
#define GEAR_REMOTE_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "../base/err.h"

#define REGISTRY_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"

struct registry;

/*
 * host is HOST[:PORT], repo the repository; http talks plain HTTP, else
 * HTTPS with verification. authfile in the containers-auth.json format, NULL
 * for none; a missing file is no credentials. The credentials go only to
 * the registry's scheme, host and port: not to an upload location or a
 * redirect elsewhere, which is followed without them.
 */
int registry_open(const char *host, const char *repo, bool http, const char *authfile,
                  struct registry **g, struct gear_err *e);
void registry_free(struct registry *g);

/* 1 when the repository has blob sha256:hex, 0 when not */
int registry_has_blob(struct registry *g, const char *hex, struct gear_err *e);
/* the same, with its size (*size, may be NULL; UINT64_MAX when the answer gives none) */
int registry_stat_blob(struct registry *g, const char *hex, uint64_t *size, struct gear_err *e);
/* monolithic upload of n bytes, from buf or (buf NULL) from fd at offset 0 */
int registry_put_blob(struct registry *g, const char *hex, const void *buf, int fd, uint64_t n,
                      struct gear_err *e);
/* up to n bytes at off of a blob being uploaded into buf: the count, or <= 0 to give up */
typedef ssize_t (*registry_read_fn)(void *ud, uint64_t off, void *buf, size_t n);
/* the same, the n bytes streamed from fn (read again from 0 when a try is retried) */
int registry_put_blob_read(struct registry *g, const char *hex, registry_read_fn fn, void *ud, uint64_t n,
                           struct gear_err *e);
/*
 * A cross-repository mount of blob hex from repository from: 1 when the
 * registry has it in this repository now, 0 when it would not (the upload
 * it opened instead is cancelled), -1 on a transport or server error.
 */
int registry_mount_blob(struct registry *g, const char *hex, const char *from, struct gear_err *e);
/* the bytes of an answer written so far (counted again from 0 when a try is retried) */
typedef void (*registry_progress_fn)(void *ud, uint64_t n);
/*
 * len bytes at off of blob hex into fd (from its offset) with a Range
 * request: exactly len bytes, code 111 else; fn (NULL: none) is told as
 * they arrive. A registry that answers with the whole blob is read up to
 * the range's end only. Not checked against the blob's digest: what the
 * range holds is checked by its reader.
 */
int registry_get_range_fd(struct registry *g, const char *hex, uint64_t off, uint64_t len, int fd,
                          registry_progress_fn fn, void *ud, struct gear_err *e);
/*
 * The n ranges at v (byteranges.h) of blob hex into fd, one after the other,
 * with one Range request: 0 with all of them in; 1 when the registry
 * answers with the whole blob (refused at its first byte), refuses several
 * ranges (416, 501) or answers with parts that are not them: the caller asks
 * range by range; code 111 else; fn as for registry_get_range_fd
 */
struct byte_range;
int registry_get_ranges_fd(struct registry *g, const char *hex, const struct byte_range *v, size_t n, int fd,
                           registry_progress_fn fn, void *ud, struct gear_err *e);
/* a blob of at most max bytes into fd (from its offset; a pipe: no retry once a byte went out), its digest checked; code 1 when missing */
int registry_get_blob_fd(struct registry *g, const char *hex, uint64_t max, int fd, struct gear_err *e);
/* a blob into memory, at most max bytes, its digest checked */
int registry_get_blob(struct registry *g, const char *hex, size_t max, char **buf, size_t *n,
                      struct gear_err *e);
int registry_put_manifest(struct registry *g, const char *tag, const char *type, const void *buf,
                          size_t n, struct gear_err *e);
/* the manifest of a tag or digest, asking for the types accept lists (NULL: a Gear index image's); code 1 when the tag is missing */
int registry_get_manifest(struct registry *g, const char *tag, const char *accept, size_t max, char **buf,
                          size_t *n, struct gear_err *e);


#endif
