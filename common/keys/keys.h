/* Folder keys/: SSH keys and access; may use base/ to ports/. (common/README) */
/*
 * SSH public keys in the container tree:
 *   keys/<fp[0:2]>/<fp>                         "TYPE BASE64", no newline
 *   access/containers/<ab>/<ID>/<fp>            -> ../../../../keys/<fp[0:2]>/<fp>
 *   access/git/read|write/<ab>/<ID>/<fp>        -> ../../../../../keys/<fp[0:2]>/<fp>
 * fp is the unpadded base64url SHA-256 of the decoded key blob. The lock of keys/ is
 * held shared while keys are written and linked, and exclusively by keys_clean,
 * so a key is never removed between its write and its first link.
 */
#ifndef GEAR_KEYS_H
#define GEAR_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/err.h"
#include "../base/id.h"
#include "../base/tree.h"

#define KEY_LINE_MAX 16384           /* bytes per authorized_keys line */
#define KEYS_MAX 4096                /* keys per input */
#define KEYS_INPUT_MAX (16u << 20)   /* bytes per input */
#define KEY_FP_LEN 43
#define KEY_FILE_MAX 8192            /* a stored key file is never larger */
/* the only remote forwarding a container key line admits: nothing an unprivileged user can bind */
#define KEYS_NO_LISTEN "127.0.0.1:1"

struct ssh_key {
        const char *type;    /* static: "ssh-ed25519", ... */
        unsigned char *blob; /* the decoded key */
        size_t blob_len;
        char fp[KEY_FP_LEN + 1];
};

struct key_set {
        struct ssh_key *keys; /* in input order, without duplicates */
        size_t n;
};

/*
 * One authorized_keys line (no newline): [OPTIONS] TYPE BASE64 [COMMENT].
 * 1 with a key in *k, 0 for a blank or comment line, -1 (code 100) when the
 * line is malformed. with_fp: also compute k->fp.
 */
int key_parse_line(const char *line, size_t len, struct ssh_key *k, bool with_fp, struct gear_err *e);
void ssh_key_done(struct ssh_key *k);
/* "TYPE BASE64" with canonical base64 (malloc'd) */
char *key_text(const struct ssh_key *k);
/* the contents of a key file: exactly "TYPE BASE64", canonical */
int key_parse_stored(const char *text, size_t len, struct ssh_key *k, bool with_fp, struct gear_err *e);
bool key_fp_valid(const char *s);

/* the keys of every line of buf added to set (empty, or made by these calls:
 * KEYS_MAX in all, each once); errors read "NAME:LINE: ..." and empty set */
int keys_parse_buf(const char *buf, size_t len, const char *name, struct key_set *set,
                   struct gear_err *e);
/* everything from fd (at most KEYS_INPUT_MAX bytes), then keys_parse_buf */
int keys_read_fd(int fd, const char *name, struct key_set *set, struct gear_err *e);
void key_set_done(struct key_set *set);

/*
 * Stores every key once and links it for every target: containers, repository
 * read access, or with write set (or the target's own write) repository write
 * access. Existing links are kept.
 * Every container and repository must exist (-1, code 1, tree unchanged,
 * when one does not); their locks are held while their keys are linked.
 */
int keys_add(struct gear_tree *t, const struct gear_target *targets, size_t ntargets,
             const struct key_set *set, bool write, struct gear_err *e);
/*
 * Removes the keys' links for every target; for a repository all of them, or
 * with write set only the write links. Keys stay until keys_clean.
 */
int keys_remove(struct gear_tree *t, const struct gear_target *targets, size_t ntargets,
                const struct key_set *set, bool write, struct gear_err *e);

enum key_access { KEY_ACCESS_SSH, KEY_ACCESS_READ, KEY_ACCESS_WRITE };

struct key_entry {
        char fp[KEY_FP_LEN + 1];
        enum key_access access; /* a repository key in both read and write: write */
        char *text;             /* "TYPE BASE64"; NULL when the key file is missing or invalid */
};

/*
 * The keys linked for a target, sorted by fingerprint; none when the tree or
 * the target's directory is missing. Reads only that target's directories and
 * its keys, writes and locks nothing. verify: check each key's fingerprint.
 */
int keys_list(struct gear_tree *t, const struct gear_target *tg, bool verify,
              struct key_entry **out, size_t *n, struct gear_err *e);
void key_entries_free(struct key_entry *v, size_t n);
const char *key_access_name(enum key_access a);

/*
 * The authorized_keys lines for sshd's user: ctr-ID (only when the container's
 * unit exists) or git-ID (only when the repository exists), with forced
 * commands running switchns. Any other user
 * gets none. Reads nothing else, writes and locks nothing.
 */
int keys_authorized(struct gear_tree *t, const char *user, const char *switchns,
                    char **out, size_t *len, struct gear_err *e);

/*
 * Removes every key with no incoming access link (the links of a container
 * or repository that does not exist do not count), and the temporary links an
 * interrupted add left in access directories, holding the lock of keys/ exclusively
 * (dry_run: only reports, without the lock). report gets kind "key" with the
 * path relative to the container tree, "keys/ab/<fp>", or kind "temp" with
 * "access/.../<ID>/.gear-tmp.*"; keys are reported sorted.
 */
int keys_clean(struct gear_tree *t, bool dry_run,
               void (*report)(const char *kind, const char *relpath, void *ud), void *ud,
               struct gear_err *e);

/* container and repository locks an add holds, shard by shard */
struct key_locks {
        int *fd;
        size_t n;
};
void key_locks_done(struct key_locks *l);
/*
 * Takes the lock of every target, containers first, each kind in shard
 * order, after checking that each exists, and checks again under the locks:
 * -1 with code 1 ("no container 'ID'", "no repository 'ID'") when one does
 * not. Creates nothing for an unknown id.
 */
int keys_lock_targets(struct gear_tree *t, const struct gear_target *targets, size_t n,
                      struct key_locks *l, struct gear_err *e);

/*
 * Removes access/containers/<ab>/<ID>/: renamed to a temporary name in the
 * same directory (so sshd never sees part of it), then emptied and removed.
 * A kill leaves either the whole directory or a temporary one that
 * keys_clean_access removes. 1 when there was one, 0 when not. The caller
 * holds the container's lock.
 */
int keys_drop_container(struct gear_tree *t, const char *id, struct gear_err *e);
/* the same for a repository's write, then read access; the caller holds its lock */
int keys_drop_repo(struct gear_tree *t, const char *id, struct gear_err *e);

/*
 * Removes the access directories of containers and repositories that do not
 * exist (each checked again under its lock) and the temporary directories an
 * interrupted keys_drop_container or keys_drop_repo left (dry_run: only
 * reports). report gets kind "access" with "access/containers/<ab>/<name>"
 * or "access/git/read|write/<ab>/<name>". Takes no the lock of keys/, so
 * it runs before keys_clean, which then removes the keys left unlinked.
 */
int keys_clean_access(struct gear_tree *t, bool dry_run,
                      void (*report)(const char *kind, const char *relpath, void *ud), void *ud,
                      struct gear_err *e);

#endif
