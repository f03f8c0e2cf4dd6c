#!/bin/sh
test_description='debian/: dpkg-buildpackage builds gear_*.deb with the commands, man pages, units, gear.conf and completion; lintian finds no error'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success 'dpkg-buildpackage -us -uc -b in a copy of the tree' '
	mkdir src &&
	(cd "$GEAR_BUILD" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar cf -) | tar xf - -C src &&
	(cd src && dpkg-buildpackage -us -uc -b >../build.log 2>&1) ||
	{ tail -n 40 build.log; false; }
'

test_expect_success 'the package: binary and links, man pages, units, gear.conf as a conffile, completion' '
	deb=$(ls gear_*.deb) &&
	dpkg-deb -c "$deb" | awk "{ print \$6 }" | sed "s|^\./|/|" | sort >files &&
	for f in /usr/bin/gear /usr/bin/gear-rmi /usr/bin/gear-build /etc/gear/gear.conf \
		/usr/lib/systemd/system/gear-gc.timer /usr/lib/systemd/system/container.target \
		/usr/lib/systemd/system/gear-daemon.socket /usr/lib/systemd/system/gear-switchns@.service \
		/usr/share/bash-completion/completions/gear /usr/share/bash-completion/completions/gear-rmi \
		/usr/share/man/man1/gear.1.gz /usr/share/man/man1/gear-rmi.1.gz /usr/share/man/man5/gear-tree.5.gz \
		/usr/share/gear/units/ctr.service.in /usr/share/doc/gear/copyright; do
		grep -x "$f" files || { echo "missing $f"; return 1; }
	done &&
	dpkg-deb -e "$deb" ctl &&
	grep -x /etc/gear/gear.conf ctl/conffiles &&
	dpkg-deb -f "$deb" Depends >depends &&
	for p in podman runc fuse3 systemd libarchive13 libfuse3-3; do
		grep -q "\(^\|, \)$p\(,\|$\| \)" depends || { echo "no dependency on $p"; return 1; }
	done &&
	dpkg-deb -f "$deb" Recommends >recommends &&
	echo openssh-server >expect &&
	test_cmp expect recommends
'

test_expect_success 'unpacked into an empty root: the commands run, the man pages read' '
	mkdir -p r/var/lib/dpkg/info r/var/lib/dpkg/updates &&
	: >r/var/lib/dpkg/status &&
	dpkg --root="$TRASH_DIRECTORY/r" --force-depends --force-script-chrootless --unpack gear_*.deb >/dev/null &&
	r/usr/bin/gear --list >got &&
	gear --list >expect &&
	test_cmp expect got &&
	r/usr/bin/gear-rmi --help >got &&
	echo "usage: gear-rmi NAME[:TAG]..." >expect &&
	test_cmp expect got &&
	man -l r/usr/share/man/man1/gear-rmi.1.gz >page 2>/dev/null &&
	grep -q "gear-rmi - remove Gear images" page
'

test_expect_success 'lintian: no errors' '
	lintian --tag-display-limit 0 gear_*.changes >lintian.out 2>&1 || { cat lintian.out; false; } &&
	{ ! grep "^E: " lintian.out || { cat lintian.out; false; }; }
'

test_done
