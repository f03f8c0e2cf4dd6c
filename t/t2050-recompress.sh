#!/bin/sh
test_description='gear-recompress: objects again at a slower level, the same contents, safe to kill'
. "$(dirname "$0")/lib/test-lib.sh"

test_atexit 'rm -f "$TRASH_DIRECTORY/pause"; fusermount3 -u -q "$TRASH_DIRECTORY/mnt"; gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'
PAUSE="$TRASH_DIRECTORY/pause"

# licenses IMAGE FILE...: a dir: image of those licenses (text that zstd -19 packs tighter than the build's level)
licenses() {
	name=$1 && shift &&
	rm -rf "src-$name" && mkdir -p "src-$name" &&
	for f in "$@"; do cp -L "/usr/share/common-licenses/$f" "src-$name/" || return 1; done &&
	gear-build -q "dir:src-$name" "$name" >/dev/null
}

# objects_of IMAGE: the object paths of an image's contents of 512 bytes or more
objects_of() {
	gear-index "$1" | awk -F'\t' '$1 == "f" && $5 >= 512 { print substr($6, 8) }' | sort -u |
		while read h; do obj $h; done
}

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

test_expect_success 'an object gear-gc removes while the new forms wait stays removed' '
	gear-recompress -l 19 >/dev/null &&
	licenses lic1 MPL-2.0 GFDL-1.3 &&
	objects_of lic1 >lic1.objects &&
	test "$(wc -l <lic1.objects)" = 2 &&
	{ env GEAR_TEST_PAUSE=recompress:commit GEAR_TEST_PAUSE_FILE="$PAUSE" \
		gear-recompress -l 19 >out 2>err & } &&
	pid=$! &&
	test_wait_file "$PAUSE" &&
	gear-rmi lic1 >/dev/null &&
	gear-gc >/dev/null &&
	while read f; do test ! -e "$f" || return 1; done <lic1.objects &&
	rm -f "$PAUSE" &&
	wait $pid &&
	while read f; do test ! -e "$f" || return 1; done <lic1.objects &&
	test "$(value failed out)" = 0 &&
	gear-fsck -q >fsck.out && test_must_fail test -s fsck.out
'

test_expect_success 'a push to a registry holds the objects still: the renames wait for it' '
	gear-test-registry start reg >addr &&
	licenses lic2 CC0-1.0 GFDL-1.2 &&
	objects_of lic2 >lic2.objects &&
	mkdir -p before &&
	while read f; do cp "$f" "before/${f##*/}" || return 1; done <lic2.objects &&
	{ env GEAR_TEST_PAUSE=push:locked GEAR_TEST_PAUSE_FILE="$PAUSE" \
		gear-push --tls-verify=false lic2 "docker://$(cat addr)/t/lic2" >push.out 2>&1 & } &&
	push=$! &&
	test_wait_file "$PAUSE" &&
	{ gear-recompress -l 19 >out 2>err & } &&
	rc=$! &&
	sleep 2 &&
	kill -0 $rc &&
	while read f; do cmp "$f" "before/${f##*/}" || return 1; done <lic2.objects &&
	rm -f "$PAUSE" &&
	wait $push &&
	wait $rc &&
	test "$(value smaller out)" = 2 &&
	while read f; do test_must_fail cmp -s "$f" "before/${f##*/}" || return 1; done <lic2.objects &&
	GEAR_SYSROOT=$PWD/pulled gear-pull --tls-verify=false "docker://$(cat addr)/t/lic2" lic2 >/dev/null &&
	mkdir -p mnt &&
	GEAR_SYSROOT=$PWD/pulled gear-fs lic2 mnt &&
	cmp mnt/CC0-1.0 src-lic2/CC0-1.0 &&
	cmp mnt/GFDL-1.2 src-lic2/GFDL-1.2 &&
	fusermount3 -u mnt
'

test_expect_success 'new forms state their content size' '
	licenses lic3 Apache-2.0 &&
	gear-recompress -l 19 >/dev/null &&
	f=$(objects_of lic3) &&
	zstd -lv "$f" 2>&1 | grep "Decompressed Size: .*($(stat -L -c %s /usr/share/common-licenses/Apache-2.0) B)"
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
