/*
 * An install that changes an environment that exists keeps, until it
 * committed or was undone, what that environment held before in
 * units/<ab>/<ID>/.env-before (mode 0600), and says so beforehand in its
 * .installing flag with the line
 *
 *   env-before <requestid> <envid> <sha256 of what the install writes>
 *
 * A kill between the change and the commit leaves the old unit with the new
 * environment. Whoever finds the copy next (the next install or delete of
 * that container, gear-clean) settles it under the container lock: when the
 * version <requestid> is not current (the install did not commit) and the
 * environment still holds what the install wrote (no gear-set-env since),
 * the environment is put back from the copy; then the copy goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "../base/digest.h"
#include "../base/fsutil.h"

#define LINE "env-before "

int ctr_flag_append(struct gear_tree *t, const char *id, const char *line, bool sync, struct gear_err *e)
{
        _cleanup_close_ int fd = -1;
        char rel[CTR_PATH_MAX];
        int r;

        container_flag_rel(id, rel);
        fd = openat(t->ctr.fd, rel, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return gear_err_sys(e, errno, "cannot open '%s/%s'", t->ctr.path, rel);
        r = write_all(fd, line, strlen(line));
        if (r == 0 && sync && fsync(fd) < 0)
                r = -errno;
        return r < 0 ? gear_err_sys(e, -r, "cannot write '%s/%s'", t->ctr.path, rel) : 0;
}

int ctr_env_save(struct gear_tree *t, const char *id, const char *request_id, const char *envid, const char *old,
                 size_t old_len, const char *text, size_t len, struct gear_err *e)
{
        char rel[CTR_PATH_MAX], line[CTR_REQUEST_ID_MAX + GEAR_ID_MAX + DIGEST_HEX_LEN + 32];
        digest_hex hex;

        if (digest_buf(text, len, hex, e) < 0)
                return -1;
        snprintf(line, sizeof line, LINE "%s %s %s\n", request_id, envid, hex);
        /* the line first: a copy is always that of the last line, which an earlier install may have left */
        if (ctr_flag_append(t, id, line, true, e) < 0)
                return -1;
        container_env_before_rel(id, rel);
        return atomic_write(&t->ctr, rel, old, old_len, ENV_FILE_MODE, e);
}

void ctr_env_saved_drop(struct gear_tree *t, const char *id)
{
        char rel[CTR_PATH_MAX];

        container_env_before_rel(id, rel);
        unlinkat(t->ctr.fd, rel, 0);
}

/* the last env-before line of id's flag into request_id, envid and hex; 0 when there is none */
static int last_line(struct gear_tree *t, const char *id, char *request_id, gear_id envid, digest_hex hex,
                     struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        char rel[CTR_PATH_MAX], r[CTR_REQUEST_ID_MAX + 1], v[GEAR_ID_MAX + 2], h[DIGEST_HEX_LEN + 2];
        int found = 0;

        container_flag_rel(id, rel);
        if (read_file(&t->ctr, rel, 64 * 1024, &text, NULL, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                if (strncmp(p, LINE, strlen(LINE)) ||
                    sscanf(p + strlen(LINE), "%48s %25s %65s", r, v, h) != 3 ||
                    strlen(r) >= CTR_REQUEST_ID_MAX || !id_valid(v) || !digest_hex_valid(h))
                        continue;
                strcpy(request_id, r);
                strcpy(envid, v);
                strcpy(hex, h);
                found = 1;
        }
        return found;
}

/* 1 when the version request_id of id is its current unit */
static bool committed(struct gear_tree *t, const char *id, const char *request_id)
{
        char unit[CTR_PATH_MAX], version[CTR_PATH_MAX + CTR_REQUEST_ID_MAX];
        struct stat a, b;

        container_unit_rel(id, unit);
        snprintf(version, sizeof version, "units/%.2s/%s/%s", id, id, request_id);
        return fstatat(t->ctr.fd, unit, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
               fstatat(t->ctr.fd, version, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
}

/* puts envid back from saved when it holds what the install wrote (hex) */
static int put_back(struct gear_tree *t, const char *envid, const digest_hex hex, const char *saved, size_t len,
                    struct gear_err *e)
{
        _cleanup_close_ int lock = env_lock(t, envid, e);
        _cleanup_free_ char *now = NULL;
        char rel[ENV_PATH_MAX];
        digest_hex have;
        size_t n;

        if (lock < 0)
                return -1;
        if (env_read(t, envid, &now, &n, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        if (digest_buf(now, n, have, e) < 0)
                return -1;
        if (strcmp(have, hex))
                return 0;
        env_path(envid, rel);
        return env_restore(t, rel, saved, len, e);
}

int ctr_env_settle(struct gear_tree *t, const char *id, bool dry_run, struct gear_err *e)
{
        _cleanup_free_ char *saved = NULL;
        char rel[CTR_PATH_MAX], request_id[CTR_REQUEST_ID_MAX];
        gear_id envid;
        digest_hex hex;
        size_t len;
        int r;

        container_env_before_rel(id, rel);
        if (read_file(&t->ctr, rel, ENV_FILE_MAX, &saved, &len, e) < 0) {
                if (e->code != GEAR_EXIT_NO)
                        return -1;
                gear_err_clear(e);
                return 0;
        }
        if (dry_run)
                return 1;
        if ((r = last_line(t, id, request_id, envid, hex, e)) < 0)
                return -1;
        if (r > 0 && !committed(t, id, request_id) && put_back(t, envid, hex, saved, len, e) < 0)
                return gear_err_wrap(e, "cannot put back the environment '%s'", envid);
        if (unlinkat(t->ctr.fd, rel, 0) < 0 && errno != ENOENT)
                return gear_err_sys(e, errno, "cannot remove '%s/%s'", t->ctr.path, rel);
        return 1;
}
