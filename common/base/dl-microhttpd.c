/* libmicrohttpd.so.12, opened on first use */
#include "dl-microhttpd.h"

DL_MICROHTTPD_SYMS(DL_DEFINE)

static const struct dl_sym syms[] = { DL_MICROHTTPD_SYMS(DL_ENTRY) };
static struct dl_lib lib = DL_LIB("libmicrohttpd.so.12", syms);

int dl_microhttpd(struct gear_err *e)
{
        return dl_open(&lib, e);
}
