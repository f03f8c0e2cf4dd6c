/* gear-restart: restart containers (and have them start on boot) */
#include "commands.h"
#include "../common/base/err.h"
#include "../common/container/container-cmd.h"

static const char usage[] =
"usage: gear-restart ID...\n";

int cmd_restart(int argc, char **argv)
{
        return container_cmd_ids(argc, argv, usage, VERB_RESTART);
}
