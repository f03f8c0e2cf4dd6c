/*
 * Where a registry keeps contents already, as far as this host knows: the
 * object maps of the images pulled from it (their origin names the
 * registry) and the maps gear-push wrote there (pushed/HOST/REPO.map in each
 * pushed image's directory). gear-push references those packs instead of
 * packing their contents again, so that images sharing files share the
 * registry's storage as they did with one blob per object.
 *
 * What is learnt here is only a hint: the push checks each pack in the
 * registry (HEAD, or a cross-repository mount) before it names it. A pulled
 * image's map is its publisher's word, so it is not taken for a content the
 * store has: that one is uploaded, or named where this host put it. A map a
 * push wrote with places from a pulled map (REPO.relayed beside REPO.map)
 * is taken as such a map.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunks.h"
#include "pack-push.h"
#include "../base/fsutil.h"
#include "../image/image.h"
#include "../store/store.h"

struct learner {
        const struct gear_root *img;
        const char *host;
        struct known *k;
        const digest_hex *want;  /* the contents looked for, sorted */
        size_t nwant;
        unsigned char *lacked;   /* of each, whether the store lacks it (once asked: lacked_known) */
        bool lacked_known;
        struct gear_err *e;
};

/*
 * Whether a content still looked for is one the store lacks: only for those
 * is a pulled image's map read (learn_map), which for a compact one means
 * its index. A push of an image built here has every content.
 */
static bool pulled_maps_help(struct learner *l)
{
        if (!l->lacked_known) {
                l->lacked_known = true;
                if (l->nwant && !(l->lacked = calloc(l->nwant, 1)))
                        return true;
                for (size_t i = 0; i < l->nwant; i++)
                        l->lacked[i] = !store_has(l->img, l->want[i]);
        }
        for (size_t i = 0; i < l->nwant; i++)
                if (l->k->v[i].repo < 0 && (!l->lacked || l->lacked[i]))
                        return true;
        return false;
}

static int add_repo(struct known *k, const char *repo)
{
        char (*v)[IMAGE_NAME_MAX + 1];

        for (size_t i = 0; i < k->nrepos; i++)
                if (!strcmp(k->repos[i], repo))
                        return (int)i;
        if (!(v = realloc(k->repos, (k->nrepos + 1) * sizeof *v)))
                return -ENOMEM;
        k->repos = v;
        snprintf(k->repos[k->nrepos], sizeof *k->repos, "%s", repo);
        return (int)k->nrepos++;
}

/*
 * the contents still looked for that m places get their place in repo; own:
 * m is a map this host pushed, whose chunk tables it made from its objects
 * (another's are checked against the content here, or left out). The map of
 * a pulled image was written by whoever published it, and may name any
 * content at any place: it is taken only for a content the store lacks
 * (pushing a pulled image names what its registry keeps), never in place of
 * uploading one this host has.
 */
static int learn_map(struct learner *l, const char *repo, const struct object_map *m, bool own)
{
        int ri = -1;

        if (!object_map_packed(m))
                return 0;
        for (size_t i = 0; i < l->nwant; i++) {
                struct object_loc loc;
                if (l->k->v[i].repo >= 0 || !object_map_find(m, l->want[i], &loc) ||
                    (!own && store_has(l->img, l->want[i])))
                        continue;
                if (ri < 0 && (ri = add_repo(l->k, repo)) < 0)
                        return gear_err_sys(l->e, -ri, "cannot read the maps of '%s'", l->host);
                /* a place is a hint, but chunks are what a reader checks a content against */
                if (loc.nchunks && !own && !chunk_matches_local(l->img, l->want[i], &loc)) {
                        loc.chunks = NULL;
                        loc.nchunks = 0;
                }
                /* the map is freed next: a chunked content's chunks are copied */
                if (loc.nchunks) {
                        struct map_chunk *c = malloc(loc.nchunks * sizeof *c);
                        if (!c)
                                return gear_err_sys(l->e, ENOMEM, "cannot read the maps of '%s'", l->host);
                        memcpy(c, loc.chunks, loc.nchunks * sizeof *c);
                        loc.chunks = c;
                }
                l->k->v[i].repo = ri;
                l->k->v[i].loc = loc;
                l->k->v[i].relayed = !own;
        }
        return 0;
}

static int learn_file(struct learner *l, const struct gear_root *root, const char *rel, const char *repo, bool own)
{
        struct gear_err ignored = {0};
        struct object_map *m = NULL;
        int r;

        /* a map that cannot be read is no knowledge, not a failure */
        if (!image_name_valid(repo) || object_map_load_file(root, rel, &m, &ignored) < 0)
                return 0;
        r = learn_map(l, repo, m, own);
        object_map_free(m);
        return r;
}

/* the map of the image pulled into image_dir (a compact one expanded with its index), as learn_file */
static int learn_pulled(struct learner *l, const char *image_dir, const char *repo)
{
        struct gear_err ignored = {0};
        struct object_map *m = NULL;
        int r;

        if (!image_name_valid(repo) || object_map_load(l->img, image_dir, NULL, &m, &ignored) < 0)
                return 0;
        r = learn_map(l, repo, m, false);
        object_map_free(m);
        return r;
}

/* every REPO.map below rel (pushed/HOST/), REPO its path there */
static int learn_pushed(struct learner *l, const char *rel, size_t base, int depth)
{
        struct dirent **v = NULL;
        int n, r = 0;

        n = scandirat(l->img->fd, rel, &v, NULL, alphasort);
        if (n < 0)
                return 0;
        for (int i = 0; i < n && r >= 0; i++) {
                char sub[PATH_MAX], repo[IMAGE_NAME_MAX + 8];
                const char *name = v[i]->d_name;
                size_t k = strlen(name);
                struct stat st;

                if (name[0] == '.' || (size_t)snprintf(sub, sizeof sub, "%s/%s", rel, name) >= sizeof sub ||
                    fstatat(l->img->fd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode) && depth < IMAGE_NAME_MAX / 2)
                        r = learn_pushed(l, sub, base, depth + 1);
                else if (S_ISREG(st.st_mode) && k > 4 && !strcmp(name + k - 4, ".map") &&
                         strlen(sub + base) - 4 < sizeof repo) {
                        char flag[PATH_MAX];
                        snprintf(repo, sizeof repo, "%.*s", (int)(strlen(sub + base) - 4), sub + base);
                        /* a map whose push named places a pulled map gave is no more than that map's word */
                        snprintf(flag, sizeof flag, "%.*s" REMOTE_RELAYED_SUFFIX, (int)(strlen(sub) - 4), sub);
                        r = learn_file(l, l->img, sub, repo, faccessat(l->img->fd, flag, F_OK, AT_SYMLINK_NOFOLLOW) < 0);
                }
        }
        for (int i = 0; i < n; i++)
                free(v[i]);
        free(v);
        return r;
}

/* HOST and REPO of a registry spec docker[+http]://HOST/REPO[:TAG] */
static bool spec_host_repo(const char *spec, char *host, size_t nh, char *repo, size_t nr)
{
        const char *p = strstr(spec, "://"), *slash, *colon;
        size_t len;

        if (!remote_spec_is_registry(spec) || !p || !(slash = strchr(p + 3, '/')))
                return false;
        p += 3;
        if ((size_t)(slash - p) >= nh)
                return false;
        snprintf(host, nh, "%.*s", (int)(slash - p), p);
        colon = strrchr(slash + 1, ':');
        len = colon ? (size_t)(colon - slash - 1) : strlen(slash + 1);
        if (len >= nr)
                return false;
        snprintf(repo, nr, "%.*s", (int)len, slash + 1);
        return true;
}

static int learn_image(const char *rel, const struct image_ref *ref, bool tmp, void *ud)
{
        struct learner *l = ud;
        char spec[PATH_MAX + 256], host[256], repo[IMAGE_NAME_MAX + 1], dir[PATH_MAX];
        struct gear_err ignored = {0};

        (void)ref;
        if (tmp)
                return 0;
        if (image_origin(l->img, rel, spec, sizeof spec, &ignored) > 0 &&
            spec_host_repo(spec, host, sizeof host, repo, sizeof repo) && !strcmp(host, l->host) &&
            pulled_maps_help(l)) {
                if (learn_pulled(l, rel, repo) < 0)
                        return -1;
        }
        if ((size_t)snprintf(dir, sizeof dir, "%s/" REMOTE_PUSHED_DIR "/%s", rel, l->host) >= sizeof dir)
                return 0;
        return learn_pushed(l, dir, strlen(dir) + 1, 0);
}

int known_learn(const struct gear_root *img, const char *host, const digest_hex *want, size_t n, struct known *k,
                struct gear_err *e)
{
        struct learner l = { .img = img, .host = host, .k = k, .want = want, .nwant = n, .e = e };

        *k = (struct known){0};
        if (n && !(k->v = calloc(n, sizeof *k->v)))
                return gear_err_sys(e, ENOMEM, "cannot read the maps of '%s'", host);
        k->n = n;
        for (size_t i = 0; i < n; i++)
                k->v[i].repo = -1;
        if (image_walk(img, learn_image, &l, e) < 0) {
                free(l.lacked);
                known_free(k);
                return -1;
        }
        free(l.lacked);
        return 0;
}

void known_free(struct known *k)
{
        for (size_t i = 0; k->v && i < k->n; i++)
                free((void *)k->v[i].loc.chunks);
        free(k->v);
        free(k->repos);
        *k = (struct known){0};
}
