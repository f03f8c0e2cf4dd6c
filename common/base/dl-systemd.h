/* libsystemd: the service manager's bus, the journal, readiness, opened on first use (see dl.h) */
#ifndef GEAR_DL_SYSTEMD_H
#define GEAR_DL_SYSTEMD_H

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "dl.h"

#define DL_SYSTEMD_SYMS(X) \
        X(sd_bus_call) \
        X(sd_bus_call_method) \
        X(sd_bus_error_free) \
        X(sd_bus_error_has_name) \
        X(sd_bus_error_is_set) \
        X(sd_bus_flush_close_unref) \
        X(sd_bus_is_bus_client) \
        X(sd_bus_match_signal) \
        X(sd_bus_message_append) \
        X(sd_bus_message_appendv) \
        X(sd_bus_message_enter_container) \
        X(sd_bus_message_exit_container) \
        X(sd_bus_message_new_method_call) \
        X(sd_bus_message_read) \
        X(sd_bus_message_skip) \
        X(sd_bus_new) \
        X(sd_bus_open_system) \
        X(sd_bus_open_user) \
        X(sd_bus_process) \
        X(sd_bus_set_address) \
        X(sd_bus_start) \
        X(sd_bus_wait) \
        X(sd_journal_add_disjunction) \
        X(sd_journal_add_match) \
        X(sd_journal_close) \
        X(sd_journal_get_data) \
        X(sd_journal_get_realtime_usec) \
        X(sd_journal_next) \
        X(sd_journal_open) \
        X(sd_journal_previous) \
        X(sd_journal_seek_tail) \
        X(sd_notify) \
        X(sd_bus_unref) \
        X(sd_bus_message_unref) \
        X(sd_bus_slot_unref)

DL_SYSTEMD_SYMS(DL_DECLARE)

/* opens libsystemd.so.0 once; 0, or -1 naming what is missing */
int dl_systemd(struct gear_err *e);

/* sd-bus.h's cleanup helpers call the library directly; these go through the pointers */
static inline void sym_sd_bus_unrefp(sd_bus **p) { if (*p) sym_sd_bus_unref(*p); }
static inline void sym_sd_bus_flush_close_unrefp(sd_bus **p) { if (*p) sym_sd_bus_flush_close_unref(*p); }
static inline void sym_sd_bus_message_unrefp(sd_bus_message **p) { if (*p) sym_sd_bus_message_unref(*p); }
static inline void sym_sd_bus_slot_unrefp(sd_bus_slot **p) { if (*p) sym_sd_bus_slot_unref(*p); }
/* an error that is set was set by the library: it is loaded */
static inline void sym_sd_bus_error_freep(sd_bus_error *e) { if (sym_sd_bus_error_free) sym_sd_bus_error_free(e); }

#endif
