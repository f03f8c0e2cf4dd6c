/* gear-fs: the inode table from the index, fetch on first open, statistics */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gearfs-int.h"
#include "../base/fsutil.h"
#include "../store/cache.h"

static size_t hash_ptr(const void *p, size_t cap)
{
        uint64_t x = (uintptr_t)p;

        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return x & (cap - 1);
}

/* index + 1 of ino in the table, 0 when absent; *slot is where it is or would go */
static size_t hash_find(const struct gearfs *fs, const struct inode *ino, size_t *slot)
{
        size_t i = hash_ptr(ino, fs->hcap);

        while (fs->hash[i] && fs->hash[i] != ino)
                i = (i + 1) & (fs->hcap - 1);
        *slot = i;
        return fs->hash[i] ? fs->hidx[i] : 0;
}

uint64_t gfs_ino(const struct gearfs *fs, const struct tnode *tn)
{
        size_t slot;

        return hash_find(fs, tn->ino, &slot);
}

struct gfs_node *gfs_node(struct gearfs *fs, uint64_t ino)
{
        return ino >= 1 && ino <= fs->n ? &fs->nodes[ino - 1] : NULL;
}

static int add(struct tnode *tn, const char *path, void *ud)
{
        struct gearfs *fs = ud;
        size_t slot, idx = hash_find(fs, tn->ino, &slot);

        /* an ext4 directory entry: 8 bytes and the name padded to 4 */
        if (tn->parent)
                fs->nodes[gfs_ino(fs, tn->parent) - 1].dirents += 8 + ((strlen(tn->name) + 3) & ~(size_t)3);
        if (idx) {
                fs->nodes[idx - 1].nlink++;
                return 0;
        }
        fs->hash[slot] = tn->ino;
        fs->hidx[slot] = fs->n + 1;
        fs->nodes[fs->n++] = (struct gfs_node){ .ino = tn->ino, .tn = tn, .fd = -1,
                                                .nlink = S_ISDIR(tn->ino->mode) ? 2 : 1 };
        if (S_ISDIR(tn->ino->mode) && tn->parent)
                fs->nodes[gfs_ino(fs, tn->parent) - 1].nlink++;
        if (S_ISREG(tn->ino->mode) && tn->ino->blob)
                fs->bytes += tn->ino->blob->size;
        return 0;
}

static int hex_order(const void *a, const void *b)
{
        return strcmp(a, b);
}

/* the first of v (k nodes by content) of content hex; k when none */
static size_t node_of(const struct hex_pos *v, size_t k, const char *hex)
{
        struct hex_pos key = { hex, 0 };
        size_t lo = 0, hi = k;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (hex_pos_cmp(&v[mid], &key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < k && !strcmp(v[lo].hex, hex) ? lo : k;
}

/* a chunk of a chunked content the list names, by its digest: of each content with a chunk of those bytes */
static void seed_chunk(struct gearfs *fs, const struct hex_pos *v, size_t k, const char *hex)
{
        const char *content;
        struct gfs_part *p;
        uint32_t c;
        size_t at;

        for (size_t i = 0; i < object_map_find_chunk(fs->origin.map, hex, i, &content, &c); i++) {
                if ((at = node_of(v, k, content)) == k || !(p = gfs_part_get(fs, &fs->nodes[v[at].pos])) ||
                    c >= p->loc.nchunks)
                        continue;
                pthread_mutex_lock(&fs->lock);
                gfs_access_add(fs, &fs->nodes[v[at].pos], c + 1);
                p->seeded = true;
                pthread_mutex_unlock(&fs->lock);
        }
}

/* the runs of an image built here found at mount (access.runs), in their order, start this mount's own */
static void seed_runs(struct gearfs *fs, const struct hex_pos *v, size_t k, const struct access_run *r, size_t nr)
{
        for (size_t i = 0; i < nr; i++) {
                size_t at = node_of(v, k, r[i].hex);
                struct gfs_node *n = at < k ? &fs->nodes[v[at].pos] : NULL;
                struct gfs_part *p;
                if (!n)
                        continue;
                if (!r[i].len) {
                        pthread_mutex_lock(&fs->lock);
                        gfs_access_add(fs, n, 0);
                        pthread_mutex_unlock(&fs->lock);
                } else if ((p = gfs_part_get(fs, n)) && p->local && r[i].off < p->size) {
                        /* read again, as the mount that recorded it did */
                        gfs_part_read(fs, n, r[i].off, r[i].len);
                }
        }
}

/*
 * The access list found at mount (of an image built here, its access.runs
 * when it has them) starts this mount's own: its contents that the index
 * names, in its order (one file of each), marked accessed but not counted as
 * opened. A list that names contents the image lacks (stale, or from another
 * image) loses them.
 */
static int seed_access(struct gearfs *fs, const struct access_run *runs, size_t nruns, struct gear_err *e)
{
        _cleanup_free_ struct hex_pos *v = NULL;
        size_t k = 0;

        if (!fs->nprior && !nruns)
                return 0;
        if (!(v = malloc(fs->n * sizeof *v)) || !(fs->access = malloc((fs->nprior + 1) * sizeof *fs->access)))
                return gear_err_sys(e, ENOMEM, "cannot load the access list");
        fs->access_cap = fs->nprior + 1;
        for (size_t i = 0; i < fs->n; i++)
                if (S_ISREG(fs->nodes[i].ino->mode) && fs->nodes[i].ino->blob)
                        v[k++] = (struct hex_pos){ fs->nodes[i].ino->blob->hex, i };
        qsort(v, k, sizeof *v, hex_pos_cmp);
        if (nruns)
                seed_runs(fs, v, k, runs, nruns);
        for (size_t i = 0; !nruns && i < fs->nprior; i++) {
                /* the first node of that content */
                size_t lo = node_of(v, k, fs->prior[i]);

                /* through gfs_access_add, which makes room: a chunk line may add several entries */
                if (lo < k) {
                        pthread_mutex_lock(&fs->lock);
                        gfs_access_add(fs, &fs->nodes[v[lo].pos], 0);
                        pthread_mutex_unlock(&fs->lock);
                } else {
                        seed_chunk(fs, v, k, fs->prior[i]);
                }
        }
        fs->nseeded = fs->naccess;
        for (size_t i = 0; i < fs->n; i++) {
                if (!fs->nodes[i].part || !fs->nodes[i].part->seeded)
                        continue;
                if (!(fs->nby_chunks % 64)) {
                        digest_hex *p = realloc(fs->by_chunks, (fs->nby_chunks + 64) * sizeof *p);
                        if (!p)
                                return gear_err_sys(e, ENOMEM, "cannot load the access list");
                        fs->by_chunks = p;
                }
                memcpy(fs->by_chunks[fs->nby_chunks++], fs->nodes[i].ino->blob->hex, sizeof *fs->by_chunks);
        }
        if (fs->nby_chunks)
                qsort(fs->by_chunks, fs->nby_chunks, sizeof *fs->by_chunks, hex_order);
        return 0;
}

bool gfs_by_chunks(const struct gearfs *fs, const char *hex)
{
        return fs->nby_chunks && bsearch(hex, fs->by_chunks, fs->nby_chunks, sizeof *fs->by_chunks, hex_order);
}

/* what a read-around fetched besides the opened content: counted as fetched ahead */
static void counted_around(void *ud, uint64_t files, uint64_t bytes, uint64_t wire)
{
        struct gearfs *fs = ud;

        pthread_mutex_lock(&fs->lock);
        fs->st.around_files += files;
        fs->st.around_bytes += bytes;
        fs->st.wire_bytes += wire;
        fs->gen++;
        pthread_mutex_unlock(&fs->lock);
}

int gfs_init(struct gearfs *fs, const struct gear_root *img, const struct gearfs_opts *o, struct gear_err *e)
{
        struct image im;
        char rel[PATH_MAX], gen[17] = "";
        _cleanup_free_ struct access_run *runs = NULL;
        size_t count, nruns = 0;
        int r;

        *fs = (struct gearfs){ .img = img, .o = o, .dir.fd = -1, .lockfd = -1 };
        pthread_mutex_init(&fs->lock, NULL);
        image_rel(&o->ref, rel, sizeof rel);
        snprintf(fs->dir.path, sizeof fs->dir.path, "%s/%s", img->path, rel);
        if (image_gen_attach(img, &o->ref, &im, &fs->lockfd, e) < 0)
                return -1;
        r = image_load_tree(&im, &fs->t, e);
        if (r == 0 && (fs->dir.fd = fcntl(im.dfd, F_DUPFD_CLOEXEC, 3)) < 0)
                r = gear_err_sys(e, errno, "cannot open '%s'", fs->dir.path);
        image_close(&im);
        if (r < 0)
                return -1;
        count = itree_count(fs->t) + 1;
        for (fs->hcap = 16; fs->hcap < 2 * count; fs->hcap *= 2)
                ;
        fs->nodes = calloc(count, sizeof *fs->nodes);
        fs->hash = calloc(fs->hcap, sizeof *fs->hash);
        fs->hidx = calloc(fs->hcap, sizeof *fs->hidx);
        if (!fs->nodes || !fs->hash || !fs->hidx)
                return gear_err_sys(e, ENOMEM, "cannot load '%s:%s'", o->ref.name, o->ref.tag);
        /* the walk starts at the root, so it becomes inode 1, and parents come before children */
        itree_walk(fs->t, add, fs);
        /* a pulled image fetches from its store; opened now, before a daemon leaves the directory */
        if (origin_open(&fs->dir, ".", fs->t, NULL, &fs->origin, e) < 0)
                return gear_err_wrap(e, "cannot open the store of '%s:%s'", o->ref.name, o->ref.tag);
        /* read-around's runs, and the prefetch's ranges shown to opens */
        if ((o->prefetch || !o->no_around) &&
            around_new(img, &fs->origin, fs->t, !o->no_around, counted_around, fs, &fs->around, e) < 0)
                return -1;
        /* read before serving: what --prefetch fetches, and the head of the list this mount writes */
        if (access_list_load(&fs->dir, ".", &fs->prior, &fs->nprior, e) < 0) {
                char msg[sizeof e->msg + 16];
                snprintf(msg, sizeof msg, "access list: %s", e->msg);
                if (o->log)
                        o->log(msg);
                gear_err_clear(e);
        }
        /* of an image built here, what its last mount read (a list without it: of an older version) */
        if (!fs->origin.remote && access_runs_load(&fs->dir, ".", &runs, &nruns, e) < 0) {
                char msg[sizeof e->msg + 16];
                snprintf(msg, sizeof msg, "access runs: %s", e->msg);
                if (o->log)
                        o->log(msg);
                gear_err_clear(e);
        }
        /* the file handles of this generation: a copied-up file's origin never names another's */
        memcpy(gen, im.layer, 16);
        fs->generation = strtoull(gen, NULL, 16) | 1;
        return seed_access(fs, runs, nruns, e);
}

void gfs_done(struct gearfs *fs)
{
        /* its runs use the origin and the tree */
        around_free(fs->around);
        fs->around = NULL;
        for (size_t i = 0; fs->nodes && i < fs->n; i++) {
                if (fs->nodes[i].fd >= 0)
                        close(fs->nodes[i].fd);
                gfs_part_free(fs->nodes[i].part);
        }
        free(fs->nodes);
        free(fs->hash);
        free(fs->hidx);
        free(fs->access);
        free(fs->prior);
        free(fs->by_chunks);
        origin_close(&fs->origin);
        if (fs->t)
                itree_free(fs->t);
        /* a generation replaced while mounted goes with its last mount */
        image_gen_detach(fs->img, &fs->o->ref, fs->dir.fd, fs->lockfd);
        if (fs->dir.fd >= 0)
                close(fs->dir.fd);
        pthread_mutex_destroy(&fs->lock);
}

#define GFS_BLOCK 4096

/*
 * The blocks of an ext4 directory of that many entry bytes ("." and ".."
 * take 24): one while they fit, else an htree root and leaves about three
 * quarters full.
 */
static uint64_t dir_blocks(uint64_t dirents)
{
        uint64_t bytes = dirents + 24;

        if (bytes <= GFS_BLOCK)
                return 1;
        return 1 + (bytes * 4 / 3 + GFS_BLOCK - 1) / GFS_BLOCK;
}

void gfs_stat(const struct gearfs *fs, uint64_t ino, struct stat *st)
{
        const struct gfs_node *n = &fs->nodes[ino - 1];
        const struct inode *i = n->ino;

        *st = (struct stat){
                .st_ino = ino, .st_mode = i->mode, .st_nlink = n->nlink, .st_uid = i->uid, .st_gid = i->gid,
                .st_rdev = i->rdev, .st_blksize = GFS_BLOCK,
        };
        /* sizes and blocks as an unpacked copy on ext4 has them, so du and rsync see no difference */
        if (S_ISREG(i->mode) && i->blob) {
                st->st_size = i->blob->size;
                st->st_blocks = (st->st_size + GFS_BLOCK - 1) / GFS_BLOCK * (GFS_BLOCK / 512);
        } else if (S_ISLNK(i->mode)) {
                /* the mode of a symlink is always 0777 on Linux, whatever the tar header said */
                st->st_mode = S_IFLNK | 0777;
                st->st_size = i->target ? strlen(i->target) : 0;
                /* a target shorter than 60 bytes lives in the inode */
                st->st_blocks = st->st_size < 60 ? 0 : GFS_BLOCK / 512;
        } else if (S_ISDIR(i->mode)) {
                st->st_size = dir_blocks(n->dirents) * GFS_BLOCK;
                st->st_blocks = st->st_size / 512;
        }
        st->st_mtim = st->st_atim = st->st_ctim = (struct timespec){ i->mtime, i->mtime_nsec };
}

void gfs_node_path(const struct tnode *tn, char *buf, size_t n)
{
        const struct tnode *p;
        size_t len = 0;

        /* components from the root down: measure, then fill from the end */
        for (p = tn; p && p->parent; p = p->parent)
                len += strlen(p->name) + 1;
        if (len + 1 > n || len == 0) {
                snprintf(buf, n, len ? "..." : "/");
                return;
        }
        buf[len] = '\0';
        for (p = tn; p && p->parent; p = p->parent) {
                size_t l = strlen(p->name);
                len -= l;
                memcpy(buf + len, p->name, l);
                buf[--len] = '/';
        }
}

void gfs_count(struct gearfs *fs, uint64_t *field, uint64_t v)
{
        pthread_mutex_lock(&fs->lock);
        *field += v;
        fs->gen++;
        pthread_mutex_unlock(&fs->lock);
}

void gfs_record_access(struct gearfs *fs, struct gfs_node *n)
{
        pthread_mutex_lock(&fs->lock);
        if (!n->opened) {
                n->opened = true;
                fs->st.opened_files++;
                fs->gen++;
        }
        /*
         * the list found at mount may have it already; a content read a chunk
         * at a time, by its chunks (one of an image built here whole as well:
         * gear-push lists its chunks only when the store keeps it in them)
         */
        if (!n->part || !__atomic_load_n(&n->part->by_chunks, __ATOMIC_RELAXED) || n->part->local)
                gfs_access_add(fs, n, 0);
        pthread_mutex_unlock(&fs->lock);
}

void gfs_access_add(struct gearfs *fs, struct gfs_node *n, uint32_t chunk)
{
        uint64_t idx = (uint64_t)(n - fs->nodes);

        if (chunk ? n->part->touched[chunk - 1] : n->accessed)
                return;
        if (chunk)
                n->part->touched[chunk - 1] = 1;
        else
                n->accessed = true;
        if (fs->naccess >= fs->access_cap) {
                size_t cap = fs->access_cap ? 2 * fs->access_cap : 256;
                uint64_t *p = realloc(fs->access, cap * sizeof *p);
                if (p) {
                        fs->access = p;
                        fs->access_cap = cap;
                }
        }
        if (fs->naccess < fs->access_cap)
                fs->access[fs->naccess++] = idx | (uint64_t)chunk << 32;
        fs->gen++;
}

int gfs_open(struct gearfs *fs, uint64_t ino, bool open)
{
        struct gfs_node *n = gfs_node(fs, ino);
        struct gear_err err = {0};
        struct cache_result res;
        char path[PATH_MAX], msg[PATH_MAX + 1200];
        bool around;
        int fd;

        if (!n || !S_ISREG(n->ino->mode) || !n->ino->blob)
                return -EINVAL;
        if ((fd = __atomic_load_n(&n->fd, __ATOMIC_ACQUIRE)) >= 0) {
                gfs_record_access(fs, n);
                if (open)
                        gfs_count(fs, &fs->st.cache_hits, 1);
                return fd;
        }
        /* a chunked content: its reads fetch what they need */
        fd = gfs_part_open(fs, n);
        gfs_record_access(fs, n);
        if (fd >= 0 || fd == -EIO)
                return fd;
        /* with its neighbours, when it is small and packed; else (or when that fails) alone */
        res = (struct cache_result){0};
        fd = around_open(fs->around, n->ino->blob->hex, n->ino->blob->size, &around);
        if (fd < 0)
                fd = origin_cache_open(&fs->origin, fs->img, n->ino->blob->hex, n->ino->blob->size, &res, &err);
        if (fd < 0) {
                gfs_count(fs, &fs->st.errors, 1);
                gfs_node_path(n->tn, path, sizeof path);
                snprintf(msg, sizeof msg, "cannot fetch '%s' (sha256:%s): %s", path, n->ino->blob->hex, err.msg);
                if (fs->o->log)
                        fs->o->log(msg);
                return -EIO;
        }
        pthread_mutex_lock(&fs->lock);
        /* fetched by a read-around it started, whose wire bytes count there, or alone */
        if (res.fetched || around) {
                fs->st.fetched_files++;
                fs->st.fetched_bytes += n->ino->blob->size;
                fs->st.wire_bytes += res.wire;
        } else {
                fs->st.cache_hits++;
        }
        fs->gen++;
        if (n->fd < 0) {
                __atomic_store_n(&n->fd, fd, __ATOMIC_RELEASE);
        } else {
                close(fd);
                fd = n->fd;
        }
        pthread_mutex_unlock(&fs->lock);
        return fd;
}

/*
 * access.runs (remote/image-fetch.h) of the entries of an image built here:
 * a content opened where the list (unpacked, list[i * 65] "" when left out)
 * has it, the units read of a large one merged while they follow each other;
 * NULL when out of memory
 */
static char *runs_text(struct gearfs *fs, const uint64_t *access, size_t naccess, const char *list, size_t *len)
{
        char *buf = NULL;
        FILE *f = open_memstream(&buf, len);

        if (!f)
                return NULL;
        /* the lines the packed list keeps (a reader matches them), and runs up to ACCESS_LIST_MAX bytes */
        for (size_t i = 0, runs = 0, lines = 0; i < naccess;) {
                struct gfs_node *n = &fs->nodes[(uint32_t)access[i]];
                uint64_t u = (access[i] >> 32) - 1, end = u + 1;
                if (!(access[i] >> 32)) {
                        if (list[i * 65] && ++lines <= ACCESS_LIST_MAX / 65)
                                fprintf(f, "%.64s\n", list + i * 65);
                        i++;
                        continue;
                }
                for (i++; i < naccess && (uint32_t)access[i] == (uint32_t)access[i - 1] && (access[i] >> 32) == end + 1; i++)
                        end++;
                end *= ACCESS_RUN_UNIT;
                if ((runs += 128) > ACCESS_LIST_MAX)
                        continue;
                fprintf(f, "%s %" PRIu64 " %" PRIu64 "\n", n->ino->blob->hex, u * ACCESS_RUN_UNIT,
                        (end < n->part->size ? end : n->part->size) - u * ACCESS_RUN_UNIT);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

int gfs_write_stats(struct gearfs *fs, bool force, struct gear_err *e)
{
        char stats[768];
        _cleanup_free_ char *list = NULL, *runs = NULL;
        _cleanup_free_ struct hex_pos *order = NULL;
        size_t nruns = 0;
        _cleanup_free_ uint64_t *access = NULL;
        struct gfs_stats st;
        size_t naccess, nlist = 0, len;
        uint64_t gen;
        int r;

        pthread_mutex_lock(&fs->lock);
        gen = fs->gen;
        if (!force && gen == fs->written) {
                pthread_mutex_unlock(&fs->lock);
                return 0;
        }
        st = fs->st;
        naccess = fs->naccess;
        /* the list is made outside the lock, so that opens do not wait on it */
        if ((access = malloc((naccess + 1) * sizeof *access)))
                memcpy(access, fs->access, naccess * sizeof *access);
        pthread_mutex_unlock(&fs->lock);
        list = malloc(naccess * 65 + 1);
        order = malloc((naccess + 1) * sizeof *order);
        if (!access || !list || !order)
                return gear_err_sys(e, ENOMEM, "cannot write statistics");
        for (size_t i = 0; i < naccess; i++) {
                struct gfs_node *n = &fs->nodes[(uint32_t)access[i]];
                uint32_t chunk = access[i] >> 32;
                /* a chunk's part and its loc do not change once made; one whose digest cannot be taken is left out */
                const char *hex = chunk ? gfs_part_chunk_hex(fs, n, chunk - 1) : n->ino->blob->hex;
                order[i] = (struct hex_pos){ hex ? hex : "", i };
        }
        /* one line per content: files of equal content share it, at the first one's place */
        qsort(order, naccess, sizeof *order, hex_pos_cmp);
        for (size_t i = 0; i < naccess; i++)
                if (order[i].hex[0] && (!i || strcmp(order[i].hex, order[i - 1].hex)))
                        memcpy(list + order[i].pos * 65, order[i].hex, 64);
                else
                        list[order[i].pos * 65] = '\0';
        /* an image built here: the runs as well, before the list is packed */
        if (!fs->origin.remote && !(runs = runs_text(fs, access, naccess, list, &nruns)))
                return gear_err_sys(e, ENOMEM, "cannot write statistics");
        /* past the size a reader takes, the first opens are the ones worth keeping */
        for (size_t i = 0; i < naccess && (nlist + 1) * 65 <= ACCESS_LIST_MAX; i++)
                if (list[i * 65]) {
                        memmove(list + nlist * 65, list + i * 65, 64);
                        list[nlist++ * 65 + 64] = '\n';
                }
        len = snprintf(stats, sizeof stats,
                       "fetched_files %" PRIu64 "\nfetched_bytes %" PRIu64 "\nwire_bytes %" PRIu64
                       "\ncache_hits %" PRIu64 "\nerrors %" PRIu64 "\nopened_files %" PRIu64
                       "\nread_around_files %" PRIu64 "\nread_around_bytes %" PRIu64
                       "\nchunked_files %" PRIu64 "\nfetched_chunks %" PRIu64 "\npushed_bytes %" PRIu64 "\n",
                       st.fetched_files, st.fetched_bytes, st.wire_bytes, st.cache_hits, st.errors, st.opened_files,
                       st.around_files, st.around_bytes, st.chunked_files, st.fetched_chunks, st.pushed_bytes);
        if (fs->o->prefetch)
                len += snprintf(stats + len, sizeof stats - len,
                                "prefetched_files %" PRIu64 "\nprefetched_bytes %" PRIu64
                                "\nprefetched_wire_bytes %" PRIu64 "\nprefetched_chunks %" PRIu64 "\n",
                                st.prefetched_files, st.prefetched_bytes, st.prefetched_wire_bytes,
                                st.prefetched_chunks);
        /* a mount that opened nothing leaves the last list (perhaps one pulled) alone */
        if (naccess > fs->nseeded && (r = atomic_write(&fs->dir, ACCESS_LIST_FILE, list, nlist * 65, 0644, e)) < 0)
                return r;
        if (naccess > fs->nseeded && runs && (r = atomic_write(&fs->dir, ACCESS_RUNS_FILE, runs, nruns, 0644, e)) < 0)
                return r;
        if ((r = atomic_write(&fs->dir, GEARFS_STATS, stats, len, 0644, e)) < 0)
                return r;
        fs->written = gen;
        return 0;
}
