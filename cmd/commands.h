#ifndef GEAR_COMMANDS_H
#define GEAR_COMMANDS_H

int cmd_auth_keys_command(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_env(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_ports(int argc, char **argv);
int cmd_set_env(int argc, char **argv);

#endif
