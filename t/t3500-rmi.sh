#!/bin/sh
test_description='gear-rmi: an image out of the image tree, never one a container or a mount uses'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

test_atexit 'fusermount3 -u -q m1; gear-test-systemd stop "$SD"'

test_expect_success 'setup: three images, FUSE and a private systemd user manager' '
	fs_ready &&
	test_gear_conf "gear-bin=$GEAR_BUILD/bin" &&
	build-test-images imgs >/dev/null 2>&1 &&
	gear-build oci:imgs/oci:multi t35/multi >/dev/null &&
	gear-build oci:imgs/oci:other t35/other >/dev/null &&
	gear-build oci:imgs/oci:other t35/other:2 >/dev/null &&
	gear-test-systemd start "$SD"
'

test_expect_success 'usage errors exit 100; a missing image exits 1 and names it' '
	test_expect_code 100 gear-rmi 2>err &&
	grep "^usage: gear-rmi" err &&
	test_expect_code 100 gear-rmi BAD 2>err &&
	grep "^gear-rmi: cannot remove image: invalid image name '\''BAD'\''" err &&
	test_expect_code 1 gear-rmi t35/nosuch 2>err &&
	echo "gear-rmi: cannot remove image: no image '\''t35/nosuch:latest'\''" >expect &&
	test_cmp expect err
'

test_expect_success 'an image a container runs from is refused, naming the container' '
	g gear-install gear:t35/other:2 t35ctr >/dev/null &&
	test_tree_snapshot before &&
	test_expect_code 1 gear-rmi t35/other:2 2>err &&
	echo "gear-rmi: cannot remove image: image '\''t35/other:2'\'' is in use by container '\''t35ctr'\''" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'a mounted image is refused' '
	start_fs t35/multi m1 &&
	test_expect_code 1 gear-rmi t35/multi 2>err &&
	echo "gear-rmi: cannot remove image: image '\''t35/multi:latest'\'' is in use by a mount (gear-fs) on '\''$PWD/m1'\''" >expect &&
	test_cmp expect err &&
	gear-images -q >out &&
	grep -x t35/multi:latest out &&
	stop_fs m1
'

# objects: the stored objects, sorted
objects() { (cd "$IMG/objects" && find . -type f ! -path "./.*" | sed "s|^\./||; s|/||" | sort); }

test_expect_success 'an unused image goes; its objects and what it cached go with the next gear-gc, not while a build runs' '
	start_fs t35/multi m1 &&
	cat m1/etc/passwd >/dev/null &&
	stop_fs m1 &&
	gear-gc >gc &&
	test_must_fail grep "object sha256\|stored objects" gc &&
	objects >objects.before &&
	gear-images -q >before &&
	gear-rmi t35/multi >out 2>err &&
	test ! -s out &&
	test ! -s err &&
	gear-images -q >after &&
	grep -v -x t35/multi:latest before >expect &&
	test_cmp expect after &&
	test ! -e "$IMG/images/t35/multi" &&
	ls "$IMG/images/t35" >names &&
	printf "other\n" >expect &&
	test_cmp expect names &&
	gear-fsck >/dev/null &&
	gear-gc --dry-run >gc &&
	objects >objects.after &&
	test_cmp objects.before objects.after &&
	flock -s "$IMG/objects" gear-gc >gc &&
	test_must_fail grep "object sha256\|stored objects" gc &&
	objects >objects.after &&
	test_cmp objects.before objects.after &&
	gear-gc >gc &&
	sed -n "s/^removed object sha256:\([0-9a-f]*\) [0-9]*$/\1/p" gc >removed &&
	test -s removed &&
	objects >objects.after &&
	comm -23 objects.before objects.after >gone &&
	test_cmp removed gone &&
	grep -x "removed $(wc -l <removed) stored objects no image names, [0-9]* bytes" gc &&
	gear-fsck >/dev/null &&
	gear-export t35/other:2 exp &&
	umoci unpack --image imgs/oci:other ref >/dev/null 2>&1 &&
	rsync -naHAXc -i --delete ref/rootfs/ exp/ >diff &&
	test_cmp /dev/null diff &&
	gear-gc >gc &&
	test_must_fail grep "object sha256\|stored objects" gc
'

test_expect_success 'a removal and a build putting a tag of the name in place take turns' '
	g gear-delete t35ctr &&
	: >hold &&
	{ flock "$IMG/images/t35/other" sh -c ": >held; while test -e hold; do sleep 0.05; done" & } &&
	test_wait_file held &&
	{ gear-rmi t35/other:2 >rmi.out 2>&1 & echo $! >rmi.pid; } &&
	{ gear-build oci:imgs/oci:other t35/other:3 >build.out 2>&1 & echo $! >build.pid; } &&
	waits_on_lock $(cat rmi.pid) &&
	waits_on_lock $(cat build.pid) &&
	gear-images -q >out &&
	printf "t35/other:2\nt35/other:latest\n" >expect &&
	test_cmp expect out &&
	rm hold &&
	wait $(cat rmi.pid) &&
	wait $(cat build.pid) &&
	gear-images -q >out &&
	printf "t35/other:3\nt35/other:latest\n" >expect &&
	test_cmp expect out
'

test_expect_success 'the last tag of a name takes its directories; the name can be built again' '
	gear-rmi t35/other t35/other:3 &&
	test ! -e "$IMG/images/t35" &&
	gear-images -q >out &&
	test ! -s out &&
	gear-build oci:imgs/oci:other t35:other >/dev/null &&
	gear-images -q >out &&
	echo t35:other >expect &&
	test_cmp expect out
'

test_done
