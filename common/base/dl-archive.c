/* libarchive.so.13, opened on first use */
#include "dl-archive.h"

DL_ARCHIVE_SYMS(DL_DEFINE)

static const struct dl_sym syms[] = { DL_ARCHIVE_SYMS(DL_ENTRY) };
static struct dl_lib lib = DL_LIB("libarchive.so.13", syms);

int dl_archive(struct gear_err *e)
{
        return dl_open(&lib, e);
}
