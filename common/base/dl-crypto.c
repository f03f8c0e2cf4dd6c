/* libcrypto.so.3, opened on first use */
#include "dl-crypto.h"

DL_CRYPTO_SYMS(DL_DEFINE)

static const struct dl_sym syms[] = { DL_CRYPTO_SYMS(DL_ENTRY) };
static struct dl_lib lib = DL_LIB("libcrypto.so.3", syms);

int dl_crypto(struct gear_err *e)
{
        return dl_open(&lib, e);
}
