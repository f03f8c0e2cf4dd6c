/*
 * The parts of a container's unit that make it idle-capable (gear-idle(1)),
 * as one transformation of the unit text: a fresh install renders the
 * template and applies it, gear-idle applies it to the unit as it is, so
 * both write the same lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

void unit_publish_value(char *buf, size_t n, const char *address, unsigned external, unsigned internal)
{
        if (!address || !*address)
                snprintf(buf, n, "%u:%u", external, internal);
        else if (strchr(address, ':'))
                snprintf(buf, n, "[%s]:%u:%u", address, external, internal);
        else
                snprintf(buf, n, "%s:%u:%u", address, external, internal);
}

unsigned unit_meta_backend(const struct unit_meta *m, const struct unit_port *p)
{
        for (size_t i = 0; i < m->n_backends; i++)
                if (m->backends[i].internal == p->internal)
                        return m->backends[i].external;
        return 0;
}

void unit_idle_names(const char *id, unsigned ext, char socket[static 64], char proxy[static 64])
{
        snprintf(socket, 64, "ctr-%s:%u.socket", id, ext);
        snprintf(proxy, 64, "ctr-%s:%u.service", id, ext);
}

int unit_idle_of_name(const char *name, gear_id id, unsigned *ext, bool *socket)
{
        const char *colon = strrchr(name, ':'), *dot;
        size_t len, digits;
        unsigned long p;

        if (strncmp(name, "ctr-", 4) || !colon || !(dot = strchr(colon, '.')))
                return -1;
        len = colon - (name + 4);
        digits = dot - colon - 1;
        if (len > GEAR_ID_MAX || digits < 1 || digits > 5 || colon[1] == '0' ||
            strspn(colon + 1, "0123456789") != digits)
                return -1;
        if (!strcmp(dot, ".socket"))
                *socket = true;
        else if (!strcmp(dot, ".service"))
                *socket = false;
        else
                return -1;
        memcpy(id, name + 4, len);
        id[len] = 0;
        p = strtoul(colon + 1, NULL, 10);
        if (!id_valid(id) || p > 65535)
                return -1;
        *ext = p;
        return 0;
}

int unit_timespan_parse(const char *s, char out[static UNIT_TIMESPAN_MAX], struct gear_err *e)
{
        static const struct { const char *name; unsigned long long ms; } units[] = {
                { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "sec", 1000 }, { "m", 60000 }, { "min", 60000 },
                { "h", 3600000 }, { "hr", 3600000 }, { "d", 86400000 },
        };
        const unsigned long long max = 30ull * 86400000;
        size_t digits = strspn(s, "0123456789");
        unsigned long long n, ms = 0;

        *out = 0;
        if (!strcmp(s, "infinity"))
                return 0;
        if (digits < 1 || digits > 10)
                goto bad;
        n = strtoull(s, NULL, 10);
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (!strcmp(s + digits, units[i].name))
                        ms = n * units[i].ms;
        if (ms < 1000 || ms > max)
                goto bad;
        if (ms % 1000)
                snprintf(out, UNIT_TIMESPAN_MAX, "%llums", ms);
        else
                snprintf(out, UNIT_TIMESPAN_MAX, "%llus", ms / 1000);
        return 0;
bad:
        return gear_err_set(e, GEAR_EXIT_USAGE,
                            "invalid duration '%s': want 1s to 30d, such as 90s, 5min or 2h, or infinity", s);
}

static bool starts(const char *line, size_t n, const char *prefix)
{
        size_t k = strlen(prefix);

        return n >= k && !memcmp(line, prefix, k);
}

/* a line the transformation owns, other than --publish= */
static bool idle_line(const char *line, size_t n, const char *wants)
{
        return starts(line, n, "X-PortBackend=") || starts(line, n, "X-IdleTimeout=") || starts(line, n, wants);
}

static bool publish_line(const char *line, size_t n, size_t *indent)
{
        *indent = strspn(line, " \t");
        return *indent < n && starts(line + *indent, n - *indent, "--publish=");
}

static void put_idle_lines(FILE *f, const struct unit_idle *idle)
{
        char sock[64], proxy[64];

        if (!idle->backends)
                return;
        for (size_t i = 0; i < idle->n_ports; i++)
                fprintf(f, "X-PortBackend=%u:%u\n", idle->ports[i].internal, idle->backends[i]);
        if (idle->timeout && *idle->timeout)
                fprintf(f, "X-IdleTimeout=%s\n", idle->timeout);
        /* its sockets listen whenever it runs; its proxies start with it to time its idleness */
        for (size_t i = 0; i < idle->n_ports; i++) {
                unit_idle_names(idle->id, idle->ports[i].external, sock, proxy);
                fprintf(f, "Wants=%s\n", sock);
                if (idle->timeout && *idle->timeout)
                        fprintf(f, "Wants=%s\n", proxy);
        }
}

static void put_publish_lines(FILE *f, const struct unit_idle *idle, const char *line, size_t n, size_t indent)
{
        bool continued = n > 0 && line[n - 1] == '\\';

        for (size_t i = 0; i < idle->n_ports; i++) {
                char value[UNIT_PUBLISH_MAX];

                if (idle->backends)
                        unit_publish_value(value, sizeof value, "127.0.0.1", idle->backends[i],
                                           idle->ports[i].internal);
                else
                        unit_publish_value(value, sizeof value, idle->publish_address, idle->ports[i].external,
                                           idle->ports[i].internal);
                fprintf(f, "%.*s--publish=%s%s\n", (int)indent, line, value, continued ? " \\" : "");
        }
}

int unit_text_idle(const char *text, const struct unit_idle *idle, char **out, struct gear_err *e)
{
        _cleanup_free_ char *buf = NULL;
        const char *anchor = NULL;
        char wants[64];
        bool in_unit = false, published = false;
        size_t size = 0, indent;
        FILE *f;

        snprintf(wants, sizeof wants, "Wants=ctr-%s:", idle->id);
        /* the idle lines follow the last other X- line of [Unit] */
        for (const char *l = text; *l;) {
                size_t n = strcspn(l, "\n");

                if (n && *l == '[')
                        in_unit = starts(l, n, "[Unit]");
                else if (in_unit && starts(l, n, "X-") && !idle_line(l, n, wants))
                        anchor = l;
                l += n + (l[n] == '\n');
        }
        if (!anchor)
                return gear_err_set(e, GEAR_EXIT_USAGE, "the unit of '%s' has no X-ContainerId", idle->id);
        f = open_memstream(&buf, &size);
        if (!f)
                return gear_err_sys(e, errno, "cannot rewrite the unit of '%s'", idle->id);
        for (const char *l = text; *l;) {
                size_t n = strcspn(l, "\n");

                if (publish_line(l, n, &indent)) {
                        if (!published)
                                put_publish_lines(f, idle, l, n, indent);
                        published = true;
                } else if (!idle_line(l, n, wants)) {
                        fprintf(f, "%.*s\n", (int)n, l);
                }
                if (l == anchor)
                        put_idle_lines(f, idle);
                l += n + (l[n] == '\n');
        }
        if (fclose(f))
                return gear_err_sys(e, errno, "cannot rewrite the unit of '%s'", idle->id);
        if (!published && idle->n_ports)
                return gear_err_set(e, GEAR_EXIT_USAGE, "the unit of '%s' publishes no port", idle->id);
        *out = TAKE_PTR(buf);
        return 0;
}
