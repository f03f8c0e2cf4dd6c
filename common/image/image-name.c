/* image names and tags, and where they live in the image tree */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"

static bool alnum_lower(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+ joined by '.', '_', '__' or runs of '-' */
static bool component_valid(const char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                size_t run = 0;
                while (i < n && alnum_lower(s[i]))
                        i++, run++;
                if (!run)
                        return false;
                if (i == n)
                        return true;
                size_t sep = i;
                if (s[i] == '.')
                        i++;
                else if (s[i] == '_')
                        i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
                else
                        while (i < n && s[i] == '-')
                                i++;
                if (i == sep || i == n)
                        return false;
        }
        return false;
}

bool image_name_valid(const char *s)
{
        size_t n = strlen(s);

        if (!n || n > IMAGE_NAME_MAX)
                return false;
        for (const char *p = s;;) {
                const char *slash = strchr(p, '/');
                size_t k = slash ? (size_t)(slash - p) : strlen(p);
                if (!component_valid(p, k))
                        return false;
                if (!slash)
                        return true;
                p = slash + 1;
        }
}

bool image_tag_valid(const char *s)
{
        size_t n = strlen(s);

        if (!n || n > IMAGE_TAG_MAX || s[0] == '.' || s[0] == '-')
                return false;
        return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

int image_ref_parse(const char *arg, struct image_ref *r, struct gear_err *e)
{
        const char *colon = strrchr(arg, ':'), *slash = strrchr(arg, '/');
        size_t n;

        if (colon && slash && colon < slash)
                colon = NULL;
        n = colon ? (size_t)(colon - arg) : strlen(arg);
        if (n > IMAGE_NAME_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid image name '%s': longer than %d characters",
                                    arg, IMAGE_NAME_MAX);
        memcpy(r->name, arg, n);
        r->name[n] = 0;
        if (!image_name_valid(r->name))
                return gear_err_set(e, GEAR_EXIT_USAGE,
                                    "invalid image name '%s': want '/'-separated components of [a-z0-9] "
                                    "joined by '.', '_' or '-'", r->name);
        if (!colon) {
                strcpy(r->tag, IMAGE_DEFAULT_TAG);
                return 0;
        }
        if (!image_tag_valid(colon + 1))
                return gear_err_set(e, GEAR_EXIT_USAGE,
                                    "invalid tag '%s': want 1 to %d characters of [A-Za-z0-9_.-], "
                                    "not starting with '.' or '-'", colon + 1, IMAGE_TAG_MAX);
        strcpy(r->tag, colon + 1);
        return 0;
}

void image_rel(const struct image_ref *r, char *buf, size_t n)
{
        snprintf(buf, n, IMAGES_DIR "/%s/%s", r->name, r->tag);
}

void image_file_rel(const char *image_dir, const char *name, char *buf, size_t n)
{
        if (!strcmp(image_dir, "."))
                snprintf(buf, n, "%s", name);
        else
                snprintf(buf, n, "%s/%s", image_dir, name);
}

static int is_image_dir(const struct gear_root *img, const char *rel)
{
        char p[PATH_MAX];
        struct stat st;

        snprintf(p, sizeof p, "%s/oci-layout", rel);
        return fstatat(img->fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int image_check_free(const struct gear_root *img, const struct image_ref *r, struct gear_err *e)
{
        char rel[PATH_MAX];
        struct stat st;

        /* images/a/b is either the tag b of a or the directory of a/b's tags, never both */
        snprintf(rel, sizeof rel, IMAGES_DIR "/%s", r->name);
        for (char *p = rel + strlen(IMAGES_DIR "/");; p++) {
                char *end = strchr(p, '/');
                if (end)
                        *end = 0;
                if (strchr(rel + strlen(IMAGES_DIR "/"), '/') && is_image_dir(img, rel)) {
                        char *tag = strrchr(rel, '/');
                        *tag = 0;
                        return gear_err_set(e, GEAR_EXIT_USAGE, "image name '%s' clashes with image '%s:%s'",
                                            r->name, rel + strlen(IMAGES_DIR "/"), tag + 1);
                }
                if (!end)
                        break;
                *end = '/';
                p = end;
        }
        image_rel(r, rel, sizeof rel);
        if (fstatat(img->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && !is_image_dir(img, rel))
                return gear_err_set(e, GEAR_EXIT_USAGE, "tag '%s' clashes with images named '%s/%s/...'",
                                    r->tag, r->name, r->tag);
        return 0;
}
