/*
 * Libraries loaded on first use. A command pays at start only for the
 * libraries every command needs; libarchive, libcurl, libfuse3, libcrypto,
 * libgit2, libmicrohttpd, libnettle, libsystemd and libselinux (and what they drag in) are opened with
 * dlopen(3) by the code that calls them, as systemd does with its optional
 * libraries. Each dl-NAME.h declares a typed pointer sym_F for every function
 * F gear calls and dl_NAME(), which opens the library once (thread safe) and
 * resolves them all; code calls dl_NAME() before its first sym_F.
 */
#ifndef GEAR_DL_H
#define GEAR_DL_H

#include <pthread.h>
#include <stddef.h>

#include "err.h"

/* in a library's symbol list: X(F) for each function F */
#define DL_DECLARE(f) extern __typeof__(f) *sym_##f;
#define DL_DEFINE(f) __typeof__(f) *sym_##f;
#define DL_ENTRY(f) { #f, (void **)&sym_##f },

struct dl_sym {
        const char *name;
        void **fn;
};

struct dl_lib {
        const char *soname;
        const struct dl_sym *syms;
        size_t n;
        pthread_once_t once;
        char error[256]; /* why it did not load; "" when it did */
};

#define DL_LIB(so, list) { .soname = so, .syms = list, .n = ELEMENTSOF(list), .once = PTHREAD_ONCE_INIT }

/* opens l once; -1 (code 111) naming the library when it or a symbol is missing */
int dl_open(struct dl_lib *l, struct gear_err *e);

#endif
