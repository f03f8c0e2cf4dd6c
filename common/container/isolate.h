/*
 * Per-container isolation: a host user ctr-<ID> of its own and an SELinux
 * MCS level derived from that user's uid.
 *
 * Container users get uids from a range of their own, ISOLATE_UID_MIN to
 * ISOLATE_UID_MAX, which has exactly as many uids as there are pairs of MCS
 * categories c0..c1023. The uid's offset n = uid - ISOLATE_UID_MIN names the
 * n-th pair (a, b), a < b, in the order (0,1) (0,2) (1,2) (0,3) (1,3) (2,3)...:
 * b is the largest integer with b(b-1)/2 <= n and a = n - b(b-1)/2. The
 * level is "s0:c<a>,c<b>": two containers never share it, and a container
 * keeps it for as long as it keeps its user.
 */
#ifndef GEAR_ISOLATE_H
#define GEAR_ISOLATE_H

#include <stdbool.h>
#include <sys/types.h>

#include "../base/account.h"
#include "../base/err.h"
#include "../base/id.h"

#define ISOLATE_CATEGORIES 1024u
#define ISOLATE_PAIRS (ISOLATE_CATEGORIES * (ISOLATE_CATEGORIES - 1) / 2)
#define ISOLATE_UID_MIN 1000000u
#define ISOLATE_UID_MAX (ISOLATE_UID_MIN + ISOLATE_PAIRS - 1)

/* "ctr-" + an identifier */
#define ISOLATE_NAME_MAX ACCOUNT_NAME_MAX
/* "s0:c1023,c1023" */
#define ISOLATE_LEVEL_MAX 24

struct isolate_user {
        uid_t uid;
        gid_t gid;
        char name[ISOLATE_NAME_MAX];
        char level[ISOLATE_LEVEL_MAX];
};

/* "ctr-<id>"; id must be valid */
void isolate_user_name(const char *id, char buf[static ISOLATE_NAME_MAX]);

/* the MCS level of uid; -1 (code 100) when uid is outside the range */
int isolate_mcs_level(uid_t uid, char buf[static ISOLATE_LEVEL_MAX], struct gear_err *e);
/* the uid whose level is "s0:c<a>,c<b>"; -1 when it is not one of ours */
int isolate_level_uid(const char *level, uid_t *uid);

/*
 * Checks a level against the loaded policy when SELinux is enabled (with
 * libselinux); 0 without SELinux. -1 (code 111) when the policy refuses it.
 */
int isolate_level_check(const char *level, struct gear_err *e);

/* the user of id: -ENOENT (code 1) when there is none */
int isolate_user_lookup(const char *id, struct isolate_user *u, struct gear_err *e);
/* the container whose user has uid: a ctr-<id> gear made (its comment says so),
   in the range; -ENOENT (code 1) for any other uid */
int isolate_user_of_uid(uid_t uid, gear_id id, struct isolate_user *u, struct gear_err *e);
/*
 * The user of id, created when missing as base/account.h makes accounts
 * (password "*", home "/", shell /bin/sh, comment "gear container ID"),
 * its uid taken from the range. A user that exists with a uid outside the
 * range is refused (code 1): its level could be another container's.
 */
int isolate_user_ensure(const char *id, struct isolate_user *u, struct gear_err *e);
/* removes the user of id with userdel(8) when gear created it; 0 when absent */
int isolate_user_remove(const char *id, struct gear_err *e);

#endif
