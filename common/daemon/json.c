/* the fields of a request body, checked strictly */
#include <string.h>

#include "daemon-int.h"

int field_check(const json_t *obj, const char *const *names, const char *what, struct gear_err *e)
{
        const char *key;
        json_t *v;

        if (!obj)
                return 0;
        if (!json_is_object(obj))
                return gear_err_set(e, GEAR_EXIT_USAGE, "%s is not an object", what);
        json_object_foreach((json_t *)obj, key, v) {
                size_t i = 0;

                while (names[i] && strcmp(names[i], key))
                        i++;
                if (!names[i])
                        return gear_err_set(e, GEAR_EXIT_USAGE, "unknown field '%s' in %s", key, what);
        }
        return 0;
}

int field_string(const json_t *obj, const char *name, const char **out, struct gear_err *e)
{
        json_t *v = obj ? json_object_get(obj, name) : NULL;

        *out = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is not a string", name);
        /* a NUL inside would cut what the commands see */
        if (strlen(json_string_value(v)) != json_string_length(v))
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' holds a NUL", name);
        *out = json_string_value(v);
        return 0;
}

int field_bool(const json_t *obj, const char *name, bool *out, struct gear_err *e)
{
        json_t *v = obj ? json_object_get(obj, name) : NULL;

        *out = false;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_boolean(v))
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is not true or false", name);
        *out = json_is_true(v);
        return 0;
}

int field_uint(const json_t *obj, const char *name, unsigned max, unsigned *out, struct gear_err *e)
{
        json_t *v = obj ? json_object_get(obj, name) : NULL;

        *out = 0;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is not a number from 0 to %u", name, max);
        *out = json_integer_value(v);
        return 0;
}

int field_array(const json_t *obj, const char *name, json_t **out, struct gear_err *e)
{
        json_t *v = obj ? json_object_get(obj, name) : NULL;

        *out = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_array(v))
                return gear_err_set(e, GEAR_EXIT_USAGE, "'%s' is not an array", name);
        *out = v;
        return 0;
}
