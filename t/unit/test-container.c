/* unit tests of the MCS mapping (common/container/isolate.c) and the tree helpers of common/container/ */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/container/container.h"
#include "../../common/container/isolate.h"

#include "tap.h"

static void level_is(unsigned offset, const char *want)
{
        struct gear_err e = {0};
        char level[ISOLATE_LEVEL_MAX], what[128];
        uid_t back = 0;

        snprintf(what, sizeof what, "uid MIN+%u -> %s", offset, want);
        ok(isolate_mcs_level(ISOLATE_UID_MIN + offset, level, &e) == 0 && !strcmp(level, want) &&
           isolate_level_uid(level, &back) == 0 && back == ISOLATE_UID_MIN + offset, what);
}

static void relative_is(const char *from, const char *to, const char *want)
{
        char buf[256], what[512];

        snprintf(what, sizeof what, "path_relative '%s' '%s' -> '%s'", from, to, want);
        ok(path_relative(from, to, buf, sizeof buf) == 0 && !strcmp(buf, want), what);
}

int main(void)
{
        struct gear_err e = {0};
        char level[ISOLATE_LEVEL_MAX];
        unsigned char *seen;
        bool unique = true;
        gear_id id;
        char *s;

        /* the pairs in order: (0,1) (0,2) (1,2) (0,3) ... */
        level_is(0, "s0:c0,c1");
        level_is(1, "s0:c0,c2");
        level_is(2, "s0:c1,c2");
        level_is(3, "s0:c0,c3");
        level_is(5, "s0:c2,c3");
        level_is(6, "s0:c0,c4");
        level_is(ISOLATE_PAIRS - 1, "s0:c1022,c1023");
        ok(ISOLATE_UID_MAX - ISOLATE_UID_MIN + 1 == 523776, "the range has one uid per category pair");
        ok(isolate_mcs_level(ISOLATE_UID_MIN - 1, level, &e) < 0 && e.code == GEAR_EXIT_USAGE,
           "a uid below the range has no level");
        ok(isolate_mcs_level(ISOLATE_UID_MAX + 1, level, &e) < 0 && e.code == GEAR_EXIT_USAGE,
           "a uid above the range has no level");
        ok(isolate_level_uid("s0:c2,c1", &(uid_t){0}) < 0 && isolate_level_uid("s0:c1,c1024", &(uid_t){0}) < 0 &&
           isolate_level_uid("s0:c1,c2x", &(uid_t){0}) < 0, "malformed levels are refused");
        /* every uid of the range has its own pair */
        seen = calloc(ISOLATE_CATEGORIES * ISOLATE_CATEGORIES, 1);
        for (uid_t u = ISOLATE_UID_MIN; seen && u <= ISOLATE_UID_MAX; u += 1) {
                unsigned a, b;
                if (isolate_mcs_level(u, level, &e) < 0 || sscanf(level, "s0:c%u,c%u", &a, &b) != 2 || a >= b ||
                    b >= ISOLATE_CATEGORIES || seen[a * ISOLATE_CATEGORIES + b]++) {
                        unique = false;
                        break;
                }
        }
        ok(seen && unique, "every uid of the range maps to a different pair");
        free(seen);
        ok(isolate_level_check("s0:c0,c1", &e) == 0, "level check passes (or SELinux accepts it)");

        relative_is("/etc/systemd/system", "/var/lib/containers/units/ab/ctr-abcd.service",
                    "../../../var/lib/containers/units/ab/ctr-abcd.service");
        relative_is("/t/root/etc/systemd/system", "/t/root/var/lib/containers/targets/container.target",
                    "../../../var/lib/containers/targets/container.target");
        relative_is("/a/b/", "/a/b/c", "c");
        relative_is("/a//b/./", "/a/x", "../x");

        ok(container_id_of_unit("ctr-abcd.service", id) == 0 && !strcmp(id, "abcd"), "unit name -> id");
        ok(container_id_of_unit("ctr-ab.service", id) < 0 && container_id_of_unit("ctr-abcd.target", id) < 0 &&
           container_id_of_unit("xtr-abcd.service", id) < 0 && container_id_of_unit("ctr-..ab.service", id) < 0,
           "other names are not containers");

        s = unit_text_boot("[Unit]\nA=1\n\n[Install]\nWantedBy=container-active.target\n", false);
        ok(s && !strcmp(s, "[Unit]\nA=1\n\n[Install]\nWantedBy=container.target\n"), "WantedBy replaced");
        free(s);
        s = unit_text_boot("[Unit]\nA=1\n", true);
        ok(s && !strcmp(s, "[Unit]\nA=1\n\n[Install]\nWantedBy=container-active.target\n"), "WantedBy added");
        free(s);
        s = unit_text_set("[Unit]\nX-ContainerRequestId=a\nB=2\n", "X-ContainerRequestId=", "bb", "[Unit]");
        ok(s && !strcmp(s, "[Unit]\nX-ContainerRequestId=bb\nB=2\n"), "a key's value replaced in place");
        free(s);

        printf("1..%d\n", count);
        return failed ? 1 : 0;
}
