#!/bin/sh
test_description='gear-export writes nothing outside DIR, whatever appears in it meanwhile, and leaves an existing DIR as it was'
. "$(dirname "$0")/lib/test-lib.sh"

PAUSE="$TRASH_DIRECTORY/pause"
test_atexit 'rm -f "$PAUSE"; wait'

# export_swapped LINK: gear-export stopped once it made out/a; out/a then
# becomes a symlink to LINK, and the export goes on (its status in rc)
export_swapped() {
	rm -rf out "$PAUSE" rc &&
	{ env GEAR_TEST_PAUSE=export:a GEAR_TEST_PAUSE_FILE="$PAUSE" gear-export img out >stdout 2>err &&
		echo 0 >rc || echo $? >rc; } &
	test_wait_file "$PAUSE" &&
	rmdir out/a &&
	ln -s "$1" out/a &&
	rm "$PAUSE" &&
	test_wait_file rc
}

test_expect_success 'setup: an image of a directory, its root 1777 and owned by 4321:4321' '
	mkdir -p src/a canary &&
	echo inside >src/a/x &&
	ln -s ../../.. src/up &&
	chmod 1777 src &&
	chown 4321:4321 src &&
	gear-build -q dir:src img >/dev/null &&
	test_tree_snapshot tree
'

test_expect_success 'a directory swapped for a symlink out of DIR while the export runs is not followed' '
	export_swapped "$TRASH_DIRECTORY/canary" &&
	test "$(cat rc)" = 111 &&
	echo "gear-export: cannot export '\''img:latest'\'': cannot open '\''out/a'\'': Not a directory" >expect &&
	test_cmp expect err &&
	ls -A canary >left &&
	test_must_fail test -s left
'

test_expect_success 'nor is a relative one' '
	export_swapped ../canary &&
	test "$(cat rc)" = 111 &&
	test_cmp expect err &&
	ls -A canary >left &&
	test_must_fail test -s left
'

test_expect_success 'a symlink of the image is written as a symlink' '
	rm -rf out &&
	gear-export img out &&
	test "$(readlink out/up)" = ../../.. &&
	echo inside >expect &&
	test_cmp expect out/a/x
'

test_expect_success 'a DIR the export makes takes the image root s owner and mode' '
	test "$(stat -c "%a %u %g" out)" = "1777 4321 4321"
'

test_expect_success 'an existing DIR keeps its own owner and mode' '
	rm -rf out && mkdir out && chmod 0750 out && chown 123:456 out &&
	gear-export img out &&
	test "$(stat -c "%a %u %g" out)" = "750 123 456" &&
	test_cmp expect out/a/x &&
	test "$(readlink out/up)" = ../../..
'

test_expect_success 'the image tree is as it was' '
	test_tree_snapshot tree.after &&
	test_cmp tree tree.after
'

test_done
