/*
 * The files of share/units/, built into the binary as NUL-terminated
 * strings: they are the only copy of the unit templates, targets and slices
 * (see unit.h). The assembler reads them from the top of the source tree.
 */
#define UNIT_FILE(sym, file)            \
        .global sym;                    \
        .type sym, @object;             \
        .balign 8;                      \
sym:                                    \
        .incbin file;                   \
        .byte 0;                        \
        .size sym, . - sym

        .section .rodata
UNIT_FILE(unit_template, "share/units/ctr.service.in")
UNIT_FILE(unit_gear_template, "share/units/ctr-gear.service.in")
UNIT_FILE(unit_gear_fs_template, "share/units/gear-fs-image.service.in")
UNIT_FILE(unit_idle_socket_template, "share/units/ctr-idle.socket.in")
UNIT_FILE(unit_idle_proxy_template, "share/units/ctr-idle.service.in")
UNIT_FILE(unit_switchns_socket_template, "share/units/gear-switchns.socket.in")
UNIT_FILE(unit_switchns_service_template, "share/units/gear-switchns@.service.in")
UNIT_FILE(unit_daemon_socket_template, "share/units/gear-daemon.socket.in")
UNIT_FILE(unit_daemon_service_template, "share/units/gear-daemon.service.in")
UNIT_FILE(unit_container_target, "share/units/container.target")
UNIT_FILE(unit_container_active_target, "share/units/container-active.target")
UNIT_FILE(unit_container_slice, "share/units/container.slice")
UNIT_FILE(unit_container_small_slice, "share/units/container-small.slice")

        .section .note.GNU-stack, "", @progbits
