#!/bin/sh
test_description='chunked contents: a large file stored as frames of 1 MiB, listed in the map with their digests, read by gear-fs a chunk at a time, each chunk checked, the whole named in public/ once every chunk is in'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

test_atexit 'for m in m1 m2 m3 m4 m5 m6; do fusermount3 -u -q $m; done; umount "$TRASH_DIRECTORY/st" 2>/dev/null; gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'

V2=reg/data/docker/registry/v2
MiB=1048576
# gets LOG: the GET requests of blobs a registry log has, "PATH STATUS"
gets() { sed -n 's|.*"GET \(/v2/[^ ]*/blobs/[^ ]*\) HTTP/1.1" \([0-9]*\) .*|\1 \2|p' "$1"; }
# chunks MAP HEX: the chunk lines of a content, "CLEN SIZE CHUNK_HEX"
chunks() { awk -F '\t' -v h=$2 '$1 == h { on = 1; next } $1 == "chunk" && on { print $2, $3, $4; next } { on = 0 }' "$1"; }
# loc MAP HEX: "sha256:PACK OFFSET LENGTH" of a content
loc() { awk -F '\t' -v h=$2 '$1 == "pack" { p = $2 } $1 == h { print p, $2, $3 }' "$1"; }
# data PACK: the file a registry keeps blob sha256:PACK in
data() { echo "$V2/blobs/sha256/$(echo ${1#sha256:} | cut -c1-2)/${1#sha256:}/data"; }
sum() { sha256sum <"$1" | cut -c1-64; }
# frames FILE: the zstd frames of a stored object
frames() { zstd -lv "$1" 2>/dev/null | sed -n 's/^# Zstandard Frames: *//p'; }
# part FILE N: its N-th MiB
part() { dd if="$1" bs=$MiB skip=$2 count=1 status=none; }
# in FILE N: its N-th MiB, read by O_DIRECT-free dd of one 4 KiB block in the middle
in_mib() { dd if="$1" bs=4096 skip=$(($2 * 256 + 100)) count=1 status=none; }

test_expect_success 'setup: FUSE, a registry, an image with large files (compressible, incompressible), a middle one, a small one' '
	fs_ready &&
	mkdir -p a/lib a/etc &&
	seq 1 1300000 | sed "s/^/a line of a large text file, number /" | head -c $((9 * MiB + 12345)) >a/lib/big &&
	head -c $((5 * MiB)) /dev/urandom >a/lib/random &&
	seq 1 400000 | head -c $((3 * MiB)) >a/lib/middle &&
	echo hello >a/etc/hello &&
	gear-build -q dir:a test/a >/dev/null &&
	gear-test-registry start reg >addr
'
A=$(cat addr 2>/dev/null)
R=docker+http://$A
M="$IMG/images/test/a/latest/pushed/$A/test/a.map"
BIG=$(sum a/lib/big 2>/dev/null)
RND=$(sum a/lib/random 2>/dev/null)
MID=$(sum a/lib/middle 2>/dev/null)

test_expect_success 'the store keeps a content of 4 MiB or more as frames of 1 MiB, any other as one frame' '
	obj=$(echo $BIG | cut -c1-2)/$(echo $BIG | cut -c3-) &&
	test "$(frames "$IMG/objects/$obj")" = 10 &&
	zstd -dc "$IMG/objects/$obj" | cmp - a/lib/big &&
	obj=$(echo $RND | cut -c1-2)/$(echo $RND | cut -c3-) &&
	test "$(frames "$IMG/objects/$obj")" = 5 &&
	zstd -dc "$IMG/objects/$obj" | cmp - a/lib/random &&
	obj=$(echo $MID | cut -c1-2)/$(echo $MID | cut -c3-) &&
	test "$(frames "$IMG/objects/$obj")" = 1 &&
	gear-fsck >out 2>err &&
	test ! -s out
'

test_expect_success 'a content streamed in (16 MiB or more) is stored as frames of 1 MiB in order, whatever the workers: a gzip layer and a directory, one worker and several' '
	mkdir -p s/lib &&
	for k in $(seq 0 18); do
		if [ $((k % 3)) = 0 ]; then head -c $MiB /dev/urandom; else seq $((k * 1000000)) $((k * 1000000 + 200000)) | head -c $MiB; fi
	done >s/lib/huge &&
	printf tail >>s/lib/huge &&
	cp s/lib/huge s/lib/again &&
	tar -C s -cf s.tar lib &&
	umoci init --layout o && umoci new --image o:s && umoci raw add-layer --image o:s s.tar &&
	HUGE=$(sum s/lib/huge) &&
	obj=$(echo $HUGE | cut -c1-2)/$(echo $HUGE | cut -c3-) &&
	for src in dir:s oci:o:s; do
		for j in 1 3; do
			GEAR_SYSROOT="$PWD/st" gear-build -q -j $j $src test/s >out &&
			test "$(frames st/var/lib/gear/objects/$obj)" = 20 &&
			zstd -dc st/var/lib/gear/objects/$obj | cmp - s/lib/huge &&
			test "$(find st/var/lib/gear/objects -type f | wc -l)" = 1 &&
			GEAR_SYSROOT="$PWD/st" gear-fsck >out 2>err &&
			test ! -s out &&
			rm -rf st || return 1
		done
	done
'

test_expect_success 'a streamed content that does not fit the disk: 111 and the reason, no object, no image, no staging left' '
	mkdir st &&
	mount -t tmpfs -o size=4m tmpfs st &&
	for j in 1 3; do
		test_expect_code 111 env GEAR_SYSROOT="$PWD/st" timeout 60 gear-build -q -j $j dir:s test/s >out 2>err &&
		grep "No space left on device" err &&
		test -z "$(find st/var/lib/gear/objects st/var/lib/gear/build st/var/lib/gear/images -type f)" || {
			umount st; return 1; }
	done &&
	umount st
'

test_expect_success 'gear-push lists the frames of the large contents in the map, with their digests; the registry map is headed gear-map 5 and pulls back the same' '
	gear-push test/a $R/test/a >out &&
	chunks "$M" $BIG >big.chunks &&
	test $(wc -l <big.chunks) = 10 &&
	loc "$M" $BIG >big.loc &&
	read -r pack off len <big.loc &&
	test $(awk "{ s += \$1 } END { print s }" big.chunks) = $len &&
	test $(awk "{ s += \$2 } END { print s }" big.chunks) = $(wc -c <a/lib/big) &&
	for k in 0 1 9; do
		h=$(sed -n "$((k + 1))p" big.chunks | cut -d" " -f3) &&
		test $h = $(part a/lib/big $k | sha256sum | cut -c1-64) || return 1
	done &&
	test $(chunks "$M" $RND | wc -l) = 5 &&
	test $(chunks "$M" $MID | wc -l) = 0 &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/f0" gear-pull $R/test/a test/a >/dev/null &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/f0" gear-index -m test/a >map &&
	test_cmp "$M" map &&
	map_blob_headed "$V2" "gear-map 5	4"
'

test_expect_success 'the chunk table is kept with the object for the next push; one that does not fit the object is made again' '
	o="$IMG/objects/$(echo $BIG | cut -c1-2)/$(echo $BIG | cut -c3-)" &&
	getfattr --only-values -n trusted.gear.chunks "$o" >kept &&
	echo "gear-chunks 1 $(stat -c %s "$o") $(wc -c <a/lib/big) 10" >want &&
	head -n 1 kept >got && test_cmp want got &&
	tail -n +2 kept | tr " " "\t" | sed "s/^/chunk	/" >got &&
	awk -F "\t" -v h=$BIG "\$1 == h { on = 1; next } \$1 == \"chunk\" && on { print; next } { on = 0 }" "$M" >want &&
	test_cmp want got &&
	setfattr -n trusted.gear.chunks -v "gear-chunks 1 1 1 2" "$o" &&
	mv "$IMG/images/test/a/latest/pushed" pushed.first &&
	gear-push test/a $R/again/a >out &&
	chunks "$IMG/images/test/a/latest/pushed/$A/again/a.map" $BIG >again &&
	test_cmp big.chunks again &&
	getfattr --only-values -n trusted.gear.chunks "$o" | head -n 1 | grep "^gear-chunks 1 $(stat -c %s "$o") " &&
	rm -rf "$IMG/images/test/a/latest/pushed" &&
	mv pushed.first "$IMG/images/test/a/latest/pushed"
'

test_expect_success 'a kept table whose count does not fit 32 bits is made again, not read as its low bits' '
	o="$IMG/objects/$(echo $BIG | cut -c1-2)/$(echo $BIG | cut -c3-)" &&
	{ echo "gear-chunks 1 $(stat -c %s "$o") $(wc -c <a/lib/big) $((4294967296 + 10))" && tail -n +2 kept; } >forged &&
	setfattr -n trusted.gear.chunks -v "$(cat forged)" "$o" &&
	mv "$IMG/images/test/a/latest/pushed" pushed.first &&
	gear-push test/a $R/again2/a >out &&
	chunks "$IMG/images/test/a/latest/pushed/$A/again2/a.map" $BIG >again &&
	test_cmp big.chunks again &&
	getfattr --only-values -n trusted.gear.chunks "$o" | head -n 1 >got &&
	echo "gear-chunks 1 $(stat -c %s "$o") $(wc -c <a/lib/big) 10" >want &&
	test_cmp want got &&
	rm -rf "$IMG/images/test/a/latest/pushed" &&
	mv pushed.first "$IMG/images/test/a/latest/pushed"
'

test_expect_success 'a read of 4 KiB in a large file fetches the chunks it covers, with one request each run, not the file; they go into the page cache whole' '
	: >reg/log &&
	part a/lib/big 5 >mib5 &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f1" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/test/a test/a >/dev/null &&
		start_fs test/a m1 &&
		in_mib m1/lib/big 5 >got &&
		in_mib a/lib/big 5 >want &&
		cmp want got &&
		S="$IMG/images/test/a/latest/fs.stats" &&
		wait_stat test/a chunked_files 1 &&
		n=$(stat_of test/a fetched_chunks) &&
		test $n -ge 1 && test $n -le 2 &&
		wait_stat test/a pushed_bytes $((n * MiB)) &&
		test $(fincore -b -n -o RES m1/lib/big) -ge $((n * MiB)) &&
		dd if=m1/lib/big bs=$MiB skip=5 count=1 status=none | cmp - "$TRASH_DIRECTORY/mib5" &&
		test $(stat_of test/a wire_bytes) -lt $((3 * MiB)) &&
		test $(stat_of test/a fetched_files) = 0 &&
		test ! -e "$(pub $BIG)" &&
		stop_fs m1 &&
		cut -c1-64 "$IMG/images/test/a/latest/access.list" >acc &&
		! grep -x $BIG acc &&
		sed -n 6p big.chunks | cut -d" " -f3 >c5 &&
		grep -x -f c5 acc
	) &&
	gets reg/log | grep " 206$" >ranges &&
	test $(wc -l <ranges) -le 2
'

test_expect_success 'reading the whole file brings every chunk: byte for byte, then named in public/, and a new mount reads it from there' '
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f1" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		start_fs test/a m1 &&
		cmp a/lib/big m1/lib/big &&
		cmp a/lib/random m1/lib/random &&
		diff -r a m1 &&
		wait_stat test/a fetched_chunks 15 &&
		test -f "$(pub $BIG)" && test -f "$(pub $RND)" &&
		test $(sum "$(pub $BIG)") = $BIG &&
		test "$(stat -c %a "$(pub $BIG)")" = 400 &&
		stop_fs m1 &&
		: >"$TRASH_DIRECTORY/reg/log" &&
		start_fs test/a m1 &&
		cmp a/lib/big m1/lib/big &&
		wait_stat test/a cache_hits 1 &&
		test $(stat_of test/a fetched_chunks) = 0 &&
		test $(stat_of test/a chunked_files) = 0 &&
		stop_fs m1
	) &&
	test $(gets reg/log | wc -l) = 0
'

test_expect_success 'gear-fs --prefetch fetches the chunks the access list names, with one request for their runs, and the reads that follow fetch nothing' '
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f2" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/test/a test/a >/dev/null &&
		D="$IMG/images/test/a/latest" &&
		for k in 2 3 7; do sed -n "$((k + 1))p" big.chunks | cut -d" " -f3 || return 1; done >"$D/access.list" &&
		export GEAR_HTTP_TRACE="$TRASH_DIRECTORY/trace8" &&
		start_fs test/a m2 --prefetch &&
		wait_stat test/a prefetched_chunks 3 &&
		in_mib m2/lib/big 7 >got && in_mib a/lib/big 7 >want && cmp want got &&
		in_mib m2/lib/big 2 >got && in_mib a/lib/big 2 >want && cmp want got &&
		test $(stat_of test/a fetched_chunks) = 0 &&
		cut -f1,3 "$TRASH_DIRECTORY/trace8" >requests &&
		printf "GET\t206\n" >expect &&
		test_cmp expect requests &&
		test $(stat_of test/a errors) = 0 &&
		stop_fs m2 &&
		! grep "not in the image" m2.err
	)
'

test_expect_success 'chunks of several batches (2 MiB of stored bytes each): one request a batch, in list order, none fetched twice; every read after them finds its chunk' '
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f9" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/test/a test/a >/dev/null &&
		D="$IMG/images/test/a/latest" &&
		chunks "$M" $RND >rnd.chunks &&
		test $(wc -l <rnd.chunks) = 5 &&
		for k in 0 2 4; do sed -n "$((k + 1))p" rnd.chunks | cut -d" " -f3 || return 1; done >"$D/access.list" &&
		export GEAR_HTTP_TRACE="$TRASH_DIRECTORY/trace9" &&
		start_fs test/a m2 --prefetch &&
		wait_stat test/a prefetched_chunks 3 &&
		for k in 0 2 4; do
			in_mib m2/lib/random $k >got && in_mib a/lib/random $k >want && cmp want got || return 1
		done &&
		test $(stat_of test/a fetched_chunks) = 0 &&
		test $(stat_of test/a errors) = 0 &&
		cut -f1,3 "$TRASH_DIRECTORY/trace9" >requests &&
		printf "GET\t206\nGET\t206\n" >expect &&
		test_cmp expect requests &&
		stop_fs m2
	)
'

# unit FILE OFFSET: the unit of a run (4 KiB) of FILE at OFFSET
RU=4096
unit() { dd if="$1" bs=$RU skip=$(($2 / RU)) count=1 status=none; }
U=$((3 * MiB + 100 * 4096))
UM=$((MiB + 100 * 4096))

test_expect_success 'a mount of the image where it was built records the units of 4 KiB it read of large files in access.runs (the files in both lists); pushed, the list names the chunks that hold them, and --prefetch fetches those chunks, not the file' '
	start_fs test/a m5 &&
	in_mib m5/lib/big 3 >got && in_mib a/lib/big 3 >want && cmp want got &&
	cat m5/etc/hello >/dev/null &&
	in_mib m5/lib/middle 1 >/dev/null &&
	stop_fs m5 &&
	L="$IMG/images/test/a/latest/access.list" &&
	printf "%s\n%s %s $RU\n%s\n%s\n%s %s $RU\n" $BIG $BIG $U $(sum a/etc/hello) $MID $MID $UM >want.runs &&
	test_cmp want.runs "$IMG/images/test/a/latest/access.runs" &&
	printf "%s\n" $BIG $(sum a/etc/hello) $MID >want.list &&
	test_cmp want.list "$L" &&
	gear-push test/a $R/rec/a >out &&
	part a/lib/big 3 | sha256sum | cut -c1-64 >c3 &&
	printf "%s\n" $BIG $(cat c3) $(sum a/etc/hello) $MID >shipped &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f5" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/rec/a test/a >/dev/null &&
		test_cmp shipped "$IMG/images/test/a/latest/access.list" &&
		test ! -e "$IMG/images/test/a/latest/access.runs" &&
		start_fs test/a m6 --prefetch &&
		wait_stat test/a prefetched_chunks 1 &&
		wait_stat test/a prefetched_files 2 &&
		test ! -e "$(pub $BIG)" &&
		in_mib m6/lib/big 3 >got && cmp want got &&
		test $(stat_of test/a fetched_chunks) = 0 &&
		stop_fs m6 &&
		test ! -e "$IMG/images/test/a/latest/access.runs" &&
		! grep "not in the image" m6.err
	) &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f6" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull --prefetch $R/rec/a test/a >out 2>err &&
		test_cmp shipped "$IMG/images/test/a/latest/access.list" &&
		! grep "not in the image" err &&
		grep -x "prefetched 3 of 3 files, [0-9]* bytes ([0-9]* on the wire), 0 present" out &&
		cmp a/lib/big "$(pub $BIG)"
	)
'

test_expect_success 'a second mount keeps the runs the first recorded, in their order, and adds its own' '
	cp "$IMG/images/test/a/latest/access.runs" runs.before &&
	start_fs test/a m5 &&
	in_mib m5/lib/big 3 >/dev/null &&
	dd if=m5/lib/big bs=4096 skip=10 count=8 status=none >/dev/null &&
	stop_fs m5 &&
	n=$(wc -l <runs.before) &&
	head -n $n "$IMG/images/test/a/latest/access.runs" >got &&
	test_cmp runs.before got &&
	tail -n +$((n + 1)) "$IMG/images/test/a/latest/access.runs" >got &&
	test -s got &&
	test_must_fail grep -v -x "$BIG [0-9]* [0-9]*" got &&
	test_cmp want.list "$IMG/images/test/a/latest/access.list" &&
	cp runs.before "$IMG/images/test/a/latest/access.runs"
'

test_expect_success 'an invalid access.runs is reported by the mount and the push, and changes nothing' '
	R0="$IMG/images/test/a/latest/access.runs" &&
	cp "$R0" runs.good &&
	printf "%s 100 4096\n" $BIG >"$R0" &&
	test_must_fail gear-push test/a $R/bad/a 2>err &&
	grep "access.runs'"'"': invalid access runs: line 1" err &&
	start_fs test/a m5 &&
	cat m5/etc/hello >/dev/null &&
	stop_fs m5 &&
	grep "access runs: .*access.runs'"'"': invalid access runs: line 1" m5.err &&
	cp runs.good "$R0"
'

test_expect_success 'runs whose access.list another hand rewrote are stale: the push ships that list as it is' '
	D="$IMG/images/test/a/latest" &&
	cp "$D/access.list" list.saved &&
	sum a/etc/hello >"$D/access.list" &&
	gear-push test/a $R/stale/a >out &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f8" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/stale/a test/a >/dev/null &&
		test_cmp "$D/access.list" "$IMG/images/test/a/latest/access.list"
	) &&
	cp list.saved "$D/access.list"
'

test_expect_success 'a corrupt chunk in the registry: its reads fail with EIO, the other chunks read, the file never reaches public/' '
	read -r pack off len <big.loc &&
	cp "$(data $pack)" pack.orig &&
	c4=$(awk "NR <= 4 { s += \$1 } END { print s }" big.chunks) &&
	printf "XXXXXXXXXXXXXXXX" | dd of="$(data $pack)" bs=1 seek=$((off + c4 + 100)) conv=notrunc 2>/dev/null &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f3" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/test/a test/a >/dev/null &&
		start_fs test/a m3 &&
		test_must_fail in_mib m3/lib/big 4 >got 2>err &&
		in_mib m3/lib/big 8 >got && in_mib a/lib/big 8 >want && cmp want got &&
		in_mib m3/lib/big 1 >got && in_mib a/lib/big 1 >want && cmp want got &&
		! cat m3/lib/big >/dev/null 2>err &&
		grep "Input/output error" err &&
		test ! -e "$(pub $BIG)" &&
		cmp a/lib/random m3/lib/random &&
		stop_fs m3 &&
		grep "cannot fetch chunks 4 to .* of '\''/lib/big'\'' (sha256:$BIG): chunk 4 does not" m3.err
	) &&
	cp pack.orig "$(data $pack)"
'

test_expect_success 'a map whose chunk digest is wrong: that chunk fails, never wrong bytes; one whose chunks do not add up: the file is fetched whole' '
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f4" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/test/a test/a >/dev/null &&
		D="$IMG/images/test/a/latest" &&
		c6=$(sed -n 7p big.chunks | cut -d" " -f3) &&
		sed "s/$c6/$(echo $c6 | tr 0-9a-f 1-9a-f0)/" "$D/objects.map" >map &&
		cp map "$D/objects.map" &&
		start_fs test/a m4 &&
		test_must_fail in_mib m4/lib/big 6 >got 2>err &&
		in_mib m4/lib/big 0 >got && in_mib a/lib/big 0 >want && cmp want got &&
		stop_fs m4 &&
		grep "chunk 6 does not match its digest" m4.err &&
		rm -rf "$IMG/public" &&
		c1=$(sed -n 2p big.chunks) &&
		set -- $c1 &&
		awk -F "\t" -v OFS="\t" -v h=$3 "\$1 == \"chunk\" && \$4 == h { \$3 = \$3 - 1 } { print }" "$M" >map &&
		cp map "$D/objects.map" &&
		start_fs test/a m4 &&
		cmp a/lib/big m4/lib/big &&
		wait_stat test/a fetched_files 1 &&
		test $(stat_of test/a chunked_files) = 0 &&
		stop_fs m4 &&
		grep "sha256:$(echo $BIG | cut -c1-12): the map.s chunks of a content hold" m4.err
	)
'

test_expect_success 'gear-recompress lays a large content out along the runs read: a frame of each run, the rest in frames of up to 4 MiB; one of 1 to 4 MiB too; one nobody read in part, in one frame; the pushed list names the new frames' '
	obj() { echo "$IMG/objects/$(echo $1 | cut -c1-2)/$(echo $1 | cut -c3-)"; } &&
	gear-recompress -l 5 >out &&
	test "$(frames "$(obj $BIG)")" = 4 &&
	zstd -dc "$(obj $BIG)" | cmp - a/lib/big &&
	test "$(frames "$(obj $MID)")" = 3 &&
	zstd -dc "$(obj $MID)" | cmp - a/lib/middle &&
	test "$(frames "$(obj $RND)")" = 1 &&
	zstd -dc "$(obj $RND)" | cmp - a/lib/random &&
	mv "$IMG/images/test/a/latest/pushed" pushed.before &&
	gear-push test/a $R/laid/a >out &&
	LM="$IMG/images/test/a/latest/pushed/$A/laid/a.map" &&
	chunks "$LM" $BIG | cut -d" " -f2 >sizes &&
	printf "%s\n" $U $RU $((4 * MiB)) $((9 * MiB + 12345 - U - RU - 4 * MiB)) >want &&
	test_cmp want sizes &&
	chunks "$LM" $MID | cut -d" " -f2 >sizes &&
	printf "%s\n" $UM $RU $(($(wc -c <a/lib/middle) - UM - RU)) >want &&
	test_cmp want sizes &&
	ub=$(unit a/lib/big $U | sha256sum | cut -c1-64) &&
	um=$(unit a/lib/middle $UM | sha256sum | cut -c1-64) &&
	chunks "$LM" $BIG | cut -d" " -f3 | grep -x $ub &&
	test $(chunks "$LM" $RND | wc -l) = 0 &&
	printf "%s\n" $BIG $ub $(sum a/etc/hello) $MID $um >shipped &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f7" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/laid/a test/a >/dev/null &&
		test_cmp shipped "$IMG/images/test/a/latest/access.list" &&
		start_fs test/a m6 --prefetch &&
		wait_stat test/a prefetched_chunks 2 &&
		in_mib m6/lib/middle 1 >got && in_mib a/lib/middle 1 >want && cmp want got &&
		test $(stat_of test/a fetched_chunks) = 0 &&
		stop_fs m6
	) &&
	gear-recompress -l 5 >out &&
	grep -x "smaller	0" out &&
	getfattr -n trusted.gear.zstd-frames "$(obj $BIG)" >/dev/null
'

test_expect_success 'an old large object in one frame at the level is laid out again; gear-fsck finds the store sound' '
	o="$IMG/objects/$(echo $BIG | cut -c1-2)/$(echo $BIG | cut -c3-)" &&
	chmod 600 "$o" &&
	zstd -q -f -19 -c a/lib/big >"$o" &&
	chmod 400 "$o" &&
	setfattr -x trusted.gear.zstd-frames "$o" &&
	setfattr -n trusted.gear.zstd-level -v 19 "$o" &&
	test "$(frames "$o")" = 1 &&
	gear-recompress -l 19 >out &&
	test "$(frames "$o")" = 4 &&
	zstd -dc "$o" | cmp - a/lib/big &&
	gear-fsck >out 2>err &&
	test ! -s out
'

test_expect_success 'an image whose access list is from before access.runs (it names chunks, it has no runs): gear-recompress keeps the frames laid out before' '
	o="$IMG/objects/$(echo $BIG | cut -c1-2)/$(echo $BIG | cut -c3-)" &&
	D="$IMG/images/test/a/latest" &&
	mv "$D/access.runs" runs.saved &&
	cp "$D/access.list" list.saved &&
	part a/lib/big 3 | sha256sum | cut -c1-64 >>"$D/access.list" &&
	n=$(frames "$o") &&
	test $n -gt 1 &&
	gear-recompress -l 19 >out &&
	test "$(frames "$o")" = $n &&
	mv runs.saved "$D/access.runs" &&
	cp list.saved "$D/access.list"
'

test_expect_success 'a place a pulled image'\''s map gives a content this host has is not taken: the push uploads it, and it reads back' '
	mkdir -p e/lib b/lib &&
	yes "EVIL EVIL EVIL" | head -c $(wc -c <a/lib/big) >e/lib/big &&
	cp a/lib/big b/lib/big &&
	gear-build -q dir:e test/e >/dev/null &&
	gear-push test/e $R/evil/e >out &&
	gear-pull $R/evil/e test/pulled >/dev/null &&
	EVILHEX=$(sum e/lib/big) &&
	D="$IMG/images/test/pulled/latest" &&
	gear-index -m test/pulled >map.text &&
	sed "s/^$EVILHEX/$BIG/" map.text >map && cp map "$D/objects.map" &&
	grep -q "^$BIG" "$D/objects.map" &&
	mkdir -p aside &&
	for d in "$IMG"/images/test/*/latest/pushed; do mv "$d" aside/$(ls aside | wc -l) || return 1; done &&
	gear-build -q dir:b test/b >/dev/null &&
	gear-push test/b $R/victim/b >out &&
	grep "objects sent 1, skipped 0," out &&
	MB="$IMG/images/test/b/latest/pushed/$A/victim/b.map" &&
	test $(chunks "$MB" $BIG | wc -l) -gt 1 &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f7" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/victim/b test/b >/dev/null &&
		start_fs test/b m1 &&
		cmp a/lib/big m1/lib/big &&
		stop_fs m1
	)
'

test_expect_success 'chunks that each match the map but are not the content the index names: the file is never named, later reads fail' '
	EM=$(find aside -path "*/evil/e.map") &&
	awk -F "\t" -v h=$(sum e/lib/big) -v b=$BIG "\$1 == \"pack\" { p = \$0 } \$1 == h { print p; print b \"\t\" \$2 \"\t\" \$3; on = 1; next } \$1 == \"chunk\" && on { print; next } { on = 0 }" "$EM" >hostile.map &&
	test $(grep -c "^chunk" hostile.map) -gt 1 &&
	pack=$(awk -F "\t" "NR == 1 { print \$2 }" hostile.map) &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -X POST "http://$A/v2/victim/b/blobs/uploads/?mount=$pack&from=evil/e")" = 201 &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f8" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/victim/b test/b >/dev/null &&
		D="$IMG/images/test/b/latest" &&
		cp hostile.map "$D/objects.map" &&
		start_fs test/b m2 &&
		! cat m2/lib/big >/dev/null 2>err &&
		grep "Input/output error" err &&
		test ! -e "$(pub $BIG)" &&
		sync && echo 3 >/proc/sys/vm/drop_caches &&
		test_must_fail in_mib m2/lib/big 0 >got &&
		stop_fs m2 &&
		grep "cannot fetch chunks 0 to .* of '\''/lib/big'\''.*does not match its digest" m2.err
	)
'

test_expect_success 'an access list whose chunk line stands for several chunks (equal ones), then files: loaded whole, no write past its end' '
	mkdir -p z/etc &&
	head -c $((4 * MiB)) /dev/zero >z/zeros &&
	for i in 1 2 3 4 5 6 7 8; do echo "small file $i" >z/etc/s$i; done &&
	gear-build -q dir:z test/z >/dev/null &&
	gear-push test/z $R/test/z >/dev/null &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fz" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/test/z test/z >/dev/null &&
		D="$IMG/images/test/z/latest" &&
		{ head -c $MiB /dev/zero | sha256sum | cut -c1-64 && for i in 1 2 3 4 5 6 7 8; do sum z/etc/s$i; done; } >"$D/access.list" &&
		cp "$D/access.list" list.before &&
		LD_PRELOAD=libc_malloc_debug.so.0 MALLOC_CHECK_=3 start_fs test/z m7 &&
		cat m7/etc/s1 m7/etc/s2 >/dev/null &&
		dd if=m7/zeros bs=4096 count=1 status=none | cmp - /dev/zero -n 4096 &&
		stop_fs m7 &&
		cat m7.err &&
		test_cmp list.before "$D/access.list"
	)
'

test_expect_success 'SIGTERM while chunks are fetched and pushed: gear-fs ends at once, unmounted (its mountpoint given relative), its stats written' '
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f9" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/test/a test/a >/dev/null &&
		D="$IMG/images/test/a/latest" &&
		for k in 2 3 7; do sed -n "$((k + 1))p" big.chunks | cut -d" " -f3 || return 1; done >"$D/access.list" &&
		start_fs test/a m6 --prefetch &&
		wait_stat test/a prefetched_chunks 3 &&
		in_mib m6/lib/big 2 >got && in_mib a/lib/big 2 >want && cmp want got &&
		wait_stat test/a pushed_bytes $((3 * MiB)) &&
		exec 9<m6/lib/big &&
		kill -TERM $(cat m6.pid) &&
		i=0 &&
		while kill -0 $(cat m6.pid) 2>/dev/null; do
			i=$((i + 1)); test $i -lt 100 || { echo "gear-fs does not end"; exit 1; }; sleep 0.1
		done &&
		exec 9<&- &&
		! grep -q " $PWD/m6 fuse.gear " /proc/mounts &&
		! grep "failed to unmount" m6.err &&
		test "$(awk "\$1 == \"errors\" { print \$2 }" "$D/fs.stats")" = 0
	)
'

test_done
