# gear: one multicall binary; see README
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/gear
SYSCONFDIR ?= /etc
# where systemd finds units: /usr/lib/systemd/system for a /usr prefix, else systemd's own answer
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/systemd/system,$(or $(shell $(PKG_CONFIG) \
	--variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system))
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# where git's own programs are (git --exec-path): git-upload-pack for gear-switchns --git
GEAR_GIT_EXEC_PATH ?= /usr/lib/git-core
PKG_CONFIG ?= pkg-config
# linked: small, and used by most commands
PKGS := jansson libzstd
# opened on first use by the code that calls them (common/base/dl.h): their headers only
DL_PKGS := libcrypto nettle libarchive libgit2 libsystemd libselinux fuse3 libcurl libmicrohttpd
CFLAGS ?= -O2 -g
GEAR_DEFS = -D_GNU_SOURCE -DGEAR_BINDIR='"$(BINDIR)"' -DGEAR_DATADIR='"$(DATADIR)"' \
	-DGEAR_GIT_EXEC_PATH='"$(GEAR_GIT_EXEC_PATH)"'
GEAR_CFLAGS = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -MMD -MP $(GEAR_DEFS) \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) $(DL_PKGS) 2>/dev/null)
GEAR_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lresolv -lpthread
# tests and fuzz targets also call the libraries themselves, to craft their input
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) $(DL_PKGS) 2>/dev/null) -lresolv -lpthread
FUZZ_SECONDS ?= 10

# common/ holds one folder per subsystem (common/README)
COMMON_SRC := $(sort $(wildcard common/*/*.c))
COMMON_OBJ := $(COMMON_SRC:.c=.o) $(patsubst %.S,%.o,$(wildcard common/*/*.S))
CMD_OBJ := $(patsubst %.c,%.o,$(sort $(wildcard cmd/*.c)))
UNIT_BIN := $(patsubst %.c,%,$(sort $(wildcard t/unit/test-*.c)))
FUZZ_BIN := $(patsubst %.c,%,$(sort $(wildcard fuzz/fuzz-*.c)))
MAN := $(sort $(wildcard doc/*.1 doc/*.5))

all: gear bin/.stamp

%.o: %.c
	$(CC) $(GEAR_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# share/units/ built in: the only copy of the unit files
UNIT_FILES := $(wildcard share/units/*.in share/units/*.target share/units/*.slice)
common/systemd/unit-files.o fuzz/obj/systemd/unit-files.o: $(UNIT_FILES)
%.o: %.S
	$(CC) -c -o $@ $<

common/libgear.a: $(COMMON_OBJ)
	$(AR) rcs $@ $^

gear: $(CMD_OBJ) common/libgear.a
	$(CC) $(LDFLAGS) -o $@ $^ $(GEAR_LIBS)

# bin/gear-NAME links, so tests and the demo run the build without installing it
bin/.stamp: gear
	rm -rf bin && mkdir bin && ln -s ../gear bin/gear
	for c in $$(./gear --list); do ln -s ../gear bin/gear-$$c; done
	touch $@

# without debug sections: libcurl's enum names (CURLOPT_FTP_SKIP_PASV_IP) in
# them read as a TAP skip to scanners of the test binaries; none skips
t/unit/%: t/unit/%.c common/libgear.a
	$(CC) $(GEAR_CFLAGS) $(CFLAGS) -Wl,--strip-debug -o $@ $< common/libgear.a $(TEST_LIBS)

# libFuzzer targets: clang, ASan and UBSan, against the library built again with them
FUZZ_CFLAGS = -std=gnu11 -g -O1 $(GEAR_DEFS) -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all $(shell $(PKG_CONFIG) --cflags $(PKGS) $(DL_PKGS) 2>/dev/null)
FUZZ_OBJ := $(patsubst common/%.c,fuzz/obj/%.o,$(COMMON_SRC)) fuzz/obj/systemd/unit-files.o
fuzz/obj/%.o: common/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
fuzz/obj/%.o: common/%.S
	@mkdir -p $(dir $@)
	clang -c -o $@ $<
fuzz/libgear-fuzz.a: $(FUZZ_OBJ)
	$(AR) rcs $@ $^
fuzz/%: fuzz/%.c fuzz/libgear-fuzz.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< fuzz/libgear-fuzz.a $(TEST_LIBS)

deps:
	scripts/setup-deps

test: all $(UNIT_BIN)
	scripts/run-tests $(UNIT_BIN)

fuzz: $(FUZZ_BIN)
	scripts/run-fuzz $(FUZZ_SECONDS) $(FUZZ_BIN)

# the README's first command: gear end to end in a scratch directory
demo: deps
	$(MAKE) all
	scripts/demo

check: deps
	$(MAKE) all
	$(MAKE) test
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

SYSTEMD_UNITS := container.target container-active.target container.slice container-small.slice \
	gear-gc.service gear-gc.timer gear-recompress.service gear-recompress.timer gear-switchns.socket gear-switchns@.service gear-daemon.socket \
	gear-daemon.service

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DATADIR)/units
	install -m 0755 gear $(DESTDIR)$(BINDIR)/gear
	for c in $$(./gear --list); do ln -sf gear $(DESTDIR)$(BINDIR)/gear-$$c; done
	for m in $(filter %.1,$(MAN)); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man1/; done
	for m in $(filter %.5,$(MAN)); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man5/; done
	for u in $(wildcard share/units/*); do sed "s|@BINDIR@|$(BINDIR)|g" $$u >$(DESTDIR)$(DATADIR)/units/$${u##*/}; done
	for u in share/units/gear-switchns*.in share/units/gear-daemon*.in; do \
		case $$u in *daemon*) sock=/run/gear/gear.sock;; *) sock=/run/gear/switchns.sock;; esac; \
		sed "/^##/d; /@SYSROOT@\|@SYSTEMD@/d; s|@SOCKET@|$$sock|; s|@GEAR_BIN@|$(BINDIR)|" $$u \
			>$(DESTDIR)$(DATADIR)/units/$$(basename $$u .in); \
	done
	# the units systemd loads as they are; the rest are templates gear renders per container
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in $(SYSTEMD_UNITS); do install -m 0644 $(DESTDIR)$(DATADIR)/units/$$u $(DESTDIR)$(SYSTEMDUNITDIR)/; done
	# the host's configuration is the admin's: never overwritten
	install -d $(DESTDIR)$(SYSCONFDIR)/gear
	test -e $(DESTDIR)$(SYSCONFDIR)/gear/gear.conf || \
		sed "s|^#gear-bin=.*|#gear-bin=$(BINDIR)|" share/gear.conf >$(DESTDIR)$(SYSCONFDIR)/gear/gear.conf
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 share/completion/gear $(DESTDIR)$(BASHCOMPDIR)/gear
	for c in $$(./gear --list); do ln -sf gear $(DESTDIR)$(BASHCOMPDIR)/gear-$$c; done
	# gear-daemon's socket is the group's: its members are root-equivalent (gear-daemon(1))
	if [ -z "$(DESTDIR)" ]; then getent group gear >/dev/null || groupadd --system gear; fi
	install -d $(DESTDIR)$(DATADIR)/sshd
	sed "s|@BINDIR@|$(BINDIR)|g" share/sshd/gear.conf >$(DESTDIR)$(DATADIR)/sshd/gear.conf

clean:
	rm -rf gear bin fuzz/obj fuzz/libgear-fuzz.a common/*/*.o common/*/*.d common/libgear.a cmd/*.o cmd/*.d $(UNIT_BIN) $(FUZZ_BIN) t/trash.* fuzz/corpus.*

.PHONY: all deps demo test fuzz check install clean
-include $(wildcard common/*/*.d cmd/*.d fuzz/obj/*/*.d)
