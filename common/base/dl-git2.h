/* libgit2: bare repositories, clones and tree walks, opened on first use (see dl.h) */
#ifndef GEAR_DL_GIT2_H
#define GEAR_DL_GIT2_H

#include <git2.h>

#include "dl.h"

#define DL_GIT2_SYMS(X) \
        X(git_attr_get_ext) \
        X(git_attr_value) \
        X(git_blob_free) \
        X(git_blob_lookup) \
        X(git_blob_rawcontent) \
        X(git_blob_rawsize) \
        X(git_buf_dispose) \
        X(git_commit_id) \
        X(git_commit_time) \
        X(git_commit_tree) \
        X(git_error_last) \
        X(git_fetch_options_init) \
        X(git_libgit2_init) \
        X(git_libgit2_opts) \
        X(git_object_free) \
        X(git_odb_free) \
        X(git_odb_read_header) \
        X(git_object_id) \
        X(git_object_lookup) \
        X(git_object_peel) \
        X(git_object_type) \
        X(git_oid_fromstr) \
        X(git_oid_tostr_s) \
        X(git_reference_dwim) \
        X(git_reference_free) \
        X(git_reference_name_is_valid) \
        X(git_reference_peel) \
        X(git_remote_connect) \
        X(git_remote_create_anonymous) \
        X(git_remote_default_branch) \
        X(git_remote_fetch) \
        X(git_remote_free) \
        X(git_repository_free) \
        X(git_repository_init_ext) \
        X(git_repository_init_options_init) \
        X(git_repository_odb) \
        X(git_repository_open_ext) \
        X(git_repository_set_head) \
        X(git_repository_set_workdir) \
        X(git_tree_entry_filemode) \
        X(git_tree_entry_id) \
        X(git_tree_entry_name) \
        X(git_tree_free) \
        X(git_tree_walk)

DL_GIT2_SYMS(DL_DECLARE)

/* opens libgit2.so.1.5 once; 0, or -1 naming what is missing */
int dl_git2(struct gear_err *e);

#endif
