/*
 * gear-build's containers-storage:NAME[:TAG] source: an image in podman's
 * local storage, read through podman itself. "podman image save" streams a
 * docker archive (each layer a member "HEX.tar", then the config "HEX.json"
 * and manifest.json); each layer is applied as it arrives, checked against
 * the digest in its name, and manifest.json must then list exactly the
 * layers applied, in that order. Nothing of podman's storage is read directly
 * and nothing of the image is copied to disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "image-docker.h"
#include "image.h"
#include "layer.h"
#include "../base/config.h"
#include "../base/dl-archive.h"
#include "../base/spawn.h"

struct podman_source {
        struct gear_strv argv; /* podman, its global arguments, image save ... NAME */
        char *name;
};

static void podman_free(struct image_source *s)
{
        struct podman_source *p = s->ops_data;

        if (!p)
                return;
        strv_done(&p->argv);
        free(p->name);
        free(p);
        s->ops_data = NULL;
}

static const struct source_ops podman_ops = { .free = podman_free };

bool podman_name_valid(const char *s)
{
        return *s && *s != '-' && strlen(s) <= 512 &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@") == strlen(s);
}

int podman_source_open(const struct gear_config *conf, const char *name, struct image_source *s,
                       struct gear_err *e)
{
        static const char *const save[] = { "image", "save", "--format", "docker-archive" };
        struct podman_source *p;

        s->kind = SOURCE_PODMAN;
        if (!podman_name_valid(name))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid source 'containers-storage:%s'", name);
        if (!(p = calloc(1, sizeof *p)))
                return gear_err_sys(e, ENOMEM, "cannot open '%s'", name);
        s->ops = &podman_ops;
        s->ops_data = p;
        if (config_podman_argv(conf, &p->argv, e) < 0)
                return -1;
        for (size_t i = 0; i < ELEMENTSOF(save); i++)
                if (strv_push(&p->argv, save[i]) < 0)
                        return gear_err_sys(e, ENOMEM, "cannot open '%s'", name);
        if (strv_push(&p->argv, name) < 0 || !(p->name = strdup(name)) ||
            !(s->path = strdup(name)))
                return gear_err_sys(e, ENOMEM, "cannot open '%s'", name);
        return 0;
}

/* "HEX.SUFFIX" with 64 lower-case hex digits: 1 and hex filled */
static bool digest_name(const char *name, const char *suffix, digest_hex hex)
{
        if (strlen(name) != DIGEST_HEX_LEN + strlen(suffix) || strcmp(name + DIGEST_HEX_LEN, suffix))
                return false;
        memcpy(hex, name, DIGEST_HEX_LEN);
        hex[DIGEST_HEX_LEN] = 0;
        return digest_hex_valid(hex);
}

/* the member a is at, whole, at most IMAGE_JSON_MAX bytes */
static int member_read(struct archive *a, struct archive_entry *ent, const char *name, char **buf, size_t *n,
                       struct gear_err *e)
{
        int64_t size = sym_archive_entry_size(ent);
        la_ssize_t k;

        if (size < 0 || size > IMAGE_JSON_MAX)
                return gear_err_set(e, GEAR_EXIT_SYS, "member '%s' has %lld bytes", name, (long long)size);
        free(*buf);
        if (!(*buf = malloc(size + 1)))
                return gear_err_sys(e, ENOMEM, "cannot read '%s'", name);
        for (*n = 0; *n < (size_t)size; *n += k)
                if ((k = sym_archive_read_data(a, *buf + *n, size - *n)) <= 0)
                        return gear_err_set(e, GEAR_EXIT_SYS, "cannot read '%s': %s", name,
                                            k < 0 ? sym_archive_error_string(a) : "cut off");
        (*buf)[*n] = 0;
        return 0;
}

static int add_layer(struct image_source *s, const digest_hex hex, int64_t size, struct gear_err *e)
{
        struct source_layer *l = realloc(s->layers, (s->nlayers + 1) * sizeof *l);

        if (!l)
                return gear_err_sys(e, ENOMEM, "cannot read '%s'", s->path);
        s->layers = l;
        l = &s->layers[s->nlayers++];
        memset(l, 0, sizeof *l);
        memcpy(l->hex, hex, sizeof l->hex);
        l->size = size;
        snprintf(l->label, sizeof l->label, "layer %zu (sha256:%.12s)", s->nlayers, l->hex);
        return 0;
}

/* manifest.json names one image: the config read and exactly the layers applied, in order */
static int check_manifest(struct image_source *s, const char *man, size_t nman, const char *config,
                          size_t nconfig, const char *chex, struct gear_err *e)
{
        json_error_t je;
        json_t *j = man ? json_loadb(man, nman, 0, &je) : NULL, *im = json_array_get(j, 0), *layers, *l;
        const char *cname = json_string_value(json_object_get(im, "Config"));
        digest_hex hex;
        size_t i;
        int r = -1;

        layers = json_object_get(im, "Layers");
        if (!config || json_array_size(j) != 1 || !cname || !digest_name(cname, ".json", hex) || strcmp(hex, chex) ||
            json_array_size(layers) != s->nlayers) {
                gear_err_set(e, GEAR_EXIT_SYS, "what podman saved is not the one image it lists");
                goto out;
        }
        json_array_foreach(layers, i, l) {
                const char *n = json_string_value(l);
                if (!n || !digest_name(n, ".tar", hex) || strcmp(hex, s->layers[i].hex)) {
                        gear_err_set(e, GEAR_EXIT_SYS, "podman saved the layers out of their order");
                        goto out;
                }
        }
        if (!(s->config = json_loadb(config, nconfig, 0, &je)) || !json_is_object(s->config)) {
                gear_err_set(e, GEAR_EXIT_SYS, "the config podman saved is not a JSON object");
                goto out;
        }
        r = 0;
out:
        json_decref(j);
        return r;
}

static int read_archive(struct image_source *s, int fd, struct layer_ctx *c, struct gear_err *e)
{
        struct archive *a = layer_reader_new(e);
        struct archive_entry *ent;
        _cleanup_free_ char *man = NULL, *config = NULL;
        size_t nman = 0, nconfig = 0;
        digest_hex hex, chex = "", got;
        int r = -1;

        if (!a)
                return -1;
        if (sym_archive_read_open_fd(a, fd, 1 << 20) != ARCHIVE_OK) {
                gear_err_set(e, GEAR_EXIT_SYS, "cannot read what podman saved: %s", sym_archive_error_string(a));
                goto out;
        }
        for (;;) {
                int k = sym_archive_read_next_header(a, &ent);
                if (k == ARCHIVE_EOF)
                        break;
                if (k != ARCHIVE_OK && k != ARCHIVE_WARN) {
                        gear_err_set(e, GEAR_EXIT_SYS, "cannot read what podman saved: %s", sym_archive_error_string(a));
                        goto out;
                }
                const char *name = sym_archive_entry_pathname(ent);
                if (!name || sym_archive_entry_filetype(ent) != AE_IFREG)
                        continue;
                if (digest_name(name, ".tar", hex)) {
                        if (add_layer(s, hex, sym_archive_entry_size(ent), e) < 0 ||
                            source_layer_apply(s, s->nlayers - 1, a, c, e) < 0)
                                goto out;
                } else if (digest_name(name, ".json", hex)) {
                        if (member_read(a, ent, name, &config, &nconfig, e) < 0 || digest_buf(config, nconfig, got, e) < 0)
                                goto out;
                        if (strcmp(got, hex)) {
                                gear_err_set(e, GEAR_EXIT_SYS, "the config podman saved does not match its digest");
                                goto out;
                        }
                        memcpy(chex, hex, sizeof chex);
                } else if (!strcmp(name, "manifest.json") && member_read(a, ent, name, &man, &nman, e) < 0)
                        goto out;
        }
        r = check_manifest(s, man, nman, config, nconfig, chex, e);
out:
        sym_archive_read_free(a);
        return r;
}

int podman_apply(struct image_source *s, struct layer_ctx *c, struct gear_err *e)
{
        struct podman_source *p = s->ops_data;
        _cleanup_close_ int out = -1, err = -1;
        struct gear_err we = {0};
        char msg[256];
        pid_t pid;
        int r, k;
        ssize_t n;

        if ((pid = spawn_pipe(p->argv.v, &out, &err, e)) < 0)
                return gear_err_wrap(e, "containers-storage:%s", p->name);
        r = read_archive(s, out, c, e);
        /* a reader that gave up closes the pipe: podman ends on a broken pipe, no signal needed */
        close(TAKE_FD(out));
        k = spawn_wait(pid, p->argv.v[0], &we);
        n = pread(err, msg, sizeof msg - 1, 0);
        msg[n > 0 ? n : 0] = 0;
        msg[strcspn(msg, "\n")] = 0;
        if (k == 0 || (r < 0 && (k < 0 || !msg[0] || strstr(msg, "broken pipe")))) {
                gear_err_clear(&we);
                return r;
        }
        /* podman's own word on why it stopped says more than the archive it cut off */
        gear_err_clear(e);
        if (k < 0) {
                *e = we;
                return -1;
        }
        return gear_err_set(e, strstr(msg, "image not known") ? GEAR_EXIT_NO : GEAR_EXIT_SYS,
                            "podman image save '%s': %s", p->name, msg[0] ? msg : "failed");
}
