/* libarchive: tar streams in and out, opened on first use (see dl.h) */
#ifndef GEAR_DL_ARCHIVE_H
#define GEAR_DL_ARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "dl.h"

#define DL_ARCHIVE_SYMS(X) \
        X(archive_entry_clear) \
        X(archive_entry_copy_hardlink) \
        X(archive_entry_dev) \
        X(archive_entry_filetype) \
        X(archive_entry_free) \
        X(archive_entry_gid) \
        X(archive_entry_hardlink) \
        X(archive_entry_ino64) \
        X(archive_entry_linkify) \
        X(archive_entry_linkresolver_free) \
        X(archive_entry_linkresolver_new) \
        X(archive_entry_linkresolver_set_strategy) \
        X(archive_entry_mode) \
        X(archive_entry_mtime) \
        X(archive_entry_mtime_is_set) \
        X(archive_entry_mtime_nsec) \
        X(archive_entry_new) \
        X(archive_entry_pathname) \
        X(archive_entry_rdev) \
        X(archive_entry_set_filetype) \
        X(archive_entry_set_gid) \
        X(archive_entry_set_gname) \
        X(archive_entry_set_hardlink) \
        X(archive_entry_set_mode) \
        X(archive_entry_set_mtime) \
        X(archive_entry_set_pathname) \
        X(archive_entry_set_perm) \
        X(archive_entry_set_rdev) \
        X(archive_entry_set_size) \
        X(archive_entry_set_symlink) \
        X(archive_entry_set_uid) \
        X(archive_entry_set_uname) \
        X(archive_entry_size) \
        X(archive_entry_symlink) \
        X(archive_entry_uid) \
        X(archive_entry_xattr_add_entry) \
        X(archive_entry_xattr_next) \
        X(archive_entry_xattr_reset) \
        X(archive_errno) \
        X(archive_error_string) \
        X(archive_read_data) \
        X(archive_read_disk_descend) \
        X(archive_read_disk_new) \
        X(archive_read_disk_open) \
        X(archive_read_disk_set_behavior) \
        X(archive_read_disk_set_symlink_physical) \
        X(archive_read_free) \
        X(archive_read_new) \
        X(archive_read_next_header) \
        X(archive_read_next_header2) \
        X(archive_read_open) \
        X(archive_read_open_fd) \
        X(archive_read_open_filename) \
        X(archive_read_open_memory) \
        X(archive_read_support_filter_bzip2) \
        X(archive_read_support_filter_gzip) \
        X(archive_read_support_filter_xz) \
        X(archive_read_support_filter_zstd) \
        X(archive_read_support_format_tar) \
        X(archive_set_error) \
        X(archive_write_add_filter_gzip) \
        X(archive_write_close) \
        X(archive_write_data) \
        X(archive_write_free) \
        X(archive_write_header) \
        X(archive_write_new) \
        X(archive_write_open) \
        X(archive_write_open_fd) \
        X(archive_write_set_bytes_in_last_block) \
        X(archive_write_set_format_gnutar) \
        X(archive_write_set_filter_option) \
        X(archive_write_set_format_option) \
        X(archive_write_set_format_pax) \
        X(archive_write_set_format_raw) \
        X(archive_write_set_format_zip)

DL_ARCHIVE_SYMS(DL_DECLARE)

/* opens libarchive.so.13 once; 0, or -1 naming what is missing */
int dl_archive(struct gear_err *e);

#endif
