/* gear-purge: stop and disable every gear unit, target and slice of this host */
#include "../common/container-cmd.h"
#include "../common/err.h"
#include "commands.h"

static const char usage[] =
"usage: gear-purge [-v]\n";

int cmd_purge(int argc, char **argv)
{
        return container_cmd_host(argc, argv, usage, VERB_PURGE);
}
