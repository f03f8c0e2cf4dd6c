#ifndef GEAR_COMMANDS_H
#define GEAR_COMMANDS_H

int cmd_auth_keys_command(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_build_image(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_env(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_fs(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_idle(int argc, char **argv);
int cmd_images(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_install(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_list_units(int argc, char **argv);
int cmd_ports(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_purge(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_recompress(int argc, char **argv);
int cmd_repo(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_rmi(int argc, char **argv);
int cmd_set_env(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_switchns(int argc, char **argv);
int cmd_unidle(int argc, char **argv);

#endif
