/* gear-init: boot and disk recovery: link the tree's units into systemd, start the active ones */
#include "commands.h"
#include "../common/base/err.h"
#include "../common/container/container-cmd.h"

static const char usage[] =
"usage: gear-init [-v]\n";

int cmd_init(int argc, char **argv)
{
        return container_cmd_host(argc, argv, usage, VERB_INIT);
}
