#include "../common/err.h"
#include "commands.h"

/* placeholder: being written */
int cmd_clean(int argc, char **argv)
{
        return gear_usage_error("usage: gear-clean\n", "not yet available");
}
