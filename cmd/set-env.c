#include "../common/err.h"
#include "commands.h"

/* placeholder: being written */
int cmd_set_env(int argc, char **argv)
{
        return gear_usage_error("usage: gear-set-env\n", "not yet available");
}
