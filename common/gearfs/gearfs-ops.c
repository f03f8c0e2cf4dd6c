/* gear-fs: the FUSE low-level operations and the mount's life */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <linux/limits.h>
#include <time.h>

#include "gearfs-int.h"
#include "../base/dl-fuse.h"
#include "../base/dl-systemd.h"
#include "../base/fsutil.h"
#include "../image/layer.h"
#include "../remote/image-fetch.h"
#include "../store/cache.h"

/* the image never changes while mounted */
#define GFS_TIMEOUT 86400.0

static struct gearfs *fs_of(fuse_req_t req)
{
        return sym_fuse_req_userdata(req);
}

static bool hidden_xattr(const char *name)
{
        return !strncmp(name, GEAR_XATTR_PREFIX, strlen(GEAR_XATTR_PREFIX));
}

#define GFS_READAHEAD (4u << 10)

static void gfs_init_conn(void *ud, struct fuse_conn_info *conn)
{
        struct gearfs *fs = ud;

        if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
                conn->want |= FUSE_CAP_CACHE_SYMLINKS;
        if (conn->capable & FUSE_CAP_SPLICE_WRITE)
                conn->want |= FUSE_CAP_SPLICE_WRITE;
        if (conn->capable & FUSE_CAP_SPLICE_MOVE)
                conn->want |= FUSE_CAP_SPLICE_MOVE;
        /* contents never change: no attribute checks before cached reads */
        conn->want &= ~(FUSE_CAP_POSIX_ACL | FUSE_CAP_AUTO_INVAL_DATA);
        /*
         * Read-ahead of GFS_READAHEAD, a page: the kernel's own (128 KiB)
         * makes each fault of a mapped library read 128 KiB around it, and
         * so records and fetches ranges of a large content a start never
         * uses (a read(2) of more still asks for what it asks); the chunks
         * fetched go into the page cache whole (partial.c), so the faults in
         * them ask nothing
         */
        conn->max_readahead = GFS_READAHEAD;
        /* no open round trip at all: reads find the content by inode */
        if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)
                conn->want |= FUSE_CAP_NO_OPEN_SUPPORT, fs->no_open = true;
}

static void gfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct gearfs *fs = fs_of(req);
        struct gfs_node *p = gfs_node(fs, parent);
        struct fuse_entry_param ep = { .attr_timeout = GFS_TIMEOUT, .entry_timeout = GFS_TIMEOUT,
                                       .generation = fs->generation };
        struct tnode *tn;

        if (!p)
                return (void)sym_fuse_reply_err(req, ENOENT);
        if (!S_ISDIR(p->ino->mode))
                return (void)sym_fuse_reply_err(req, ENOTDIR);
        if (!strcmp(name, "."))
                tn = p->tn;
        else if (!strcmp(name, ".."))
                tn = p->tn->parent ? p->tn->parent : p->tn;
        else
                tn = itree_lookup(fs->t, p->tn, name);
        if (tn) {
                ep.ino = gfs_ino(fs, tn);
                gfs_stat(fs, ep.ino, &ep.attr);
        }
        sym_fuse_reply_entry(req, &ep); /* ino 0: a cached negative entry */
}

static void gfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct gearfs *fs = fs_of(req);
        struct stat st;

        if (!gfs_node(fs, ino))
                return (void)sym_fuse_reply_err(req, ENOENT);
        gfs_stat(fs, ino, &st);
        sym_fuse_reply_attr(req, &st, GFS_TIMEOUT);
}

static void gfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
        struct gfs_node *n = gfs_node(fs_of(req), ino);

        if (!n || !S_ISLNK(n->ino->mode) || !n->ino->target)
                return (void)sym_fuse_reply_err(req, EINVAL);
        sym_fuse_reply_readlink(req, n->ino->target);
}

static void gfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct gfs_node *n = gfs_node(fs_of(req), ino);

        if (!n)
                return (void)sym_fuse_reply_err(req, ENOENT);
        if (!S_ISDIR(n->ino->mode))
                return (void)sym_fuse_reply_err(req, ENOTDIR);
        fi->keep_cache = 1;
        fi->cache_readdir = 1;
        sym_fuse_reply_open(req, fi);
}

/* offsets: 1 after ".", 2 after "..", 2 + k after the k-th child */
static void gfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        struct gearfs *fs = fs_of(req);
        struct gfs_node *n = gfs_node(fs, ino);
        _cleanup_free_ char *buf = malloc(size);
        struct tnode *c;
        size_t used = 0;
        off_t i = 0;

        if (!n || !buf)
                return (void)sym_fuse_reply_err(req, n ? ENOMEM : ENOENT);
        for (i = off; i < 2; i++) {
                struct stat st = { .st_ino = i ? gfs_ino(fs, n->tn->parent ? n->tn->parent : n->tn) : ino,
                                   .st_mode = S_IFDIR };
                size_t l = sym_fuse_add_direntry(req, buf + used, size - used, i ? ".." : ".", &st, i + 1);
                if (l > size - used)
                        goto done;
                used += l;
        }
        for (c = n->tn->child, i = 2; c; c = c->next, i++) {
                struct stat st;
                size_t l;
                if (i < off)
                        continue;
                st = (struct stat){ .st_ino = gfs_ino(fs, c), .st_mode = c->ino->mode & S_IFMT };
                l = sym_fuse_add_direntry(req, buf + used, size - used, c->name, &st, i + 1);
                if (l > size - used)
                        break;
                used += l;
        }
done:
        sym_fuse_reply_buf(req, buf, used);
}

static void gfs_open_op(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct gearfs *fs = fs_of(req);
        struct gfs_node *n = gfs_node(fs, ino);
        int fd;

        if (!n)
                return (void)sym_fuse_reply_err(req, ENOENT);
        if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
                return (void)sym_fuse_reply_err(req, EROFS);
        if (!S_ISREG(n->ino->mode))
                return (void)sym_fuse_reply_err(req, S_ISDIR(n->ino->mode) ? EISDIR : EINVAL);
        if ((fd = gfs_open(fs, ino, true)) < 0)
                return (void)sym_fuse_reply_err(req, -fd);
        if (fs->no_open)
                /* the kernel will not ask again: later opens cost no round trip */
                return (void)sym_fuse_reply_err(req, ENOSYS);
        fi->fh = fd;
        fi->keep_cache = 1;
        fi->noflush = 1;
        sym_fuse_reply_open(req, fi);
}

static void gfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
        struct gearfs *fs = fs_of(req);
        struct gfs_node *n = gfs_node(fs, ino);
        int fd = fi->fh, r;

        if (fs->no_open && (fd = gfs_open(fs, ino, false)) < 0)
                return (void)sym_fuse_reply_err(req, -fd);
        /* a chunked content read a chunk at a time: what this read covers first */
        if (n && n->part && (n->fd < 0 || n->part->local) && (r = gfs_part_read(fs, n, off, size)) < 0)
                return (void)sym_fuse_reply_err(req, -r);
        buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
        buf.buf[0].fd = fd;
        buf.buf[0].pos = off;
        sym_fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

/* the content fd belongs to the inode and stays open for later opens */
static void gfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        sym_fuse_reply_err(req, 0);
}

/*
 * The xattrs of the overlay a container runs on (gear-fs --overlay). Its
 * lower layer is this mount and, below it, public/ as a data-only layer:
 * with --direct, a regular file of GFS_DIRECT_MIN bytes or more whose
 * content is in public/ already answers
 * trusted.overlay.metacopy and trusted.overlay.redirect ("/ab/rest"), and
 * the overlay reads it straight from public/, with no FUSE request (an
 * overlay without metacopy=on refuses such a file: hence the option). An
 * xattr of the image in trusted.overlay. is never taken as one of the
 * overlay's: it is answered escaped, as trusted.overlay.overlay.NAME, which
 * the overlay (Linux 6.7 and later) shows inside as trusted.overlay.NAME.
 */
/*
 * A metacopy costs the overlay's lookup two more round trips (the redirect,
 * asked for its size, then its value): worth it where reading past FUSE
 * saves more, from about this size on (bench/fs-read.sh)
 */
#define GFS_DIRECT_MIN (64u << 10)
#define OVL_XATTR "trusted.overlay."
#define OVL_ESCAPED OVL_XATTR "overlay."

static bool ovl_xattr(const char *name)
{
        return !strncmp(name, OVL_XATTR, strlen(OVL_XATTR));
}

/*
 * the name an xattr of the image is shown under: hidden (0), escaped (1) or
 * as it is (2); hidden too when escaping makes it longer than a name can be
 */
static int shown_as(const char *name)
{
        if (hidden_xattr(name))
                return 0;
        if (!ovl_xattr(name))
                return 2;
        return strlen(name) + strlen(OVL_ESCAPED) - strlen(OVL_XATTR) <= XATTR_NAME_MAX;
}

static int reply_value(fuse_req_t req, const void *v, size_t len, size_t size)
{
        if (!size)
                return sym_fuse_reply_xattr(req, len);
        if (size < len)
                return sym_fuse_reply_err(req, ERANGE);
        return sym_fuse_reply_buf(req, v, len);
}

/*
 * "/ab/rest" when the content of regular file n is in public/: 0, else -1.
 * With read, the overlay is about to read it past FUSE: the file is counted
 * as accessed, and its cache file's atime (which the overlay's O_NOATIME
 * open leaves alone, and by which gear-gc trims) moved on, at most hourly.
 */
static int data_redirect(struct gearfs *fs, struct gfs_node *n, bool read, char out[static 68])
{
        char rel[CACHE_REL_MAX];
        struct stat st;
        struct timespec now;

        if (!fs->direct || !S_ISREG(n->ino->mode) || !n->ino->blob || n->ino->blob->size < GFS_DIRECT_MIN)
                return -1;
        cache_rel(n->ino->blob->hex, rel);
        if (fstatat(fs->img->fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_size != n->ino->blob->size)
                return -1;
        snprintf(out, 68, "/%.2s/%s", n->ino->blob->hex, n->ino->blob->hex + 2);
        if (read) {
                gfs_record_access(fs, n);
                clock_gettime(CLOCK_REALTIME, &now);
                if (st.st_atime < now.tv_sec - 3600)
                        utimensat(fs->img->fd, rel, (struct timespec[2]){ now, { .tv_nsec = UTIME_OMIT } },
                                  AT_SYMLINK_NOFOLLOW);
        }
        return 0;
}

static void gfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
        struct gearfs *fs = fs_of(req);
        struct gfs_node *n = gfs_node(fs, ino);
        char want[XATTR_NAME_MAX + 1], redirect[68];

        if (!n)
                return (void)sym_fuse_reply_err(req, ENOENT);
        if (ovl_xattr(name)) {
                if (!strcmp(name, OVL_XATTR "metacopy") && data_redirect(fs, n, false, redirect) == 0)
                        return (void)reply_value(req, "", 0, size);
                if (!strcmp(name, OVL_XATTR "redirect") && data_redirect(fs, n, size > 0, redirect) == 0)
                        return (void)reply_value(req, redirect, strlen(redirect), size);
                if (strncmp(name, OVL_ESCAPED, strlen(OVL_ESCAPED)) ||
                    (size_t)snprintf(want, sizeof want, OVL_XATTR "%s", name + strlen(OVL_ESCAPED)) >= sizeof want)
                        return (void)sym_fuse_reply_err(req, ENODATA);
                name = want;
        } else if (!shown_as(name))
                return (void)sym_fuse_reply_err(req, ENODATA);
        for (size_t i = 0; i < n->ino->nxattrs; i++) {
                struct xattr *a = &n->ino->xattrs[i];
                if (!strcmp(a->name, name))
                        return (void)reply_value(req, a->value, a->len, size);
        }
        sym_fuse_reply_err(req, ENODATA);
}

static void gfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
        struct gfs_node *n = gfs_node(fs_of(req), ino);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        if (!n)
                return (void)sym_fuse_reply_err(req, ENOENT);
        for (size_t i = 0; i < n->ino->nxattrs; i++) {
                const char *x = n->ino->xattrs[i].name;
                int how = shown_as(x);
                if (how)
                        len += strlen(x) + 1 + (how == 1 ? strlen(OVL_ESCAPED) - strlen(OVL_XATTR) : 0);
        }
        if (!size || size < len)
                return (void)reply_value(req, NULL, len, size);
        if (!(buf = malloc(len + 1)))
                return (void)sym_fuse_reply_err(req, ENOMEM);
        len = 0;
        for (size_t i = 0; i < n->ino->nxattrs; i++) {
                const char *x = n->ino->xattrs[i].name;
                int how = shown_as(x);
                if (how == 1)
                        len += sprintf(buf + len, OVL_ESCAPED "%s", x + strlen(OVL_XATTR)) + 1;
                else if (how == 2)
                        len += sprintf(buf + len, "%s", x) + 1;
        }
        sym_fuse_reply_buf(req, buf, len);
}

static void gfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
        struct gearfs *fs = fs_of(req);
        struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_blocks = (fs->bytes + 4095) / 4096,
                              .f_files = fs->n, .f_namemax = 255, .f_flag = ST_RDONLY };

        sym_fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops gfs_ops = {
        .init = gfs_init_conn,
        .lookup = gfs_lookup,
        .getattr = gfs_getattr,
        .readlink = gfs_readlink,
        .opendir = gfs_opendir,
        .readdir = gfs_readdir,
        .open = gfs_open_op,
        .read = gfs_read,
        .release = gfs_release,
        .getxattr = gfs_getxattr,
        .listxattr = gfs_listxattr,
        .statfs = gfs_statfs,
};

struct stats_thread {
        struct gearfs *fs;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop;
};

/* rewrites the stats a moment after a change, so readers never wait long */
static void *stats_loop(void *ud)
{
        struct stats_thread *s = ud;
        struct gear_err err = {0};

        pthread_mutex_lock(&s->lock);
        while (!s->stop) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 100 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&s->cond, &s->lock, &ts);
                pthread_mutex_unlock(&s->lock);
                if (gfs_write_stats(s->fs, false, &err) < 0 && s->fs->o->log)
                        s->fs->o->log(err.msg);
                gear_err_clear(&err);
                pthread_mutex_lock(&s->lock);
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

/*
 * Parallel fetches of the background prefetch: from a store or a registry
 * without packs, 8 contents at a time (a request each: latency-bound); from
 * one with packs, one range at a time, so the link brings the list in its
 * order, the head of it (what the start-up opens first) first, sharing the
 * link with one stream only: the chunks' (partial.c), also in list order
 */
#define GFS_PREFETCH_JOBS 8
#define GFS_PREFETCH_RANGES 1

struct prefetch_thread {
        struct gearfs *fs;
        bool stop;
};

static void *prefetch_chunks(void *ud)
{
        struct prefetch_thread *p = ud;

        gfs_part_prefetch(p->fs, &p->stop);
        return NULL;
}

/* the access list's contents, fetched while the first reads come in: those wait for them or fetch first */
static void *prefetch_loop(void *ud)
{
        struct prefetch_thread *p = ud;
        struct gearfs *fs = p->fs;
        struct gear_err err = {0};
        struct prefetch_opts po = { .jobs = GFS_PREFETCH_JOBS, .range_jobs = GFS_PREFETCH_RANGES, .stop = &p->stop,
                                    .tree = fs->t, .origin = &fs->origin, .around = fs->around };
        struct prefetch_stats ps = {0};
        char msg[sizeof err.msg + 64];
        _cleanup_free_ digest_hex *whole = malloc((fs->nprior + 1) * sizeof *whole);
        size_t nwhole = 0;
        pthread_t chunks;
        bool chunking;

        /* the chunks it names (partial.c) alongside the contents: a content listed by chunks, by those */
        for (size_t i = 0; whole && i < fs->nprior; i++) {
                const char *content;
                uint32_t k;
                if (!object_map_find_chunk(fs->origin.map, fs->prior[i], 0, &content, &k) &&
                    !gfs_by_chunks(fs, fs->prior[i]))
                        memcpy(whole[nwhole++], fs->prior[i], sizeof *whole);
        }
        po.list = whole ? whole : fs->prior;
        po.nlist = whole ? nwhole : fs->nprior;
        chunking = pthread_create(&chunks, NULL, prefetch_chunks, p) == 0;
        if (image_prefetch(fs->img, &fs->o->ref, &po, &ps, &err) < 0 && fs->o->log) {
                snprintf(msg, sizeof msg, "prefetch: %s", err.msg);
                fs->o->log(msg);
        }
        if (ps.unknown && fs->o->log) {
                snprintf(msg, sizeof msg, "prefetch: %llu contents of the access list are not in the image",
                         (unsigned long long)ps.unknown);
                fs->o->log(msg);
        }
        if (chunking)
                pthread_join(chunks, NULL);
        pthread_mutex_lock(&fs->lock);
        fs->st.prefetched_files = ps.fetched;
        fs->st.prefetched_bytes += ps.fetched_bytes;
        fs->st.prefetched_wire_bytes += ps.wire_bytes;
        fs->gen++;
        pthread_mutex_unlock(&fs->lock);
        return NULL;
}

int gearfs_run(const struct gear_root *img, const struct gearfs_opts *o, struct gear_err *e)
{
        struct gearfs fs;
        char opts[IMAGE_NAME_MAX + IMAGE_TAG_MAX + 128];
        char *argv[] = { "gear-fs", "-o", opts, NULL };
        struct fuse_args args = FUSE_ARGS_INIT(3, argv);
        struct fuse_session *se = NULL;
        struct fuse_loop_config *cfg = NULL;
        struct stats_thread st = { .fs = &fs, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        struct prefetch_thread pf = { .fs = &fs };
        pthread_t thread, pthread;
        bool mounted = false, started = false, prefetching = false, inited = false;
        _cleanup_close_ int gc = -1;
        _cleanup_free_ char *mp = NULL;
        int r = -1;

        /*
         * its fs.lock is held while mounted (gfs_init): gear-gc keeps every
         * content of an image in use; taken under the lock of public/, so not while
         * a gc runs (cache_use_begin)
         */
        /* reads and read-around ranges hold descriptors, a few per content */
        fd_limit_raise();
        if (dl_fuse(e) < 0 || dl_systemd(e) < 0 || (gc = cache_use_begin(img, e)) < 0)
                goto out;
        /* from here on fs is set, even when gfs_init fails */
        inited = true;
        if (gfs_init(&fs, img, o, e) < 0)
                goto out;
        close(TAKE_FD(gc));
        if (o->direct) {
                char why[160], msg[256];

                if (!(fs.direct = gearfs_overlay_direct_works(why, sizeof why)) && o->log) {
                        snprintf(msg, sizeof msg, "--direct: no overlay can read past this mount here (%s): "
                                 "every read goes through FUSE", why);
                        o->log(msg);
                }
        }
        snprintf(opts, sizeof opts, "ro,default_permissions,fsname=gear:%s:%s,subtype=gear%s", o->ref.name,
                 o->ref.tag, o->allow_other ? ",allow_other" : "");
        if (!(se = sym_fuse_session_new(&args, &gfs_ops, sizeof gfs_ops, &fs))) {
                gear_err_set(e, GEAR_EXIT_SYS, "cannot start a FUSE session");
                goto out;
        }
        if (sym_fuse_set_signal_handlers(se) < 0) {
                gear_err_set(e, GEAR_EXIT_SYS, "cannot set signal handlers");
                goto out;
        }
        /* by its absolute path: libfuse leaves the directory, and a stop on a signal unmounts by that path */
        if (!(mp = realpath(o->mountpoint, NULL))) {
                gear_err_sys(e, errno, "cannot mount on '%s'", o->mountpoint);
                goto out;
        }
        if (sym_fuse_session_mount(se, mp) < 0) {
                gear_err_set(e, GEAR_EXIT_SYS, "cannot mount on '%s' (is /dev/fuse usable?)", o->mountpoint);
                goto out;
        }
        mounted = true;
        if (gfs_write_stats(&fs, true, e) < 0)
                goto out;
        sym_fuse_daemonize(o->foreground);
        if (o->foreground)
                sym_sd_notify(0, "READY=1"); /* the mount is usable: units ordered after this one may start */
        if (pthread_create(&thread, NULL, stats_loop, &st) != 0) {
                gear_err_set(e, GEAR_EXIT_SYS, "cannot start the statistics thread");
                goto out;
        }
        started = true;
        /* chunks fetched go into the page cache (partial.c): an optional help too */
        if (fs.origin.remote)
                gfs_pusher_start(&fs, se);
        /* an optional help: a mount that is up already goes on without it */
        if (o->prefetch && fs.nprior) {
                prefetching = pthread_create(&pthread, NULL, prefetch_loop, &pf) == 0;
                if (!prefetching && o->log)
                        o->log("prefetch: cannot start its thread");
        }
        if (!(cfg = sym_fuse_loop_cfg_create())) {
                gear_err_sys(e, ENOMEM, "cannot serve");
                goto out;
        }
        sym_fuse_loop_cfg_set_clone_fd(cfg, 1);
        sym_fuse_loop_cfg_set_max_threads(cfg, 16);
        if (sym_fuse_session_loop_mt(se, cfg) < 0)
                gear_err_set(e, GEAR_EXIT_SYS, "cannot serve '%s'", o->mountpoint);
        else
                r = 0;
out:
        /* the pushes end while reads can still be answered (partial.c) */
        if (inited)
                gfs_pusher_stop(&fs);
        /* nobody is served any more: unmounted first, so no access waits for fetches still running */
        if (mounted)
                sym_fuse_session_unmount(se);
        if (prefetching) {
                __atomic_store_n(&pf.stop, true, __ATOMIC_RELEASE);
                pthread_join(pthread, NULL);
        }
        if (inited)
                gfs_pusher_free(&fs);
        if (started) {
                pthread_mutex_lock(&st.lock);
                st.stop = true;
                pthread_cond_signal(&st.cond);
                pthread_mutex_unlock(&st.lock);
                pthread_join(thread, NULL);
        }
        if (se) {
                sym_fuse_remove_signal_handlers(se);
                sym_fuse_session_destroy(se);
        }
        if (cfg)
                sym_fuse_loop_cfg_destroy(cfg);
        if (!inited)
                return r;
        /* the read-around runs under way end, and count, before the last stats */
        around_free(fs.around);
        fs.around = NULL;
        if (fs.t) {
                struct gear_err we = {0};
                if (gfs_write_stats(&fs, true, &we) < 0 && r == 0) {
                        *e = we;
                        r = -1;
                }
        }
        gfs_done(&fs);
        return r;
}
