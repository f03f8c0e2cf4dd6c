/* libcurl: HTTP to registries, opened on first use (see dl.h) */
#ifndef GEAR_DL_CURL_H
#define GEAR_DL_CURL_H

#include <curl/curl.h>

#include "dl.h"

#define DL_CURL_SYMS(X) \
        X(curl_easy_cleanup) \
        X(curl_easy_getinfo) \
        X(curl_easy_init) \
        X(curl_easy_perform) \
        X(curl_easy_reset) \
        X(curl_easy_setopt) \
        X(curl_easy_strerror) \
        X(curl_free) \
        X(curl_global_init) \
        X(curl_slist_append) \
        X(curl_slist_free_all) \
        X(curl_url) \
        X(curl_url_cleanup) \
        X(curl_url_get) \
        X(curl_url_set)

DL_CURL_SYMS(DL_DECLARE)

/* opens libcurl.so.4 once; 0, or -1 naming what is missing */
int dl_curl(struct gear_err *e);

#endif
