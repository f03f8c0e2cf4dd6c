/* the host's engine settings: GEAR_SYSROOT/etc/gear/gear.conf, see gear.conf(5) */
#ifndef GEAR_CONFIG_H
#define GEAR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tree.h"

#define GEAR_CONF_FILE "/etc/gear/gear.conf"
#define GEAR_CONF_PODMAN "/usr/bin/podman"
#define GEAR_CONF_SOCKET_PROXYD "/lib/systemd/systemd-socket-proxyd"
#define GEAR_CONF_STOP_TIMEOUT 10
#define GEAR_CONF_MAX_STOP_TIMEOUT 3600
/* what gear-pull accepts from a store (bytes): the index layer (gzip, some 65 bytes a path) and the config */
#define GEAR_CONF_MAX_INDEX_SIZE (64ull << 20)
#define GEAR_CONF_MAX_CONFIG_SIZE (4ull << 20)
#define GEAR_CONF_MAX_INDEX_SIZE_LIMIT (64ull << 30)
#define GEAR_CONF_MAX_CONFIG_SIZE_LIMIT (16ull << 20)
/* what gear-push puts in one pack of a registry (bytes) */
#define GEAR_CONF_PACK_SIZE (32ull << 20)
#define GEAR_CONF_PACK_SIZE_LIMIT (4ull << 30)
/* gear-build-image's source: its fetch in seconds, and its bytes (received, and the tree's files together) */
#define GEAR_CONF_BUILD_FETCH_TIMEOUT 600
#define GEAR_CONF_MAX_BUILD_FETCH_TIMEOUT 86400
#define GEAR_CONF_MAX_SOURCE_SIZE (1ull << 30)
#define GEAR_CONF_MAX_SOURCE_SIZE_LIMIT (64ull << 30)

struct gear_strv {
        char **v; /* NULL-terminated once anything was added */
        size_t n;
};

struct gear_config {
        char path[PATH_MAX];     /* the file read, for messages */
        char podman[PATH_MAX];   /* podman=, absolute */
        char runtime[PATH_MAX];  /* runtime=: "podman --runtime"; empty: podman's default */
        char publish_address[64]; /* publish-address=: host address of published ports; empty: all */
        char gear_bin[PATH_MAX]; /* gear-bin=: where units find the gear commands, absolute */
        char socket_proxyd[PATH_MAX]; /* socket-proxyd=: the proxy of idle containers, absolute */
        char store[PATH_MAX];    /* store=: gear-push's and gear-pull's store when none is named; empty: none */
        unsigned stop_timeout;   /* stop-timeout=: seconds between SIGTERM and SIGKILL */
        uint64_t max_index_size; /* max-index-size=: the largest index layer a store may declare */
        uint64_t max_config_size; /* max-config-size=: the largest config blob */
        uint64_t pack_size;      /* pack-size=: the size gear-push cuts a registry's packs at */
        int solid_level;         /* solid-level=: the zstd level of gear-push's solid frames; 0: none */
        unsigned build_fetch_timeout; /* build-fetch-timeout=: seconds a build's source may take to fetch */
        uint64_t max_source_size; /* max-source-size=: a build's source, fetched and as a tree */
        struct gear_strv ulimits;     /* ulimit=NAME=SOFT[:HARD], repeatable */
        struct gear_strv podman_args; /* podman-arg=, one global podman argument each */
        struct gear_strv run_args;    /* run-arg=, one "podman run" argument each */
        struct gear_strv build_run_args; /* build-run-arg=, one argument of a build container's "podman create" each */
};

/* compiled-in defaults */
void config_init(struct gear_config *c);
/* defaults, then the file when it exists; 100 "FILE:LINE: ..." on a bad line */
int config_load_file(struct gear_config *c, const char *path, struct gear_err *e);
/* the same for the tree's sysroot: GEAR_SYSROOT/etc/gear/gear.conf */
int config_load(struct gear_config *c, const struct gear_tree *t, struct gear_err *e);
/* parses a whole file's text; name is used in messages */
int config_parse(struct gear_config *c, const char *name, const char *text, struct gear_err *e);
void config_done(struct gear_config *c);

/* global arguments for every podman call: --runtime=R, then podman-arg= */
int config_podman_args(const struct gear_config *c, struct gear_strv *out, struct gear_err *e);
/* the same after the podman binary: the start of a podman command line */
int config_podman_argv(const struct gear_config *c, struct gear_strv *out, struct gear_err *e);
/* arguments for "podman run": --ulimit=U..., then run-arg= */
int config_run_args(const struct gear_config *c, struct gear_strv *out, struct gear_err *e);
/* arguments for the "podman create" of gear-build-image's container: --ulimit=U..., then build-run-arg= */
int config_build_run_args(const struct gear_config *c, struct gear_strv *out, struct gear_err *e);

int strv_push(struct gear_strv *s, const char *str);
void strv_done(struct gear_strv *s);

#endif
