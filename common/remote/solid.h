/* members of solid frames (solid.c): fetched whole, decoded once, each member on its own */
#ifndef GEAR_SOLID_H
#define GEAR_SOLID_H

#include <stdbool.h>
#include <stdint.h>

#include "remote.h"

/* what a solid frame decodes to, as far as its members need */
struct solid_frame {
        uint64_t off, len;      /* the frame, in its pack */
        unsigned char *buf;
        size_t n;
        bool broken;            /* it does not decode past n: why */
        char why[128];
};
/*
 * Decodes the frame of loc, whose len bytes are at fd_off of fd, up to want
 * bytes (a frame that decodes to less is not refused here: its members past
 * the end are); nothing when f holds that much of it already. A frame that
 * stops decoding keeps what came before the fault (broken, why). Code 111
 * when it passes the limits of remote.h.
 */
int solid_frame_load(struct solid_frame *f, int fd, uint64_t fd_off, const struct object_loc *loc, uint64_t want,
                     struct gear_err *e);
/* the member of f at loc, of size bytes, to out in its stored form (store.h) for the cache to verify */
int solid_member_write(const struct solid_frame *f, const struct object_loc *loc, uint64_t size, int out,
                       struct gear_err *e);
void solid_frame_free(struct solid_frame *f);
/* a lazy open of a member: its frame's range fetched, decoded up to the member, the member to out */
int solid_fetch_member(struct remote *r, const struct object_loc *loc, uint64_t size, int out, struct gear_err *e);

#endif
