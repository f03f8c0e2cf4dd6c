/* gear-idle: stop containers and leave their ports listening; the first connection starts them again */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "../common/container/container-cmd.h"
#include "../common/container/container-idle.h"

static const char usage[] =
"usage: gear-idle [--timeout DURATION] [--port-range LO-HI] ID...\n"
"       gear-idle --wake ID BACKEND\n"
"       gear-idle --prime ADDRESS:PORT\n"
"       gear-idle --ended ID PORT\n";

static int port_arg(const char *s, unsigned *port)
{
        char *end;
        unsigned long v = strtoul(s, &end, 10);

        if (*s < '1' || *s > '9' || *end || v > 65535)
                return gear_usage_error(usage, "invalid port '%s'", s);
        *port = v;
        return 0;
}

/* what the proxy units of an idle-capable container run (share/units/ctr-idle.service.in) */
static int hook(int argc, char **argv)
{
        _cleanup_(gear_err_clear) struct gear_err err = {0};
        _cleanup_(tree_done) struct gear_tree tree = { .ctr.fd = -1, .img.fd = -1, .units.fd = -1 };
        _cleanup_systemd_ struct gear_systemd *m = NULL;
        const char *what = argv[1];
        unsigned port = 0;
        int r;

        if (!strcmp(what, "--prime")) {
                if (argc != 3)
                        return gear_usage_error(usage, "'--prime' takes ADDRESS:PORT");
                return container_idle_prime(argv[2], &err) < 0 ? gear_fail(&err, "cannot prime the proxy") : 0;
        }
        if (argc != 4)
                return gear_usage_error(usage, "'%s' takes ID and PORT", what);
        if (!id_valid(argv[2])) {
                gear_err_set(&err, GEAR_EXIT_USAGE, "invalid identifier '%s'", argv[2]);
                return gear_fail(&err, NULL);
        }
        if ((r = port_arg(argv[3], &port)) || tree_init(&tree, &err) < 0)
                return r ? r : gear_fail(&err, NULL);
        if (!strcmp(what, "--wake"))
                return container_idle_wake(&tree, argv[2], port, &err) < 0 ?
                       gear_fail(&err, "cannot wake '%s'", argv[2]) : 0;
        /* systemd tells ExecStopPost= how the proxy ended */
        if (systemd_open(&m, &err) < 0 ||
            container_idle_ended(&tree, m, argv[2], port, getenv("EXIT_CODE"), getenv("EXIT_STATUS"), &err) < 0)
                return gear_fail(&err, "cannot idle '%s'", argv[2]);
        return 0;
}

int cmd_idle(int argc, char **argv)
{
        if (argc > 1 && (!strcmp(argv[1], "--wake") || !strcmp(argv[1], "--prime") || !strcmp(argv[1], "--ended")))
                return hook(argc, argv);
        return container_cmd_ids(argc, argv, usage, VERB_IDLE);
}
