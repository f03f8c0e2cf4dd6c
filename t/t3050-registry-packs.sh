#!/bin/sh
test_description='packs in a registry: a few blobs per push, Range fetches, a corrupt member fails alone, images share packs across repositories, old images still mount'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"
. "$TEST_DIRECTORY/lib/fake-registry.sh"

test_atexit 'stop_fakes'
test_atexit 'for m in m1 m2 m3 m4 m5; do fusermount3 -u -q $m; done; gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'

F="$TRASH_DIRECTORY/fresh"
V2=reg/data/docker/registry/v2
# blobs REPO: the blobs the registry links into repository REPO, one digest a line
blobs() { ls "$V2/repositories/$1/_layers/sha256" | sort; }
# storage: the bytes of every blob the registry keeps
storage() { find "$V2/blobs" -name data -type f -printf "%s\n" | awk '{ s += $1 } END { print s + 0 }'; }
# packs MAP: the pack lines of a map, "sha256:HEX SIZE"
packs() { awk -F '\t' '$1 == "pack" { print $2, $3 }' "$1"; }
# where MAP HEX: "sha256:PACK OFFSET LENGTH" of a content
where() { awk -F '\t' -v h=$2 '$1 == "pack" { p = $2 } $1 == h { print p, $2, $3 }' "$1"; }
# gets LOG: the GET requests of blobs a registry log has, "PATH STATUS"
gets() { sed -n 's|.*"GET \(/v2/[^ ]*/blobs/[^ ]*\) HTTP/1.1" \([0-9]*\) .*|\1 \2|p' "$1"; }

test_expect_success 'setup: FUSE, a registry, two images sharing most files, small packs' '
	fs_ready &&
	mkdir -p a/etc a/lib a/bin b &&
	for i in $(seq 1 120); do head -c $((2000 + i * 37)) /dev/urandom >a/lib/f$i || return 1; done &&
	seq 1 30000 >a/etc/seq &&
	echo hello >a/etc/hello &&
	: >a/etc/empty &&
	head -c 300000 /dev/urandom >a/bin/big &&
	cp -a a/. b/ &&
	for i in $(seq 1 10); do head -c 3000 /dev/urandom >b/lib/new$i || return 1; done &&
	gear-build -q dir:a test/a >/dev/null &&
	gear-build -q dir:b test/b >/dev/null &&
	mkdir -p "$GEAR_SYSROOT/etc/gear" &&
	echo "pack-size=64K" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	gear-test-registry start reg >addr
'
A=$(cat addr 2>/dev/null)
R=docker+http://$A

test_expect_success 'gear-push puts the objects in a few packs: the registry gets a few blobs, not one per file' '
	gear-push test/a $R/gear/a >out &&
	sed -n "s/^objects sent \([0-9]*\), skipped 0, bytes \([0-9]*\), packs sent \([0-9]*\), skipped 0$/\1 \2 \3/p" out >got &&
	read -r n bytes np <got &&
	test $n = 124 &&
	test $np -ge 5 && test $np -le $((bytes / 65536 + 3)) &&
	blobs gear/a >linked &&
	test $(wc -l <linked) = $((np + 3)) &&
	M="$IMG/images/test/a/latest/pushed/$A/gear/a.map" &&
	packs "$M" >packs &&
	test $(wc -l <packs) = $np &&
	grep -vc "^pack" "$M" >count &&
	echo 124 >expect &&
	test_cmp expect count
'

test_expect_success 'gear-pull and a mount read every file byte for byte; with --no-read-around each lazy open is a Range request' '
	: >reg/log &&
	GEAR_SYSROOT="$F" gear-pull $R/gear/a test/a >/dev/null &&
	GEAR_SYSROOT="$F" gear-index -m test/a >map &&
	test_cmp "$IMG/images/test/a/latest/pushed/$A/gear/a.map" map &&
	(
		GEAR_SYSROOT="$F" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		start_fs test/a m1 --no-read-around &&
		diff -r a m1 &&
		stop_fs m1
	) &&
	gets reg/log >got &&
	grep -c "^/v2/gear/a/blobs/sha256:[0-9a-f]\{64\} 206$" got >ranges &&
	echo 123 >expect &&
	test_cmp expect ranges &&
	grep -c " 200$" got >whole &&
	echo 3 >expect &&
	test_cmp expect whole &&
	test $(wc -l <got) = $((123 + 3))
'

test_expect_success 'read-around: a lazy open of a small file brings its neighbours in the pack with it, in one Range request' '
	: >reg/log &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/around" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/gear/a test/a >/dev/null &&
		start_fs test/a m1 &&
		cat m1/lib/f1 >/dev/null &&
		S="$IMG/images/test/a/latest/fs.stats" &&
		stop_fs m1 &&
		grep -x "fetched_files 1" "$S" &&
		sed -n "s/^read_around_files //p" "$S" >n &&
		test $(cat n) -ge 3 &&
		find "$IMG/public" -type f ! -name ".*" >cached &&
		test $(wc -l <cached) = $(($(cat n) + 1)) &&
		for f in $(cat cached); do
			sha256sum <"$f" | cut -c1-64 >sum &&
			echo ${f#$IMG/public/} | tr -d / >name &&
			test_cmp name sum || return 1
		done &&
		start_fs test/a m1 &&
		diff -r a m1 &&
		stop_fs m1 &&
		grep -x "errors 0" "$S"
	) &&
	gets reg/log >got &&
	grep -c " 206$" got >ranges &&
	test $(cat ranges) -lt 123 &&
	test $(cat ranges) -ge 2
'

test_expect_success 'a corrupt member of a pack: EIO for that file only, the rest of the image reads' '
	D="$F/var/lib/gear/images/test/a/latest" &&
	h=$(sha256sum <a/lib/f60 | cut -c1-64) &&
	GEAR_SYSROOT="$F" gear-index -m test/a >map &&
	where map $h >loc &&
	read -r p off len <loc &&
	data="$V2/blobs/sha256/$(echo ${p#sha256:} | cut -c1-2)/${p#sha256:}/data" &&
	test -f "$data" &&
	printf "XXXXXXXX" | dd of="$data" bs=1 seek=$((off + len / 2)) conv=notrunc 2>/dev/null &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fresh2" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/gear/a test/a >/dev/null &&
		start_fs test/a m2 &&
		test_must_fail cat m2/lib/f60 >/dev/null 2>err &&
		grep "Input/output error" err &&
		grep -q "^gear-fs: cannot fetch '\''/lib/f60'\'' (sha256:$h): .* is corrupt: content has digest " m2.err &&
		diff -r -x f60 a m2 &&
		test_must_fail cat m2/lib/f60 >/dev/null &&
		stop_fs m2 &&
		test ! -e "$IMG/public/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-)"
	) &&
	o="$IMG/objects/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-)" &&
	dd if="$o" of="$data" bs=1 seek=$off conv=notrunc 2>/dev/null &&
	echo "${p#sha256:}  $data" | sha256sum -c --quiet
'

test_expect_success 'a second image in another repository mounts the packs of the first and uploads only its new files' '
	before=$(storage) &&
	: >reg/log &&
	gear-push test/b $R/gear/b >out &&
	sed -n "s/^objects sent \([0-9]*\), skipped \([0-9]*\), bytes \([0-9]*\), packs sent \([0-9]*\), skipped \([0-9]*\)$/\1 \2 \3 \4 \5/p" out >got &&
	read -r sent skipped bytes np reused <got &&
	test $sent = 10 && test $skipped = 124 &&
	test $bytes -lt 40000 && test $np = 1 &&
	packs "$IMG/images/test/a/latest/pushed/$A/gear/a.map" >packs-a &&
	test $reused = $(wc -l <packs-a) &&
	grep -c "\"POST /v2/gear/b/blobs/uploads/?mount=sha256:[0-9a-f]*&from=gear/a HTTP/1.1\" 201 " reg/log >mounts &&
	echo $reused >expect &&
	test_cmp expect mounts &&
	after=$(storage) &&
	test $((after - before)) -lt $((bytes + 60000)) &&
	(
		GEAR_SYSROOT="$F" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/gear/b test/b >/dev/null &&
		start_fs test/b m3 &&
		diff -r b m3 &&
		stop_fs m3
	)
'

test_expect_success 'a pulled image, whose objects this host lacks, pushed to another repository of its registry: mounts only' '
	test ! -e "$F/var/lib/gear/objects" &&
	GEAR_SYSROOT="$F" gear-push test/a $R/copy/a >out &&
	grep -x "objects sent 0, skipped 124, bytes 0, packs sent 0, skipped [1-9][0-9]*" out &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fresh5" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/copy/a test/a >/dev/null &&
		start_fs test/a m1 &&
		diff -r a m1 &&
		stop_fs m1
	)
'

# lie IMAGE FILE: the pulled IMAGE's map (D its directory) names FILE's content at the first 100 bytes of its first pack
lie() {
	D="$IMG/images/$1/latest" &&
	read -r pack size <<-EOF &&
	$(packs "$D/objects.map" | head -n 1)
	EOF
	printf "pack\t%s\t%s\n%s\t0\t100\n" $pack $size $(sha256sum <"$2" | cut -c1-64) >"$D/objects.map"
}
# uploaded NAME REPO: gear-push test/NAME to REPO sends its one content, which a fresh pull reads back as NAME/data
uploaded() {
	gear-push test/$1 $R/$2 >out &&
	cat out &&
	grep -x "objects sent 1, skipped 0, bytes [0-9]*.*" out &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fresh-$1" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/$2 test/$1 >/dev/null &&
		start_fs test/$1 m4 &&
		cmp $1/data m4/data &&
		stop_fs m4
	)
}

test_expect_success 'a pulled image whose map names a content of this host at a place of its own pack: that content is uploaded, not left to the lie' '
	mkdir -p v att &&
	head -c 5000 /dev/urandom >v/data && head -c 6000 /dev/urandom >att/x &&
	gear-build -q dir:v test/v >/dev/null &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/att" gear-build -q dir:att att/img >/dev/null &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/att" gear-push att/img $R/att/img >/dev/null &&
	gear-pull $R/att/img att/img >/dev/null &&
	lie att/img v/data &&
	uploaded v vic/v
'

test_expect_success 'a pulled image with such a map, pushed on: its map is kept as relayed, so a later push of that content uploads it' '
	mkdir -p x2 &&
	head -c 5000 /dev/urandom >x2/data &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/att" gear-build -q dir:x2 att/e >/dev/null &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/att" gear-push att/e $R/att/e >/dev/null &&
	gear-pull $R/att/e att/e >/dev/null &&
	lie att/e x2/data &&
	gear-push att/e $R/vic/e >/dev/null &&
	test -e "$D/pushed/$A/vic/e.relayed" &&
	gear-build -q dir:x2 test/x2 >/dev/null &&
	uploaded x2 vic/x2 &&
	test ! -e "$IMG/images/test/x2/latest/pushed/$A/vic/x2.relayed"
'

test_expect_success 'the same image pushed again to its repository sends nothing, nor does another tag of it' '
	gear-push test/b $R/gear/b >out &&
	grep -x "objects sent 0, skipped 134, bytes 0, packs sent 0, skipped [0-9]*" out &&
	gear-push test/b $R/gear/b:v2 >out &&
	grep -x "objects sent 0, skipped 134, bytes 0, packs sent 0, skipped [0-9]*" out
'

test_expect_success 'an image of the first format (one blob per object) still pulls and mounts' '
	GEAR_TEST_PUSH_OBJECT_BLOBS=1 gear-push test/a $R/old/a >out &&
	grep -x "objects sent 124, skipped 0, bytes [0-9]*" out &&
	blobs old/a >linked &&
	test $(wc -l <linked) = $((124 + 3)) &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fresh3" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/old/a test/a >/dev/null &&
		D="$IMG/images/test/a/latest" &&
		grep -c "^[0-9a-f]\{64\}	sha256:[0-9a-f]\{64\}$" "$D/objects.map" >count &&
		echo 124 >expect &&
		test_cmp expect count &&
		start_fs test/a m4 &&
		diff -r a m4 &&
		stop_fs m4
	)
'

test_expect_success 'a map sent whole, as earlier versions did, still pulls; this version sends it compact' '
	GEAR_TEST_PUSH_MAP_TEXT=1 gear-push test/a $R/oldmap/a >/dev/null &&
	gear-push test/a $R/newmap/a >/dev/null &&
	for r in oldmap newmap; do
		curl -fsS -H "Accept: application/vnd.oci.image.manifest.v1+json" -o raw.$r "http://$A/v2/$r/a/manifests/latest" &&
		python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"annotations\"][\"io.gear.object-map\"])" raw.$r >mapd.$r &&
		curl -fsS -o map.$r "http://$A/v2/$r/a/blobs/$(cat mapd.$r)" || return 1
	done &&
	test $(stat -c %s map.newmap) -lt $(($(stat -c %s map.oldmap) / 2)) &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fresh7" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/oldmap/a test/a >/dev/null &&
		gear-pull $R/newmap/a test/n >/dev/null &&
		grep -q "^gear-map " "$IMG/images/test/n/latest/objects.map" &&
		! grep -q "^gear-map " "$IMG/images/test/a/latest/objects.map" &&
		gear-index -m test/a >map.a &&
		gear-index -m test/n >map.n &&
		test_cmp map.a map.n &&
		start_fs test/a m4 &&
		diff -r a m4 &&
		stop_fs m4 &&
		start_fs test/n m4 &&
		diff -r a m4 &&
		stop_fs m4
	)
'

test_expect_success 'a compact map is read with the index: one whose count is not the index'\''s is refused at mount; its text form may stand in for it' '
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fresh7" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		D="$IMG/images/test/n/latest" &&
		cp "$D/objects.map" good.map &&
		n=$(sed -n "1s/^gear-map [0-9]*\t//p" good.map) &&
		test "$n" -gt 0 &&
		sed "1s/\t.*/\t$((n + 1))/" good.map >"$D/objects.map" &&
		mkdir -p m6 &&
		test_expect_code 111 gear-fs test/n m6 2>err &&
		grep -x "gear-fs: cannot mount .test/n:latest.: cannot open the store of .test/n:latest.: .objects.map.: invalid object map: line 1" err &&
		! grep -q " $PWD/m6 " /proc/mounts &&
		test_expect_code 111 gear-index -m test/n 2>err &&
		grep "invalid object map: line 1" err &&
		gear-index -m test/a >"$D/objects.map" &&
		start_fs test/n m6 &&
		diff -r a m6 &&
		stop_fs m6
	) &&
	test_expect_code 1 gear-index -m test/a 2>err &&
	echo "gear-index: '\''test/a:latest'\'' has no object map: it was not pulled from a registry" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-index -l -m test/a 2>err &&
	grep "^gear-index: -l and -m do not go together" err
'

# badmap TAG SED: gear/a:TAG, the manifest of gear/a:latest with a map blob of its compact map as SED edits it (as text)
badmap() {
	curl -fsS -H "Accept: application/vnd.oci.image.manifest.v1+json" -o man.json "http://$A/v2/gear/a/manifests/latest" &&
	python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"annotations\"][\"io.gear.object-map\"])" man.json >mapd &&
	curl -fsS "http://$A/v2/gear/a/blobs/$(cat mapd)" | zstd -dc | sed "$2" >bad.map &&
	d=sha256:$(sha256sum <bad.map | cut -c1-64) &&
	loc=$(curl -fsS -X POST -D - -o /dev/null "http://$A/v2/gear/a/blobs/uploads/" | tr -d "\r" | sed -n "s/^[Ll]ocation: //p") &&
	case $loc in http*) ;; *) loc="http://$A$loc" ;; esac &&
	case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac &&
	curl -fsS -X PUT -H "Content-Type: application/octet-stream" --data-binary @bad.map "$loc" &&
	python3 -c "import json,sys; m = json.load(open(sys.argv[1])); m[\"annotations\"][\"io.gear.object-map\"] = sys.argv[2]; print(json.dumps(m))" \
		man.json "$d" >bad.json &&
	curl -fsS -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" --data-binary @bad.json \
		"http://$A/v2/gear/a/manifests/$1"
}

test_expect_success 'a compact map that breaks a rule is refused by gear-pull, which leaves nothing behind' '
	badmap short "2s/\t[0-9]*$/\t1/" &&
	sed -n 2p bad.map | grep "^pack	sha256:[0-9a-f]*	1$" &&
	badmap below "3s/^[0-9]*/0/" &&
	badmap past "3s/^[0-9]*/125/" &&
	test_expect_code 111 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh8" gear-pull $R/gear/a:short test/a 2>err &&
	grep "^gear-pull: .*blob sha256:[0-9a-f]\{12\}: expanded: invalid object map: line 2" err &&
	for tag in short below past; do
		rm -rf "$TRASH_DIRECTORY/fresh8" &&
		test_expect_code 111 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh8" gear-pull $R/gear/a:$tag test/a 2>err &&
		grep "^gear-pull: .*blob sha256:[0-9a-f]\{12\}: \(expanded: \)\?invalid object map: line [0-9]" err &&
		{ test ! -e "$TRASH_DIRECTORY/fresh8/var/lib/gear/images" ||
		  test -z "$(find "$TRASH_DIRECTORY/fresh8/var/lib/gear/images" -mindepth 1)"; } || return 1
	done
'

test_expect_success 'the access list goes first in new packs; --prefetch reads it with one request' '
	start_fs test/b m5 &&
	for i in 9 3 7 1 5; do cat m5/lib/new$i >/dev/null || return 1; done &&
	cat m5/lib/f100 m5/etc/seq m5/lib/f2 >/dev/null &&
	stop_fs m5 &&
	cut -c1-64 "$IMG/images/test/b/latest/access.list" >acc &&
	test $(wc -l <acc) = 8 &&
	rm -r "$IMG/images/test/b/latest/pushed" "$IMG/images/test/a/latest/pushed" &&
	echo "pack-size=1M" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	gear-push test/b $R/hot/b >out &&
	awk -F "\t" "\$1 == \"pack\" { n++ } n == 1 && \$1 != \"pack\" { print \$1 }" \
		"$IMG/images/test/b/latest/pushed/$A/hot/b.map" | head -n 8 >first &&
	test_cmp acc first &&
	: >reg/log &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh4" gear-pull --prefetch $R/hot/b test/b >out &&
	total=0 && for f in new9 new3 new7 new1 new5 f100 f2; do total=$((total + $(stat -c %s b/lib/$f))); done &&
	total=$((total + $(stat -c %s b/etc/seq))) &&
	grep -x "prefetched 8 of 8 files, $total bytes ([0-9]* on the wire), 0 present" out &&
	gets reg/log | grep -v "/manifests/" | grep " 206$" >ranges &&
	test $(wc -l <ranges) = 1 &&
	for f in new9 new3 new7 new1 new5; do
		h=$(sha256sum <b/lib/$f | cut -c1-64) &&
		cmp b/lib/$f "$TRASH_DIRECTORY/fresh4/var/lib/gear/public/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-)" || return 1
	done
'

test_expect_success 'a lazy open of a file the prefetch is bringing waits for its bytes, not fetching them again' '
	D="$TRASH_DIRECTORY/fresh4/var/lib/gear/images/test/b/latest" &&
	packs "$D/objects.map" | head -n 1 >first &&
	read -r p size <first &&
	mkdir -p files &&
	cp "$V2/blobs/sha256/$(echo ${p#sha256:} | cut -c1-2)/${p#sha256:}/data" "files/$p" &&
	start_fake slow 127.0.0.1 --files files --range --slow 0.05 &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fresh6" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		gear-pull $R/hot/b test/b >/dev/null &&
		echo "docker+http://127.0.0.1:$(cat slow.port)/hot/b:latest" >"$IMG/images/test/b/latest/origin" &&
		start_fs test/b m1 --prefetch &&
		i=0 &&
		until test -s slow.log; do i=$((i + 1)); test $i -lt 100 || return 1; sleep 0.05; done &&
		cmp b/lib/new5 m1/lib/new5 &&
		wait_stat test/b prefetched_files 8 &&
		test "$(stat_of test/b fetched_files)" = 0 &&
		stop_fs m1
	) &&
	echo "GET /v2/hot/b/blobs/$p -" >expect &&
	test_cmp expect slow.log
'

test_expect_success 'several ranges of a pack with one request: the registry answers multipart/byteranges; a front that answers with the whole pack, parts out of order, or one part far past the ranges is asked range by range, and remembered' '
	read -r p size <first &&
	test $size -gt 200000 &&
	pk="files/$p" &&
	near="10+100,5000+1,20000+3000" &&
	rs="$near,$((size - 7))+7" &&
	for r in $(echo $rs | tr , " "); do
		dd if="$pk" bs=1 skip=${r%+*} count=${r#*+} status=none || return 1
	done >want &&
	: >reg/log &&
	"$GEAR_BUILD/t/unit/test-remote" ranges $R/hot/b ${p#sha256:} $size $rs got &&
	test_cmp want got &&
	gets reg/log >ranges &&
	echo "/v2/hot/b/blobs/$p 206" >expect &&
	test_cmp expect ranges &&
	{
		echo "GET /v2/hot/b/blobs/$p - bytes=10-109,5000-5000,20000-22999,$((size - 7))-$((size - 1))" &&
		for i in 1 2; do
			echo "GET /v2/hot/b/blobs/$p - bytes=10-109" &&
			echo "GET /v2/hot/b/blobs/$p - bytes=5000-5000" &&
			echo "GET /v2/hot/b/blobs/$p - bytes=20000-22999" &&
			echo "GET /v2/hot/b/blobs/$p - bytes=$((size - 7))-$((size - 1))" || return 1
		done
	} >expect &&
	start_fake whole 127.0.0.1 --files files --log-range &&
	"$GEAR_BUILD/t/unit/test-remote" ranges docker+http://127.0.0.1:$(cat whole.port)/hot/b ${p#sha256:} $size $rs got 2 &&
	test_cmp want got &&
	test_cmp expect whole.log &&
	for mode in reversed coalesced; do
		start_fake $mode 127.0.0.1 --files files --range --multi $mode --log-range &&
		"$GEAR_BUILD/t/unit/test-remote" ranges docker+http://127.0.0.1:$(cat $mode.port)/hot/b ${p#sha256:} $size $rs got 2 &&
		test_cmp want got &&
		test_cmp expect $mode.log || return 1
	done &&
	: >coalesced.log &&
	"$GEAR_BUILD/t/unit/test-remote" ranges docker+http://127.0.0.1:$(cat coalesced.port)/hot/b ${p#sha256:} $size $near got &&
	head -c 3101 want >want.near &&
	test_cmp want.near got &&
	echo "GET /v2/hot/b/blobs/$p - bytes=10-109,5000-5000,20000-22999" >expect &&
	test_cmp expect coalesced.log &&
	test_expect_code 111 "$GEAR_BUILD/t/unit/test-remote" ranges $R/hot/b ${p#sha256:} $size 10+100,$size+1 got 2>err &&
	grep "invalid range $size+1 of pack" err &&
	test_expect_code 111 "$GEAR_BUILD/t/unit/test-remote" ranges $R/hot/b ${p#sha256:} $size 10+100,50+1 got 2>err &&
	grep "invalid range 50+1 of pack" err
'

test_expect_success 'a pack is streamed from the object files, never held in memory whole' '
	mkdir -p c &&
	for i in 1 2 3 4; do head -c 16000000 /dev/urandom >c/r$i || return 1; done &&
	gear-build -q dir:c test/c >/dev/null &&
	echo "pack-size=1G" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	python3 -c "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=open(\"out\", \"w\")).returncode; print(r, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)" \
		gear-push test/c $R/big/c >rss &&
	grep -x "objects sent 4, skipped 0, bytes [0-9]*, packs sent 1, skipped 0" out &&
	read -r code kb <rss &&
	test $code = 0 &&
	test $kb -lt 32000
'

test_expect_success 'pack-size in gear.conf is checked' '
	echo "pack-size=0" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	test_expect_code 100 gear-push test/a $R/gear/a 2>err &&
	echo "gear-push: $GEAR_SYSROOT/etc/gear/gear.conf:1: pack-size must be 1 to 4G bytes, not '\''0'\''" >expect &&
	test_cmp expect err
'

test_done
