#!/bin/sh
test_description='what containers and images hold is root-only: overlays, volumes, mounts, objects, the cache, environments'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

EXP=localhost/gear-test-exposure:latest
M="$IMG/containers/t321a/merged"
VOL="$CTR/data/t3/t321a/vol"
# nobody CMD...: CMD as user nobody; as_nobody: the same in the manager's namespace (its mounts)
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_nobody() { g setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# refused CMD...: CMD fails as nobody in the manager's namespace, for want of permission
refused() { test_must_fail as_nobody "$@" 2>err && grep "Permission denied" err; }
# refused_exec FILE: nobody cannot run FILE (setpriv itself still holds root's
# capabilities when it calls execve: a shell of nobody's runs it)
refused_exec() { refused /bin/sh -c 'exec "$0"' "$1"; }
# obj HEX: the objects/ file of a content
obj() { echo "$IMG/objects/$(echo $1 | cut -c1-2)/$(echo $1 | cut -c3-)"; }
test_atexit 'podman rmi -f $EXP >/dev/null 2>&1'
test_atexit 'gear-test-systemd stop "$SD"'

test_expect_success 'setup: an image with a setuid-root program, a device node and a private key' '
	test_gear_conf "gear-bin=$GEAR_BUILD/bin" &&
	mkdir -p rootfs/bin rootfs/etc rootfs/tmp rootfs/vol &&
	cp /bin/busybox rootfs/bin/ &&
	for c in sh sleep cat cp chmod; do ln -s busybox rootfs/bin/$c || return 1; done &&
	cat >euid.c <<-\EOC &&
	#include <stdio.h>
	#include <unistd.h>
	int main(void) { printf("%d\n", (int)geteuid()); return 0; }
	EOC
	gcc -static -o rootfs/bin/euid euid.c &&
	chmod 4755 rootfs/bin/euid &&
	printf "#!/bin/sh\ntrap \"exit 0\" TERM\nwhile :; do sleep 1 & wait; done\n" >rootfs/bin/run &&
	chmod 0755 rootfs/bin/run &&
	mknod rootfs/null c 1 3 &&
	chmod 0666 rootfs/null &&
	echo "private key of t3210" >rootfs/etc/key &&
	chmod 0600 rootfs/etc/key &&
	key=$(sha256sum <rootfs/etc/key | cut -c1-64) &&
	echo $key >key.hex &&
	tar -C rootfs -cf rootfs.tar . &&
	podman import --change "CMD [\"/bin/run\"]" rootfs.tar $EXP >/dev/null &&
	rm -f exp.tar &&
	podman save --format docker-archive -o exp.tar $EXP >/dev/null &&
	gear-build docker-archive:exp.tar exp >/dev/null &&
	gear-test-systemd start "$SD" &&
	g gear-install -v vol:/vol --start gear:exp t321a SECRET=hunter2 >/dev/null &&
	g podman exec ctr-t321a cat /etc/key >out &&
	test_cmp rootfs/etc/key out &&
	as_nobody ls "$GEAR_SYSROOT/var/lib" >/dev/null
'

test_expect_success 'inside the container a setuid-root program still runs as root' '
	g findmnt -n -o OPTIONS "$M" >opts &&
	grep "^ro\|^rw" opts &&
	test_must_fail grep "nosuid" opts &&
	g podman exec --user 65534 ctr-t321a /bin/euid >out &&
	echo 0 >expect &&
	test_cmp expect out
'

test_expect_success 'the trees through which the overlay and volumes are reached are root-only' '
	test "$(stat -c %a "$IMG")" = 700 &&
	test "$(stat -c %a "$IMG/containers")" = 700 &&
	test "$(stat -c %a "$IMG/mnt")" = 700 &&
	test "$(stat -c %a "$CTR/data")" = 700 &&
	test "$(stat -c %a "$CTR/data/t3/t321a")" = 700 &&
	test "$(stat -c %a "$VOL")" = 755
'

test_expect_success 'nobody cannot run the image setuid-root program through the overlay' '
	g "$M/bin/euid" >out &&
	echo 0 >expect &&
	test_cmp expect out &&
	refused_exec "$M/bin/euid"
'

test_expect_success 'nobody cannot open the image device node through the overlay' '
	refused head -c1 "$M/null"
'

test_expect_success 'nobody cannot run a setuid file root in the container wrote to upper/ or a volume' '
	g podman exec ctr-t321a sh -c "cp /bin/euid /tmp/su && chmod 4755 /tmp/su && cp /bin/euid /vol/su && chmod 4755 /vol/su" &&
	test -u "$IMG/containers/t321a/upper/tmp/su" &&
	test -u "$VOL/su" &&
	refused_exec "$IMG/containers/t321a/upper/tmp/su" &&
	refused_exec "$M/tmp/su" &&
	refused_exec "$VOL/su"
'

test_expect_success 'nobody cannot read an environment file' '
	f="$CTR/env/contents/t3/t321a" &&
	grep -x SECRET=hunter2 "$f" &&
	test "$(stat -c %a "$f")" = 600 &&
	test "$(stat -c %a "$CTR/env")" = 700 &&
	refused cat "$f"
'

test_expect_success 'nobody cannot read an image 0600 file in objects/ or public/' '
	key=$(cat key.hex) &&
	test -f "$(obj $key)" &&
	test "$(stat -c %a "$(obj $key)")" = 400 &&
	test "$(stat -c %a "$IMG/objects")" = 700 &&
	refused cat "$(obj $key)" &&
	test -f "$(pub $key)" &&
	test "$(stat -c %a "$(pub $key)")" = 400 &&
	test "$(stat -c %a "$IMG/public")" = 700 &&
	refused cat "$(pub $key)" &&
	refused cat "$IMG/mnt/exp/latest/etc/key" &&
	refused cat "$M/etc/key"
'

test_expect_success 'a mount open to other users enforces the image own modes' '
	start_fs exp fsm -o allow_other &&
	nobody cat fsm/bin/run >out &&
	test_cmp rootfs/bin/run out &&
	test_must_fail nobody cat fsm/etc/key 2>err &&
	grep "Permission denied" err &&
	stop_fs fsm
'

test_expect_success 'install makes the overlay parents of an older tree root-only again' '
	chmod 0755 "$IMG" "$IMG/containers" "$IMG/mnt" &&
	as_nobody head -c1 "$M/null" &&
	g gear-install gear:exp t321b >/dev/null &&
	test "$(stat -c %a "$IMG")" = 700 &&
	test "$(stat -c %a "$IMG/containers")" = 700 &&
	test "$(stat -c %a "$IMG/mnt")" = 700 &&
	refused head -c1 "$M/null"
'

test_expect_success 'gear-init makes every such directory of an older tree root-only again' '
	chmod 0755 "$IMG" "$IMG/containers" "$IMG/mnt" "$IMG/objects" "$IMG/public" "$IMG/build" \
		"$CTR/data" "$CTR/env" &&
	as_nobody /bin/sh -c '\''exec "$0"'\'' "$M/bin/euid" >out &&
	echo 0 >expect &&
	test_cmp expect out &&
	g gear-init >/dev/null &&
	for d in "$IMG" "$IMG/containers" "$IMG/mnt" "$IMG/objects" "$IMG/public" "$IMG/build" \
		"$CTR/data" "$CTR/env"; do
		test "$(stat -c %a "$d")" = 700 || { echo "$d is $(stat -c %a "$d")"; return 1; }
	done &&
	refused_exec "$M/bin/euid" &&
	refused_exec "$VOL/su"
'

test_expect_success 'cleanup' '
	g gear-delete t321a t321b
'

test_done
