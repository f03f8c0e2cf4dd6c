#!/bin/sh
test_description='gear-fsck: corrupt and missing objects, bad images, killed builds'
. "$(dirname "$0")/lib/test-lib.sh"

# obj HEX: the path of an object
obj() {
	echo "$IMG/objects/$(echo $1 | cut -c1-2)/$(echo $1 | cut -c3-)"
}

same_tree() {
	rsync -n -aHAXc --modify-window=-1 --delete --itemize-changes "$1/" "$2/" >tree-diff &&
	: >tree-empty &&
	test_cmp tree-empty tree-diff
}

test_expect_success 'setup: two images' '
	build-test-images --big 1 imgs &&
	umoci unpack --image imgs/oci:multi ref >/dev/null 2>&1 &&
	gear-build -q oci:imgs/oci:multi multi >/dev/null &&
	gear-build -q oci:imgs/oci:other other >/dev/null &&
	busybox=$(sha256sum <ref/rootfs/bin/busybox | cut -c1-64) &&
	passwd=$(sha256sum <ref/rootfs/etc/passwd | cut -c1-64) &&
	echo $busybox >busybox.hex && echo $passwd >passwd.hex
'

test_expect_success 'a sound tree passes, with a summary on stderr' '
	gear-fsck >out 2>err &&
	test_must_fail test -s out &&
	n=$(find "$IMG/objects" -path "*/objects/??/*" -type f | wc -l) &&
	echo "gear-fsck: $n objects, 0 cached files, 2 images: 0 corrupt, 0 missing, 0 bad images, 0 stale, 0 repaired" >expect &&
	test_cmp expect err &&
	gear-fsck -q >out 2>err &&
	test_must_fail test -s out && test_must_fail test -s err
'

test_expect_success 'corrupt objects are found, compressed or raw' '
	b=$(obj $(cat busybox.hex)) && p=$(obj $(cat passwd.hex)) &&
	chmod u+w "$b" "$p" &&
	printf X | dd of="$b" bs=1 seek=1000 conv=notrunc 2>/dev/null &&
	echo extra >>"$p" &&
	test_expect_code 1 gear-fsck >out 2>err &&
	cut -f1,2 out >got &&
	printf "corrupt\t%s\n" "objects/$(cut -c1-2 busybox.hex)/$(cut -c3- busybox.hex)" \
		"objects/$(cut -c1-2 passwd.hex)/$(cut -c3- passwd.hex)" | sort >expect &&
	sort got >got.sorted &&
	test_cmp expect got.sorted &&
	grep "^corrupt	objects/$(cut -c1-2 passwd.hex)/.*	object .* is corrupt: content has digest sha256:" out &&
	grep ": 2 corrupt, 0 missing" err
'

test_expect_success 'gear-export refuses corrupt content: an I/O error, not wrong data' '
	test_expect_code 111 gear-export multi exp-corrupt 2>err &&
	grep "^gear-export: cannot export '\''multi:latest'\'': cannot export '\''[a-z/]*'\'': object '\''objects/.*'\'' is corrupt" err
'

test_expect_success '--repair moves corrupt objects aside; then they are missing' '
	test_expect_code 1 gear-fsck --repair >out 2>err &&
	grep ": 2 corrupt, 4 missing, 0 bad images, 0 stale, 2 repaired" err &&
	test -f "$IMG/objects/.corrupt/$(cat busybox.hex)" &&
	test -f "$IMG/objects/.corrupt/$(cat passwd.hex)" &&
	test_must_fail test -e "$(obj $(cat busybox.hex))" &&
	test_expect_code 1 gear-fsck >out 2>err &&
	grep -x "missing	multi:latest	sha256:$(cat busybox.hex) bin/busybox" out &&
	grep -x "missing	other:latest	sha256:$(cat busybox.hex) bin/busybox" out &&
	grep -x "missing	multi:latest	sha256:$(cat passwd.hex) etc/passwd" out &&
	grep ": 0 corrupt, 4 missing, 0 bad images" err
'

test_expect_success 'a rebuild restores the missing objects' '
	gear-build -q oci:imgs/oci:multi multi >/dev/null &&
	gear-fsck >out 2>err &&
	test_must_fail test -s out &&
	gear-export multi exp-rebuilt &&
	same_tree ref/rootfs exp-rebuilt
'

test_expect_success 'a tampered index is a bad image' '
	l=$(cd "$IMG/images/other/latest/blobs/sha256" && for b in *; do if gzip -t $b 2>/dev/null; then echo $b; fi; done) &&
	chmod u+w "$IMG/images/other/latest/blobs/sha256/$l" &&
	echo junk >>"$IMG/images/other/latest/blobs/sha256/$l" &&
	test_expect_code 1 gear-fsck >out 2>err &&
	printf "badimage\tother:latest\timage '\''other:latest'\'': blob sha256:%s has %s bytes, want %s\n" \
		$(echo $l | cut -c1-12) $(stat -c %s "$IMG/images/other/latest/blobs/sha256/$l") \
		$(($(stat -c %s "$IMG/images/other/latest/blobs/sha256/$l") - 5)) >expect &&
	test_cmp expect out &&
	test_expect_code 111 gear-index other 2>err &&
	grep "does not match\|bytes, want" err &&
	gear-build -q oci:imgs/oci:other other >/dev/null &&
	gear-fsck -q
'

test_expect_success 'stale temporary directories are reported and removed by --repair' '
	mkdir -p "$IMG/build/.gear-tmp.0123456789abcdef" "$IMG/images/multi/.gear-tmp.latest.0123456789abcdef" &&
	: >"$IMG/build/.gear-tmp.0123456789abcdef/lock" &&
	gear-fsck >out 2>err &&
	printf "stale\t%s\n" images/multi/.gear-tmp.latest.0123456789abcdef build/.gear-tmp.0123456789abcdef >expect &&
	test_cmp expect out &&
	gear-fsck --repair >out 2>err &&
	test_cmp expect out &&
	grep " 0 bad images, 2 stale, 2 repaired$" err &&
	test_must_fail test -e "$IMG/build/.gear-tmp.0123456789abcdef" &&
	gear-fsck >out &&
	test_must_fail test -s out
'

test_expect_success 'the temp directories of a running build are not stale' '
	mkdir -p "$IMG/build/.gear-tmp.fedcba9876543210" "$IMG/images/multi/.gear-tmp.latest.fedcba9876543210" &&
	flock "$IMG/build/.gear-tmp.fedcba9876543210/lock" sh -c "gear-fsck --repair >out" &&
	test_must_fail test -s out &&
	test -d "$IMG/images/multi/.gear-tmp.latest.fedcba9876543210" &&
	gear-fsck --repair >out &&
	test -s out
'

test_expect_success 'setup: a source big enough to kill a build in the middle' '
	python3 -c "
import os, random
r = random.Random(7)
for d in range(40):
    os.makedirs(\"big/d%02d\" % d)
    for f in range(50):
        with open(\"big/d%02d/f%03d\" % (d, f), \"w\") as out:
            out.write((\"%x\" % r.getrandbits(4096 * 8)) * 2)
" &&
	head -c 150000000 /dev/urandom >big/large &&
	ln big/d00/f000 big/hardlink
'

test_expect_success 'kill -9 at any moment of a build leaves no corrupt object and no half image' '
	killed=0 &&
	for delay in 0.01 0.05 0.1 0.2 0.3 0.4 0.6 0.8 1.0 1.5; do
		gear-build -q -j 1 dir:big crash >/dev/null 2>&1 &
		pid=$! &&
		sleep $delay &&
		kill -9 $pid 2>/dev/null
		wait $pid
		[ $? = 137 ] && killed=$((killed + 1))
		gear-fsck >out 2>err || { cat out err; return 1; }
		grep -v "^stale	" out >bad
		test_must_fail test -s bad || { cat bad; return 1; }
		gear-images -q >names || return 1
		if grep -x crash:latest names; then
			rm -rf part && gear-export crash part && same_tree big part || return 1
			rm -rf part && gear-images -q >/dev/null
		fi
		gear-fsck -q --repair >/dev/null || return 1
	done &&
	echo "killed $killed builds" &&
	test $killed -ge 3
'

# kill_when TEST: starts a build and kills it with SIGKILL once the shell TEST holds
kill_when() {
	gear-build -q -j 1 dir:big crash >/dev/null 2>&1 &
	pid=$!
	while kill -0 $pid 2>/dev/null && ! eval "$1"; do sleep 0.001; done
	kill -9 $pid 2>/dev/null
	wait $pid
	echo "exit $?" >>kills
}

# after_kill: fsck finds nothing but stale temp files; an image listed is whole
after_kill() {
	gear-fsck >out 2>err &&
	grep -v "^stale	" out >bad ;
	test_must_fail test -s bad &&
	gear-images -q >names &&
	if grep -x crash:latest names; then
		rm -rf part && gear-export crash part && same_tree big part
	fi &&
	gear-fsck -q --repair >/dev/null
}

test_expect_success 'kill -9 while objects are staged, while the image is written, while objects move' '
	: >kills &&
	kill_when "test \$(ls \"\$IMG\"/build/.gear-tmp.*/ 2>/dev/null | wc -l) -gt 500" && after_kill &&
	kill_when "ls -d \"\$IMG\"/images/crash/.gear-tmp.* >/dev/null 2>&1" && after_kill &&
	kill_when "test \$(find \"\$IMG/objects\" -type f | wc -l) -gt 50" && after_kill &&
	grep -c "exit 137" kills >n &&
	test $(cat n) -ge 2
'

test_expect_success 'after the kills a build completes and the tree is sound' '
	gear-build -q dir:big crash >/dev/null &&
	gear-fsck >out 2>err &&
	test_must_fail test -s out &&
	ls "$IMG/build" >left &&
	test_must_fail test -s left &&
	gear-export crash out-crash &&
	same_tree big out-crash
'

test_done
