/*
 * Links of a container to services outside it (geard's network links):
 *   ports/links/<ab>/<ID>   one line per link, tab separated, in geard's
 *                           column order: LOCALIP LOCALPORT PORT HOST
 * Inside container ID a connection to LOCALIP:LOCALPORT reaches HOST:PORT.
 * LOCALIP is a unicast IPv4 address (default 127.0.0.1; one outside
 * 127.0.0.0/8 stands in for that address, at that port, inside the
 * container only); HOST is an IPv4 address or a DNS name, resolved when the
 * links are applied.
 */
#ifndef GEAR_LINKS_H
#define GEAR_LINKS_H

#include <stddef.h>

#include "../base/err.h"
#include "../base/tree.h"

#define LINKS_MAX 64
#define LINK_HOST_MAX 253

struct net_link {
        char local_ip[16];  /* dotted quad, unicast */
        unsigned local_port;
        char host[LINK_HOST_MAX + 1];
        unsigned port;
};

/* "[LOCALIP:]LOCALPORT:HOST:PORT[,...]": 100 with a message naming the bad one;
   an empty s is no links. *links is the caller's to free, even on failure */
int links_parse(const char *s, struct net_link **links, size_t *n, struct gear_err *e);
/* the links file of id; 0 links when there is none (-ENOENT is not an error) */
int links_read(struct gear_tree *t, const char *id, struct net_link **links, size_t *n, struct gear_err *e);
/* replaces the links of id (none: removes the file), atomically */
int links_write(struct gear_tree *t, const char *id, const struct net_link *links, size_t n, struct gear_err *e);
/* "ports/links/<ab>/<id>" */
void links_rel(const char *id, char *buf, size_t size);

#endif
