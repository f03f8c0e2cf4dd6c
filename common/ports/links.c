/* the links files of ports/links/ (links.h) */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "links.h"
#include "../base/fsutil.h"

#define LINKS_FILE_MAX (LINKS_MAX * (16 + 6 + 6 + LINK_HOST_MAX + 4))

void links_rel(const char *id, char *buf, size_t size)
{
        snprintf(buf, size, "ports/links/%.2s/%s", id, id);
}

static bool port_ok(const char *s, size_t len, unsigned *out)
{
        unsigned long v = 0;

        if (!len || len > 5)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        *out = v;
        return v >= 1 && v <= 65535;
}

static bool host_ok(const char *s, size_t len)
{
        bool label_start = true;

        if (!len || len > LINK_HOST_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (c == '.') {
                        if (label_start)
                                return false;
                        label_start = true;
                        continue;
                }
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      (c == '-' && !label_start)))
                        return false;
                label_start = false;
        }
        return !label_start;
}

static bool local_ip_ok(const char *s, size_t len, char out[16])
{
        char buf[16];
        struct in_addr a;

        if (!len || len >= sizeof buf)
                return false;
        memcpy(buf, s, len);
        buf[len] = 0;
        /* unicast: not 0.0.0.0/8, nor multicast, reserved or broadcast (224.0.0.0 and up) */
        if (inet_pton(AF_INET, buf, &a) != 1 || (ntohl(a.s_addr) >> 24) == 0 || (ntohl(a.s_addr) >> 24) >= 224)
                return false;
        return inet_ntop(AF_INET, &a, out, 16) != NULL;
}

/* one "[LOCALIP:]LOCALPORT:HOST:PORT" of len bytes at s */
static int link_parse(const char *s, size_t len, struct net_link *l, struct gear_err *e)
{
        char buf[16 + 6 + LINK_HOST_MAX + 6 + 8], *f[5], *p = buf;
        size_t n = 0;

        if (len >= sizeof buf)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid link '%.40s...': too long", s);
        memcpy(buf, s, len);
        buf[len] = 0;
        while (n < 5 && (f[n] = strsep(&p, ":")))
                n++;
        if (n == 3) {
                f[3] = f[2], f[2] = f[1], f[1] = f[0];
                f[0] = "127.0.0.1";
        } else if (n != 4)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid link '%s': want [LOCALIP:]LOCALPORT:HOST:PORT", buf);
        if (!local_ip_ok(f[0], strlen(f[0]), l->local_ip))
                return gear_err_set(e, GEAR_EXIT_USAGE,
                                    "invalid link '%.*s': the local address must be a unicast IPv4 address",
                                    (int)len, s);
        if (!port_ok(f[1], strlen(f[1]), &l->local_port) || !port_ok(f[3], strlen(f[3]), &l->port))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid link '%.*s': ports must be 1-65535", (int)len, s);
        if (!host_ok(f[2], strlen(f[2])))
                return gear_err_set(e, GEAR_EXIT_USAGE,
                                    "invalid link '%.*s': the host must be an IPv4 address or a DNS name", (int)len, s);
        strcpy(l->host, f[2]);
        return 0;
}

static int link_add(struct net_link **links, size_t *n, const struct net_link *l, struct gear_err *e)
{
        struct net_link *v;

        for (size_t i = 0; i < *n; i++)
                if ((*links)[i].local_port == l->local_port && !strcmp((*links)[i].local_ip, l->local_ip))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "link to %s:%u given twice", l->local_ip,
                                            l->local_port);
        if (*n >= LINKS_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "more than %d links", LINKS_MAX);
        v = realloc(*links, (*n + 1) * sizeof *v);
        if (!v)
                return gear_err_sys(e, ENOMEM, "cannot read links");
        *links = v;
        v[(*n)++] = *l;
        return 0;
}

int links_parse(const char *s, struct net_link **links, size_t *n, struct gear_err *e)
{
        *links = NULL;
        *n = 0;
        while (*s) {
                size_t len = strcspn(s, ",");
                struct net_link l;

                if (!len)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid links '%s': an empty link", s);
                if (link_parse(s, len, &l, e) < 0 || link_add(links, n, &l, e) < 0)
                        return -1;
                s += len;
                if (*s == ',' && !*++s)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid links: an empty link at the end");
        }
        return 0;
}

int links_read(struct gear_tree *t, const char *id, struct net_link **links, size_t *n, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        char rel[128];
        int k;

        *links = NULL;
        *n = 0;
        k = root_open_maybe(&t->ctr, e);
        if (k <= 0)
                return k;
        links_rel(id, rel, sizeof rel);
        k = read_file(&t->ctr, rel, LINKS_FILE_MAX, &text, NULL, e);
        if (k == -ENOENT) {
                gear_err_clear(e);
                return 0;
        }
        if (k < 0)
                return -1;
        for (char *line = text, *next; *line; line = next) {
                char *f[4], *p = line, spec[16 + 6 + LINK_HOST_MAX + 6 + 8];
                struct net_link l;
                size_t m = 0;

                next = strchr(line, '\n');
                if (!next)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "'%s/%s': a line without its newline", t->ctr.path, rel);
                *next++ = 0;
                /* LOCALIP LOCALPORT PORT HOST, checked by the parser of the command line */
                while (m < 4 && (f[m] = strsep(&p, "\t")))
                        m++;
                if (m != 4 || p || (size_t)snprintf(spec, sizeof spec, "%s:%s:%s:%s", f[0], f[1], f[3], f[2]) >= sizeof spec)
                        return gear_err_set(e, GEAR_EXIT_USAGE,
                                            "'%s/%s': a line that is not LOCALIP<TAB>LOCALPORT<TAB>PORT<TAB>HOST",
                                            t->ctr.path, rel);
                if (link_parse(spec, strlen(spec), &l, e) < 0 || link_add(links, n, &l, e) < 0)
                        return gear_err_wrap(e, "in '%s/%s'", t->ctr.path, rel);
        }
        return 0;
}

int links_write(struct gear_tree *t, const char *id, const struct net_link *links, size_t n, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        char rel[128];
        size_t len = 0;

        if (root_open(&t->ctr, ROOT_CREATE, e) < 0)
                return -1;
        links_rel(id, rel, sizeof rel);
        if (!n) {
                if (unlinkat(t->ctr.fd, rel, 0) == 0)
                        return fsync_parent(&t->ctr, rel, e);
                return errno == ENOENT ? 0 : gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, rel);
        }
        buf = malloc(n * (16 + 6 + 6 + LINK_HOST_MAX + 4) + 1);
        if (!buf)
                return gear_err_sys(e, ENOMEM, "cannot write '%s/%s'", t->ctr.path, rel);
        for (size_t i = 0; i < n; i++)
                len += sprintf(buf + len, "%s\t%u\t%u\t%s\n", links[i].local_ip, links[i].local_port, links[i].port,
                               links[i].host);
        if (mkparent(&t->ctr, rel, e) < 0)
                return -1;
        return atomic_write(&t->ctr, rel, buf, len, 0644, e);
}
