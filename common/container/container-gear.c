#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container-gear.h"
#include "container.h"
#include "../base/digest.h"
#include "../base/fsutil.h"
#include "../gearfs/gearfs.h"
#include "../image/image.h"

bool ctr_gear_image(const char *image)
{
        return image && !strncmp(image, CTR_GEAR_PREFIX, strlen(CTR_GEAR_PREFIX));
}

int ctr_gear_resolve(struct gear_tree *t, const char *image, char *buf, size_t n, struct gear_err *e)
{
        struct image_ref ref;
        char rel[PATH_MAX];
        struct stat st;

        /* only whether it is there: ctr_gear_prepare reads and checks it */
        if (ctr_gear_image(image) || image_ref_parse(image, &ref, e) < 0 || root_open(&t->img, 0, e) < 0) {
                if (e->code && e->code != GEAR_EXIT_NO && e->code != GEAR_EXIT_USAGE)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        image_rel(&ref, rel, sizeof rel);
        if (fstatat(t->img.fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
                if (errno != ENOENT && errno != ENOTDIR && errno != 0)
                        return gear_err_sys(e, errno, "cannot stat '%s/%s'", t->img.path, rel);
                return 0;
        }
        if ((size_t)snprintf(buf, n, CTR_GEAR_PREFIX "%s", image) >= n)
                return gear_err_set(e, GEAR_EXIT_USAGE, "image name '%s' is too long", image);
        return 1;
}

void ctr_gear_done(struct ctr_gear *g)
{
        strv_done(&g->command);
        strv_done(&g->env);
        free(g->workdir);
        free(g->user);
        g->workdir = g->user = NULL;
}

/* as systemd-escape: '/' is '-', the rest outside [A-Za-z0-9:_.] is \xNN */
static void unit_escape(const char *s, char *buf, size_t size)
{
        size_t n = 0;

        for (; *s && n + 5 < size; s++) {
                unsigned char c = *s;

                if (c == '/')
                        buf[n++] = '-';
                else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         c == ':' || c == '_' || (c == '.' && n > 0))
                        buf[n++] = c;
                else
                        n += snprintf(buf + n, size - n, "\\x%02x", c);
        }
        buf[n] = 0;
}

/*
 * gear-fs-<NAME:TAG escaped>.service, or when that is longer than the 255
 * bytes systemd takes, the escaped NAME cut to fit (never inside an escape),
 * "_" and 32 hex digits of the SHA-256 of "NAME:TAG": such a name holds no
 * ':', so it is never that of another reference, and the digest tells apart
 * the references it shortens.
 */
static int mount_unit_name(const struct image_ref *ref, char *buf, size_t size, struct gear_err *e)
{
        const size_t room = CTR_GEAR_UNIT_MAX - strlen("gear-fs-.service"), hash = 32;
        char full[IMAGE_NAME_MAX + IMAGE_TAG_MAX + 2], esc[PATH_MAX / 2];
        digest_hex hex;
        size_t n;

        snprintf(full, sizeof full, "%s:%s", ref->name, ref->tag);
        unit_escape(full, esc, sizeof esc);
        if (strlen(esc) <= room) {
                snprintf(buf, size, "gear-fs-%s.service", esc);
                return 0;
        }
        if (digest_buf(full, strlen(full), hex, e) < 0)
                return -1;
        unit_escape(ref->name, esc, sizeof esc);
        n = room - hash - 1;
        for (size_t i = n - 3; i < n; i++)
                if (esc[i] == '\\') {
                        n = i;
                        break;
                }
        snprintf(buf, size, "gear-fs-%.*s_%.*s.service", (int)n, esc, (int)hash, hex);
        return 0;
}

static int push_strings(struct gear_strv *v, json_t *a, const char *what, struct gear_err *e)
{
        size_t i;
        json_t *x;

        if (!a || json_is_null(a))
                return 0;
        if (!json_is_array(a))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s in the image config", what);
        json_array_foreach(a, i, x) {
                if (!json_is_string(x))
                        return gear_err_set(e, GEAR_EXIT_USAGE, "invalid %s in the image config", what);
                if (strv_push(v, json_string_value(x)) < 0)
                        return gear_err_sys(e, ENOMEM, "cannot read the image config");
        }
        return 0;
}

static int dup_string(char **out, json_t *s, struct gear_err *e)
{
        if (!json_is_string(s) || !*json_string_value(s))
                return 0;
        *out = strdup(json_string_value(s));
        return *out ? 0 : gear_err_sys(e, ENOMEM, "cannot read the image config");
}

static int read_config(struct ctr_gear *g, json_t *config, struct gear_err *e)
{
        json_t *c = json_object_get(config, "config");

        if (!json_is_object(c))
                return gear_err_set(e, GEAR_EXIT_USAGE, "image '%s' has no run config", g->ref);
        if (push_strings(&g->command, json_object_get(c, "Entrypoint"), "entrypoint", e) < 0 ||
            push_strings(&g->command, json_object_get(c, "Cmd"), "cmd", e) < 0 ||
            push_strings(&g->env, json_object_get(c, "Env"), "env", e) < 0 ||
            dup_string(&g->workdir, json_object_get(c, "WorkingDir"), e) < 0 ||
            dup_string(&g->user, json_object_get(c, "User"), e) < 0)
                return -1;
        if (g->command.n == 0)
                return gear_err_set(e, GEAR_EXIT_USAGE, "image '%s' has no entrypoint and no cmd", g->ref);
        /* before anything is made for the container: what its unit cannot hold */
        for (size_t i = 0; i < g->command.n; i++)
                if (unit_value_check(g->command.v[i], "command in the image config", e) < 0)
                        return -1;
        for (size_t i = 0; i < g->env.n; i++)
                if (unit_value_check(g->env.v[i], "environment in the image config", e) < 0)
                        return -1;
        if ((g->workdir && unit_value_check(g->workdir, "working directory in the image config", e) < 0) ||
            (g->user && unit_value_check(g->user, "user in the image config", e) < 0))
                return -1;
        return 0;
}

int ctr_gear_prepare(struct gear_tree *t, const struct gear_config *conf, const char *image, const char *id,
                     struct ctr_gear *g, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL, *old = NULL;
        struct image_ref ref;
        struct image im = { .dfd = -1 };
        char rel[PATH_MAX], users[256];
        size_t len, old_len = 0;
        bool plain = false;
        int r;

        memset(g, 0, sizeof *g);
        if (!ctr_gear_image(image))
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is not a Gear image", image);
        if (image_ref_parse(image + strlen(CTR_GEAR_PREFIX), &ref, e) < 0)
                return -1;
        snprintf(g->ref, sizeof g->ref, "%s:%s", ref.name, ref.tag);
        if (root_open(&t->img, 0, e) < 0) {
                if (e->code == GEAR_EXIT_NO) {
                        gear_err_clear(e);
                        return gear_err_set(e, GEAR_EXIT_NO, "no image '%s'", g->ref);
                }
                return -1;
        }
        if (image_open(&t->img, &ref, &im, e) < 0)
                return -1;
        r = read_config(g, im.config_json, e);
        image_close(&im);
        if (r < 0)
                return -1;

        if (mount_unit_name(&ref, g->mount_unit, sizeof g->mount_unit, e) < 0)
                return -1;
        snprintf(g->lower, sizeof g->lower, "%s/mnt/%s/%s", t->img.path, ref.name, ref.tag);
        snprintf(g->upper, sizeof g->upper, "%s/containers/%s/upper", t->img.path, id);
        snprintf(g->work, sizeof g->work, "%s/containers/%s/work", t->img.path, id);
        snprintf(g->merged, sizeof g->merged, "%s/containers/%s/merged", t->img.path, id);

        /* root-only parents: setuid files and device nodes of the image and of the upper
           directory keep their power inside the container, never for other host users */
        snprintf(rel, sizeof rel, "mnt/%s/%s", ref.name, ref.tag);
        if (mkdir_private_at(t->img.fd, "mnt", e) < 0 || mkdir_private_at(t->img.fd, "containers", e) < 0 ||
            mkdir_p_at(t->img.fd, rel, 0755, e) < 0)
                return gear_err_wrap(e, "in '%s'", t->img.path);
        for (const char *const *d = (const char *const[]){ "upper", "work", "merged", NULL }; *d; d++) {
                snprintf(rel, sizeof rel, "containers/%s/%s", id, *d);
                if (mkdir_p_at(t->img.fd, rel, 0755, e) < 0)
                        return -1;
        }
        /* --direct unless a container of the image still mounts the overlay of an older unit */
        if (ctr_gear_users(t, &ref, id, users, sizeof users, &plain, e) < 0 ||
            unit_render_gear_fs(g->ref, g->lower, conf->gear_bin, t->sysroot, !plain, &text, &len, e) < 0)
                return -1;
        /* shared by the image's containers: rewritten only when it changes */
        r = read_file(&t->units, g->mount_unit, 65536, &old, &old_len, e);
        if (r < 0 && e->code != GEAR_EXIT_NO)
                return -1;
        gear_err_clear(e);
        if (r < 0 || old_len != len || memcmp(old, text, len)) {
                if (atomic_write(&t->units, g->mount_unit, text, len, 0644, e) < 0)
                        return -1;
                g->mount_changed = true;
        }

        g->unit = (struct unit_gear){
                .mount_unit = g->mount_unit,
                .lower = g->lower,
                .upper = g->upper,
                .work = g->work,
                .merged = g->merged,
                .command = (const char *const *)g->command.v,
                .n_command = g->command.n,
                .env = (const char *const *)g->env.v,
                .n_env = g->env.n,
                .workdir = g->workdir,
                .user = g->user,
        };
        return 0;
}

int ctr_gear_stats(struct gear_tree *t, const char *image, char **text, struct gear_err *e)
{
        struct image_ref ref;
        char rel[PATH_MAX];
        size_t len;

        *text = NULL;
        if (!ctr_gear_image(image) || image_ref_parse(image + strlen(CTR_GEAR_PREFIX), &ref, e) < 0)
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is not a Gear image", image);
        image_rel(&ref, rel, sizeof rel);
        strcat(rel, "/" GEARFS_STATS);
        if (root_open(&t->img, 0, e) < 0 || read_file(&t->img, rel, 4096, text, &len, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
        }
        return 0;
}

int ctr_gear_remove(struct gear_tree *t, const char *id, struct gear_err *e)
{
        char rel[PATH_MAX], path[PATH_MAX];
        struct stat st;

        if (root_open(&t->img, 0, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        snprintf(rel, sizeof rel, "containers/%s", id);
        if (fstatat(t->img.fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return gear_err_sys(e, errno, "cannot stat '%s/%s'", t->img.path, rel);
        }
        /* a stopped unit unmounted it already; a killed one may not have */
        snprintf(path, sizeof path, "%s/containers/%s/merged", t->img.path, id);
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot unmount '%s'", path);
        if (rm_tree(t->img.fd, rel, e) < 0)
                return gear_err_wrap(e, "in '%s'", t->img.path);
        return 1;
}

int ctr_gear_users(struct gear_tree *t, const struct image_ref *ref, const char *except, char *users, size_t n,
                   bool *plain, struct gear_err *e)
{
        _cleanup_free_ gear_id *ids = NULL;
        size_t count = 0, len = 0;
        int found = 0;

        *users = 0;
        if (container_list(t, &ids, &count, e) < 0)
                return -1;
        for (size_t i = 0; i < count; i++) {
                _cleanup_free_ char *text = NULL;
                struct gear_err ignore = {0};
                struct unit_meta meta;
                struct image_ref r;
                int k = container_read_unit(t, ids[i], &text, e);

                if (k == -ENOENT && e->code == GEAR_EXIT_NO) {
                        gear_err_clear(e); /* deleted meanwhile */
                        continue;
                }
                if (k < 0 || unit_parse_meta(text, &meta, e) < 0)
                        return gear_err_wrap(e, "container '%s'", ids[i]);
                if (!ctr_gear_image(meta.image) ||
                    image_ref_parse(meta.image + strlen(CTR_GEAR_PREFIX), &r, &ignore) < 0 ||
                    strcmp(r.name, ref->name) || strcmp(r.tag, ref->tag))
                        continue;
                if (len < n)
                        len += snprintf(users + len, n - len, "%s'%s'", found ? ", " : "", ids[i]);
                found = 1;
                if (plain && (!except || strcmp(except, ids[i])) && !strstr(text, "/gear-fs --overlay "))
                        *plain = true;
        }
        return found;
}
