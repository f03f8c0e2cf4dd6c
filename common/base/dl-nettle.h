/*
 * Nettle: the SHA-256 of SSH key fingerprints, opened on first use (see dl.h).
 * libcrypto (dl-crypto.h) hashes content; it costs more to open and set up
 * than a small tool takes to run, while libnettle (300 KB, no dependencies,
 * SHA-NI where the CPU has it) adds a tenth of that: gear-keys list checks
 * every fingerprint it prints. git picks its SHA-256 backend the same way.
 */
#ifndef GEAR_DL_NETTLE_H
#define GEAR_DL_NETTLE_H

#include <nettle/sha2.h>

#include "dl.h"

#define DL_NETTLE_SYMS(X) \
        X(nettle_sha256_digest) \
        X(nettle_sha256_init) \
        X(nettle_sha256_update)

DL_NETTLE_SYMS(DL_DECLARE)

/* opens libnettle.so.8 once; 0, or -1 naming what is missing */
int dl_nettle(struct gear_err *e);

#endif
