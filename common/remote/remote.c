/* stores: spec parsing, fetching one object, an image's origin and object map */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "byteranges.h"
#include "remote-internal.h"
#include "store-read.h"
#include "../base/config.h"
#include "../base/fsutil.h"
#include "../image/image.h"

static bool host_valid(const char *s, size_t n)
{
        if (!n || n > 255)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]", s[i]))
                        return false;
        return true;
}

static void remote_freep(struct remote **r)
{
        remote_free(*r);
}

int remote_open_opts(const char *spec, const struct remote_opts *o, struct remote **rp, struct gear_err *e)
{
        _cleanup_(remote_freep) struct remote *r = NULL;
        const char *rest, *slash, *colon;
        char repo[IMAGE_NAME_MAX + IMAGE_TAG_MAX + 2];
        bool http = o && !o->tls_verify;

        r = calloc(1, sizeof *r);
        if (!r)
                return gear_err_sys(e, ENOMEM, "cannot open store '%s'", spec);
        r->dir.fd = -1;
        r->progress = o ? o->progress : NULL;
        r->pack_size = o && o->pack_size ? o->pack_size : GEAR_CONF_PACK_SIZE;
        r->solid_level = o ? o->solid_level : 0;
        r->limits = o && o->limits ? *o->limits
                                   : (struct remote_limits){ .config_max = GEAR_CONF_MAX_CONFIG_SIZE,
                                                             .index_max = GEAR_CONF_MAX_INDEX_SIZE };
        if (!strncmp(spec, "docker://", 9) || !strncmp(spec, "docker+http://", 14)) {
                if (spec[6] == '+')
                        http = true;
                rest = strstr(spec, "://") + 3;
                slash = strchr(rest, '/');
                if (!slash || !host_valid(rest, slash - rest) || strlen(slash + 1) >= sizeof repo)
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid store '%s': want docker://HOST[:PORT]/REPO[:TAG]", spec);
                snprintf(r->host, sizeof r->host, "%.*s", (int)(slash - rest), rest);
                snprintf(repo, sizeof repo, "%s", slash + 1);
                colon = strrchr(repo, ':');
                if (colon && !strchr(colon, '/')) {
                        snprintf(r->tag, sizeof r->tag, "%s", colon + 1);
                        repo[colon - repo] = 0;
                        if (!image_tag_valid(r->tag))
                                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid store '%s': invalid tag '%s'", spec, r->tag);
                }
                if (!image_name_valid(repo))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid store '%s': invalid repository '%s'", spec, repo);
                snprintf(r->repo, sizeof r->repo, "%s", repo);
                r->kind = REMOTE_REGISTRY;
                r->http = http;
                if (registry_open(r->host, r->repo, http, o ? o->authfile : remote_default_authfile(),
                                  &r->reg, e) < 0)
                        return gear_err_wrap(e, "store '%s'", spec);
        } else {
                const char *dir = !strncmp(spec, "dir:", 4) ? spec + 4 : spec;

                if (!*dir || strstr(spec, "://"))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid store '%s': want DIR, dir:DIR or docker://HOST[:PORT]/REPO[:TAG]", spec);
                if (store_dir_open(dir, &r->dir, e) < 0)
                        return -1;
                r->kind = REMOTE_DIR;
        }
        *rp = TAKE_PTR(r);
        return 0;
}

int remote_open(const char *spec, struct remote **r, struct gear_err *e)
{
        return remote_open_opts(spec, NULL, r, e);
}

void remote_free(struct remote *r)
{
        if (!r)
                return;
        if (r->dir.fd >= 0)
                close(r->dir.fd);
        registry_free(r->reg);
        free(r);
}

const struct gear_root *remote_dir(const struct remote *r)
{
        return r->kind == REMOTE_DIR ? &r->dir : NULL;
}

const char *remote_default_authfile(void)
{
        static __thread char path[PATH_MAX];
        const char *run = getenv("XDG_RUNTIME_DIR");

        if (!run || !*run)
                return NULL;
        snprintf(path, sizeof path, "%s/containers/auth.json", run);
        return path;
}

void remote_origin_spec(const struct remote *r, const char *tag, char *buf, size_t n)
{
        if (r->kind == REMOTE_DIR)
                snprintf(buf, n, "dir:%s", r->dir.path);
        else
                snprintf(buf, n, "%s://%s/%s:%s", r->http ? "docker+http" : "docker", r->host, r->repo, tag);
}

bool remote_is_registry(const struct remote *r)
{
        return r->kind == REMOTE_REGISTRY;
}

int remote_fetch_object(struct remote *r, const char *hex, const struct object_loc *loc, uint64_t max, int fd,
                        struct gear_err *e)
{
        char rel[STORE_REL_MAX];

        if (!digest_hex_valid(hex))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid digest '%s'", hex);
        if (r->kind == REMOTE_DIR) {
                store_object_rel(hex, rel);
                if (store_file_copy(&r->dir, rel, fd, max, NULL, e) < 0) {
                        if (e->code == GEAR_EXIT_NO)
                                return gear_err_set(e, GEAR_EXIT_NO, "store '%s' has no object sha256:%.12s",
                                                    r->dir.path, hex);
                        return gear_err_wrap(e, "object sha256:%.12s", hex);
                }
                return 0;
        }
        if (!loc)
                return gear_err_set(e, GEAR_EXIT_NO, "no blob for object sha256:%.12s", hex);
        if (loc->whole) {
                if (registry_get_blob_fd(r->reg, loc->pack, max, fd, e) < 0)
                        return gear_err_wrap(e, "object sha256:%.12s", hex);
                return 0;
        }
        /* the map is data from the store: it may not make a content longer than it can be */
        if (loc->len > max)
                return gear_err_set(e, GEAR_EXIT_SYS, "object sha256:%.12s: the map gives it %llu bytes, more than %llu",
                                    hex, (unsigned long long)loc->len, (unsigned long long)max);
        if (remote_fetch_range(r, loc->pack, loc->pack_size, loc->off, loc->len, fd, NULL, NULL, e) < 0)
                return gear_err_wrap(e, "object sha256:%.12s", hex);
        return 0;
}

int remote_fetch_range(struct remote *r, const char *pack, uint64_t pack_size, uint64_t off, uint64_t len, int fd,
                       void (*fn)(void *ud, uint64_t n), void *ud, struct gear_err *e)
{
        struct byte_range v = { off, len };

        /* an empty range within the pack asks nothing */
        if (!len && r->kind == REMOTE_REGISTRY && off <= pack_size)
                return 0;
        return remote_fetch_ranges(r, pack, pack_size, &v, 1, fd, fn, ud, e);
}

/* the progress of one range of several, told as the bytes of all of them */
struct ranges_progress {
        void (*fn)(void *ud, uint64_t n);
        void *ud;
        uint64_t base;
};

static void range_progress(void *ud, uint64_t n)
{
        struct ranges_progress *p = ud;

        p->fn(p->ud, p->base + n);
}

int remote_fetch_ranges(struct remote *r, const char *pack, uint64_t pack_size, const struct byte_range *v, size_t n,
                        int fd, void (*fn)(void *ud, uint64_t n), void *ud, struct gear_err *e)
{
        struct ranges_progress p = { fn, ud, 0 };
        off_t start;
        int k;

        if (r->kind != REMOTE_REGISTRY)
                return gear_err_set(e, GEAR_EXIT_USAGE, "a directory store has no packs");
        if (!n || n > BYTERANGES_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "%zu ranges asked for at once", n);
        for (size_t i = 0; i < n; i++)
                if (!v[i].len || v[i].off > pack_size || v[i].len > pack_size - v[i].off ||
                    (i && v[i].off < v[i - 1].off + v[i - 1].len))
                        return gear_err_set(e, GEAR_EXIT_SYS, "invalid range %llu+%llu of pack sha256:%.12s",
                                            (unsigned long long)v[i].off, (unsigned long long)v[i].len, pack);
        if (n == 1)
                return registry_get_range_fd(r->reg, pack, v[0].off, v[0].len, fd, fn, ud, e);
        if (!__atomic_load_n(&r->one_range, __ATOMIC_RELAXED)) {
                if ((start = lseek(fd, 0, SEEK_CUR)) < 0)
                        return gear_err_sys(e, errno, "cannot fetch ranges");
                if ((k = registry_get_ranges_fd(r->reg, pack, v, n, fd, fn, ud, e)) <= 0)
                        return k;
                /* the registry answers one range at a time only: remembered, and asked so */
                __atomic_store_n(&r->one_range, true, __ATOMIC_RELAXED);
                if (lseek(fd, start, SEEK_SET) < 0 || ftruncate(fd, start) < 0)
                        return gear_err_sys(e, errno, "cannot fetch ranges");
        }
        for (size_t i = 0; i < n; i++) {
                if (registry_get_range_fd(r->reg, pack, v[i].off, v[i].len, fd, fn ? range_progress : NULL, &p, e) < 0)
                        return -1;
                p.base += v[i].len;
        }
        return 0;
}

int image_origin(const struct gear_root *img, const char *image_dir, char *spec, size_t n, struct gear_err *e)
{
        char rel[PATH_MAX];
        _cleanup_free_ char *buf = NULL;
        size_t len;

        image_file_rel(image_dir, REMOTE_ORIGIN_FILE, rel, sizeof rel);
        if (read_file(img, rel, 4096, &buf, &len, e) < 0) {
                if (e->code == GEAR_EXIT_NO) {
                        gear_err_clear(e);
                        return 0;
                }
                return -1;
        }
        buf[strcspn(buf, "\n")] = 0;
        if (!*buf || strlen(buf) >= n)
                return gear_err_set(e, GEAR_EXIT_SYS, "invalid '%s'", rel);
        strcpy(spec, buf);
        return 1;
}

int remote_parse_opt(int c, const char *arg, struct remote_opts *o, const char *use)
{
        if (c == 't') {
                if (!strcmp(arg, "true"))
                        o->tls_verify = true;
                else if (!strcmp(arg, "false"))
                        o->tls_verify = false;
                else
                        return gear_usage_error(use, "invalid --tls-verify '%s': want true or false", arg);
                return 0;
        }
        o->authfile = arg;
        return 0;
}

int remote_cmd_opts(int argc, char **argv, const char *usage, struct remote_opts *o)
{
        static const struct option options[] = {
                { "help",       no_argument,       NULL, 'h' },
                { "tls-verify", required_argument, NULL, 't' },
                { "authfile",   required_argument, NULL, 'a' },
                { "prefetch",   no_argument,       NULL, 'p' },
                {}
        };
        int c, k;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                if (c == 'h')
                        return gear_help(usage);
                if (c == 'p') {
                        if (!o->prefetch)
                                return gear_usage_error(usage, "unknown option '--prefetch'");
                        *o->prefetch = true;
                        continue;
                }
                if (c == 't' || c == 'a') {
                        if ((k = remote_parse_opt(c, optarg, o, usage)))
                                return k;
                        continue;
                }
                if (c == ':')
                        return gear_usage_error(usage, "option '%s' needs a value", argv[optind - 1]);
                return gear_bad_option(usage, argv);
        }
        return -1;
}
