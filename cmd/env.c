#include "../common/err.h"
#include "commands.h"

/* placeholder: being written */
int cmd_env(int argc, char **argv)
{
        return gear_usage_error("usage: gear-env\n", "not yet available");
}
