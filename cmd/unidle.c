/* gear-unidle: start idle containers */
#include "commands.h"
#include "../common/base/err.h"
#include "../common/container/container-cmd.h"

static const char usage[] =
"usage: gear-unidle ID...\n";

int cmd_unidle(int argc, char **argv)
{
        return container_cmd_ids(argc, argv, usage, VERB_UNIDLE);
}
