#!/bin/sh
test_description='solid frames in a registry: small files in one zstd frame, fetched and verified each on its own, a corrupt frame fails only what it spoils, resumed pushes make the same packs'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

test_atexit 'for m in m1 m2 m3 m4; do fusermount3 -u -q $m; done; gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'

V2=reg/data/docker/registry/v2
# gets LOG: the GET requests of blobs a registry log has, "PATH STATUS"
gets() { sed -n 's|.*"GET \(/v2/[^ ]*/blobs/[^ ]*\) HTTP/1.1" \([0-9]*\) .*|\1 \2|p' "$1"; }
# frames MAP: "OFFSET LENGTH" of each solid frame, in pack order
frames() { awk -F '\t' 'NF == 4 { print $2, $3 }' "$1" | uniq; }
# member MAP HEX: "sha256:PACK OFFSET LENGTH AT" of a content in a frame
member() { awk -F '\t' -v h=$2 '$1 == "pack" { p = $2 } $1 == h && NF == 4 { print p, $2, $3, $4 }' "$1"; }
# packsum MAP: the bytes of the packs a map names
packsum() { awk -F '\t' '$1 == "pack" { s += $3 } END { print s + 0 }' "$1"; }
# data PACK: the file a registry keeps blob sha256:PACK in
data() { echo "$V2/blobs/sha256/$(echo ${1#sha256:} | cut -c1-2)/${1#sha256:}/data"; }
conf() { mkdir -p "$GEAR_SYSROOT/etc/gear" && echo "$1" >"$GEAR_SYSROOT/etc/gear/gear.conf"; }
# push ARGS: gear-push, knowing nothing of earlier pushes (each is to an empty repository)
push() {
	mkdir -p keep &&
	for d in "$IMG"/images/test/*/latest/pushed; do mv "$d" keep/$(ls keep | wc -l) 2>/dev/null; done
	gear-push "$@"
}

test_expect_success 'setup: FUSE, a registry, an image of many small files alike, a large one, an empty one' '
	fs_ready &&
	mkdir -p a/etc a/lib a/data a/bin &&
	seq 1 400 | sed "s/^/a line of the common header, number /" >header &&
	for i in $(seq 1 150); do { cat header; echo "file $i"; seq $i $((i * 7)); } >a/lib/f$i || return 1; done &&
	for i in $(seq 1 40); do seq $((i * 1000)) $((i * 1000 + 20000)) >a/data/d$i || return 1; done &&
	head -c 1500000 /dev/urandom >a/bin/big &&
	printf "\050\265\057\375 not a zstd frame, though it starts like one" >a/etc/magic &&
	echo hello >a/etc/hello &&
	: >a/etc/empty &&
	gear-build -q dir:a test/a >/dev/null &&
	gear-test-registry start reg >addr
'
A=$(cat addr 2>/dev/null)
R=docker+http://$A
M="$IMG/images/test/a/latest/pushed/$A"

test_expect_success 'solid-level in gear.conf is checked' '
	conf solid-level=23 &&
	test_expect_code 100 gear-push test/a $R/solid/a 2>err &&
	echo "gear-push: $GEAR_SYSROOT/etc/gear/gear.conf:1: solid-level must be 0 to 22, not '\''23'\''" >expect &&
	test_cmp expect err &&
	conf solid-level=x &&
	test_expect_code 100 gear-push test/a $R/solid/a 2>err &&
	grep "solid-level must be 0 to 22" err
'

test_expect_success 'gear-push with solid-level: the small files in solid frames, the large one alone, in fewer bytes' '
	conf "" &&
	push test/a $R/plain/a >out &&
	cp "$M/plain/a.map" plain.map &&
	conf solid-level=9 &&
	push test/a $R/solid/a >out &&
	grep -x "objects sent 194, skipped 0, bytes [0-9]*, packs sent 1, skipped 0" out &&
	frames "$M/solid/a.map" >fr &&
	test $(wc -l <fr) -ge 2 &&
	awk -F "\t" "NF == 4" "$M/solid/a.map" >members &&
	test $(wc -l <members) = 192 &&
	big=$(sha256sum <a/bin/big | cut -c1-64) &&
	awk -F "\t" -v h=$big "\$1 == h && NF == 3" "$M/solid/a.map" | grep . &&
	test $(awk -F "\t" "NF == 4" plain.map | wc -l) = 0 &&
	test $(packsum "$M/solid/a.map") -lt $(($(packsum plain.map) * 3 / 4))
'

test_expect_success 'the registry map is compact, headed gear-map 4, and pulls back to the same text' '
	GEAR_SYSROOT="$TRASH_DIRECTORY/f1" gear-pull $R/solid/a test/a >/dev/null &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/f1" gear-index -m test/a >map &&
	test_cmp "$M/solid/a.map" map &&
	sed -n "1s/\t.*//p" "$TRASH_DIRECTORY/f1/var/lib/gear/images/test/a/latest/objects.map" >head &&
	echo "gear-map 4" >expect &&
	test_cmp expect head &&
	map_blob_headed "$V2" "gear-map 4	194"
'

test_expect_success 'a mount reads every file byte for byte; each lazy open of a member fetches its frame' '
	: >reg/log &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f1" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		start_fs test/a m1 --no-read-around &&
		cat m1/lib/f7 >/dev/null &&
		diff -r a m1 &&
		stop_fs m1
	) &&
	gets reg/log | grep " 206$" >ranges &&
	test $(wc -l <ranges) = 193 &&
	test $(gets reg/log | wc -l) = 193
'

test_expect_success 'read-around: a lazy open of a member brings the rest of its frame, in one request' '
	: >reg/log &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f2" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/solid/a test/a >/dev/null &&
		start_fs test/a m2 &&
		cmp a/lib/f10 m2/lib/f10 &&
		S="$IMG/images/test/a/latest/fs.stats" &&
		h=$(sha256sum <a/lib/f10 | cut -c1-64) &&
		gear-index -m test/a >map &&
		member map $h >loc &&
		read -r p off len at <loc &&
		awk -F "\t" -v o=$off "NF == 4 && \$2 == o" map >same &&
		n=$(wc -l <same) &&
		for k in $(cut -f1 same); do
			test -f "$(pub $k)" || return 1
			sha256sum <"$(pub $k)" | cut -c1-64 >sum && echo $k >name && test_cmp name sum || return 1
		done &&
		stop_fs m2 &&
		grep -x "fetched_files 1" "$S" &&
		grep -x "read_around_files $((n - 1))" "$S" &&
		start_fs test/a m2 &&
		diff -r a m2 &&
		stop_fs m2 &&
		grep -x "errors 0" "$S"
	) &&
	gets reg/log | grep " 206$" | head -n 1 >first &&
	test -s first
'

test_expect_success 'the access list goes into frames of its own, first; --prefetch reads them with one request' '
	start_fs test/a m3 &&
	for i in 9 3 7 1 5; do cat m3/lib/f$i >/dev/null || return 1; done &&
	cat m3/data/d4 m3/etc/hello m3/bin/big >/dev/null &&
	stop_fs m3 &&
	cut -c1-64 "$IMG/images/test/a/latest/access.list" >acc &&
	test $(wc -l <acc) = 8 &&
	push test/a $R/hot/a >out &&
	frames "$M/hot/a.map" | head -n 1 >first &&
	read -r off len <first &&
	awk -F "\t" -v o=$off "NF == 4 && \$2 == o { print \$1 }" "$M/hot/a.map" >infirst &&
	grep -v $(sha256sum <a/bin/big | cut -c1-64) acc >accsmall &&
	test_cmp accsmall infirst &&
	: >reg/log &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/f3" gear-pull --prefetch $R/hot/a test/a >out &&
	grep -x "prefetched 8 of 8 files, [0-9]* bytes ([0-9]* on the wire), 0 present" out &&
	gets reg/log | grep " 206$" >ranges &&
	test $(wc -l <ranges) -le 2 &&
	for f in lib/f9 lib/f3 lib/f7 lib/f1 lib/f5 data/d4 etc/hello bin/big; do
		h=$(sha256sum <a/$f | cut -c1-64) &&
		IMG="$TRASH_DIRECTORY/f3/var/lib/gear" cmp a/$f "$(IMG="$TRASH_DIRECTORY/f3/var/lib/gear" pub $h)" || return 1
	done
'

test_expect_success 'a corrupt frame: what decodes before the fault reads, what it spoils fails with EIO, never wrong bytes' '
	D="$TRASH_DIRECTORY/f1/var/lib/gear/images/test/a/latest" &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/f1" gear-index -m test/a >map &&
	frames map | tail -n 1 >last &&
	read -r off len <last &&
	awk -F "\t" -v o=$off "\$1 == \"pack\" { p = \$2 } NF == 4 && \$2 == o { print p, \$1 }" map >mem &&
	head -n 1 mem >firstm && read -r p h0 <firstm &&
	tail -n 1 mem >lastm && read -r p hl <lastm &&
	cp "$(data $p)" pack.orig &&
	printf "XXXXXXXXXXXXXXXX" | dd of="$(data $p)" bs=1 seek=$((off + len - 64)) conv=notrunc 2>/dev/null &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f4" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/solid/a test/a >/dev/null &&
		start_fs test/a m4 --no-read-around &&
		: >failed &&
		for f in $(cd a && find . -type f); do
			h=$(sha256sum <a/$f | cut -c1-64) &&
			if cat m4/$f >got 2>err; then
				cmp a/$f got || return 1
			else
				grep "Input/output error" err && echo $h >>failed &&
				grep -q " $h\$" mem && test ! -e "$(pub $h)" || return 1
			fi
		done &&
		grep -x $hl failed &&
		! grep -x $h0 failed &&
		stop_fs m4 &&
		grep -q "cannot fetch .*sha256:$hl.*solid frame" m4.err
	) &&
	cp pack.orig "$(data $p)"
'

test_expect_success 'an interrupted push with solid frames resumes: the same packs, those sent kept' '
	conf "solid-level=9
pack-size=64K" &&
	push test/a $R/whole/a >out &&
	cp "$M/whole/a.map" whole.map &&
	mv "$M/whole" keep/whole2 &&
	test_expect_code 137 env GEAR_TEST_PUSH_KILL_AFTER=1 gear-push test/a $R/resumed/a >out 2>err &&
	test ! -e "$M/resumed/a.map" &&
	gear-push test/a $R/resumed/a >out &&
	grep "packs sent [0-9]*, skipped [1-9]" out &&
	test_cmp whole.map "$M/resumed/a.map" &&
	gear-clean >/dev/null &&
	test -z "$(ls "$IMG/build")"
'

# frames_of: the store's frame files
frames_of() { find "$IMG/frames" -type f 2>/dev/null | sort; }

test_expect_success 'gear-recompress makes the store frames: grouped by the images naming their members and the access lists naming them, verified, kept by a second run' '
	conf "" &&
	mkdir -p b &&
	cp -a a/. b/ &&
	for i in $(seq 1 30); do echo "b only $i" >b/lib/bonly$i || return 1; done &&
	gear-build -q dir:b test/b >/dev/null &&
	gear-recompress -l 9 >out &&
	grep -x "frames	[0-9]*" out >n && read -r w planned <n &&
	test $planned -ge 3 &&
	grep -x "frames-made	$planned" out &&
	frames_of >files &&
	test $(wc -l <files) = $planned &&
	for f in $(cat files); do
		test "$(stat -c %a "$f")" = 400 || return 1
	done &&
	bonly=$(sha256sum <b/lib/bonly1 | cut -c1-64) &&
	f1=$(sha256sum <a/lib/f1 | cut -c1-64) &&
	for f in $(cat files); do
		if grep -aq "^$bonly	" "$f"; then
			! grep -aq "^$f1	" "$f" || return 1
		fi
	done &&
	f9=$(sha256sum <a/lib/f9 | cut -c1-64) &&
	for f in $(cat files); do grep -aq "^$f9	" "$f" && echo "$f"; done >hot &&
	test $(wc -l <hot) = 1 &&
	grep -a "^[0-9a-f]\{64\}	[0-9]*\$" "$(cat hot)" | cut -f1 | sort >hot.members &&
	for x in lib/f9 lib/f3 lib/f7 lib/f1 lib/f5 data/d4 etc/hello; do sha256sum <a/$x | cut -c1-64; done | sort >hot.expect &&
	test_cmp hot.expect hot.members &&
	gear-fsck >fsck &&
	gear-recompress -l 9 >out &&
	grep -x "frames-made	0" out &&
	grep -x "frames-kept	$planned" out &&
	frames_of >again &&
	test_cmp files again
'

test_expect_success 'gear-push sends the store frames as they are, with no solid-level; the pull mounts byte for byte' '
	push test/b $R/store/b >out &&
	grep -x "objects sent 224, skipped 0, bytes [0-9]*, packs sent [0-9]*, skipped 0" out &&
	awk -F "\t" "NF == 4" "$IMG/images/test/b/latest/pushed/$A/store/b.map" | wc -l >members &&
	test $(cat members) -ge 221 &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f5" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/store/b test/b >/dev/null &&
		start_fs test/b m1 &&
		diff -r b m1 &&
		stop_fs m1
	)
'

test_expect_success 'gear-fsck finds a corrupt store frame and --repair removes it; a push after sends the objects' '
	f=$(ls -S $(frames_of) | head -n 1) &&
	chmod u+w "$f" &&
	printf XXXXXXXX | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") - 200)) conv=notrunc 2>/dev/null &&
	test_expect_code 1 gear-fsck >out 2>err &&
	grep "^corrupt	frames/.*	the frame does not decode\|^corrupt	frames/.*does not match" out &&
	test_expect_code 1 gear-fsck --repair >out 2>err &&
	grep "1 corrupt, .* [1-9] repaired" err &&
	test ! -e "$f" &&
	gear-fsck >out &&
	push test/b $R/repaired/b >out &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f6" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/repaired/b test/b >/dev/null &&
		start_fs test/b m1 &&
		diff -r b m1 &&
		stop_fs m1
	) &&
	gear-recompress -l 9 >out &&
	grep -x "frames-made	1" out
'

test_expect_success '--no-frames leaves the frames alone; gear-gc (not --dry-run) removes a frame once an image naming its members is gone; gear-recompress plans again' '
	frames_of >before &&
	gear-recompress --no-frames -l 9 >out &&
	grep -x "frames	0" out &&
	frames_of >same &&
	test_cmp before same &&
	gear-rmi test/b >/dev/null &&
	gear-gc --dry-run >out &&
	grep "^would remove [1-9][0-9]* solid frames of contents no image names" out &&
	frames_of >same &&
	test_cmp before same &&
	gear-gc >out &&
	grep "^removed [1-9][0-9]* solid frames of contents no image names" out &&
	frames_of >after &&
	test $(wc -l <after) -lt $(wc -l <before) &&
	for f in $(cat after); do
		! grep -aq "^$(sha256sum <b/lib/bonly1 | cut -c1-64)	" "$f" || return 1
	done &&
	gear-recompress -l 9 >out &&
	gear-fsck
'

test_expect_success 'many tiny files: frames of at most 1024 members, pushed, recompressed and read around' '
	mkdir -p c &&
	for i in $(seq 1 1500); do echo "tiny $i" >c/t$i || return 1; done &&
	gear-build -q dir:c test/c >/dev/null &&
	conf solid-level=3 &&
	push test/c $R/tiny/c >out &&
	conf "" &&
	D="$IMG/images/test/c/latest/pushed/$A/tiny/c.map" &&
	awk -F "\t" "NF == 4 { print \$2 }" "$D" | uniq -c | awk "{ print \$1 }" >counts &&
	test $(wc -l <counts) -ge 2 &&
	test $(sort -n counts | tail -n 1) -le 1024 &&
	gear-recompress -l 3 >out &&
	grep -x "frames-failed	0" out &&
	for f in $(frames_of); do
		test $(head -c 200000 "$f" | grep -ac "^[0-9a-f]\{64\}	") -le 1024 || return 1
	done &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f7" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/tiny/c test/c >/dev/null &&
		start_fs test/c m1 &&
		cat m1/t5 >/dev/null &&
		S="$IMG/images/test/c/latest/fs.stats" &&
		diff -r c m1 &&
		stop_fs m1 &&
		grep -x "errors 0" "$S" &&
		n=$(sed -n "s/^read_around_files //p" "$S") &&
		test $n -ge 1000 && test $n -le 1499
	)
'

test_expect_success 'a corrupt object: its frame is not made, the others are, and gear-recompress exits 111' '
	find "$IMG/frames" -type f -delete &&
	h=$(sha256sum <c/t7 | cut -c1-64) &&
	o="$IMG/objects/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-)" &&
	chmod u+w "$o" && cp "$o" obj.orig &&
	echo "tiny 8" >"$o" &&
	test_expect_code 111 gear-recompress -l 3 >out 2>err &&
	grep -x "frames-failed	1" out &&
	grep "^gear-recompress: solid frame [0-9a-f]\{12\} not made: .*sha256:$(echo $h | cut -c1-12)" err &&
	made=$(sed -n "s/^frames-made	//p" out) &&
	test $made -ge 1 &&
	test $(frames_of | wc -l) = $made &&
	for f in $(frames_of); do
		! grep -aq "^$h	" "$f" || return 1
	done &&
	cp obj.orig "$o" &&
	gear-recompress -l 3 >out &&
	grep -x "frames-made	1" out &&
	gear-fsck
'

test_done
