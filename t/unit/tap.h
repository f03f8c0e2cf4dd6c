/* the TAP of the unit tests: ok() counts and prints one line; main prints "1..count" */
#ifndef GEAR_TEST_TAP_H
#define GEAR_TEST_TAP_H

#include <stdio.h>

static int count, failed;

static void ok(int cond, const char *what)
{
        count++;
        if (!cond)
                failed++;
        printf("%sok %d - %s\n", cond ? "" : "not ", count, what);
}

#endif
