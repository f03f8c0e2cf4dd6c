/*
 * What the lifecycle commands share: gear-start, gear-stop, gear-restart,
 * gear-idle and gear-unidle act on a list of IDs; gear-init and gear-purge act on the whole host. These
 * run a command from its argv and print, so the cmd/ files stay a usage text
 * and one call.
 */
#ifndef GEAR_CONTAINER_CMD_H
#define GEAR_CONTAINER_CMD_H

#include "../ports/ports.h"

enum ctr_verb { VERB_START, VERB_STOP, VERB_RESTART, VERB_IDLE, VERB_UNIDLE };
enum host_verb { VERB_INIT, VERB_PURGE };

struct gear_tree;
struct gear_systemd;
struct gear_err;

/*
 * What one ID's command does (gear-daemon's routes too): start, stop (and
 * wait), restart, idle (timeout NULL keeps the one the unit has; range for
 * new backends) or unidle. -ENOENT (code 1) for an unknown container.
 */
int container_act(struct gear_tree *t, struct gear_systemd *m, const char *id, enum ctr_verb verb,
                  const char *timeout, struct port_range range, struct gear_err *e);

/* every ID is checked before any is acted on; a failed job shows its state and journal */
int container_cmd_ids(int argc, char **argv, const char *usage, enum ctr_verb verb);
/* gear-init and gear-purge: -v prints each unit acted on */
int container_cmd_host(int argc, char **argv, const char *usage, enum host_verb verb);

#endif
