#!/bin/sh
test_description='gear-gc: the public/ cache trimmed, oldest access first, never what a mounted image needs'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

test_atexit 'for m in m1 m2; do fusermount3 -u -q $m; done'
test_atexit 'rm -f hold; for p in holder.pid pull.pid gc.pid; do test -f $p && kill $(cat $p); done'
F="$TRASH_DIRECTORY/fresh/var/lib/gear"

# hold_lock FILE [-s]: flock(1) on FILE (exclusive, or shared) until "hold" is removed
hold_lock() {
	: >hold &&
	{ flock $2 "$1" sh -c "while test -e hold; do sleep 0.05; done" & } &&
	echo $! >holder.pid &&
	i=0 &&
	until grep -q "FLOCK .* $(cat holder.pid) " /proc/locks; do
		i=$((i + 1))
		test $i -lt 100 || return 1
		sleep 0.05
	done
}
release_lock() { rm -f hold && wait $(cat holder.pid) && rm -f holder.pid; }

unique=4925746786b4e353075669b0325032fd16e0c1585965c81ed135e14a8ae6d5bd
busybox=3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6
passwd=b6c593b0bdccd482c5ccf5f4de4ada37f7e1f44091afcd32ecfd3891584dc296
libfake=b215566f4ef7f77419b1075eb67323e2f3697f5d9d840cad3f871e9234a311a6
hl1=2d224def5335f2fe98f2c42c53d17da5cf71baa9ab1e936f90e6dfef85b1d230

test_expect_success 'FUSE is usable here' '
	fs_ready
'

test_expect_success 'usage errors exit 100; an empty image tree has nothing to remove' '
	test_expect_code 100 gear-gc --max-size 12X 2>err &&
	grep -x "gear-gc: invalid size '\''12X'\''" err &&
	test_expect_code 100 gear-gc extra 2>err &&
	gear-gc >out &&
	echo "removed 0 objects, 0 bytes; kept 0 objects, 0 bytes" >expect &&
	test_cmp expect out
'

test_expect_success 'fill the cache through two images' '
	build-test-images --big 3 imgs >/dev/null 2>&1 &&
	gear-build oci:imgs/oci:multi test/multi >/dev/null &&
	gear-build oci:imgs/oci:other test/other >/dev/null &&
	start_fs test/other m2 &&
	cat m2/opt/unique m2/bin/busybox m2/etc/passwd m2/usr/lib/libfake.so >/dev/null &&
	stop_fs m2 &&
	start_fs test/multi m1 &&
	cat m1/etc/passwd m1/data/hl1 >/dev/null &&
	for h in $unique $busybox $passwd $libfake $hl1; do test -f "$(pub $h)" || return 1; done
'

test_expect_success 'with test/multi mounted only the content no mounted image has can go' '
	gear-gc --dry-run >out &&
	cat >expect <<-EOF &&
	would remove sha256:$unique 14
	would remove 1 objects, 14 bytes; kept 4 objects, $((1982256 + 67 + 300000 + 21)) bytes
	EOF
	test_cmp expect out &&
	test -f "$(pub $unique)" &&
	gear-gc --max-size 0 >out &&
	sed "s/would remove/removed/" expect >expect2 &&
	test_cmp expect2 out &&
	test ! -e "$(pub $unique)" &&
	for h in $busybox $passwd $libfake $hl1; do test -f "$(pub $h)" || return 1; done &&
	cmp m1/data/hl1 m1/data/hl2
'

test_expect_success 'unmounted, the least recently accessed go first until the size is reached' '
	stop_fs m1 &&
	touch -a -d "2001-01-01" "$(pub $libfake)" &&
	touch -a -d "2002-01-01" "$(pub $hl1)" &&
	touch -a -d "2003-01-01" "$(pub $passwd)" &&
	touch -a -d "2004-01-01" "$(pub $busybox)" &&
	gear-gc --max-size 1982344 >out &&
	cat >expect <<-EOF &&
	removed sha256:$libfake 300000
	removed 1 objects, 300000 bytes; kept 3 objects, $((1982256 + 67 + 21)) bytes
	EOF
	test_cmp expect out &&
	gear-gc --max-size 1982300 >out &&
	cat >expect <<-EOF &&
	removed sha256:$hl1 21
	removed sha256:$passwd 67
	removed 2 objects, 88 bytes; kept 1 objects, 1982256 bytes
	EOF
	test_cmp expect out &&
	gear-gc --max-size 1K >out &&
	test "$(tail -n 1 out)" = "removed 1 objects, 1982256 bytes; kept 0 objects, 0 bytes" &&
	test -z "$(find "$IMG/public" -type f)"
'

test_expect_success 'a mount after gc fetches again' '
	start_fs test/multi m1 &&
	cat m1/data/hl1 >got &&
	test -f "$(pub $hl1)" &&
	stop_fs m1
'

test_expect_success 'setup: test/multi opens three files and goes to a directory store' '
	start_fs test/multi m1 &&
	cat m1/etc/passwd m1/usr/lib/libfake.so m1/data/hl1 >/dev/null &&
	stop_fs m1 &&
	mkdir store &&
	gear-push test/multi store >/dev/null
'

test_expect_success 'what gear-pull --prefetch fetched is kept while it runs' '
	mkdir -p "$F/public/2d" &&
	hold_lock "$F/public/2d/.${hl1#2d}.lock" &&
	{ GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --prefetch store test/multi >pull.out 2>pull.err & } &&
	echo $! >pull.pid &&
	i=0 &&
	until test -f "$(IMG=$F pub $passwd)" && test -f "$(IMG=$F pub $libfake)"; do
		i=$((i + 1))
		test $i -lt 200 || return 1
		sleep 0.05
	done &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-gc --max-size 0 >out &&
	echo "removed 0 objects, 0 bytes; kept 2 objects, $((67 + 300000)) bytes" >expect &&
	test_cmp expect out &&
	release_lock &&
	wait $(cat pull.pid) &&
	rm pull.pid &&
	sed -n 2p pull.out >got &&
	echo "prefetched 3 of 3 files, $((67 + 300000 + 21)) bytes ($((67 + 300000 + 21)) on the wire), 0 present" >expect &&
	test_cmp expect got &&
	for h in $passwd $libfake $hl1; do test -f "$(IMG=$F pub $h)" || return 1; done
'

test_expect_success 'once it is done, gc may remove them' '
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-gc --max-size 0 >out &&
	test "$(tail -n 1 out)" = "removed 3 objects, $((67 + 300000 + 21)) bytes; kept 0 objects, 0 bytes"
'

test_expect_success 'a prefetch and a mount wait for a gc under way, a gc for their start' '
	hold_lock "$F/public" -x &&
	{ GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --prefetch store test/multi >pull.out 2>pull.err & } &&
	echo $! >pull.pid &&
	waits_on_lock $(cat pull.pid) &&
	test -z "$(find "$F/public" -type f ! -name ".*")" &&
	release_lock &&
	wait $(cat pull.pid) &&
	rm pull.pid &&
	for h in $passwd $libfake $hl1; do test -f "$(IMG=$F pub $h)" || return 1; done &&
	hold_lock "$F/public" -x &&
	mkdir -p m3 &&
	{ GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-fs -f test/multi m3 2>m3.err & } &&
	echo $! >m3.pid &&
	waits_on_lock $(cat m3.pid) &&
	! grep -q " $PWD/m3 fuse.gear " /proc/mounts &&
	release_lock &&
	i=0 &&
	until grep -q " $PWD/m3 fuse.gear " /proc/mounts; do
		i=$((i + 1))
		test $i -lt 100 || return 1
		sleep 0.05
	done &&
	fusermount3 -u m3 &&
	wait $(cat m3.pid) &&
	hold_lock "$F/public" -s &&
	{ GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-gc --max-size 0 >out & } &&
	echo $! >gc.pid &&
	waits_on_lock $(cat gc.pid) &&
	release_lock &&
	wait $(cat gc.pid) &&
	rm gc.pid &&
	test "$(tail -n 1 out)" = "removed 3 objects, $((67 + 300000 + 21)) bytes; kept 0 objects, 0 bytes"
'

test_done
