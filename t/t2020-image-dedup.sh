#!/bin/sh
test_description='the content store: each distinct content once, compressed, never rewritten'
. "$(dirname "$0")/lib/test-lib.sh"

# the objects of the store, one per line: "PATH SIZE INODE MTIME"
objects() {
	(cd "$IMG" && find objects -path "objects/??/*" -type f -printf "%p %s %i %T@\n" | sort)
}

# sums DIR: the distinct contents of a tree, as sha256 hex, sorted
sums() {
	find "$1" -type f -print0 | xargs -0 sha256sum -z | cut -z -c1-64 | tr "\0" "\n" | sort -u
}

# field NAME: a value of gear-build's summary in out
field() {
	sed -n "s/^$1	//p" out
}

test_expect_success 'build the test images' '
	build-test-images --big 1 imgs &&
	umoci unpack --image imgs/oci:multi multi >/dev/null 2>&1 &&
	umoci unpack --image imgs/oci:other other >/dev/null 2>&1 &&
	sums multi/rootfs >multi.sums &&
	sums other/rootfs >other.sums &&
	comm -12 multi.sums other.sums >shared &&
	test $(wc -l <shared) -ge 3
'

test_expect_success 'the first image stores each distinct content once' '
	gear-build oci:imgs/oci:multi multi >out &&
	test "$(field objects-new)" = $(wc -l <multi.sums) &&
	objects >store &&
	test $(wc -l <store) = $(wc -l <multi.sums) &&
	(cd "$IMG/objects" && ls -d ?? | while read d; do ls $d | sed "s/^/$d/"; done) | sort >names &&
	test_cmp multi.sums names &&
	test "$(field bytes-stored)" = $(awk "{s += \$2} END {print s}" store)
'

test_expect_success 'a second image adds only the contents the first lacks' '
	gear-build oci:imgs/oci:other other >out &&
	comm -13 multi.sums other.sums >new &&
	test "$(field objects-new)" = $(wc -l <new) &&
	test "$(field objects-reused)" = $(wc -l <shared) &&
	objects >store2 &&
	sort -u multi.sums other.sums >all &&
	test $(wc -l <store2) = $(wc -l <all) &&
	comm -23 store2 store >added &&
	test $(wc -l <added) = $(wc -l <new) &&
	test "$(field bytes-stored)" = $(awk "{s += \$2} END {print s}" added) &&
	busybox=$(sha256sum <other/rootfs/bin/busybox | cut -c1-64) &&
	find "$IMG" -type f -name "$(echo $busybox | cut -c3-)" >copies &&
	test $(wc -l <copies) = 1 &&
	gear-export other out-other &&
	cmp other/rootfs/bin/busybox out-other/bin/busybox
'

test_expect_success 'rebuilding an image adds and rewrites nothing' '
	objects >before &&
	gear-build oci:imgs/oci:multi multi >out &&
	test "$(field objects-new)" = 0 &&
	test "$(field bytes-new)" = 0 &&
	test "$(field bytes-stored)" = 0 &&
	test "$(field dedup)" = "100.0%" &&
	objects >after &&
	test_cmp before after &&
	gear-build -q docker-archive:imgs/multi.tar multi:copy >digest1 &&
	objects >after &&
	test_cmp before after &&
	gear-images >list &&
	grep -x "multi	copy	.*	$(cat digest1)" list &&
	grep -x "multi	latest	.*	$(cat digest1)" list
'

test_expect_success 'objects are zstd frames unless small or incompressible' '
	obj() { echo "$IMG/objects/$(echo $1 | cut -c1-2)/$(echo $1 | cut -c3-)"; } &&
	busybox=$(obj $(sha256sum <multi/rootfs/bin/busybox | cut -c1-64)) &&
	head -c4 "$busybox" | od -An -tx1 | tr -d " " >head4 &&
	echo 28b52ffd >expect && test_cmp expect head4 &&
	test $(stat -c %s "$busybox") -lt $(stat -c %s multi/rootfs/bin/busybox) &&
	zstd -qdc "$busybox" | cmp - multi/rootfs/bin/busybox &&
	passwd=$(obj $(sha256sum <multi/rootfs/etc/passwd | cut -c1-64)) &&
	cmp "$passwd" multi/rootfs/etc/passwd &&
	random=$(obj $(sha256sum <multi/rootfs/usr/lib/libfake.so | cut -c1-64)) &&
	cmp "$random" multi/rootfs/usr/lib/libfake.so &&
	empty=$(obj $(sha256sum </dev/null | cut -c1-64)) &&
	test -f "$empty" && test_must_fail test -s "$empty"
'

test_expect_success 'content that starts like a zstd frame is stored compressed' '
	mkdir -p magic/etc &&
	printf "\050\265\057\375 not a frame\n" >magic/etc/tricky &&
	gear-build -q dir:magic magic >/dev/null &&
	tricky=$(sha256sum <magic/etc/tricky | cut -c1-64) &&
	o="$IMG/objects/$(echo $tricky | cut -c1-2)/$(echo $tricky | cut -c3-)" &&
	zstd -qdc "$o" | cmp - magic/etc/tricky &&
	gear-export magic out-magic &&
	cmp magic/etc/tricky out-magic/etc/tricky
'

test_expect_success 'the same file in many places of one build is one object' '
	mkdir -p many &&
	for i in 1 2 3 4 5 6 7 8; do head -c 100000 /bin/busybox >many/f$i || return 1; done &&
	gear-build dir:many many >out &&
	test "$(field files)" = 8 &&
	test "$(field objects-new)" = 1 &&
	test "$(field objects-reused)" = 7
'

test_expect_success 'builds running at once share the store' '
	objects >before &&
	{ gear-build -q oci:imgs/oci-zstd:multi multi:zstd >d1 2>e1 & } &&
	p1=$! &&
	{ gear-build -q oci:imgs/oci-plain:multi multi:plain >d2 2>e2 & } &&
	p2=$! &&
	gear-build -q oci:imgs/oci:other other:again >d3 2>e3 &&
	wait $p1 && wait $p2 &&
	test_cmp d1 d2 &&
	test_cmp d1 digest1 &&
	objects >after &&
	test_cmp before after &&
	gear-fsck -q &&
	gear-export multi:plain out-plain &&
	gear-export multi out-multi &&
	rsync -n -aHAXc --modify-window=-1 --delete -i out-multi/ out-plain/ >diff &&
	test_must_fail test -s diff
'

test_expect_success 'builds adding the same new contents at once store each once' '
	mkdir -p fresh &&
	for i in 1 2 3 4 5 6 7 8 9 10; do head -c $((i * 50000)) /dev/urandom >fresh/f$i || return 1; done &&
	objects >before &&
	{ gear-build -q dir:fresh fresh:a >/dev/null & } &&
	p1=$! &&
	gear-build -q dir:fresh fresh:b >/dev/null &&
	wait $p1 &&
	objects >after &&
	comm -13 before after >added &&
	test $(wc -l <added) = 10 &&
	gear-fsck -q
'

test_done
