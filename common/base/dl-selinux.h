/* libselinux: MCS labels, opened on first use (see dl.h) */
#ifndef GEAR_DL_SELINUX_H
#define GEAR_DL_SELINUX_H

#include <selinux/selinux.h>

#include "dl.h"

#define DL_SELINUX_SYMS(X) \
        X(is_selinux_enabled) \
        X(getcon_raw) \
        X(security_check_context_raw) \
        X(freecon)

DL_SELINUX_SYMS(DL_DECLARE)

/* opens libselinux.so.1 once; 0, or -1 naming what is missing */
int dl_selinux(struct gear_err *e);

#endif
