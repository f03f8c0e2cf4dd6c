/* Answers to a Range request for several ranges (byteranges.h) */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "byteranges.h"

enum { S_DELIM, S_HEAD, S_BODY, S_END };

/* framing a part may bring: a delimiter and a few header lines (about 200 bytes from common servers) */
#define FRAMING_PART 1024
/* bytes between coalesced ranges taken at least */
#define DROP_MIN (64u << 10)

/* the decimal at *p, its digits only; false on none or past 2^63 */
static bool number(const char **p, uint64_t *v)
{
        const char *s = *p;

        *v = 0;
        if (*s < '0' || *s > '9')
                return false;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (*v > (INT64_MAX - 9) / 10)
                        return false;
                *v = *v * 10 + (uint64_t)(*s - '0');
        }
        *p = s;
        return true;
}

bool byteranges_content_range(const char *s, uint64_t *a, uint64_t *b)
{
        uint64_t total;

        if (strncasecmp(s, "bytes ", 6))
                return false;
        s += 6;
        if (!number(&s, a) || *s++ != '-' || !number(&s, b) || *s++ != '/' || *a > *b)
                return false;
        if (*s == '*')
                return !s[1];
        return number(&s, &total) && !*s && *b < total;
}

/* a part (or the single-part answer) for the bytes [a, b]: the next range asked for, or it and the ones after it */
static int part_begin(struct byteranges *b, const char *range, struct gear_err *e)
{
        uint64_t first, last, held = 0;

        if (!byteranges_content_range(range, &first, &last))
                return gear_err_set(e, GEAR_EXIT_SYS, "the answer has a part with Content-Range '%.64s'", range);
        if (b->cur == b->n || first != b->v[b->cur].off)
                return gear_err_set(e, GEAR_EXIT_SYS, "the answer has a part for bytes %llu-%llu, not the range asked for next",
                                    (unsigned long long)first, (unsigned long long)last);
        for (size_t j = b->cur; j < b->n; j++) {
                held += b->v[j].len;
                if (last + 1 != b->v[j].off + b->v[j].len)
                        continue;
                /* refused before its body when what lies between its ranges is past the bound */
                if (last + 1 - first - held > b->drop_max - b->dropped)
                        return gear_err_set(e, GEAR_EXIT_SYS,
                                            "the answer brings more bytes between the ranges than they hold");
                b->at = first;
                b->part_end = last + 1;
                b->state = S_BODY;
                return 0;
        }
        return gear_err_set(e, GEAR_EXIT_SYS, "the answer's part for bytes %llu-%llu does not end where a range asked for ends",
                            (unsigned long long)first, (unsigned long long)last);
}

int byteranges_start(struct byteranges *b, const struct byte_range *v, size_t n, const char *content_type,
                     const char *content_range_hdr, struct gear_err *e)
{
        const char *p;
        size_t k;

        *b = (struct byteranges){ .v = v, .n = n, .drop_max = DROP_MIN };
        for (size_t i = 0; i < n; i++) {
                if (!v[i].len || v[i].off > UINT64_MAX - v[i].len || (i && v[i].off < v[i - 1].off + v[i - 1].len))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "the ranges asked for are not ascending and disjoint");
                b->drop_max += v[i].len;
        }
        if (strncasecmp(content_type, "multipart/byteranges", 20) ||
            (content_type[20] && !strchr("; \t", content_type[20])))
                return part_begin(b, content_range_hdr, e);
        b->multipart = true;
        b->state = S_DELIM;
        /* boundary=TOKEN or boundary="TOKEN", 1 to 70 characters */
        for (p = content_type + 20; (p = strchr(p, ';'));) {
                p++;
                p += strspn(p, " \t");
                if (!strncasecmp(p, "boundary=", 9))
                        break;
        }
        if (!p)
                return gear_err_set(e, GEAR_EXIT_SYS, "the multipart answer names no boundary");
        p += 9;
        if (*p == '"') {
                p++;
                k = strcspn(p, "\"");
                if (p[k] != '"')
                        k = 0;
        } else {
                k = strcspn(p, " \t;");
        }
        if (!k || k > 70)
                return gear_err_set(e, GEAR_EXIT_SYS, "the multipart answer's boundary is invalid");
        snprintf(b->boundary, sizeof b->boundary, "--%.*s", (int)k, p);
        return 0;
}

/* a whole framing line (no CR LF) in b->line */
static int line(struct byteranges *b, struct gear_err *e)
{
        size_t n = b->nline, blen = strlen(b->boundary);
        char *s = b->line;

        s[n] = 0;
        if (b->state == S_HEAD) {
                if (!n)
                        return part_begin(b, b->part_range, e);
                if (!strncasecmp(s, "content-range:", 14)) {
                        s += 14;
                        s += strspn(s, " \t");
                        while (n && (b->line[n - 1] == ' ' || b->line[n - 1] == '\t'))
                                b->line[--n] = 0;
                        if (strlen(s) >= sizeof b->part_range)
                                return gear_err_set(e, GEAR_EXIT_SYS, "the answer has a part with a Content-Range of %zu bytes",
                                                    strlen(s));
                        memcpy(b->part_range, s, strlen(s) + 1);
                }
                return 0;
        }
        if (b->state == S_END)
                return 0;
        /* S_DELIM: blank lines, then the delimiter (transport padding after it allowed) or the close */
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = 0;
        if (!n)
                return 0;
        if (n >= blen && !memcmp(s, b->boundary, blen)) {
                if (n == blen) {
                        b->state = S_HEAD;
                        b->part_range[0] = 0;
                        return 0;
                }
                if (n == blen + 2 && s[blen] == '-' && s[blen + 1] == '-') {
                        b->state = S_END;
                        return 0;
                }
        }
        return gear_err_set(e, GEAR_EXIT_SYS, "the multipart answer has '%.64s' where a boundary belongs", s);
}

int byteranges_feed(struct byteranges *b, const char *buf, size_t n, bool (*keep)(void *ud, const char *p, size_t k),
                    void *ud, struct gear_err *e)
{
        while (n) {
                if (b->state == S_BODY) {
                        uint64_t take = b->part_end - b->at, r_end = b->v[b->cur].off + b->v[b->cur].len;
                        if (take > n)
                                take = n;
                        if (b->at < b->v[b->cur].off) {
                                /* between ranges a server coalesced: dropped, up to what the ranges hold */
                                if (take > b->v[b->cur].off - b->at)
                                        take = b->v[b->cur].off - b->at;
                                if ((b->dropped += take) > b->drop_max)
                                        return gear_err_set(e, GEAR_EXIT_SYS,
                                                            "the answer brings more bytes between the ranges than they hold");
                        } else {
                                if (take > r_end - b->at)
                                        take = r_end - b->at;
                                if (!keep(ud, buf, (size_t)take))
                                        return -1;
                                if (b->at + take == r_end)
                                        b->cur++;
                        }
                        b->at += take;
                        buf += take;
                        n -= take;
                        if (b->at == b->part_end)
                                b->state = b->multipart ? S_DELIM : S_END;
                        continue;
                }
                if (!b->multipart)
                        return gear_err_set(e, GEAR_EXIT_SYS, "the answer is longer than the range asked for");
                if (++b->framing > FRAMING_PART * (b->n + 1))
                        return gear_err_set(e, GEAR_EXIT_SYS, "the multipart answer has more than its parts");
                if (*buf == '\n') {
                        if (b->nline && b->line[b->nline - 1] == '\r')
                                b->nline--;
                        if (line(b, e) < 0)
                                return -1;
                        b->nline = 0;
                } else if (b->nline == sizeof b->line - 1) {
                        return gear_err_set(e, GEAR_EXIT_SYS, "the multipart answer has a line of more than %d bytes",
                                            BYTERANGES_LINE_MAX - 1);
                } else {
                        b->line[b->nline++] = *buf;
                }
                buf++;
                n--;
        }
        return 0;
}

bool byteranges_done(const struct byteranges *b)
{
        return b->cur == b->n;
}

bool byteranges_header(const struct byte_range *v, size_t n, char *out, size_t size)
{
        size_t k = 0;
        int w;

        if ((w = snprintf(out, size, "bytes=")) < 0 || (size_t)w >= size)
                return false;
        k = (size_t)w;
        for (size_t i = 0; i < n; i++) {
                w = snprintf(out + k, size - k, "%s%llu-%llu", i ? "," : "", (unsigned long long)v[i].off,
                             (unsigned long long)(v[i].off + v[i].len - 1));
                if (w < 0 || (size_t)w >= size - k)
                        return false;
                k += (size_t)w;
        }
        return true;
}
