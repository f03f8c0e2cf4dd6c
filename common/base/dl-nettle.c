/* libnettle.so.8, opened on first use */
#include "dl-nettle.h"

DL_NETTLE_SYMS(DL_DEFINE)

static const struct dl_sym syms[] = { DL_NETTLE_SYMS(DL_ENTRY) };
static struct dl_lib lib = DL_LIB("libnettle.so.8", syms);

int dl_nettle(struct gear_err *e)
{
        return dl_open(&lib, e);
}
