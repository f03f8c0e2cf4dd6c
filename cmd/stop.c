/* gear-stop: stop containers and keep them from starting on boot */
#include "commands.h"
#include "../common/base/err.h"
#include "../common/container/container-cmd.h"

static const char usage[] =
"usage: gear-stop [-n] ID...\n";

int cmd_stop(int argc, char **argv)
{
        return container_cmd_ids(argc, argv, usage, VERB_STOP);
}
