#include "../common/err.h"
#include "commands.h"

/* placeholder: being written */
int cmd_auth_keys_command(int argc, char **argv)
{
        return gear_usage_error("usage: gear-auth-keys-command\n", "not yet available");
}
