/* libsystemd.so.0, opened on first use */
#include "dl-systemd.h"

DL_SYSTEMD_SYMS(DL_DEFINE)

static const struct dl_sym syms[] = { DL_SYSTEMD_SYMS(DL_ENTRY) };
static struct dl_lib lib = DL_LIB("libsystemd.so.0", syms);

int dl_systemd(struct gear_err *e)
{
        return dl_open(&lib, e);
}
