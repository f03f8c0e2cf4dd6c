/* the progress line of gear-build, gear-push and gear-pull --prefetch on a terminal */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define PROGRESS_INTERVAL_NS 100000000ull /* ten lines a second at most */

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* 1023 B, 1.0 KiB, 12.3 MiB ... */
static void human(uint64_t v, char *buf, size_t n)
{
        static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double d = (double)v;
        unsigned u = 0;

        if (v < 1024) {
                snprintf(buf, n, "%" PRIu64 " B", v);
                return;
        }
        while (d >= 1024 && u + 1 < sizeof unit / sizeof *unit) {
                d /= 1024;
                u++;
        }
        snprintf(buf, n, "%.1f %s", d, unit[u]);
}

/* 42s, 3m05s, 2h07m */
static void duration(uint64_t s, char *buf, size_t n)
{
        if (s < 60)
                snprintf(buf, n, "%" PRIu64 "s", s);
        else if (s < 3600)
                snprintf(buf, n, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
        else
                snprintf(buf, n, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
}

/* with p->lock held */
static void draw(struct progress *p, uint64_t now, bool end)
{
        char line[512], done[32], total[32], rate[32], left[32];
        double secs = (double)(now - p->start_ns) / 1e9;
        uint64_t bps = secs > 0 ? (uint64_t)((double)p->bytes / secs) : 0;
        size_t n;

        human(p->bytes, done, sizeof done);
        human(bps, rate, sizeof rate);
        n = (size_t)snprintf(line, sizeof line, "\r%s: ", p->what);
        if (p->objects_total)
                n += (size_t)snprintf(line + n, sizeof line - n, "%" PRIu64 "/%" PRIu64 " %s, ", p->objects,
                                      p->objects_total, p->unit);
        else
                n += (size_t)snprintf(line + n, sizeof line - n, "%" PRIu64 " %s, ", p->objects, p->unit);
        if (p->bytes_total) {
                human(p->bytes_total, total, sizeof total);
                n += (size_t)snprintf(line + n, sizeof line - n, "%s/%s (%" PRIu64 "%%), ", done, total,
                                      p->bytes * 100 / p->bytes_total);
        } else {
                n += (size_t)snprintf(line + n, sizeof line - n, "%s, ", done);
        }
        n += (size_t)snprintf(line + n, sizeof line - n, "%s/s", rate);
        if (!end && p->bytes_total > p->bytes && bps) {
                duration((p->bytes_total - p->bytes) / bps + 1, left, sizeof left);
                n += (size_t)snprintf(line + n, sizeof line - n, ", %s left", left);
        } else if (end) {
                duration((uint64_t)secs, left, sizeof left);
                n += (size_t)snprintf(line + n, sizeof line - n, ", done in %s", left);
        }
        /* erase what a longer line before left; one write, so lines never interleave */
        n += (size_t)snprintf(line + n, sizeof line - n, "\033[K%s", end ? "\n" : "");
        if (n >= sizeof line)
                n = sizeof line - 1;
        (void)!write(p->fd, line, n);
        p->last_ns = now;
}

void progress_init(struct progress *p, const char *what, const char *unit)
{
        *p = (struct progress){ .fd = isatty(STDERR_FILENO) ? STDERR_FILENO : -1, .what = what, .unit = unit };
        pthread_mutex_init(&p->lock, NULL);
        p->start_ns = now_ns();
}

void progress_total(struct progress *p, uint64_t bytes, uint64_t objects)
{
        if (!p || p->fd < 0)
                return;
        pthread_mutex_lock(&p->lock);
        p->bytes_total = bytes;
        p->objects_total = objects;
        pthread_mutex_unlock(&p->lock);
}

void progress_unit(struct progress *p, const char *unit)
{
        if (!p || p->fd < 0)
                return;
        pthread_mutex_lock(&p->lock);
        p->unit = unit;
        pthread_mutex_unlock(&p->lock);
}

void progress_add(struct progress *p, uint64_t bytes, uint64_t objects)
{
        uint64_t now;

        if (!p || p->fd < 0)
                return;
        pthread_mutex_lock(&p->lock);
        p->bytes += bytes;
        p->objects += objects;
        now = now_ns();
        if (now - p->last_ns >= PROGRESS_INTERVAL_NS)
                draw(p, now, false);
        pthread_mutex_unlock(&p->lock);
}

void progress_end(struct progress *p)
{
        if (!p || p->fd < 0)
                return;
        pthread_mutex_lock(&p->lock);
        draw(p, now_ns(), true);
        p->fd = -1;
        pthread_mutex_unlock(&p->lock);
}
