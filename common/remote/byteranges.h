/*
 * The answer to a Range request for several ranges of one blob (RFC 9110
 * 14.6): a 206 whose body is multipart/byteranges, one part a range (or a
 * few adjacent ones a server coalesced), or a single-part 206 that covers
 * them all. Fed the body as it arrives, it hands on the bytes of the ranges
 * asked for, in their order, one after the other, and nothing else: a part
 * that is not the next range asked for, a header line past its bound, more
 * framing than a few lines a part, or more bytes between coalesced ranges
 * than the ranges hold (64 KiB at least) is refused.
 */
#ifndef GEAR_BYTERANGES_H
#define GEAR_BYTERANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

/* the most ranges one request asks for: its Range header stays under 4 KiB */
#define BYTERANGES_MAX 96
#define BYTERANGES_LINE_MAX 1024

struct byte_range {
        uint64_t off, len;
};

struct byteranges {
        const struct byte_range *v; /* asked for: ascending, disjoint, none empty */
        size_t n;
        size_t cur;                 /* v[cur] is the range being filled */
        uint64_t at;                /* the blob offset the body has reached within a part */
        uint64_t part_end;          /* one past the part's last byte */
        uint64_t framing;           /* bytes of boundaries and part headers so far */
        uint64_t dropped, drop_max; /* bytes between ranges a server coalesced, and their bound */
        int state;
        bool multipart;
        char boundary[80];          /* "--" and the answer's boundary */
        char part_range[128];       /* the part's Content-Range */
        char line[BYTERANGES_LINE_MAX];
        size_t nline;
};

/*
 * Before the body: the answer's Content-Type and Content-Range headers ("" when
 * missing) for the n ranges at v (ascending, disjoint, none empty: else code
 * 2). -1 (code 111) when they are not an answer to them.
 */
int byteranges_start(struct byteranges *b, const struct byte_range *v, size_t n, const char *content_type,
                     const char *content_range, struct gear_err *e);
/*
 * n bytes of the body: keep is called with the bytes of the ranges, in order;
 * a keep that returns false ends it (-1, e untouched). -1 (code 111) when the
 * body is not the ranges asked for.
 */
int byteranges_feed(struct byteranges *b, const char *buf, size_t n, bool (*keep)(void *ud, const char *p, size_t k),
                    void *ud, struct gear_err *e);
/* every range asked for is in */
bool byteranges_done(const struct byteranges *b);
/* a Content-Range value, "bytes A-B/TOTAL" or with an unknown total, strictly (digits only, B below TOTAL): [a, b] */
bool byteranges_content_range(const char *s, uint64_t *a, uint64_t *b);
/* "bytes=A-B,C-D..." for the Range header, into out (size bytes); false when it does not fit */
bool byteranges_header(const struct byte_range *v, size_t n, char *out, size_t size);

#endif
