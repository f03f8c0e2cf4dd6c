/*
 * What the lifecycle commands share: gear-start, gear-stop, gear-restart,
 * gear-idle and gear-unidle act on a list of IDs; gear-init and gear-purge act on the whole host. These
 * run a command from its argv and print, so the cmd/ files stay a usage text
 * and one call.
 */
#ifndef GEAR_CONTAINER_CMD_H
#define GEAR_CONTAINER_CMD_H

enum ctr_verb { VERB_START, VERB_STOP, VERB_RESTART, VERB_IDLE, VERB_UNIDLE };
enum host_verb { VERB_INIT, VERB_PURGE };

/* every ID is checked before any is acted on; a failed job shows its state and journal */
int container_cmd_ids(int argc, char **argv, const char *usage, enum ctr_verb verb);
/* gear-init and gear-purge: -v prints each unit acted on */
int container_cmd_host(int argc, char **argv, const char *usage, enum host_verb verb);

#endif
