/* gear-build-image: a source-to-image build through podman (build.h) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "build-int.h"
#include "../base/ctr-tree.h"
#include "../base/fsutil.h"
#include "../base/spawn.h"
#include "../env/env.h"
#include "../repo/repo.h"

/* what the build learnt of its builder from podman */
struct builder {
        char id[72];
        char scripts[256];    /* the scripts' directory in the image */
        json_t *entrypoint;   /* the image's, given back to the result; NULL: none */
        bool sets_term, sets_container;
};

static bool has_control(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static int env_check(const char *kv, struct gear_err *e)
{
        const char *eq = strchr(kv, '=');

        if (!eq || !env_name_valid(kv, eq - kv))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid variable '%s': want NAME=VALUE", kv);
        if (has_control(eq + 1))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid value of '%.*s': a control character",
                                    (int)(eq - kv), kv);
        return 0;
}

int build_image_check(const struct build_image_opts *o, struct image_ref *ref, struct gear_err *e)
{
        gear_id id;

        if (!o->source || !*o->source || has_control(o->source))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid source '%s'", o->source ? o->source : "");
        if (!strncmp(o->source, "repo://", 7) && repo_id_parse(o->source + 7, id, e) < 0)
                return -1;
        if (o->ref && repo_ref_check(o->ref, e) < 0)
                return -1;
        if (!o->builder || !podman_name_valid(o->builder))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid builder image '%s'", o->builder ? o->builder : "");
        if (!o->tag || image_ref_parse(o->tag, ref, e) < 0)
                return o->tag ? -1 : gear_err_set(e, GEAR_EXIT_USAGE, "missing TAG");
        if (o->n_env > BUILD_ENV_MAX)
                return gear_err_set(e, GEAR_EXIT_USAGE, "more than %d variables", BUILD_ENV_MAX);
        for (size_t i = 0; i < o->n_env; i++)
                if (env_check(o->env[i], e) < 0)
                        return -1;
        return 0;
}

/* image:///PATH: the scripts' directory, without trailing slashes */
static int scripts_dir(const char *builder, const char *url, char *dir, size_t n, struct gear_err *e)
{
        const char *p = url + 8;
        size_t len;

        if (strncmp(url, "image://", 8) || *p != '/' || strlen(p) >= n - 16 ||
            strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-/") != strlen(p) ||
            strstr(p, "/../") || (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/..")))
                return gear_err_set(e, GEAR_EXIT_USAGE,
                                    "builder '%s': unsupported %s '%.200s': want image:///PATH", builder,
                                    BUILD_SCRIPTS_LABEL, url);
        for (len = strlen(p); len > 1 && p[len - 1] == '/'; len--)
                ;
        snprintf(dir, n, "%.*s", (int)len, p);
        return 0;
}

/* "NAME=" among the strings of the array env */
static bool env_sets(json_t *env, const char *name)
{
        size_t i, n = strlen(name);
        json_t *v;

        json_array_foreach(env, i, v) {
                const char *s = json_string_value(v);
                if (s && !strncmp(s, name, n) && s[n] == '=')
                        return true;
        }
        return false;
}

static int inspect(struct build_run *b, const char *builder, struct builder *bi, struct gear_err *e)
{
        const char *args[] = { "image", "inspect", builder, NULL };
        struct podman_call c = { .args = args, .in = -1, .output = OUTPUT_KEEP };
        json_t *j = NULL, *im, *config, *labels;
        const char *id, *url;
        json_error_t je;
        int k = build_podman(b, &c, e), r = -1;

        if (k != 0) {
                podman_call_done(&c);
                if (k < 0)
                        return -1;
                if (strstr(c.msg, "image not known"))
                        return gear_err_set(e, GEAR_EXIT_NO, "no builder image '%s' in podman's storage", builder);
                return gear_err_set(e, GEAR_EXIT_SYS, "podman image inspect '%s': %s", builder,
                                    *c.msg ? c.msg : "failed");
        }
        if (c.kept)
                j = json_loadb(c.kept, c.kept_len, 0, &je);
        im = json_array_get(j, 0);
        config = json_object_get(im, "Config");
        id = json_string_value(json_object_get(im, "Id"));
        if (!id || strlen(id) >= sizeof bi->id || !podman_name_valid(id) || !json_is_object(config)) {
                gear_err_set(e, GEAR_EXIT_SYS, "podman image inspect '%s': not the image expected", builder);
                goto out;
        }
        snprintf(bi->id, sizeof bi->id, "%s", id);
        labels = json_object_get(config, "Labels");
        if (!json_is_object(labels))
                labels = json_object_get(im, "Labels");
        /* the label's name before S2I 1.0 too */
        url = json_string_value(json_object_get(labels, BUILD_SCRIPTS_LABEL));
        if (!url)
                url = json_string_value(json_object_get(labels, "io.s2i.scripts-url"));
        if (scripts_dir(builder, url ? url : BUILD_SCRIPTS_DEFAULT, bi->scripts, sizeof bi->scripts, e) < 0)
                goto out;
        if (json_is_array(json_object_get(config, "Entrypoint")))
                bi->entrypoint = json_incref(json_object_get(config, "Entrypoint"));
        bi->sets_term = env_sets(json_object_get(config, "Env"), "TERM");
        bi->sets_container = env_sets(json_object_get(config, "Env"), "container");
        r = 0;
out:
        json_decref(j);
        podman_call_done(&c);
        return r;
}

static bool env_given(const struct build_image_opts *o, const char *name)
{
        size_t n = strlen(name);

        for (size_t i = 0; i < o->n_env; i++)
                if (!strncmp(o->env[i], name, n) && o->env[i][n] == '=')
                        return true;
        return false;
}

/*
 * The container: assemble as its command, the builder's user, the build's
 * environment, and not the TERM and container podman adds, which the image
 * would keep.
 */
/* the build's variables in dir/env, for podman's --env-file: no other user sees them in its arguments */
static int env_file(const char *dir, const struct build_image_opts *o, char *arg, size_t n, struct gear_err *e)
{
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX + 8];

        snprintf(path, sizeof path, "%s/env", dir);
        if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
                return gear_err_sys(e, errno, "cannot create '%s'", path);
        for (size_t i = 0; i < o->n_env; i++)
                if (write_all(fd, o->env[i], strlen(o->env[i])) < 0 || write_all(fd, "\n", 1) < 0)
                        return gear_err_sys(e, errno, "cannot write '%s'", path);
        if ((size_t)snprintf(arg, n, "--env-file=%s", path) >= n)
                return gear_err_set(e, GEAR_EXIT_SYS, "path too long: '%s'", path);
        return 0;
}

static int create(struct build_run *b, const struct build_image_opts *o, const struct builder *bi,
                  const char *dir, struct gear_err *e)
{
        _cleanup_(strv_done) struct gear_strv a = {0}, run = {0};
        _cleanup_free_ char *name = NULL, *cmd = NULL;
        struct podman_call c = { .in = -1, .output = OUTPUT_DROP };
        char envf[PATH_MAX + 32];
        int k;

        if (o->n_env && env_file(dir, o, envf, sizeof envf, e) < 0)
                return -1;
        if (asprintf(&name, "--name=%s", b->name) < 0 || asprintf(&cmd, "%s/assemble", bi->scripts) < 0)
                return gear_err_sys(e, ENOMEM, "cannot create the container");
        if (strv_push(&a, "create") < 0 || config_build_run_args(&b->conf, &run, e) < 0)
                return gear_err_sys(e, ENOMEM, "cannot create the container");
        for (size_t i = 0; i < run.n; i++)
                if (strv_push(&a, run.v[i]) < 0)
                        return gear_err_sys(e, ENOMEM, "cannot create the container");
        if (strv_push(&a, name) < 0 || strv_push(&a, "--pull=never") < 0 || strv_push(&a, "--entrypoint=") < 0 ||
            (!bi->sets_term && !env_given(o, "TERM") && strv_push(&a, "--unsetenv=TERM") < 0) ||
            (!bi->sets_container && !env_given(o, "container") && strv_push(&a, "--unsetenv=container") < 0))
                return gear_err_sys(e, ENOMEM, "cannot create the container");
        if (o->n_env && strv_push(&a, envf) < 0)
                return gear_err_sys(e, ENOMEM, "cannot create the container");
        if (strv_push(&a, bi->id) < 0 || strv_push(&a, cmd) < 0)
                return gear_err_sys(e, ENOMEM, "cannot create the container");
        c.args = (const char *const *)a.v;
        b->created = true;
        k = build_podman(b, &c, e);
        if (k > 0)
                return gear_err_set(e, GEAR_EXIT_SYS, "podman create: %s", *c.msg ? c.msg : "failed");
        return k < 0 ? -1 : 0;
}

/* a builder without assemble is no S2I builder: said before the source is copied */
static int assemble_check(struct build_run *b, const char *builder, const struct builder *bi, struct gear_err *e)
{
        char from[sizeof b->name + sizeof bi->scripts + 16];
        const char *args[] = { "cp", from, "-", NULL };
        struct podman_call c = { .args = args, .in = -1, .output = OUTPUT_DROP };
        int k;

        snprintf(from, sizeof from, "%s:%s/assemble", b->name, bi->scripts);
        k = build_podman(b, &c, e);
        if (k > 0 && (strstr(c.msg, "could not be found") || strstr(c.msg, "no such file")))
                return gear_err_set(e, GEAR_EXIT_USAGE, "builder '%s' has no assemble script '%s/assemble'", builder,
                                    bi->scripts);
        if (k > 0)
                return gear_err_set(e, GEAR_EXIT_SYS, "podman cp '%s': %s", from, *c.msg ? c.msg : "failed");
        return k < 0 ? -1 : 0;
}

/* the source's tar into /tmp: src/ owned by the container's user (podman cp's --archive) */
static int copy_source(struct build_run *b, int tar, struct gear_err *e)
{
        char to[sizeof b->name + 8];
        const char *args[] = { "cp", "-", to, NULL };
        struct podman_call c = { .args = args, .in = tar, .output = OUTPUT_DROP };
        int k;

        snprintf(to, sizeof to, "%s:/tmp", b->name);
        if (lseek(tar, 0, SEEK_SET) < 0)
                return gear_err_sys(e, errno, "cannot read the source");
        k = build_podman(b, &c, e);
        if (k > 0)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot copy the source to '%s': %s", to,
                                    *c.msg ? c.msg : "failed");
        return k < 0 ? -1 : 0;
}

/* assemble, its output streamed; code 100 with its status and last lines when it fails */
static int assemble(struct build_run *b, const struct builder *bi, struct gear_err *e)
{
        const char *args[] = { "start", "--attach", "--sig-proxy=false", b->name, NULL };
        struct podman_call c = { .args = args, .in = -1, .output = OUTPUT_STREAM };
        char tail[BUILD_TAIL_LINES * 168];
        int k = build_podman(b, &c, e);

        if (k <= 0 || build_caught || b->out_failed)
                return k < 0 ? -1 : 0;
        build_tail(b, BUILD_TAIL_LINES, tail, sizeof tail);
        return gear_err_set(e, GEAR_EXIT_USAGE, "'%s/assemble' failed with exit status %d%s%s", bi->scripts, k,
                            *tail ? "; its last lines:" : "", tail);
}

/* the container as the image, run its command, the builder's entrypoint given back */
static int commit(struct build_run *b, const struct build_image_opts *o, const struct builder *bi,
                  const char *source_commit, char *id, size_t n, struct gear_err *e)
{
        _cleanup_free_ char *cmd = NULL, *entry = NULL, *cmdc = NULL, *entryc = NULL, *l1 = NULL, *l2 = NULL;
        json_t *run = json_pack("[s+]", bi->scripts, "/run");
        const char *args[] = { "commit", "--quiet", NULL, NULL, NULL, NULL, b->name, b->tmp_image, NULL };
        struct podman_call c = { .args = args, .in = -1, .output = OUTPUT_KEEP };
        int k;

        cmd = run ? json_dumps(run, JSON_COMPACT) : NULL;
        json_decref(run);
        entry = bi->entrypoint ? json_dumps(bi->entrypoint, JSON_COMPACT) : strdup("[]");
        if (!cmd || !entry || asprintf(&cmdc, "--change=CMD %s", cmd) < 0 ||
            asprintf(&entryc, "--change=ENTRYPOINT %s", entry) < 0 ||
            asprintf(&l1, "--change=LABEL io.openshift.s2i.build.image=\"%s\"", o->builder) < 0 ||
            asprintf(&l2, "--change=LABEL io.openshift.s2i.build.commit.id=\"%s\"", source_commit) < 0)
                return gear_err_sys(e, ENOMEM, "cannot commit the container");
        args[2] = cmdc, args[3] = entryc, args[4] = l1, args[5] = l2;
        b->committing = true;
        k = build_podman(b, &c, e);
        if (k > 0)
                gear_err_set(e, GEAR_EXIT_SYS, "podman commit: %s", *c.msg ? c.msg : "failed");
        else if (k == 0)
                snprintf(id, n, "%.*s", c.kept ? (int)strcspn(c.kept, "\n") : 0, c.kept ? c.kept : "");
        podman_call_done(&c);
        return k == 0 ? 0 : -1;
}

/* with --gear: the committed image, read through podman, as the Gear image NAME:TAG */
static int gear_image(struct gear_tree *t, struct build_run *b, struct build_image_result *res, struct gear_err *e)
{
        _cleanup_(source_close) struct image_source src = { .dfd = -1 };
        struct build_opts bo = { .src = &src, .ref = res->ref };
        struct build_result br = {0};

        if (podman_source_open(&b->conf, b->tmp_image, &src, e) < 0 || image_build(t, &bo, &br, e) < 0)
                return gear_err_wrap(e, "Gear image '%s:%s'", res->ref.name, res->ref.tag);
        memcpy(res->manifest, br.manifest, sizeof res->manifest);
        return 0;
}

static int tag(struct build_run *b, const struct image_ref *ref, struct gear_err *e)
{
        char name[IMAGE_NAME_MAX + IMAGE_TAG_MAX + 2];
        const char *args[] = { "tag", b->tmp_image, name, NULL };
        struct podman_call c = { .args = args, .in = -1, .output = OUTPUT_DROP };
        int k;

        snprintf(name, sizeof name, "%s:%s", ref->name, ref->tag);
        k = build_podman(b, &c, e);
        if (k > 0)
                return gear_err_set(e, GEAR_EXIT_SYS, "podman tag '%s': %s", name, *c.msg ? c.msg : "failed");
        return k < 0 ? -1 : 0;
}

/* the source: repo://ID is the repository of this host */
static int source_of(struct gear_tree *t, const char *source, char *buf, size_t n, struct gear_err *e)
{
        char path[PATH_MAX];
        gear_id id;
        int k;

        if (strncmp(source, "repo://", 7)) {
                snprintf(buf, n, "%s", source);
                return 0;
        }
        if (repo_id_parse(source + 7, id, e) < 0 || (k = repo_exists(t, id, e)) < 0)
                return -1;
        if (!k)
                return gear_err_set(e, GEAR_EXIT_NO, "no repository '%s'", id);
        repo_path(t, id, path);
        snprintf(buf, n, "%s", path);
        return 0;
}

/* what the fetch's child tells the build */
struct fetch_reply {
        int code;               /* 0: fetched */
        char msg[sizeof ((struct gear_err *)0)->msg];
        char commit[41];
};

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* the child's reply, read until it closes its end or the deadline passes (the child then killed) */
static bool fetch_read(pid_t pid, int fd, unsigned timeout, struct fetch_reply *rep)
{
        uint64_t deadline = now_ms() + (uint64_t)timeout * 1000;
        size_t got = 0;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                uint64_t now = now_ms();
                ssize_t n;

                if (now >= deadline) {
                        kill(pid, SIGKILL);
                        return false;
                }
                n = poll(&p, 1, deadline - now > 60000 ? 60000 : (int)(deadline - now));
                if (n <= 0)
                        continue;
                n = read(fd, (char *)rep + got, sizeof *rep - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return true;
                got += n;
        }
}

/*
 * The source's tree as a tar in the private directory dir (made here). The
 * fetch runs in a child of its own, which the build's signals end, and
 * which is killed once build-fetch-timeout passed.
 */
static int fetch(struct gear_tree *t, const struct build_run *b, const struct build_image_opts *o,
                 char dir[static PATH_MAX], int *tar, char commit[static 41], struct gear_err *e)
{
        const char *tmp = getenv("TMPDIR");
        char source[PATH_MAX], path[PATH_MAX + 16];
        struct fetch_reply rep = { .code = GEAR_EXIT_SYS };
        struct gear_err ign = {0};
        _cleanup_close_ int r = -1, w = -1;
        bool in_time;
        int p[2], k;
        pid_t pid;

        if (source_of(t, o->source, source, sizeof source, e) < 0)
                return -1;
        if ((size_t)snprintf(dir, PATH_MAX, "%s/gear-build-image.XXXXXX", tmp && *tmp == '/' ? tmp : "/var/tmp") >=
            PATH_MAX || !mkdtemp(dir)) {
                int err = errno;
                *dir = 0;
                return gear_err_sys(e, err, "cannot make a private directory for the source");
        }
        snprintf(path, sizeof path, "%s/src.tar", dir);
        if ((*tar = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
                return gear_err_sys(e, errno, "cannot create '%s'", path);
        snprintf(path, sizeof path, "%s/git", dir);
        if (mkdir(path, 0700) < 0)
                return gear_err_sys(e, errno, "cannot create '%s'", path);
        if (pipe2(p, O_CLOEXEC) < 0)
                return gear_err_sys(e, errno, "cannot fetch the source");
        r = p[0], w = p[1];
        pid = spawn_fork(SPAWN_OWN_GROUP, e);
        if (pid < 0)
                return gear_err_wrap(e, "cannot fetch the source");
        if (pid == 0) {
                struct gear_err ce = {0};

                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                close(r);
                if (repo_fetch_tree(source, o->ref, path, "src/", *tar, b->conf.max_source_size, rep.commit, &ce) < 0) {
                        rep.code = ce.code ? ce.code : GEAR_EXIT_SYS;
                        memcpy(rep.msg, ce.msg, sizeof rep.msg);
                } else
                        rep.code = 0;
                _exit(write_all(w, &rep, sizeof rep) < 0 ? 1 : 0);
        }
        if (build_caught)
                kill(pid, SIGTERM);
        close(TAKE_FD(w));
        in_time = fetch_read(pid, r, b->conf.build_fetch_timeout, &rep);
        k = spawn_wait(pid, "the fetch", &ign);
        gear_err_clear(&ign);
        if (!in_time)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot fetch '%s': not done in %u seconds (build-fetch-timeout)",
                                    o->source, b->conf.build_fetch_timeout);
        if (k != 0 || (rep.code == GEAR_EXIT_SYS && !*rep.msg))
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot fetch '%s': its process ended", o->source);
        if (rep.code)
                return gear_err_set(e, rep.code, "%s", rep.msg);
        memcpy(commit, rep.commit, 41);
        commit[40] = 0;
        return 0;
}

/* a failure of the cleanup: the error, or after the error the build had already (whose code stays) */
static void _printf_(2, 3) cleanup_failed(struct gear_err *e, const char *fmt, ...)
{
        size_t n = e->code ? strlen(e->msg) : 0;
        va_list ap;

        if (!e->code) {
                e->code = GEAR_EXIT_SYS;
                e->msg[0] = 0;
        } else if (n + 6 < sizeof e->msg) {
                memcpy(e->msg + n, "; and ", 7);
                n += 6;
        } else
                return;
        va_start(ap, fmt);
        vsnprintf(e->msg + n, sizeof e->msg - n, fmt, ap);
        va_end(ap);
}

/* everything the build made, but the image it tagged; a failure said whatever came before */
static void cleanup(struct build_run *b, const char *dir, struct gear_err *e)
{
        const char *rm[] = { "rm", "--force", "--ignore", "--time=0", b->name, NULL };
        const char *rmi[] = { "rmi", "--ignore", b->tmp_image, NULL };
        struct gear_err ign = {0};
        int k;

        build_signals_hold();
        if (b->created) {
                struct podman_call c = { .args = rm, .in = -1, .output = OUTPUT_DROP, .always = true };
                if ((k = build_podman(b, &c, &ign)) != 0)
                        cleanup_failed(e, "cannot remove the container '%s': %s", b->name,
                                       k < 0 ? ign.msg : *c.msg ? c.msg : "failed");
        }
        if (b->committing) {
                struct podman_call c = { .args = rmi, .in = -1, .output = OUTPUT_DROP, .always = true };
                if ((k = build_podman(b, &c, &ign)) != 0)
                        cleanup_failed(e, "cannot remove the image '%s': %s", b->tmp_image,
                                       k < 0 ? ign.msg : *c.msg ? c.msg : "failed");
        }
        if (*dir && rm_tree(AT_FDCWD, dir, &ign) < 0)
                cleanup_failed(e, "cannot remove '%s': %s", dir, ign.msg);
        gear_err_clear(&ign);
}

static int stopped(const struct build_run *b, struct gear_err *e)
{
        if (b->out_failed)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot write the output: %s", strerror(EPIPE));
        if (build_caught)
                return gear_err_set(e, GEAR_EXIT_SYS, "stopped by SIG%s",
                                    sigabbrev_np(build_caught) ? sigabbrev_np(build_caught) : "?");
        return 0;
}

#define STEP(x) if ((x) < 0 || stopped(&b, e) < 0) goto out

int build_image(struct gear_tree *t, const struct build_image_opts *o, struct build_image_result *res,
                struct gear_err *e)
{
        struct build_run b = { .out = o->out };
        struct builder bi = {0};
        struct build_signals sig;
        _cleanup_close_ int tar = -1;
        char dir[PATH_MAX] = "";
        uint64_t rnd;
        int r = -1;

        memset(res, 0, sizeof *res);
        if (build_image_check(o, &res->ref, e) < 0 || config_load(&b.conf, t, e) < 0)
                return -1;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                rnd = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
        snprintf(b.name, sizeof b.name, "gear-build-image-%016llx", (unsigned long long)rnd);
        snprintf(b.tmp_image, sizeof b.tmp_image, "localhost/gear-build-image-tmp:%016llx", (unsigned long long)rnd);
        build_signals_catch(&sig);
        STEP(fetch(t, &b, o, dir, &tar, res->commit, e));
        STEP(inspect(&b, o->builder, &bi, e));
        STEP(create(&b, o, &bi, dir, e));
        STEP(assemble_check(&b, o->builder, &bi, e));
        STEP(copy_source(&b, tar, e));
        STEP(assemble(&b, &bi, e));
        STEP(commit(&b, o, &bi, res->commit, res->id, sizeof res->id, e));
        if (o->gear) {
                STEP(gear_image(t, &b, res, e));
        }
        /* the last step is the one that makes the build: a signal now waits for it */
        build_signals_hold();
        if (stopped(&b, e) < 0 || tag(&b, &res->ref, e) < 0) {
                struct gear_err ign = {0};
                if (o->gear)
                        image_remove(&t->img, &res->ref, &ign);
                gear_err_clear(&ign);
                goto out;
        }
        r = 0;
out:
        /* whatever a step said of its end, a signal ended it */
        if (r < 0 && build_caught && !b.out_failed) {
                res->signal = build_caught;
                gear_err_clear(e);
                stopped(&b, e);
        }
        cleanup(&b, dir, e);
        if (r == 0 && e->code)
                r = -1;
        /* what comes next (the records, a message on the same reader) starts a line */
        if (b.out_midline && !b.out_failed)
                write_all(b.out, "\n", 1);
        build_signals_restore(&sig);
        json_decref(bi.entrypoint);
        config_done(&b.conf);
        return r;
}
