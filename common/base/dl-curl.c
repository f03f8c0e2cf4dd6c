/* libcurl.so.4, opened on first use */
#include "dl-curl.h"

DL_CURL_SYMS(DL_DEFINE)

static const struct dl_sym syms[] = { DL_CURL_SYMS(DL_ENTRY) };
static struct dl_lib lib = DL_LIB("libcurl.so.4", syms);

int dl_curl(struct gear_err *e)
{
        return dl_open(&lib, e);
}
