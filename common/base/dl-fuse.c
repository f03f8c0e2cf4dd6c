/* libfuse3.so.3, opened on first use */
#include "dl-fuse.h"

DL_FUSE_SYMS(DL_DEFINE)

static const struct dl_sym syms[] = { DL_FUSE_SYMS(DL_ENTRY) };
static struct dl_lib lib = DL_LIB("libfuse3.so.3", syms);

int dl_fuse(struct gear_err *e)
{
        return dl_open(&lib, e);
}
