#!/bin/sh
test_description='gear-fs keeps serving the generation it mounted while a build or a pull replaces the tag'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

test_atexit 'for m in m1 m2; do fusermount3 -u -q $m; done'

# stat_in DIR KEY: a counter in DIR/fs.stats (rewritten 0.1 s after a change)
stat_in() {
	sleep 0.4 &&
	awk -v k="$2" '$1 == k { print $2 }' "$1/fs.stats"
}
# retired: the temp directories next to images/gen/latest
retired() { (cd "$IMG/images/gen" && ls -d .gear-tmp.* 2>/dev/null) || :; }

# gen SRC WORD: a source whose files f1..f4 say "WORD N"
gen() {
	mkdir "$1" && for i in 1 2 3 4; do echo "$2 $i" >"$1/f$i"; done
}

test_expect_success 'setup: gen:latest mounted, one file read' '
	fs_ready &&
	gen one one && gen two two && gen three three &&
	gear-build -q dir:one gen >/dev/null &&
	start_fs gen m1 &&
	echo "one 1" >expect && test_cmp expect m1/f1
'

test_expect_success 'a build of the same tag swaps in a new generation; the mounted one stays aside' '
	gear-build -q dir:two gen >/dev/null &&
	gear-index gen >idx &&
	grep "	f1$" idx | cut -f6 >digest &&
	echo "sha256:$(sha256sum <two/f1 | cut -c1-64)" >expect &&
	test_cmp expect digest &&
	retired >old &&
	test $(wc -l <old) = 1 &&
	test -f "$IMG/images/gen/$(cat old)/fs.lock"
'

test_expect_success 'a file not read yet comes from the mounted generation' '
	echo "one 2" >expect &&
	test_cmp expect m1/f2
'

test_expect_success 'the old mount counts in its own generation, never in the new one' '
	sleep 0.4 &&
	test_must_fail test -e "$IMG/images/gen/latest/fs.stats" &&
	test_must_fail test -e "$IMG/images/gen/latest/access.list" &&
	old="$IMG/images/gen/$(cat old)" &&
	test "$(stat_in "$old" opened_files)" = 2 &&
	sha256sum one/f1 one/f2 | cut -c1-64 >expect &&
	test_cmp expect "$old/access.list"
'

test_expect_success 'gear-gc keeps what the old mount serves; gear-fsck finds nothing stale' '
	gear-gc --max-size 0 >out &&
	for f in one/f1 one/f2; do test -f "$(pub $(sha256sum <$f | cut -c1-64))" || return 1; done &&
	gear-fsck >out 2>err &&
	test_cmp /dev/null out
'

test_expect_success 'a pull of another image under the tag: the old mount still reads its own files' '
	mkdir store &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/other" gear-build -q dir:three gen >/dev/null &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/other" gear-push gen store >/dev/null &&
	gear-pull store gen >/dev/null &&
	retired >now &&
	test_cmp old now &&
	echo "one 3" >expect &&
	test_cmp expect m1/f3 &&
	test "$(stat_in "$IMG/images/gen/$(cat old)" opened_files)" = 3
'

test_expect_success 'a new mount serves the pulled generation and writes its stats in the tag directory' '
	start_fs gen m2 &&
	echo "three 4" >expect &&
	test_cmp expect m2/f4 &&
	test "$(stat_in "$IMG/images/gen/latest" opened_files)" = 1 &&
	stop_fs m2
'

test_expect_success 'the last mount of a replaced generation removes it when it ends' '
	stop_fs m1 &&
	retired >left &&
	test_cmp /dev/null left &&
	ls "$IMG/images/gen" >names &&
	echo latest >expect &&
	test_cmp expect names &&
	gear-fsck >out &&
	test_cmp /dev/null out
'

test_done
