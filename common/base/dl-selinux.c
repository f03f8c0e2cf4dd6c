/* libselinux.so.1, opened on first use */
#include "dl-selinux.h"

DL_SELINUX_SYMS(DL_DEFINE)

static const struct dl_sym syms[] = { DL_SELINUX_SYMS(DL_ENTRY) };
static struct dl_lib lib = DL_LIB("libselinux.so.1", syms);

int dl_selinux(struct gear_err *e)
{
        return dl_open(&lib, e);
}
