/* finding the images of the image tree: images/NAME/TAG/ holds an oci-layout file */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image.h"
#include "../base/fsutil.h"

struct walker {
        const struct gear_root *img;
        image_walk_fn fn;
        void *ud;
        struct gear_err *e;
};

static int by_name(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int walk(struct walker *w, char *rel, size_t len, int depth)
{
        struct dirent **v = NULL;
        struct stat st;
        int n, r = 0;

        n = scandirat(w->img->fd, rel, &v, NULL, by_name);
        if (n < 0) {
                if (errno == ENOENT && depth == 0)
                        return 0;
                return gear_err_sys(w->e, errno, "cannot read '%s/%s'", w->img->path, rel);
        }
        for (int i = 0; i < n && r >= 0; i++) {
                const char *name = v[i]->d_name;
                size_t k = strlen(name);
                if (!strcmp(name, ".") || !strcmp(name, "..") || len + k + 2 > PATH_MAX)
                        continue;
                snprintf(rel + len, PATH_MAX - len, "/%s", name);
                if (fstatat(w->img->fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
                        rel[len] = 0;
                        continue;
                }
                if (is_tmp_name(name)) {
                        r = w->fn(rel, NULL, true, w->ud);
                } else {
                        char layout[PATH_MAX + 16];
                        snprintf(layout, sizeof layout, "%s/oci-layout", rel);
                        if (depth > 0 && fstatat(w->img->fd, layout, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                                struct image_ref ref;
                                const char *nm = rel + strlen(IMAGES_DIR "/");
                                snprintf(ref.name, sizeof ref.name, "%.*s", (int)(len - strlen(IMAGES_DIR "/")), nm);
                                snprintf(ref.tag, sizeof ref.tag, "%s", name);
                                if (image_name_valid(ref.name) && image_tag_valid(ref.tag))
                                        r = w->fn(rel, &ref, false, w->ud);
                        } else if (depth < IMAGE_NAME_MAX / 2) {
                                r = walk(w, rel, len + k + 1, depth + 1);
                        }
                }
                rel[len] = 0;
        }
        for (int i = 0; i < n; i++)
                free(v[i]);
        free(v);
        return r;
}

int image_walk(const struct gear_root *img, image_walk_fn fn, void *ud, struct gear_err *e)
{
        struct walker w = { .img = img, .fn = fn, .ud = ud, .e = e };
        char rel[PATH_MAX] = IMAGES_DIR;

        return walk(&w, rel, strlen(rel), 0) < 0 ? -1 : 0;
}

struct lister {
        const struct gear_root *img;
        image_list_fn fn;
        void *ud;
};

static int list_one(const char *rel, const struct image_ref *r, bool tmp, void *ud)
{
        struct lister *l = ud;
        struct gear_err why = {0};
        struct image im;
        int ret;

        if (tmp)
                return 0;
        if (image_open(l->img, r, &im, &why) < 0)
                return l->fn(r, NULL, &why, l->ud);
        ret = l->fn(r, &im, NULL, l->ud);
        image_close(&im);
        return ret;
}

int image_list(const struct gear_root *img, image_list_fn fn, void *ud, struct gear_err *e)
{
        struct lister l = { .img = img, .fn = fn, .ud = ud };

        return image_walk(img, list_one, &l, e);
}
