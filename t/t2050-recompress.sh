#!/bin/sh
test_description='gear-recompress: objects again at a slower level, the same contents, safe to kill'
. "$(dirname "$0")/lib/test-lib.sh"

obj() {
	echo "$IMG/objects/$(echo $1 | cut -c1-2)/$(echo $1 | cut -c3-)"
}

# stored: the bytes of every object in objects/
stored() {
	find "$IMG/objects" -path "*/objects/??/*" -type f -printf "%s\n" | awk '{ s += $1 } END { print s + 0 }'
}

same_tree() {
	rsync -n -aHAXc --modify-window=-1 --delete --itemize-changes "$1/" "$2/" >tree-diff &&
	: >tree-empty &&
	test_cmp tree-empty tree-diff
}

# value KEY FILE: the value of a "KEY<tab>VALUE" summary line
value() {
	sed -n "s/^$1	\([0-9]*\)$/\1/p" "$2"
}

test_expect_success 'setup: an image, its files as gear-export writes them' '
	build-test-images --big 1 imgs &&
	gear-build -q oci:imgs/oci:multi multi >/dev/null &&
	gear-export multi ref &&
	mkdir -p text/etc &&
	cp -L /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/GPL-2 /usr/share/common-licenses/LGPL-2.1 \
		/usr/share/common-licenses/Apache-2.0 /usr/share/common-licenses/Artistic /bin/sh text/etc/ &&
	gear-build -q dir:text text >/dev/null &&
	gear-fsck -q &&
	stored >before.bytes &&
	find "$IMG/objects" -path "*/objects/??/*" -type f | sort >objects.before
'

test_expect_success 'usage errors change nothing' '
	test_expect_code 100 gear-recompress -l 0 2>err &&
	grep "invalid LEVEL" err &&
	test_expect_code 100 gear-recompress --level 23 &&
	test_expect_code 100 gear-recompress -j 0 &&
	test_expect_code 100 gear-recompress extra &&
	test_expect_code 100 gear-recompress --bogus &&
	gear-recompress --help >out && grep "^usage: gear-recompress" out &&
	test "$(stored)" = "$(cat before.bytes)"
'

test_expect_success 'an empty tree: nothing to do' '
	GEAR_SYSROOT=$PWD/empty gear-recompress >out &&
	test "$(value objects out)" = 0 && test "$(value failed out)" = 0
'

test_expect_success 'objects get smaller; each line names one, with its old and new size' '
	gear-recompress -v -l 19 -j 2 >out 2>err &&
	test_must_fail test -s err &&
	test "$(value objects out)" = "$(wc -l <objects.before)" &&
	test "$(value smaller out)" -gt 0 &&
	test "$(value bytes-after out)" -lt "$(value bytes-before out)" &&
	test "$(value failed out)" = 0 &&
	test "$(grep -c "^smaller	sha256:" out)" = "$(value smaller out)" &&
	test "$(grep -c "^kept	sha256:" out)" = "$(value kept out)" &&
	grep "^smaller	sha256:" out | while IFS="	" read what hex before after; do
		h=${hex#sha256:} &&
		test "$(stat -c %s "$(obj $h)")" = "$after" &&
		test "$after" -lt "$before" &&
		getfattr --only-values -n trusted.gear.zstd-level "$(obj $h)" >level 2>/dev/null &&
		test "$(cat level)" = 19 &&
		test "$(stat -c %a "$(obj $h)")" = 400 || return 1
	done &&
	test "$(stored)" -lt "$(cat before.bytes)" &&
	test "$(($(cat before.bytes) - $(stored)))" = "$(($(value bytes-before out) - $(value bytes-after out)))"
'

test_expect_success 'the same contents: fsck and export agree, a directory store gets the new bytes' '
	find "$IMG/objects" -path "*/objects/??/*" -type f | sort >objects.after &&
	test_cmp objects.before objects.after &&
	test_must_fail test -n "$(ls -A "$IMG/build")" &&
	gear-fsck -q &&
	gear-export multi exp &&
	same_tree ref exp &&
	mkdir store && gear-push multi dir:store >/dev/null &&
	(cd store && find objects -path "objects/??/*" -type f) >rel &&
	test "$(wc -l <rel)" -gt 10 &&
	while read f; do cmp "$IMG/$f" "store/$f" || return 1; done <rel
'

test_expect_success 'a second run at the same level skips every object' '
	stored >mid.bytes &&
	gear-recompress -l 19 >out &&
	test "$(value skipped out)" = "$(value objects out)" &&
	test "$(value smaller out)" = 0 &&
	test "$(stored)" = "$(cat mid.bytes)"
'

test_expect_success 'objects under 512 bytes are left as they are' '
	find "$IMG/objects" -path "*/objects/??/*" -type f -size -512c >small &&
	test -s small &&
	while read f; do
		test_must_fail getfattr -n trusted.gear.zstd-level "$f" 2>/dev/null || return 1
	done <small
'

test_expect_success 'a corrupt object is reported and left alone; the rest is done' '
	busybox=$(sha256sum <ref/bin/busybox | cut -c1-64) &&
	b=$(obj $busybox) &&
	chmod u+w "$b" &&
	printf X | dd of="$b" bs=1 seek=1000 conv=notrunc 2>/dev/null &&
	cp "$b" corrupt.copy &&
	test_expect_code 111 gear-recompress -l 20 >out 2>err &&
	test "$(value failed out)" = 1 &&
	test "$(($(value smaller out) + $(value kept out)))" -ge 7 &&
	grep "^gear-recompress: cannot recompress .*objects/$(echo $busybox | cut -c1-2)/$(echo $busybox | cut -c3-).*corrupt" err &&
	grep "^gear-recompress: 1 objects left as they are; gear-fsck(1) checks them" err &&
	cmp "$b" corrupt.copy &&
	test_expect_code 1 gear-fsck --repair >/dev/null 2>&1 &&
	gear-build -q oci:imgs/oci:multi multi >/dev/null &&
	gear-fsck -q
'

test_expect_success 'killed at any instant: gear-fsck explains and removes what is left, a rerun finishes' '
	: >stale &&
	for delay in 0.05 0.2 0.4 0.8; do
		gear-recompress -l 22 -j 1 >/dev/null 2>&1 &
		pid=$! &&
		sleep $delay &&
		kill -9 $pid 2>/dev/null ;
		wait $pid ;
		gear-fsck >fsck.out 2>fsck.err &&
		{ grep "^stale	build/" fsck.out >>stale ; true ; } &&
		! grep -v "^stale	build/" fsck.out | grep . &&
		gear-fsck --repair >/dev/null 2>&1 &&
		gear-fsck -q >fsck.out &&
		test_must_fail test -s fsck.out || return 1
	done &&
	test -s stale &&
	gear-recompress -l 22 -j 2 >out &&
	test "$(value failed out)" = 0 &&
	gear-fsck -q &&
	gear-export multi exp3 &&
	same_tree ref exp3
'

test_done
