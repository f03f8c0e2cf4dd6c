/* libgit2.so.1.5, opened on first use */
#include "dl-git2.h"

DL_GIT2_SYMS(DL_DEFINE)

static const struct dl_sym syms[] = { DL_GIT2_SYMS(DL_ENTRY) };
static struct dl_lib lib = DL_LIB("libgit2.so.1.5", syms);

int dl_git2(struct gear_err *e)
{
        return dl_open(&lib, e);
}
