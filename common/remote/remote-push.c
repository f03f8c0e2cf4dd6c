/*
 * gear-push and gear-pull: objects the store lacks, then the index image.
 *
 * A directory store gets objects/<ab>/<rest> exactly as the local store has
 * them (temp file, fsync, rename; present objects are skipped) and then
 * images/NAME/TAG/, a copy of the image's OCI layout written under a temp
 * name and renamed into place: an existing tag is swapped with
 * renameat2(RENAME_EXCHANGE), or, where the file system lacks it (NFS), moved
 * aside first, so readers see the old image or the new, never a mix.
 *
 * A registry gets the objects in packs (pack-push.c), then the object map
 * as a blob, then the image's manifest with the annotation
 * io.gear.object-map naming the map. Images of the first format, one blob
 * per object named by the SHA-256 of its stored bytes, are still made with
 * GEAR_TEST_PUSH_OBJECT_BLOBS set, for the tests that old images still
 * pull and mount.
 *
 * gear-pull (remote-pull.c) uses the same temp directory and rename.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "image-fetch.h"
#include "pack-push.h"
#include "../base/progress.h"
#include "../base/fsutil.h"
#include "../base/parallel.h"
#include "../image/image.h"

struct objlist {
        digest_hex *v;
        size_t n;
};

static int hex_cmp(const void *a, const void *b)
{
        return strcmp(a, b);
}

/* the distinct objects of an image, sorted */
static int image_objects(struct image *im, struct objlist *l, struct gear_err *e)
{
        _cleanup_free_ const struct store_blob **b = NULL;
        struct itree *t = NULL;
        size_t k = 0, n = 0;
        int r;

        if (image_load_tree(im, &t, e) < 0)
                return -1;
        if ((r = itree_blobs(t, &b, &n)) == 0 && n && !(l->v = malloc(n * sizeof *l->v)))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++)
                memcpy(l->v[i], b[i]->hex, sizeof(digest_hex));
        l->n = r == 0 ? n : 0;
        itree_free(t);
        if (r < 0)
                return gear_err_sys(e, -r, "cannot list the objects of '%s:%s'", im->ref.name, im->ref.tag);
        qsort(l->v, l->n, sizeof *l->v, hex_cmp);
        for (size_t i = 0; i < l->n; i++)
                if (!k || strcmp(l->v[k - 1], l->v[i]))
                        memcpy(l->v[k++], l->v[i], sizeof(digest_hex));
        l->n = k;
        return 0;
}

/* the bytes the objects take in the store, for the progress line */
static uint64_t objects_size(const struct gear_root *img, const struct objlist *l)
{
        uint64_t n = 0;

        for (size_t i = 0; i < l->n; i++) {
                char rel[STORE_REL_MAX];
                struct stat s;

                store_object_rel(l->v[i], rel);
                if (fstatat(img->fd, rel, &s, AT_SYMLINK_NOFOLLOW) == 0)
                        n += (uint64_t)s.st_size;
        }
        return n;
}

static void tmp_name(const char *base, char *buf, size_t n)
{
        unsigned char rnd[6] = {0};

        if (getrandom(rnd, sizeof rnd, 0) < 0)
                memcpy(rnd, &(pid_t){ getpid() }, sizeof(pid_t));
        snprintf(buf, n, GEAR_TMP_PREFIX "%s.%02x%02x%02x%02x%02x%02x", base, rnd[0], rnd[1], rnd[2], rnd[3],
                 rnd[4], rnd[5]);
}

/* copies in to dfd/dir/name by temp file and rename */
static int copy_in(int in, int dfd, const char *dir, const char *name, uint64_t *bytes, struct gear_err *e)
{
        char tmp[NAME_MAX + 1], rel[PATH_MAX], trel[PATH_MAX], buf[1 << 16];
        _cleanup_close_ int out = -1;
        uint64_t n = 0;
        ssize_t k;
        int r = -1;

        tmp_name(name, tmp, sizeof tmp);
        snprintf(rel, sizeof rel, "%s/%s", dir, name);
        snprintf(trel, sizeof trel, "%s/%s", dir, tmp);
        out = openat(dfd, trel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (out < 0)
                return gear_err_sys(e, errno, "cannot create '%s'", trel);
        /* held until the rename: tells gear-clean and gear-fsck this temp file is live */
        flock(out, LOCK_EX);
        for (;;) {
                k = read(in, buf, sizeof buf);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        gear_err_sys(e, errno, "cannot read '%s'", name);
                        goto out;
                }
                if (!k)
                        break;
                if ((r = write_all(out, buf, k)) < 0) {
                        r = gear_err_sys(e, -r, "cannot write '%s'", trel);
                        goto out;
                }
                n += k;
        }
        if (fsync(out) < 0 || renameat(dfd, trel, dfd, rel) < 0) {
                r = gear_err_sys(e, errno, "cannot write '%s'", rel);
                goto out;
        }
        if (bytes)
                *bytes += n;
        r = 0;
out:
        if (r < 0)
                unlinkat(dfd, trel, 0);
        return r;
}

static int push_dir_object(struct remote *r, int in, const char *hex, struct remote_stats *st, struct gear_err *e)
{
        char rel[STORE_REL_MAX], dir[STORE_REL_MAX];
        struct stat s;

        store_object_rel(hex, rel);
        if (fstatat(r->dir.fd, rel, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(s.st_mode)) {
                st->skipped++;
                return 0;
        }
        path_dirname(rel, dir, sizeof dir);
        if (mkdir_p_at(r->dir.fd, dir, 0755, e) < 0 ||
            copy_in(in, r->dir.fd, dir, rel + strlen(dir) + 1, &st->bytes, e) < 0)
                return -1;
        st->sent++;
        return 0;
}

/* uploads a blob unless present; 1 when sent */
static int put_blob_once(struct registry *g, const char *hex, const void *buf, int fd, uint64_t n,
                         struct gear_err *e)
{
        int r = registry_has_blob(g, hex, e);

        if (r != 0)
                return r < 0 ? -1 : 0;
        if (registry_put_blob(g, hex, buf, fd, n, e) < 0)
                return -1;
        return 1;
}

/* the blob of buf, uploaded unless present, named in annotation key of ann */
static int put_annotated_blob(struct registry *g, const void *buf, size_t len, json_t *ann, const char *key,
                              struct gear_err *e)
{
        char dg[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN];
        digest_hex hex;

        if (digest_buf(buf, len, hex, e) < 0 || put_blob_once(g, hex, buf, -1, len, e) < 0)
                return -1;
        snprintf(dg, sizeof dg, DIGEST_PREFIX "%s", hex);
        json_object_set_new(ann, key, json_string(dg));
        return 0;
}

int remote_push_index(struct remote *r, const struct gear_root *img, struct image *im, const void *map,
                      size_t maplen, const struct object_map *om, struct gear_err *e)
{
        _cleanup_free_ char *layer = NULL, *config = NULL, *manifest = NULL, *access = NULL;
        size_t nlayer, nconfig, naccess = 0;
        char rel[PATH_MAX];
        json_t *m, *ann;
        const char *type;

        image_rel(&im->ref, rel, sizeof rel);
        if (access_list_shipped(img, rel, om, &access, &naccess, e) < 0)
                return -1;
        if (layout_read_blob(im->dfd, im->config, -1, IMAGE_JSON_MAX, &config, &nconfig, e) < 0 ||
            layout_read_blob(im->dfd, im->layer, im->layer_size, SIZE_MAX / 2, &layer, &nlayer, e) < 0)
                return -1;
        if (put_blob_once(r->reg, im->config, config, -1, nconfig, e) < 0 ||
            put_blob_once(r->reg, im->layer, layer, -1, nlayer, e) < 0)
                return -1;
        m = json_deep_copy(im->manifest_json);
        ann = json_object_get(m, "annotations");
        if (!ann) {
                ann = json_object();
                json_object_set_new(m, "annotations", ann);
        }
        if (put_annotated_blob(r->reg, map, maplen, ann, REMOTE_MAP_ANNOTATION, e) < 0 ||
            (naccess && put_annotated_blob(r->reg, access, naccess, ann, REMOTE_ACCESS_ANNOTATION, e) < 0)) {
                json_decref(m);
                return -1;
        }
        type = json_string_value(json_object_get(m, "mediaType"));
        if (!type) {
                type = REGISTRY_MANIFEST_TYPE;
                json_object_set_new(m, "mediaType", json_string(type));
        }
        manifest = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
        if (!manifest) {
                json_decref(m);
                return gear_err_sys(e, ENOMEM, "cannot write the manifest");
        }
        int k = registry_put_manifest(r->reg, r->tag[0] ? r->tag : im->ref.tag, type, manifest,
                                      strlen(manifest), e);
        json_decref(m);
        return k;
}

/* the objects go out on a few threads, each taking the next one */
#define PUSH_JOBS 4

struct push_job {
        struct remote *r;
        const struct gear_root *img;
        struct objlist *l;
        digest_hex *blobs;      /* registry: blob digest of each object */
        pthread_mutex_t lock;   /* st */
        struct remote_stats st;
        unsigned long long kill_after;
};

static int push_one(struct push_job *j, size_t i, struct gear_err *e)
{
        char rel[STORE_REL_MAX];
        _cleanup_close_ int in = -1;
        struct remote_stats st = {0};
        struct stat s;
        bool die;

        store_object_rel(j->l->v[i], rel);
        in = openat(j->img->fd, rel, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return gear_err_sys(e, errno, "cannot open object sha256:%.12s", j->l->v[i]);
        if (fstat(in, &s) < 0 || fcntl(in, F_SETFL, O_RDONLY) < 0)
                return gear_err_sys(e, errno, "cannot read object sha256:%.12s", j->l->v[i]);
        if (!S_ISREG(s.st_mode))
                return gear_err_set(e, GEAR_EXIT_SYS, "object sha256:%.12s is not a regular file", j->l->v[i]);
        if (j->r->kind == REMOTE_DIR) {
                if (push_dir_object(j->r, in, j->l->v[i], &st, e) < 0)
                        return -1;
        } else {
                uint64_t size;
                int k;

                if (digest_fd(in, j->blobs[i], &size, e) < 0)
                        return -1;
                k = put_blob_once(j->r->reg, j->blobs[i], NULL, in, size, e);
                if (k < 0)
                        return -1;
                st.sent = k;
                st.skipped = !k;
                st.bytes = k ? size : 0;
        }
        progress_add(j->r->progress, (uint64_t)s.st_size, 1);
        pthread_mutex_lock(&j->lock);
        j->st.sent += st.sent;
        j->st.skipped += st.skipped;
        j->st.bytes += st.bytes;
        die = j->kill_after && st.sent && j->st.sent >= j->kill_after;
        pthread_mutex_unlock(&j->lock);
        /* for tests of resumed pushes: die the hard way after N objects went out */
        if (die)
                raise(SIGKILL);
        return 0;
}

static int push_index(size_t i, void *ud, struct gear_err *e)
{
        return push_one(ud, i, e);
}

int remote_push(struct remote *r, const struct gear_root *img, const struct image_ref *ref,
                struct remote_stats *st, struct gear_err *e)
{
        struct objlist l = {0};
        struct image im;
        char *map = NULL;
        size_t maplen = 0;
        FILE *mf = NULL;
        const char *kill_after = getenv("GEAR_TEST_PUSH_KILL_AFTER");
        struct push_job j = { .r = r, .img = img, .l = &l };
        int k, rc = -1;

        memset(st, 0, sizeof *st);
        pthread_mutex_init(&j.lock, NULL);
        if (kill_after)
                j.kill_after = strtoull(kill_after, NULL, 10);
        if (image_open(img, ref, &im, e) < 0)
                return -1;
        /* the runs its access list is made from are checked before anything goes out */
        if (r->kind == REMOTE_REGISTRY) {
                _cleanup_free_ struct access_run *runs = NULL;
                char rel[PATH_MAX];
                size_t nruns;
                image_rel(ref, rel, sizeof rel);
                if (access_runs_load(img, rel, &runs, &nruns, e) < 0)
                        goto out;
        }
        /* a registry gets packs; one blob per object (the first format) only for the tests of old images */
        if (r->kind == REMOTE_REGISTRY && !getenv("GEAR_TEST_PUSH_OBJECT_BLOBS")) {
                rc = pack_push(r, img, &im, st, e);
                goto out;
        }
        if (image_objects(&im, &l, e) < 0)
                goto out;
        if (r->progress)
                progress_total(r->progress, objects_size(img, &l), l.n);
        if (!(j.blobs = calloc(l.n + 1, sizeof *j.blobs))) {
                gear_err_sys(e, ENOMEM, "cannot push");
                goto out;
        }
        /* one thread when a test wants an exact count of objects sent before the kill */
        k = gear_parallel(l.n, j.kill_after ? 1 : PUSH_JOBS, push_index, &j, e);
        *st = j.st;
        if (k < 0)
                goto out;
        if (r->kind == REMOTE_REGISTRY) {
                if (!(mf = open_memstream(&map, &maplen))) {
                        gear_err_sys(e, errno, "cannot build the object map");
                        goto out;
                }
                for (size_t i = 0; i < l.n; i++)
                        fprintf(mf, "%s\t" DIGEST_PREFIX "%s\n", l.v[i], j.blobs[i]);
        }
        if (r->kind == REMOTE_DIR) {
                char tmp[PATH_MAX], src[PATH_MAX];
                _cleanup_close_ int lock = -1;
                struct store_image s;
                int k;

                image_rel(ref, src, sizeof src);
                if (store_image_read(img, src, NULL, &s, NULL, e) < 0)
                        goto out;
                k = lock = image_tmp_begin(&r->dir, ref, tmp, sizeof tmp, e);
                if (k >= 0 && ((k = store_image_write(&r->dir, tmp, &s, e)) < 0 ||
                               (k = image_commit(&r->dir, ref, tmp, e)) < 0))
                        store_rm_rf(r->dir.fd, tmp);
                store_image_free(&s);
                if (k < 0)
                        goto out;
        } else {
                if (fclose(mf) != 0) {
                        mf = NULL;
                        gear_err_sys(e, ENOMEM, "cannot build the object map");
                        goto out;
                }
                mf = NULL;
                if (remote_push_index(r, img, &im, map ? map : "", maplen, NULL, e) < 0)
                        goto out;
        }
        rc = 0;
out:
        if (mf)
                fclose(mf);
        free(map);
        free(j.blobs);
        pthread_mutex_destroy(&j.lock);
        free(l.v);
        image_close(&im);
        return rc;
}
