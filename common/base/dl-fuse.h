/* libfuse3: the gear-fs mount, opened on first use (see dl.h) */
#ifndef GEAR_DL_FUSE_H
#define GEAR_DL_FUSE_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "dl.h"

#define DL_FUSE_SYMS(X) \
        X(fuse_add_direntry) \
        X(fuse_daemonize) \
        X(fuse_loop_cfg_create) \
        X(fuse_loop_cfg_destroy) \
        X(fuse_loop_cfg_set_clone_fd) \
        X(fuse_loop_cfg_set_max_threads) \
        X(fuse_lowlevel_notify_store) \
        X(fuse_remove_signal_handlers) \
        X(fuse_reply_attr) \
        X(fuse_reply_buf) \
        X(fuse_reply_data) \
        X(fuse_reply_entry) \
        X(fuse_reply_err) \
        X(fuse_reply_open) \
        X(fuse_reply_readlink) \
        X(fuse_reply_statfs) \
        X(fuse_reply_xattr) \
        X(fuse_req_userdata) \
        X(fuse_session_destroy) \
        X(fuse_session_fd) \
        X(fuse_session_loop_mt) \
        X(fuse_session_mount) \
        X(fuse_session_new) \
        X(fuse_session_process_buf) \
        X(fuse_session_receive_buf) \
        X(fuse_session_unmount) \
        X(fuse_set_signal_handlers)

DL_FUSE_SYMS(DL_DECLARE)

/* opens libfuse3.so.3 once; 0, or -1 naming what is missing */
int dl_fuse(struct gear_err *e);

#endif
