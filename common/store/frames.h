/*
 * Solid frames of the store (frames.c): frames/<ab>/<rest>, each one zstd
 * frame of several small contents one after the other, made by
 * gear-recompress from objects/ for gear-push to send as they are.
 *
 * A frame file is a zstd skippable frame (magic 0x184D2A5E, a 4-byte
 * little-endian length) holding its member list, then the zstd frame of the
 * members' contents. The list is text: a line "gear-frame 1<TAB>LEVEL", then
 * a line "CONTENT_HEX<TAB>SIZE" a member in the order of their bytes; the
 * file is named by the SHA-256 of the member lines (the same members make
 * the same name, whatever the level). Frames appear by rename(2) of a whole,
 * synced file whose members were read back and verified; they are a cache:
 * objects/ keeps every content as well, gear-gc removes a frame when one of
 * its members is no image's any more, and gear-fsck --repair a corrupt one.
 */
#ifndef GEAR_FRAMES_H
#define GEAR_FRAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/digest.h"
#include "../base/err.h"
#include "../base/tree.h"

#define FRAMES_DIR "frames"
#define FRAME_REL_MAX (sizeof FRAMES_DIR + 3 + DIGEST_HEX_LEN)
/* the largest member list read, and the most members */
#define FRAME_HEAD_MAX (1u << 20)
#define FRAME_MEMBERS_MAX 1024

struct frame_member {
        digest_hex hex;
        uint64_t size, at;      /* at: in what the frame decodes to */
};

struct store_frame {
        digest_hex name;
        struct frame_member *m; /* in the order of their bytes */
        size_t n;
        int level;
        uint64_t data_off, data_len; /* the zstd frame of the contents, in the file */
        uint64_t usize;         /* what it decodes to */
};

/* "frames/ab/cdef..." */
void frame_rel(const char *name, char rel[FRAME_REL_MAX]);
void store_frame_free(struct store_frame *f);
/* the name of a frame of these members */
int frame_name(const struct frame_member *m, size_t n, digest_hex name, struct gear_err *e);
/*
 * Makes the frame of members m (their contents read from objects/ and
 * verified) at level into the new file name below dfd, synced: f gets its
 * name, members and place in the file. Its bytes are decoded again and each
 * member checked before it returns.
 */
int frame_make(const struct gear_root *img, const struct frame_member *m, size_t n, int level, int dfd,
               const char *name, struct store_frame *f, struct gear_err *e);
/* the member list of an open frame file (of size bytes), checked: code 111 when it is not one */
int frame_read_head(int fd, uint64_t size, struct store_frame *f, struct gear_err *e);
/* decodes an open frame file and checks each member's digest: code 111 when one does not match */
int frame_verify(int fd, const struct store_frame *f, struct gear_err *e);

/* the frames of the store, by content */
struct frame_index;
/* every frame whose head reads (others are left to gear-fsck); none when there is no frames/ */
int frame_index_load(const struct gear_root *img, struct frame_index **x, struct gear_err *e);
/* the frame named name; NULL when none */
const struct store_frame *frame_index_named(const struct frame_index *x, const char *name);
/* the frame holding content hex, and its member; NULL when none */
const struct store_frame *frame_index_find(const struct frame_index *x, const char *hex, size_t *member);
/* each frame: fn until it returns false */
size_t frame_index_count(const struct frame_index *x);
const struct store_frame *frame_index_at(const struct frame_index *x, size_t i);
void frame_index_free(struct frame_index *x);

#endif
