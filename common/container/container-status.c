/* what a container is doing: its unit's state, its journal, the list of containers */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "container-gear.h"
#include "container-idle.h"
#include "container-run.h"
#include "../base/dl-systemd.h"
#include "../base/fsutil.h"

static int journal_field(sd_journal *j, const char *name, char *buf, size_t n)
{
        const void *data;
        size_t len, k = strlen(name) + 1;

        buf[0] = 0;
        if (sym_sd_journal_get_data(j, name, &data, &len) < 0 || len < k)
                return -1;
        len -= k;
        if (len >= n)
                len = n - 1;
        memcpy(buf, (const char *)data + k, len);
        buf[len] = 0;
        return 0;
}

/* a message as one line: control characters other than tab shown as '?' */
static void clean_line(char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 && *s != '\t')
                        *s = '?';
}

int container_journal(enum systemd_scope scope, const char *unit, unsigned lines, char **out, size_t *len,
                      struct gear_err *e)
{
        sd_journal *j = NULL;
        char match[CTR_PATH_MAX + 32];
        FILE *f;
        unsigned back = 0;
        int r;

        *out = NULL;
        *len = 0;
        if (dl_systemd(e) < 0)
                return -1;
        r = sym_sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return gear_err_sys(e, -r, "cannot open the journal");
        /* the unit's own output, and what the manager said about it */
        snprintf(match, sizeof match, "%s=%s", scope == SYSTEMD_USER ? "_SYSTEMD_USER_UNIT" : "_SYSTEMD_UNIT", unit);
        r = sym_sd_journal_add_match(j, match, 0);
        if (r >= 0)
                r = sym_sd_journal_add_disjunction(j);
        snprintf(match, sizeof match, "%s=%s", scope == SYSTEMD_USER ? "USER_UNIT" : "UNIT", unit);
        if (r >= 0)
                r = sym_sd_journal_add_match(j, match, 0);
        if (r < 0) {
                sym_sd_journal_close(j);
                return gear_err_sys(e, -r, "cannot read the journal of '%s'", unit);
        }
        f = open_memstream(out, len);
        if (!f) {
                sym_sd_journal_close(j);
                return gear_err_sys(e, errno, "cannot read the journal of '%s'", unit);
        }
        r = sym_sd_journal_seek_tail(j);
        while (r >= 0 && back < lines && sym_sd_journal_previous(j) > 0)
                back++;
        /* now at the oldest wanted entry, or before the first */
        for (unsigned i = 0; i < back; i++) {
                char msg[2048], ident[128], pid[32], stamp[32];
                uint64_t usec = 0;
                time_t sec;
                struct tm tm;

                if (i > 0 && sym_sd_journal_next(j) <= 0)
                        break;
                if (journal_field(j, "MESSAGE", msg, sizeof msg) < 0)
                        continue;
                if (journal_field(j, "SYSLOG_IDENTIFIER", ident, sizeof ident) < 0 &&
                    journal_field(j, "_COMM", ident, sizeof ident) < 0)
                        snprintf(ident, sizeof ident, "-");
                journal_field(j, "_PID", pid, sizeof pid);
                sym_sd_journal_get_realtime_usec(j, &usec);
                sec = usec / 1000000;
                localtime_r(&sec, &tm);
                strftime(stamp, sizeof stamp, "%b %d %H:%M:%S", &tm);
                clean_line(msg);
                fprintf(f, "%s %s%s%s%s: %s\n", stamp, ident, *pid ? "[" : "", pid, *pid ? "]" : "", msg);
        }
        sym_sd_journal_close(j);
        if (fclose(f) != 0)
                return gear_err_sys(e, errno, "cannot read the journal of '%s'", unit);
        return 0;
}

/* "Mon 2026-11-23 09:38:03 UTC" */
static void format_usec(uint64_t usec, char *buf, size_t n)
{
        time_t sec = usec / 1000000;
        struct tm tm;

        if (!usec) {
                snprintf(buf, n, "-");
                return;
        }
        localtime_r(&sec, &tm);
        strftime(buf, n, "%a %Y-%m-%d %H:%M:%S %Z", &tm);
}

int container_failure_text(struct gear_systemd *m, const char *id, char **out, size_t *len)
{
        _cleanup_free_ char *log = NULL;
        struct gear_err ignore = {0};
        struct systemd_unit_info info;
        char unit[CTR_PATH_MAX];
        size_t loglen;
        FILE *f;

        container_unit_name(id, unit);
        *out = NULL;
        f = open_memstream(out, len);
        if (!f)
                return -ENOMEM;
        if (systemd_unit_info(m, unit, &info, &ignore) == 0) {
                fprintf(f, "%s: %s (%s)", unit, info.active_state, info.sub_state);
                if (*info.result && strcmp(info.result, "success"))
                        fprintf(f, ", result '%s'", info.result);
                if (info.exec_main_status)
                        fprintf(f, ", main process exited with status %d", info.exec_main_status);
                fprintf(f, "\n");
        }
        if (container_journal(systemd_scope(m), unit, CTR_LOG_LINES, &log, &loglen, &ignore) == 0 && loglen)
                fprintf(f, "%s", log);
        return fclose(f) == 0 ? 0 : -errno;
}

void ctr_status_done(struct ctr_status *s)
{
        free(s->log);
        free(s->fs_stats);
        free(s->links);
        s->log = s->fs_stats = NULL;
        s->links = NULL;
}

int container_status(struct gear_tree *t, struct gear_systemd *m, const char *id, unsigned lines,
                     struct ctr_status *s, struct gear_err *e)
{
        _cleanup_free_ char *text = NULL;
        char unit[CTR_PATH_MAX], rel[CTR_PATH_MAX];
        size_t len;
        int r;

        memset(s, 0, sizeof *s);
        snprintf(s->id, sizeof s->id, "%s", id);
        r = container_read_unit(t, id, &text, e);
        if (r < 0)
                return r;
        if (unit_parse_meta(text, &s->meta, e) < 0)
                return gear_err_wrap(e, "in the unit of '%s'", id);
        s->boot = container_boot_recorded(t, id, e) > 0;
        container_unit_rel(id, rel);
        snprintf(s->unit_path, sizeof s->unit_path, "%s/%s", t->ctr.path, rel);
        container_unit_name(id, unit);
        if (systemd_unit_info(m, unit, &s->info, e) < 0)
                return -1;
        format_usec(!strcmp(s->info.active_state, "active") || !strcmp(s->info.active_state, "reloading") ?
                    s->info.active_enter_usec : s->info.inactive_enter_usec, s->since, sizeof s->since);
        if (ctr_gear_image(s->meta.image) && ctr_gear_stats(t, s->meta.image, &s->fs_stats, e) < 0)
                return -1;
        if (links_read(t, id, &s->links, &s->nlinks, e) < 0)
                return -1;
        if ((r = container_idle_flagged(t, id, e)) < 0)
                return -1;
        s->idle = r > 0;
        if (lines && container_journal(systemd_scope(m), unit, lines, &s->log, &len, e) < 0)
                return -1;
        return 0;
}

static int by_row(const void *a, const void *b)
{
        return strcmp(((const struct ctr_row *)a)->id, ((const struct ctr_row *)b)->id);
}

/* the ids of the ctr-*.service units, sorted by id (the unit names sort otherwise: "-" before ".") */
static int unit_ids(const struct systemd_unit_state *units, size_t nunits, struct ctr_row **out, size_t *n,
                    struct gear_err *e)
{
        struct ctr_row *v = calloc(nunits + 1, sizeof *v);
        size_t len = 0;

        if (!v)
                return gear_err_sys(e, ENOMEM, "cannot list containers");
        for (size_t i = 0; i < nunits; i++) {
                struct ctr_row *row = &v[len];

                if (container_id_of_unit(units[i].id, row->id) < 0)
                        continue;
                snprintf(row->active, sizeof row->active, "%s", units[i].active_state);
                snprintf(row->sub, sizeof row->sub, "%s", units[i].sub_state);
                snprintf(row->load, sizeof row->load, "%s", units[i].load_state);
                len++;
        }
        if (len > 1)
                qsort(v, len, sizeof *v, by_row);
        *out = v;
        *n = len;
        return 0;
}

/*
 * Idle containers as "idle", with the state their sockets share ("listening"),
 * or that of the first that is not.
 */
static int show_idle(struct gear_tree *t, struct gear_systemd *m, struct ctr_row *rows, size_t n, struct gear_err *e)
{
        _cleanup_free_ struct systemd_unit_state *socks = NULL;
        size_t nsocks = 0;

        if (systemd_list_units(m, "ctr-*:*.socket", &socks, &nsocks, e) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                struct ctr_row *row = &rows[i];
                const char *sub = NULL;
                int r = container_idle_flagged(t, row->id, e);

                if (r < 0)
                        return -1;
                if (!r || (strcmp(row->active, "inactive") && strcmp(row->active, "failed")))
                        continue;
                for (size_t k = 0; k < nsocks; k++) {
                        gear_id id;
                        unsigned port;
                        bool socket;

                        if (unit_idle_of_name(socks[k].id, id, &port, &socket) < 0 || strcmp(id, row->id))
                                continue;
                        if (!sub || (!strcmp(sub, "listening") && strcmp(socks[k].sub_state, "listening")))
                                sub = socks[k].sub_state;
                }
                snprintf(row->active, sizeof row->active, "idle");
                snprintf(row->sub, sizeof row->sub, "%s", sub ? sub : "dead");
        }
        return 0;
}

int container_list_units(struct gear_tree *t, struct gear_systemd *m, bool all, struct ctr_row **rows, size_t *n,
                         struct gear_err *e)
{
        _cleanup_free_ struct systemd_unit_state *units = NULL;
        _cleanup_free_ gear_id *ids = NULL;
        _cleanup_free_ struct ctr_row *held = NULL, *v = NULL;
        size_t nunits = 0, nids = 0, nheld = 0, len = 0, i = 0, k = 0;

        *rows = NULL;
        *n = 0;
        if (systemd_list_units(m, "ctr-*.service", &units, &nunits, e) < 0 ||
            unit_ids(units, nunits, &held, &nheld, e) < 0)
                return -1;
        if (all && container_list(t, &ids, &nids, e) < 0)
                return -1;
        v = calloc(nheld + nids + 1, sizeof *v);
        if (!v)
                return gear_err_sys(e, ENOMEM, "cannot list containers");
        /* both lists are sorted by id: merge them */
        while (i < nheld || k < nids) {
                int c = i >= nheld ? 1 : k >= nids ? -1 : strcmp(held[i].id, ids[k]);
                struct ctr_row *row = &v[len++];

                if (c <= 0) {
                        *row = held[i++];
                        if (c == 0)
                                k++;
                } else {
                        char name[CTR_PATH_MAX];
                        struct stat st;

                        container_unit_name(ids[k], name);
                        snprintf(row->id, sizeof row->id, "%s", ids[k]);
                        snprintf(row->active, sizeof row->active, "inactive");
                        snprintf(row->sub, sizeof row->sub, "dead");
                        /* systemd does not hold it: say whether it could */
                        snprintf(row->load, sizeof row->load, "%s",
                                 root_open(&t->units, 0, e) >= 0 && fstatat(t->units.fd, name, &st, 0) == 0 ?
                                 "unloaded" : "unlinked");
                        gear_err_clear(e);
                        k++;
                }
        }
        if (show_idle(t, m, v, len, e) < 0)
                return -1;
        *rows = TAKE_PTR(v);
        *n = len;
        return 0;
}
