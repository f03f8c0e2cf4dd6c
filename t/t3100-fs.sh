#!/bin/sh
test_description='gear-fs: a Gear image mounted with FUSE; metadata without fetching, contents fetched once and verified'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

# meta DIR: what stat(2) says of every path (rsync would open the files)
meta() {
	(cd "$1" && find . -printf "%y %m %U %G %s %T@ %n %l %p\n" | sort &&
		find . -type c -o -type b | sort | xargs -r stat -c "%n %t %T")
}

# xattrs DIR: every extended attribute, paths sorted
xattrs() {
	(cd "$1" && find . -print0 | sort -z | xargs -0 getfattr -h -d -m - 2>&1)
}

same_tree() {
	rsync -n -aHAX$3 --modify-window=-1 --delete --itemize-changes "$1/" "$2/" >tree-diff &&
	: >tree-empty &&
	test_cmp tree-empty tree-diff
}

test_atexit 'for m in m1 m2 m3; do fusermount3 -u -q $m; done'

test_expect_success 'FUSE is usable here (/dev/fuse and fusermount3)' '
	fs_ready
'

test_expect_success 'build the test images and the reference tree' '
	build-test-images --big 8 imgs >/dev/null 2>&1 &&
	gear-build oci:imgs/oci:multi test/multi >/dev/null &&
	gear-build oci:imgs/oci:other test/other >/dev/null &&
	umoci unpack --image imgs/oci:multi ref >/dev/null 2>&1 &&
	test -f ref/rootfs/big/blob
'

test_expect_success 'usage errors exit 100, a missing image 1, a bad mountpoint 111' '
	test_expect_code 100 gear-fs 2>err &&
	grep -x "gear-fs: missing NAME or MOUNTPOINT" err &&
	test_expect_code 100 gear-fs -o rw test/multi m1 2>err &&
	grep -x "gear-fs: unknown mount option '\''rw'\''" err &&
	test_expect_code 100 gear-fs BAD..NAME m1 2>err &&
	test_expect_code 1 gear-fs nope m1 2>err &&
	echo "gear-fs: cannot mount '\''nope:latest'\'': no image '\''nope:latest'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 111 gear-fs -f test/multi no/such/dir 2>err &&
	grep "^gear-fs: cannot mount '\''test/multi:latest'\'': cannot mount on '\''no/such/dir'\''" err
'

test_expect_success 'metadata, hardlinks, xattrs, devices, times match umoci unpack, and nothing is fetched' '
	start_fs test/multi m1 &&
	meta ref/rootfs >meta-ref &&
	meta m1 >meta-fs &&
	test_cmp meta-ref meta-fs &&
	xattrs m1 >xattrs &&
	xattrs ref/rootfs >xattrs-ref &&
	test_cmp xattrs-ref xattrs &&
	! grep GEAR xattrs &&
	grep "security.capability" xattrs &&
	test "$(stat -c %i m1/data/hl1)" = "$(stat -c %i m1/data/hl2)" &&
	test "$(stat -c %h m1/data/hl1)" = 2 &&
	test "$(readlink m1/bin/sh)" = "$(readlink ref/rootfs/bin/sh)" &&
	test "$(stat_of test/multi fetched_bytes)" = 0 &&
	test "$(stat_of test/multi fetched_files)" = 0 &&
	test -z "$(find "$IMG/public" -type f)" &&
	stop_fs m1
'

test_expect_success 'reading a few files fetches exactly their contents, once' '
	start_fs test/multi m1 &&
	cat m1/etc/passwd m1/usr/lib/libfake.so m1/usr/lib/libfake-copy.so m1/data/hl1 m1/data/hl2 >got &&
	cat ref/rootfs/etc/passwd ref/rootfs/usr/lib/libfake.so ref/rootfs/usr/lib/libfake-copy.so \
		ref/rootfs/data/hl1 ref/rootfs/data/hl2 >want &&
	cmp got want &&
	test "$(stat_of test/multi fetched_files)" = 3 &&
	test "$(stat_of test/multi fetched_bytes)" = $((67 + 300000 + 21)) &&
	test "$(stat_of test/multi errors)" = 0 &&
	test -f "$IMG/public/b6/c593b0bdccd482c5ccf5f4de4ada37f7e1f44091afcd32ecfd3891584dc296" &&
	printf "%s\n" b6c593b0bdccd482c5ccf5f4de4ada37f7e1f44091afcd32ecfd3891584dc296 \
		b215566f4ef7f77419b1075eb67323e2f3697f5d9d840cad3f871e9234a311a6 \
		2d224def5335f2fe98f2c42c53d17da5cf71baa9ab1e936f90e6dfef85b1d230 >expect &&
	stop_fs m1 &&
	test_cmp expect "$IMG/images/test/multi/latest/access.list"
'

test_expect_success 'every file reads back identical to umoci unpack; the mount is read-only' '
	start_fs test/multi m1 &&
	same_tree ref/rootfs m1 c &&
	cmp ref/rootfs/big/blob m1/big/blob &&
	test_must_fail sh -c "echo x >m1/data/empty" &&
	test_must_fail touch m1/newfile &&
	test_must_fail mkdir m1/newdir &&
	test "$(stat_of test/multi errors)" = 0 &&
	stop_fs m1
'

test_expect_success 'a second mount of the same image fetches nothing' '
	start_fs test/multi m1 &&
	same_tree ref/rootfs m1 c &&
	test "$(stat_of test/multi fetched_files)" = 0 &&
	test "$(stat_of test/multi fetched_bytes)" = 0 &&
	test "$(stat_of test/multi cache_hits)" -ge 20 &&
	stop_fs m1
'

test_expect_success 'a file shared by two images is fetched once: the other image fetches only its own' '
	start_fs test/other m2 &&
	cat m2/bin/busybox m2/etc/passwd m2/opt/unique m2/usr/lib/libfake.so >/dev/null &&
	test "$(cat m2/opt/unique | wc -c)" = 14 &&
	test "$(stat_of test/other fetched_files)" = 1 &&
	test "$(stat_of test/other fetched_bytes)" = 14 &&
	stop_fs m2
'

test_expect_success 'with --prefetch the access list is fetched in the background; opens find it cached' '
	rm -rf "$IMG/public" &&
	printf "%s\n" b6c593b0bdccd482c5ccf5f4de4ada37f7e1f44091afcd32ecfd3891584dc296 \
		b215566f4ef7f77419b1075eb67323e2f3697f5d9d840cad3f871e9234a311a6 \
		2d224def5335f2fe98f2c42c53d17da5cf71baa9ab1e936f90e6dfef85b1d230 >three &&
	cp three "$IMG/images/test/multi/latest/access.list" &&
	echo 0000000000000000000000000000000000000000000000000000000000000000 >>"$IMG/images/test/multi/latest/access.list" &&
	start_fs test/multi m1 --prefetch &&
	wait_stat test/multi prefetched_files 3 &&
	grep -x "gear-fs: prefetch: 1 contents of the access list are not in the image" m1.err &&
	test "$(stat_of test/multi prefetched_bytes)" = $((67 + 300000 + 21)) &&
	test "$(stat_of test/multi opened_files)" = 0 &&
	test "$(stat_of test/multi fetched_files)" = 0 &&
	test -f "$(pub 2d224def5335f2fe98f2c42c53d17da5cf71baa9ab1e936f90e6dfef85b1d230)" &&
	cmp ref/rootfs/usr/lib/libfake.so m1/usr/lib/libfake.so &&
	test "$(stat_of test/multi fetched_files)" = 0 &&
	test "$(stat_of test/multi cache_hits)" = 1 &&
	stop_fs m1
'

test_expect_success 'a content the background prefetch cannot fetch is logged; the rest arrive; reads still work' '
	rm -rf "$IMG/public" &&
	obj="$IMG/objects/b2/15566f4ef7f77419b1075eb67323e2f3697f5d9d840cad3f871e9234a311a6" &&
	mv "$obj" saved-libfake &&
	cp three "$IMG/images/test/multi/latest/access.list" &&
	start_fs test/multi m1 --prefetch &&
	wait_stat test/multi prefetched_files 2 &&
	grep "^gear-fs: prefetch: content sha256:b215566f4ef7: " m1.err &&
	test ! -e "$(pub b215566f4ef7f77419b1075eb67323e2f3697f5d9d840cad3f871e9234a311a6)" &&
	mv saved-libfake "$obj" &&
	cmp ref/rootfs/usr/lib/libfake.so m1/usr/lib/libfake.so &&
	test "$(stat_of test/multi fetched_files)" = 1 &&
	stop_fs m1
'

test_expect_success 'concurrent readers in two mounts and many processes fetch a file once' '
	rm -rf "$IMG/public" &&
	start_fs test/multi m1 &&
	start_fs test/other m2 &&
	readers= &&
	for i in 1 2 3 4; do
		cat m1/bin/busybox >r1.$i & readers="$readers $!"
		cat m2/bin/busybox >r2.$i & readers="$readers $!"
	done &&
	wait $readers &&
	for i in 1 2 3 4; do cmp ref/rootfs/bin/busybox r1.$i && cmp ref/rootfs/bin/busybox r2.$i || return 1; done &&
	test $(( $(stat_of test/multi fetched_files) + $(stat_of test/other fetched_files) )) = 1 &&
	test $(( $(stat_of test/multi fetched_bytes) + $(stat_of test/other fetched_bytes) )) = 1982256 &&
	stop_fs m1 && stop_fs m2
'

test_expect_success 'a corrupt object gives EIO for that file only, logs it, and is not cached' '
	rm -rf "$IMG/public" &&
	obj="$IMG/objects/05/1fe4647898acc24cbd5e7f429b54da7ec52d1166037a18f4b970bd69ca951e" &&
	cp "$obj" saved-obj &&
	printf "garbage!" >"$obj" &&
	start_fs test/multi m1 &&
	test_must_fail cat m1/data/xattr >out 2>err &&
	grep "Input/output error" err &&
	test_must_fail cat m1/data/xattr 2>/dev/null &&
	cmp ref/rootfs/etc/passwd m1/etc/passwd &&
	cmp ref/rootfs/data/hl1 m1/data/hl1 &&
	test "$(stat_of test/multi errors)" = 2 &&
	test ! -e "$IMG/public/05/1fe4647898acc24cbd5e7f429b54da7ec52d1166037a18f4b970bd69ca951e" &&
	grep "^gear-fs: cannot fetch '\''/data/xattr'\'' (sha256:051fe4647898acc24cbd5e7f429b54da7ec52d1166037a18f4b970bd69ca951e): " m1.err &&
	cp saved-obj "$obj" &&
	cmp ref/rootfs/data/xattr m1/data/xattr &&
	stop_fs m1
'

test_expect_success 'without -f it detaches once mounted and exits on unmount' '
	mkdir -p m3 &&
	gear-fs test/other m3 &&
	grep -q " $PWD/m3 fuse.gear " /proc/mounts &&
	cmp ref/rootfs/etc/passwd m3/etc/passwd &&
	pid=$(pgrep -x -f "gear-fs test/other m3") &&
	fusermount3 -u m3 &&
	i=0 && while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done &&
	! kill -0 $pid 2>/dev/null &&
	! grep -q " $PWD/m3 fuse.gear " /proc/mounts
'

test_expect_success 'a pulled image fetches from its directory store, verified, only what is read' '
	rm -rf store fresh && mkdir store &&
	gear-push test/multi store >/dev/null &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull store test/multi >/dev/null &&
	test ! -d fresh/var/lib/gear/objects/05 &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		start_fs test/multi m1 &&
		meta m1 >meta-pulled &&
		test_cmp meta-ref meta-pulled &&
		test "$(stat_of test/multi fetched_bytes)" = 0 &&
		cmp ref/rootfs/usr/lib/libfake.so m1/usr/lib/libfake.so &&
		cmp ref/rootfs/etc/passwd m1/etc/passwd &&
		test "$(stat_of test/multi fetched_files)" = 2 &&
		test "$(stat_of test/multi fetched_bytes)" = $((300000 + 67)) &&
		same_tree ref/rootfs m1 c &&
		test "$(stat_of test/multi errors)" = 0 &&
		test "$(ls "$IMG/public/05")" = 1fe4647898acc24cbd5e7f429b54da7ec52d1166037a18f4b970bd69ca951e &&
		stop_fs m1
	)
'

test_expect_success 'a corrupt object in the store gives EIO for that file only' '
	rm -rf fresh/var/lib/gear/public &&
	obj=store/objects/e6/d9e50114b440387b109c9a39fb9dfdd5f41b0659dbb4ba0adcfda9fbb2364f &&
	test -f $obj &&
	cp $obj saved-store-obj &&
	printf "garbage!" | dd of=$obj bs=1 seek=100 conv=notrunc 2>/dev/null &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		start_fs test/multi m1 &&
		test_must_fail cat m1/big/blob >/dev/null 2>err &&
		grep "Input/output error" err &&
		cmp ref/rootfs/bin/busybox m1/bin/busybox &&
		test "$(stat_of test/multi errors)" = 1 &&
		grep "^gear-fs: cannot fetch '\''/big/blob'\'' (sha256:e6d9e50114b440387b109c9a39fb9dfdd5f41b0659dbb4ba0adcfda9fbb2364f): " m1.err &&
		test ! -e "$IMG/public/e6/d9e50114b440387b109c9a39fb9dfdd5f41b0659dbb4ba0adcfda9fbb2364f" &&
		cp saved-store-obj $obj &&
		cmp ref/rootfs/big/blob m1/big/blob &&
		stop_fs m1
	)
'

test_expect_success 'a pulled image fetches from its registry; a registry stopped mid-run gives EIO, not a hang, until it is back' '
	gear-test-registry start reg >addr &&
	R=docker://$(cat addr) &&
	gear-push --tls-verify=false test/multi $R/test/multi >/dev/null &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/reg-host" gear-pull --tls-verify=false $R/test/multi:latest web:1 >/dev/null &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/reg-host" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		start_fs web:1 m1 &&
		cmp ref/rootfs/usr/lib/libfake.so m1/usr/lib/libfake.so &&
		test "$(stat_of web:1 fetched_bytes)" = 300000 &&
		same_tree ref/rootfs m1 c &&
		test "$(stat_of web:1 errors)" = 0 &&
		stop_fs m1 &&
		rm -rf "$IMG/public" &&
		start_fs web:1 m1 &&
		cmp ref/rootfs/usr/lib/libfake.so m1/usr/lib/libfake.so &&
		gear-test-registry stop reg &&
		start=$(date +%s) &&
		test_must_fail cat m1/etc/passwd >/dev/null 2>err &&
		grep "Input/output error" err &&
		test $(( $(date +%s) - start )) -lt 30 &&
		grep "^gear-fs: cannot fetch '\''/etc/passwd'\'' (sha256:b6c593b0bdccd482c5ccf5f4de4ada37f7e1f44091afcd32ecfd3891584dc296): " m1.err &&
		cmp ref/rootfs/usr/lib/libfake.so m1/usr/lib/libfake.so &&
		test "$(stat_of web:1 errors)" -ge 1 &&
		GEAR_REGISTRY_PORT=${R##*:} gear-test-registry start reg >/dev/null &&
		cmp ref/rootfs/etc/passwd m1/etc/passwd &&
		test "$(stat_of web:1 fetched_files)" = 2 &&
		stop_fs m1
	)
'
test_atexit 'gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'

test_done
