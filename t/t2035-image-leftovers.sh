#!/bin/sh
test_description='gear-fsck: what killed pulls, pushes and fetches leave, and the public/ cache'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

# strace makes a command die, or wait, at an exact system call:
# killed_at CALL CMD...: CMD gets SIGKILL when it first enters CALL (exit 137)
killed_at() {
	call=$1
	shift
	strace -f -qq -o /dev/null -e trace="$call" -e inject="$call:signal=SIGKILL" "$@"
}
# paused_at CALL CMD...: CMD waits 4 seconds each time it enters CALL
paused_at() {
	call=$1
	shift
	strace -f -qq -o /dev/null -e trace="$call" -e inject="$call:delay_enter=4000000" "$@"
}
# wait_for GLOB: until a path matches it (10 s at most)
wait_for() {
	i=0
	until ls -d $1 >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "nothing matches $1"; return 1; }
		sleep 0.05
	done
}

F="$TRASH_DIRECTORY/fresh"
FIMG="$F/var/lib/gear"

test_expect_success 'setup: an image whose last mount opened two files, pushed to a store' '
	fs_ready &&
	mkdir src &&
	for i in 1 2 3; do echo "content $i" >src/f$i; done &&
	gear-build -q dir:src app >/dev/null &&
	start_fs app m &&
	cat m/f1 m/f2 >/dev/null &&
	stop_fs m &&
	test $(wc -l <"$IMG/images/app/latest/access.list") = 2 &&
	mkdir store &&
	gear-push app store >/dev/null
'

test_expect_success 'a pull killed before its rename leaves a temp directory: reported, removed by --repair' '
	test_expect_code 137 killed_at renameat2 env GEAR_SYSROOT="$F" gear-pull store app >/dev/null &&
	tmp=$(cd "$FIMG" && ls -d images/app/.gear-tmp.latest.*) &&
	test -f "$FIMG/$tmp/origin" &&
	test_must_fail test -e "$FIMG/images/app/latest" &&
	GEAR_SYSROOT="$F" gear-fsck >out 2>err &&
	printf "stale\t%s\n" "$tmp" >expect &&
	test_cmp expect out &&
	grep ": 0 corrupt, 0 missing, 0 bad images, 1 stale, 0 repaired$" err &&
	GEAR_SYSROOT="$F" gear-fsck --repair >out 2>err &&
	test_cmp expect out &&
	grep " 1 stale, 1 repaired$" err &&
	test_must_fail test -e "$FIMG/$tmp" &&
	GEAR_SYSROOT="$F" gear-fsck >out &&
	test_cmp /dev/null out
'

test_expect_success 'the temp directory of a running pull is left alone, and the pull completes' '
	paused_at renameat2 env GEAR_SYSROOT="$F" gear-pull store app >pull.out 2>pull.err &
	pid=$! &&
	wait_for "$FIMG/images/app/.gear-tmp.latest.*/origin" &&
	GEAR_SYSROOT="$F" gear-fsck --repair >out 2>err &&
	test_cmp /dev/null out &&
	ls -d "$FIMG"/images/app/.gear-tmp.latest.* &&
	wait $pid &&
	test_cmp /dev/null pull.err &&
	GEAR_SYSROOT="$F" gear-index app >got &&
	gear-index app >expect &&
	test_cmp expect got &&
	ls -a "$FIMG/images/app" >left &&
	printf ".\n..\nlatest\n" >expect &&
	test_cmp expect left
'

test_expect_success 'a push killed before its rename leaves a temp directory in the store: gear-fsck STORE' '
	mkdir store2 &&
	test_expect_code 137 killed_at renameat2 gear-push app store2 >/dev/null &&
	tmp=$(cd store2 && ls -d images/app/.gear-tmp.latest.*) &&
	gear-fsck store2 >out 2>err &&
	printf "stale\t%s\n" "$tmp" >expect &&
	test_cmp expect out &&
	n=$(find store2/objects -type f | wc -l) &&
	echo "gear-fsck: $n objects, 0 cached files, 0 images: 0 corrupt, 0 missing, 0 bad images, 1 stale, 0 repaired" >expect &&
	test_cmp expect err &&
	gear-fsck --repair dir:store2 >out 2>err &&
	grep " 1 stale, 1 repaired$" err &&
	test_must_fail test -e "store2/$tmp" &&
	gear-push app store2 >/dev/null &&
	gear-fsck store2 >out 2>err &&
	test_cmp /dev/null out &&
	grep " 1 images: 0 corrupt, 0 missing, 0 bad images, 0 stale, 0 repaired$" err
'

test_expect_success 'the temp directory of a running push is left alone, and the push completes' '
	mkdir store3 &&
	paused_at renameat2 gear-push app store3 >push.out 2>push.err &
	pid=$! &&
	wait_for "store3/images/app/.gear-tmp.latest.*/index.json" &&
	gear-fsck --repair store3 >out 2>err &&
	test_cmp /dev/null out &&
	wait $pid &&
	test_cmp /dev/null push.err &&
	ls -a store3/images/app >left &&
	printf ".\n..\nlatest\n" >expect &&
	test_cmp expect left &&
	diff -r store/images/app/latest store3/images/app/latest
'

test_expect_success 'an object a killed push was writing to the store is stale once old' '
	mkdir store4 &&
	test_expect_code 137 killed_at renameat gear-push app store4 >/dev/null &&
	(cd store4 && ls -d objects/??/.gear-tmp.*) >tmps &&
	test -s tmps &&
	gear-fsck store4 >out &&
	test_cmp /dev/null out &&
	(cd store4 && xargs touch -d "2 minutes ago") <tmps &&
	gear-fsck --repair store4 >out 2>err &&
	sed "s/^/stale	/" tmps >expect &&
	test_cmp expect out &&
	(cd store4 && ls -d objects/??/.gear-tmp.*) >left 2>&1 ;
	grep "No such file" left
'

test_expect_success 'a prefetch killed while fetching leaves its lock in public/: reported, removed by --repair' '
	rm -rf "$F" &&
	test_expect_code 137 killed_at linkat env GEAR_SYSROOT="$F" gear-pull --prefetch store app >/dev/null &&
	(cd "$FIMG" && ls -d public/??/.*.lock) >locks &&
	n=$(wc -l <locks) &&
	test $n -ge 1 &&
	GEAR_SYSROOT="$F" gear-fsck >out 2>err &&
	sed "s/^/stale	/" locks >expect &&
	test_cmp expect out &&
	grep " $n stale, 0 repaired$" err &&
	GEAR_SYSROOT="$F" gear-fsck --repair >out 2>err &&
	test_cmp expect out &&
	grep " $n stale, $n repaired$" err &&
	test_must_fail ls "$FIMG"/public/??/.*.lock &&
	GEAR_SYSROOT="$F" gear-fsck >out &&
	test_cmp /dev/null out
'

test_expect_success 'the lock of a running fetch is left alone, and the fetch completes' '
	paused_at linkat env GEAR_SYSROOT="$F" gear-pull --prefetch store app >pull.out 2>pull.err &
	pid=$! &&
	wait_for "$FIMG/public/??/.*.lock" &&
	GEAR_SYSROOT="$F" gear-fsck --repair >out 2>err &&
	test_cmp /dev/null out &&
	ls "$FIMG"/public/??/.*.lock &&
	wait $pid &&
	grep "^prefetched 2 of 2 files" pull.out &&
	test_must_fail ls "$FIMG"/public/??/.*.lock
'

test_expect_success 'gear-fsck checks every cached file against its name' '
	GEAR_SYSROOT="$F" gear-fsck >out 2>err &&
	test_cmp /dev/null out &&
	echo "gear-fsck: 0 objects, 2 cached files, 1 images: 0 corrupt, 0 missing, 0 bad images, 0 stale, 0 repaired" >expect &&
	test_cmp expect err &&
	h=$(sha256sum <src/f1 | cut -c1-64) &&
	p=public/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-) &&
	chmod u+w "$FIMG/$p" &&
	echo "content X" >"$FIMG/$p" &&
	test_expect_code 1 env GEAR_SYSROOT="$F" gear-fsck >out 2>err &&
	printf "corrupt\t%s\tcached file is corrupt: content has digest sha256:%s\n" $p \
		$(echo "content X" | sha256sum | cut -c1-64) >expect &&
	test_cmp expect out &&
	grep ": 1 corrupt, 0 missing, 0 bad images, 0 stale, 0 repaired$" err
'

test_expect_success '--repair removes a corrupt cached file; the next open fetches it again' '
	test_expect_code 1 env GEAR_SYSROOT="$F" gear-fsck --repair >out 2>err &&
	grep "^corrupt	public/" out &&
	grep ": 1 corrupt, 0 missing, 0 bad images, 0 stale, 1 repaired$" err &&
	h=$(sha256sum <src/f1 | cut -c1-64) &&
	test_must_fail test -e "$FIMG/public/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-)" &&
	GEAR_SYSROOT="$F" gear-fsck >out 2>err &&
	test_cmp /dev/null out &&
	GEAR_SYSROOT="$F" gear-pull --prefetch store app >out &&
	grep "^prefetched 1 of 2 files" out &&
	cmp src/f1 "$FIMG/public/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-)"
'

test_expect_success 'other files in public/ are strays' '
	d=$(cd "$FIMG/public" && ls | head -n 1) &&
	: >"$FIMG/public/$d/junk" &&
	GEAR_SYSROOT="$F" gear-fsck >out &&
	printf "stray\tpublic/%s/junk\tnot a cached file\n" $d >expect &&
	test_cmp expect out &&
	rm "$FIMG/public/$d/junk"
'

test_done
