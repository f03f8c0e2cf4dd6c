#include "../common/err.h"
#include "commands.h"

/* placeholder: being written */
int cmd_ports(int argc, char **argv)
{
        return gear_usage_error("usage: gear-ports\n", "not yet available");
}
