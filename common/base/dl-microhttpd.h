/* libmicrohttpd: gear-daemon's HTTP server, opened on first use (see dl.h) */
#ifndef GEAR_DL_MICROHTTPD_H
#define GEAR_DL_MICROHTTPD_H

#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "dl.h"

#define DL_MICROHTTPD_SYMS(X) \
        X(MHD_add_response_header) \
        X(MHD_create_response_from_buffer) \
        X(MHD_create_response_from_callback) \
        X(MHD_create_response_from_fd) \
        X(MHD_destroy_response) \
        X(MHD_get_connection_info) \
        X(MHD_lookup_connection_value) \
        X(MHD_queue_response) \
        X(MHD_quiesce_daemon) \
        X(MHD_resume_connection) \
        X(MHD_start_daemon) \
        X(MHD_stop_daemon) \
        X(MHD_suspend_connection)

DL_MICROHTTPD_SYMS(DL_DECLARE)

/* opens libmicrohttpd.so.12 once; 0, or -1 naming what is missing */
int dl_microhttpd(struct gear_err *e);

#endif
