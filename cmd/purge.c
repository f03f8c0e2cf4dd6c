/* gear-purge: stop and disable every gear unit, target and slice of this host */
#include "commands.h"
#include "../common/base/err.h"
#include "../common/container/container-cmd.h"

static const char usage[] =
"usage: gear-purge [-v]\n";

int cmd_purge(int argc, char **argv)
{
        return container_cmd_host(argc, argv, usage, VERB_PURGE);
}
