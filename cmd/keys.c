#include "../common/err.h"
#include "commands.h"

/* placeholder: being written */
int cmd_keys(int argc, char **argv)
{
        return gear_usage_error("usage: gear-keys\n", "not yet available");
}
