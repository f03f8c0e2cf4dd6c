#!/bin/sh
test_description='a directory store holding fifos, devices, endless files, or stopping to answer: errors in time, never a hang'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

test_atexit 'for m in m1 m2 sm; do fusermount3 -u -q -z $m; done'
test_atexit 'test -f "$TRASH_DIRECTORY/sm.pid" && kill -CONT $(cat "$TRASH_DIRECTORY/sm.pid") 2>/dev/null'

F="$TRASH_DIRECTORY/f/var/lib/gear"

# timed SECONDS CMD...: CMD, which must end within SECONDS (killed after 30)
timed() {
	timed_limit=$1
	shift
	timed_start=$(date +%s)
	timed_code=0
	timeout 30 "$@" || timed_code=$?
	timed_took=$(($(date +%s) - timed_start))
	if [ $timed_took -gt $timed_limit ]; then
		echo "took $timed_took seconds, more than $timed_limit: $*" >&2
		return 1
	fi
	return $timed_code
}

# small CMD...: CMD with files limited to 64 MiB, so that a copy without end fails instead of filling the disk
small() { (trap "" XFSZ && ulimit -f 131072 && "$@"); }

# nothing_cached ROOT: no content in the public/ cache of ROOT's image tree
nothing_cached() {
	find "$1/public" -type f >cached 2>/dev/null
	test_cmp /dev/null cached
}

test_expect_success 'setup: FUSE, an image in a directory store, its access list naming /etc/seq' '
	fs_ready &&
	mkdir -p src/etc src/bin store &&
	seq 1 20000 >src/etc/seq &&
	echo hello >src/etc/hello &&
	head -c 100000 /dev/urandom >src/bin/blob &&
	gear-build -q dir:src test/img >/dev/null &&
	gear-push test/img store >/dev/null &&
	h=$(sha256sum <src/etc/seq | cut -c1-64) &&
	echo $h >store/images/test/img/latest/access.list &&
	obj=store/objects/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-) &&
	test -f $obj &&
	cp $obj saved.obj &&
	echo "$h $obj $(stat -c %s src/etc/seq)" >seq.obj &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/f" gear-pull store test/img >/dev/null &&
	test -f "$F/images/test/img/latest/access.list"
'

# prefetch_fails MESSAGE: gear-pull --prefetch fails at once (111) with MESSAGE about the object, nothing cached
prefetch_fails() {
	read -r h obj size <seq.obj &&
	rm -rf "$F/public" &&
	test_expect_code 111 small timed 5 env GEAR_SYSROOT="$TRASH_DIRECTORY/f" gear-pull --prefetch store test/img >out 2>err &&
	echo "gear-pull: cannot prefetch 'test/img:latest': content sha256:$(echo $h | cut -c1-12): object sha256:$(echo $h | cut -c1-12): '$TRASH_DIRECTORY/$obj' $1" >expect &&
	test_cmp expect err &&
	nothing_cached "$F"
}

test_expect_success 'a fifo as an object: gear-pull --prefetch fails at once' '
	read -r h obj size <seq.obj &&
	rm $obj && mkfifo $obj &&
	prefetch_fails "is not a regular file"
'

test_expect_success 'a device as an object: refused, not read' '
	read -r h obj size <seq.obj &&
	rm $obj && mknod $obj c 1 5 &&
	prefetch_fails "is not a regular file"
'

test_expect_success 'a 1 TiB sparse file as an object: refused at its bound, at once' '
	read -r h obj size <seq.obj &&
	rm $obj && truncate -s 1T $obj &&
	b=$(($size + $size / 256 + (131072 - $size) / 2048 + 4096)) &&
	prefetch_fails "is larger than $b bytes"
'

test_expect_success 'the sound object prefetches' '
	read -r h obj size <seq.obj &&
	rm $obj && cp saved.obj $obj &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/f" gear-pull --prefetch store test/img >out &&
	grep -q "^prefetched 1 of 1 files, $size bytes" out &&
	rm -rf "$F/public"
'

# two_readers MOUNT FILE SECONDS: two readers of FILE at once both get EIO within SECONDS
two_readers() {
	readers_start=$(date +%s)
	(timeout 30 cat "$1/$2" >/dev/null 2>r1.err && echo 0 >r1.code || echo $? >r1.code) &
	p1=$!
	(timeout 30 cat "$1/$2" >/dev/null 2>r2.err && echo 0 >r2.code || echo $? >r2.code) &
	p2=$!
	wait $p1 $p2
	readers_took=$(($(date +%s) - readers_start))
	test $readers_took -le $3 || { echo "readers took $readers_took seconds, more than $3"; return 1; }
	echo 1 >expect &&
	test_cmp expect r1.code &&
	test_cmp expect r2.code &&
	grep -q "Input/output error" r1.err &&
	grep -q "Input/output error" r2.err
}

test_expect_success 'through gear-fs: a fifo or an endless file as an object gives EIO at once, to a second reader too' '
	read -r h obj size <seq.obj &&
	rm $obj && mkfifo $obj &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f" && IMG="$F" &&
		start_fs test/img m1 &&
		two_readers m1 etc/seq 5 &&
		grep -q "^gear-fs: cannot fetch '\''/etc/seq'\'' (sha256:$h): object sha256:$(echo $h | cut -c1-12): '\''$TRASH_DIRECTORY/$obj'\'' is not a regular file$" m1.err &&
		nothing_cached "$F" &&
		rm $obj && truncate -s 1T $obj &&
		two_readers m1 etc/seq 5 &&
		grep -q "^gear-fs: cannot fetch '\''/etc/seq'\'' (sha256:$h): object sha256:$(echo $h | cut -c1-12): '\''$TRASH_DIRECTORY/$obj'\'' is larger than [0-9]* bytes$" m1.err &&
		nothing_cached "$F" &&
		rm $obj && cp saved.obj $obj &&
		test_cmp src/etc/seq m1/etc/seq &&
		stop_fs m1
	)
'

# store_fails FILE MESSAGE: with FILE of the store image replaced by a fifo, gear-pull fails at once, nothing is left
store_fails() {
	mv "store/images/test/img/latest/$1" saved.file &&
	mkfifo "store/images/test/img/latest/$1" &&
	pull_failed=0
	test_expect_code 111 timed 5 env GEAR_SYSROOT="$TRASH_DIRECTORY/g" gear-pull store test/img 2>err || pull_failed=1
	rm "store/images/test/img/latest/$1" && mv saved.file "store/images/test/img/latest/$1" &&
	test $pull_failed = 0 &&
	echo "gear-pull: cannot pull 'test/img:latest': $2" >expect &&
	test_cmp expect err &&
	{ find g/var/lib/gear/images -mindepth 1 >left 2>/dev/null || :; } &&
	test_cmp /dev/null left
}

test_expect_success 'a fifo in the store image: index.json, oci-layout, a blob, the access list; gear-pull fails at once' '
	D="$TRASH_DIRECTORY/store/images/test/img/latest" &&
	store_fails index.json "'\''$D'\'': '\''$D/index.json'\'' is not a regular file" &&
	store_fails oci-layout "'\''$D/oci-layout'\'' is not a regular file" &&
	L=$(python3 -c "import json; d = json.load(open(\"$D/index.json\")); print(d[\"manifests\"][0][\"digest\"][7:])") &&
	store_fails blobs/sha256/$L "blob sha256:$(echo $L | cut -c1-12): '\''$D/blobs/sha256/$L'\'' is not a regular file" &&
	store_fails access.list "'\''$D/access.list'\'' is not a regular file" &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/g" gear-pull store test/img >/dev/null
'

test_expect_success 'an index layer longer than its manifest says is cut off at the declared size' '
	D="$TRASH_DIRECTORY/store/images/test/img/latest" &&
	python3 -c "import json; d = json.load(open(\"$D/blobs/sha256/$(python3 -c "import json; print(json.load(open(\"$D/index.json\"))[\"manifests\"][0][\"digest\"][7:])")\")); print(d[\"layers\"][0][\"digest\"][7:], d[\"layers\"][0][\"size\"])" >layer &&
	read -r L lsize <layer &&
	cp "$D/blobs/sha256/$L" saved.layer &&
	truncate -s 1T "$D/blobs/sha256/$L" &&
	pull_failed=0 &&
	{ test_expect_code 111 small timed 5 env GEAR_SYSROOT="$TRASH_DIRECTORY/h" gear-pull store test/img 2>err || pull_failed=1; } &&
	cp saved.layer "$D/blobs/sha256/$L" &&
	test $pull_failed = 0 &&
	echo "gear-pull: cannot pull '\''test/img:latest'\'': blob sha256:$(echo $L | cut -c1-12): '\''$D/blobs/sha256/$L'\'' is larger than $lsize bytes" >expect &&
	test_cmp expect err
'

test_expect_success 'a store that stops answering: gear-fs readers get EIO within GEAR_FETCH_TIMEOUT, gear-pull fails in time' '
	cp -r store store3 &&
	gear-build -q dir:store3 storefs >/dev/null &&
	start_fs storefs sm &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/s" gear-pull "$TRASH_DIRECTORY/sm" test/img >/dev/null &&
	read -r h obj size <seq.obj &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/s" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		GEAR_FETCH_TIMEOUT=2 && export GEAR_FETCH_TIMEOUT &&
		start_fs test/img m2 &&
		kill -STOP $(cat sm.pid) &&
		two_readers m2 etc/seq 8 &&
		grep -q "^gear-fs: cannot fetch '\''/etc/seq'\'' (sha256:$h): object sha256:$(echo $h | cut -c1-12): '\''$TRASH_DIRECTORY/sm/${obj#store/}'\'' did not answer within 2 seconds$" m2.err &&
		nothing_cached "$IMG" &&
		test_expect_code 111 timed 8 env GEAR_SYSROOT="$TRASH_DIRECTORY/s2" gear-pull --prefetch "$TRASH_DIRECTORY/sm" test/img >out 2>err &&
		grep -q "did not answer within 2 seconds$" err &&
		kill -CONT $(cat sm.pid) &&
		test_cmp src/etc/seq m2/etc/seq &&
		stop_fs m2
	) &&
	stop_fs sm
'

test_done
