/* Folder repo/: Git repositories and their SSH service; may use base/ to keys/. (common/README) */
/*
 * Bare Git repositories in the container tree, made and read with libgit2:
 *   git/<ab>/<ID>.git    0700, owned by the host user git-ID and its group
 * git/ and git/<ab>/ are root's and 0755, so that git-ID reaches its own
 * repository and nobody else does. A repository exists iff its directory
 * does (base/ctr-tree.h: repo_exists, repo_lock, repo_list); creation
 * builds it as git/<ab>/.gear-tmp.<ID>.* and renames it into place, removal
 * renames it back to such a name first, both under the lock of git/<ab>.
 * The temporary directory is made before the user git-ID and removed after
 * it, so a kill leaves only such a directory, and maybe the user beside it,
 * which repo_clean removes. Its SSH access (access/git/read|write/<ab>/<ID>/,
 * see keys.h) goes before it does.
 */
#ifndef GEAR_REPO_H
#define GEAR_REPO_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/account.h"
#include "../base/err.h"
#include "../base/id.h"
#include "../base/tree.h"

/* the user of a repository: git-ID, marked "gear repository ID" */
extern const struct account_kind repo_account;

/* what gear-repo's commands accept as ID: a valid identifier without ".." */
int repo_id_parse(const char *arg, gear_id id, struct gear_err *e);

/*
 * Creates the repository id and its user git-ID: empty, or a bare clone of
 * from (a URL, or a local directory) when from is not NULL. -1 with code 1
 * when it exists or git-ID is a user gear did not make; nothing is left
 * behind on failure.
 */
int repo_create(struct gear_tree *t, const char *id, const char *from, struct gear_err *e);
/*
 * Removes the repository's access, then the repository, then its user.
 * -ENOENT (code 1) when there is no repository (its user, if gear made one,
 * goes all the same).
 */
int repo_delete(struct gear_tree *t, const char *id, struct gear_err *e);
/* the absolute path of the repository's directory */
void repo_path(const struct gear_tree *t, const char *id, char buf[static PATH_MAX]);

enum repo_format { REPO_TAR, REPO_TGZ, REPO_ZIP };

/* "tar", "tar.gz" (or "tgz"), "zip"; -1 (code 100) for anything else */
int repo_format_parse(const char *s, enum repo_format *f, struct gear_err *e);
/*
 * Writes to fd an archive of the tree of ref (NULL: HEAD) with the paths,
 * modes and contents git archive gives it. ref is HEAD, a branch or tag name
 * (short or under refs/) or a full object id: anything else, and a name
 * that names nothing, is code 100. -EPIPE when fd's reader went away (with
 * SIGPIPE ignored), after the scratch directory of the walk is removed.
 */
int repo_archive(struct gear_tree *t, const char *id, const char *ref, enum repo_format f, int fd,
                 struct gear_err *e);

/* HEAD, a full object id, or a name git check-ref-format takes as a branch or under refs/: else code 100 */
int repo_ref_check(const char *ref, struct gear_err *e);

/*
 * Fetches source (a URL, or a local repository: a directory) into the
 * empty directory dir as a bare repository, and writes to fd a tar of the
 * tree of ref there (NULL: the source's HEAD, its default branch) with
 * every path under prefix ("DIR/", made first), as a checkout under umask
 * 022 has it: modes 0644 and 0755, symbolic links, and no .git. *commit is
 * the commit's id. An invalid ref, one that names nothing, or a local
 * source that is not a repository is code 100; a source that cannot be
 * reached, 111. Only what ref can name is fetched. With max_size (0: no
 * bound), more bytes received, or files in the tree larger together, are
 * code 100, each blob's size read before the blob.
 */
int repo_fetch_tree(const char *source, const char *ref, const char *dir, const char *prefix, int fd,
                    uint64_t max_size, char commit[static 41], struct gear_err *e);

/*
 * sshd's forced command for the user git-ID: the repository is the one of
 * the caller's real uid; SSH_ORIGINAL_COMMAND names the git program and the
 * path, as git quotes them. Runs git-upload-pack, git-upload-archive or,
 * with write, git-receive-pack on the repository; returns only on failure
 * (code 100 for a command it refuses, 1 for a push without write access or
 * a login without a command).
 */
int repo_serve(struct gear_tree *t, bool write, struct gear_err *e);

/*
 * What killed creates and deletes left: temporary directories in git/<ab>/
 * (kind "temp", the full path) and, beside one whose repository is gone,
 * the user git-ID gear made for it (kind "user", the user name). A shard
 * whose lock is held (a create or delete running) is left for the next run.
 */
int repo_clean(struct gear_tree *t, bool dry_run, void (*report)(const char *kind, const char *what, void *ud),
               void *ud, struct gear_err *e);

#endif
