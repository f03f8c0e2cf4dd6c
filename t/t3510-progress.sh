#!/bin/sh
test_description='progress of gear-build, gear-push and gear-pull --prefetch: one line on a terminal, nothing otherwise'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

test_atexit 'fusermount3 -u -q m1'
F="$TRASH_DIRECTORY/fresh"

# on_pty CMD: CMD with its standard error (only) on a pseudo-terminal; what the terminal got in tty
on_pty() { script -qec "$1" /dev/null >tty; }

# progress_ok WHAT UNIT: the terminal got '\r'-rewritten lines of WHAT, the last one ending the line
progress_ok() {
	tr "\r" "\n" <tty | grep -v "^$" >lines &&
	grep -q "^$1: [0-9]*/[0-9]* $2, [0-9.]* [KMG]*i*B/[0-9.]* [KMG]*i*B ([0-9]*%), [0-9.]* [KMG]*i*B/s" lines &&
	tail -n 1 lines | grep -q "^$1: \([0-9]*\)/\1 $2, .*(100%), .*, done in [0-9]*s.\[K$" &&
	test $(wc -l <lines) -le 60
}

test_expect_success 'setup: FUSE, the test images' '
	fs_ready &&
	build-test-images --big 3 imgs >/dev/null 2>&1 &&
	mkdir store1 store2
'

test_expect_success 'gear-build: progress on a terminal, the same summary on stdout' '
	on_pty "gear-build oci:imgs/oci:multi t351/pty >build-pty.out" &&
	progress_ok building layers &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/other" gear-build oci:imgs/oci:multi t351/pty >build-file.out 2>build.err &&
	test_cmp /dev/null build.err &&
	test_cmp build-pty.out build-file.out
'

test_expect_success 'gear-build -q on a terminal: the progress, and the digest alone on stdout' '
	on_pty "gear-build -q oci:imgs/oci:multi t351/q >q.out" &&
	progress_ok building layers &&
	grep -x "sha256:[0-9a-f]*" q.out
'

test_expect_success 'gear-build of a directory: the files and bytes read, no totals' '
	mkdir d && printf x >d/a && printf yy >d/b && ln -s a d/l &&
	on_pty "gear-build dir:d t351/dir >dir.out" &&
	tr "\r" "\n" <tty >lines &&
	grep "^building: 2 files, 3 B, [0-9.]* [KMG]*i*B/s, done in 0s.\[K$" lines &&
	grep -x "files	2" dir.out
'

test_expect_success 'gear-push: progress on a terminal only' '
	start_fs t351/pty m1 &&
	cat m1/etc/passwd m1/usr/lib/libfake.so m1/big/* >/dev/null &&
	stop_fs m1 &&
	on_pty "gear-push t351/pty store1 >push-pty.out" &&
	progress_ok pushing objects &&
	gear-push t351/pty store2 >push-file.out 2>push.err &&
	test_cmp /dev/null push.err &&
	test_cmp push-pty.out push-file.out
'

test_expect_success 'gear-pull --prefetch: progress on a terminal only' '
	on_pty "GEAR_SYSROOT=$F gear-pull --prefetch store1 t351/pty >pull-pty.out" &&
	progress_ok prefetching files &&
	grep "^prefetched [1-9]" pull-pty.out &&
	rm -rf "$F" &&
	GEAR_SYSROOT="$F" gear-pull --prefetch store1 t351/pty >pull-file.out 2>pull.err &&
	test_cmp /dev/null pull.err &&
	test_cmp pull-pty.out pull-file.out
'

test_expect_success 'gear-pull without --prefetch draws nothing' '
	rm -rf "$F" &&
	on_pty "GEAR_SYSROOT=$F gear-pull store1 t351/pty >pull2.out" &&
	test_cmp /dev/null tty
'

test_done
