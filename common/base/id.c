#include <string.h>

#include "id.h"

bool id_valid(const char *s)
{
        size_t n = strlen(s);

        if (n < GEAR_ID_MIN || n > GEAR_ID_MAX || s[0] == '.' || s[0] == '-')
                return false;
        return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static const char *strip_prefix(const char *s, const char *prefix)
{
        size_t n = strlen(prefix);

        return strncmp(s, prefix, n) ? NULL : s + n;
}

int id_parse(const char *arg, gear_id out, struct gear_err *e)
{
        const char *s = arg, *p;

        if ((p = strip_prefix(s, "localhost/")) || (p = strip_prefix(s, "local/")))
                s = p;
        if (!id_valid(s))
                return gear_err_set(e, GEAR_EXIT_USAGE,
                                    "invalid identifier '%s': want 4 to 24 characters of [A-Za-z0-9_.-], "
                                    "not starting with '.' or '-'", arg);
        strcpy(out, s);
        return 0;
}

int target_parse(const char *arg, struct gear_target *t, struct gear_err *e)
{
        const char *p;

        t->kind = TARGET_CONTAINER;
        t->write = false;
        if ((p = strip_prefix(arg, "ctr://")))
                arg = p;
        else if ((p = strip_prefix(arg, "repo://"))) {
                t->kind = TARGET_REPO;
                arg = p;
        }
        return id_parse(arg, t->id, e);
}
