/* OpenSSL libcrypto: SHA-256, opened on first use (see dl.h) */
#ifndef GEAR_DL_CRYPTO_H
#define GEAR_DL_CRYPTO_H

#include <openssl/evp.h>

#include "dl.h"

#define DL_CRYPTO_SYMS(X) \
        X(EVP_Digest) \
        X(EVP_DigestFinal_ex) \
        X(EVP_DigestInit_ex) \
        X(EVP_DigestUpdate) \
        X(EVP_MD_CTX_free) \
        X(EVP_MD_CTX_new) \
        X(EVP_sha256)

DL_CRYPTO_SYMS(DL_DECLARE)

/* opens libcrypto.so.3 once; 0, or -1 naming what is missing */
int dl_crypto(struct gear_err *e);

#endif
