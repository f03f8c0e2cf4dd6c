/* gear-init: boot and disk recovery: link the tree's units into systemd, start the active ones */
#include "../common/container-cmd.h"
#include "../common/err.h"
#include "commands.h"

static const char usage[] =
"usage: gear-init [-v]\n";

int cmd_init(int argc, char **argv)
{
        return container_cmd_host(argc, argv, usage, VERB_INIT);
}
