#!/bin/sh
test_description='what a registry declares and sends is bounded: declared sizes capped (gear.conf), downloads cut off past what a content can need'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"
. "$TEST_DIRECTORY/lib/fake-registry.sh"

test_atexit 'stop_fakes'
test_atexit 'gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'
test_atexit 'fusermount3 -u -q m1'

# json FILE EXPR / json_set FILE CODE: read or change a JSON file with python3 (d is the document)
json() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"; }
json_set() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); $2; json.dump(d, open(sys.argv[1], \"w\"))" "$1"; }
# stored_max SIZE: the most stored bytes a content of SIZE bytes can need (store_stored_max)
stored_max() {
	b=$(($1 + $1 / 256))
	[ $1 -lt 131072 ] && b=$((b + (131072 - $1) / 2048))
	echo $((b + 4096))
}
# nothing_pulled ROOT: no image, no temp directory in ROOT's image tree
nothing_pulled() {
	find "$1/var/lib/gear/images" -mindepth 1 >left 2>/dev/null
	test_cmp /dev/null left
}

test_expect_success 'setup: FUSE, an image in a registry, its manifest' '
	fs_ready &&
	mkdir -p src/etc files &&
	seq 1 20000 >src/etc/seq &&
	echo hello >src/etc/hello &&
	gear-build -q dir:src test/img >/dev/null &&
	gear-test-registry start reg >addr &&
	A=$(cat addr) &&
	gear-push --tls-verify=false test/img docker://$A/test/img >/dev/null &&
	curl -fsS -H "Accept: application/vnd.oci.image.manifest.v1+json" -o manifest.json "http://$A/v2/test/img/manifests/latest" &&
	for d in $(json manifest.json "d[\"config\"][\"digest\"], d[\"layers\"][0][\"digest\"], d[\"annotations\"][\"io.gear.object-map\"]"); do
		curl -fsS -o "files/$d" "http://$A/v2/test/img/blobs/$d" || return 1
	done &&
	ls files >got &&
	test $(wc -l <got) = 3 &&
	zstd -q -d -c "files/$(json manifest.json "d[\"annotations\"][\"io.gear.object-map\"]")" >map.txt &&
	test $(grep -c "^pack" map.txt) = 1 &&
	cp manifest.json files/latest
'
A=$(cat addr 2>/dev/null)

test_expect_success 'a manifest declaring a 1 TiB index layer is refused before anything is fetched' '
	cp manifest.json files/huge &&
	json_set files/huge "d[\"layers\"][0][\"size\"] = 1 << 40" &&
	start_fake f1 127.0.0.1 --files files &&
	test_expect_code 100 timeout 20 env GEAR_SYSROOT="$TRASH_DIRECTORY/f1" gear-pull --tls-verify=false \
		"docker://127.0.0.1:$(cat f1.port)/test/img:huge" x 2>err &&
	echo "gear-pull: cannot pull '\''x:latest'\'': '\''test/img:huge'\'': the index layer declares 1099511627776 bytes, more than max-index-size (67108864)" >expect &&
	test_cmp expect err &&
	echo "GET /v2/test/img/manifests/huge -" >expect &&
	test_cmp expect f1.log &&
	nothing_pulled f1
'

test_expect_success 'so is a config declaring 1 TiB' '
	cp manifest.json files/hugeconf &&
	json_set files/hugeconf "d[\"config\"][\"size\"] = 1 << 40" &&
	: >f1.log &&
	test_expect_code 100 timeout 20 env GEAR_SYSROOT="$TRASH_DIRECTORY/f1" gear-pull --tls-verify=false \
		"docker://127.0.0.1:$(cat f1.port)/test/img:hugeconf" x 2>err &&
	echo "gear-pull: cannot pull '\''x:latest'\'': '\''test/img:hugeconf'\'': the config declares 1099511627776 bytes, more than max-config-size (4194304)" >expect &&
	test_cmp expect err &&
	echo "GET /v2/test/img/manifests/hugeconf -" >expect &&
	test_cmp expect f1.log &&
	nothing_pulled f1
'

test_expect_success 'the limits come from gear.conf: max-index-size and max-config-size' '
	mkdir -p f2/etc/gear &&
	lsize=$(json manifest.json "d[\"layers\"][0][\"size\"]") &&
	csize=$(json manifest.json "d[\"config\"][\"size\"]") &&
	echo "max-index-size=$((lsize - 1))" >f2/etc/gear/gear.conf &&
	test_expect_code 100 env GEAR_SYSROOT="$TRASH_DIRECTORY/f2" gear-pull --tls-verify=false docker://$A/test/img x 2>err &&
	echo "gear-pull: cannot pull '\''x:latest'\'': '\''test/img:latest'\'': the index layer declares $lsize bytes, more than max-index-size ($((lsize - 1)))" >expect &&
	test_cmp expect err &&
	nothing_pulled f2 &&
	echo "max-config-size=$((csize - 1))" >f2/etc/gear/gear.conf &&
	test_expect_code 100 env GEAR_SYSROOT="$TRASH_DIRECTORY/f2" gear-pull --tls-verify=false docker://$A/test/img x 2>err &&
	echo "gear-pull: cannot pull '\''x:latest'\'': '\''test/img:latest'\'': the config declares $csize bytes, more than max-config-size ($((csize - 1)))" >expect &&
	test_cmp expect err &&
	nothing_pulled f2 &&
	printf "max-index-size=%s\nmax-config-size=%s\n" $lsize $csize >f2/etc/gear/gear.conf &&
	env GEAR_SYSROOT="$TRASH_DIRECTORY/f2" gear-pull --tls-verify=false docker://$A/test/img x >/dev/null &&
	test -f f2/var/lib/gear/images/x/latest/index.json
'

test_expect_success 'a bad limit in gear.conf is a usage error' '
	echo "max-index-size=0" >f2/etc/gear/gear.conf &&
	test_expect_code 100 env GEAR_SYSROOT="$TRASH_DIRECTORY/f2" gear-pull --tls-verify=false docker://$A/test/img y 2>err &&
	echo "gear-pull: $TRASH_DIRECTORY/f2/etc/gear/gear.conf:1: max-index-size must be 1 to 64G bytes, not '\''0'\''" >expect &&
	test_cmp expect err &&
	echo "max-config-size=17M" >f2/etc/gear/gear.conf &&
	test_expect_code 100 env GEAR_SYSROOT="$TRASH_DIRECTORY/f2" gear-pull --tls-verify=false docker://$A/test/img y 2>err &&
	echo "gear-pull: $TRASH_DIRECTORY/f2/etc/gear/gear.conf:1: max-config-size must be 1 to 16M bytes, not '\''17M'\''" >expect &&
	test_cmp expect err &&
	rm f2/etc/gear/gear.conf
'

test_expect_success 'setup: the image pulled, where its map puts /etc/seq, the blob of its stored bytes' '
	GEAR_SYSROOT="$TRASH_DIRECTORY/f3" gear-pull --tls-verify=false docker://$A/test/img test/img >/dev/null &&
	D="$TRASH_DIRECTORY/f3/var/lib/gear/images/test/img/latest" &&
	h=$(sha256sum <src/etc/seq | cut -c1-64) &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/f3" gear-index -m test/img >map &&
	awk -F "\t" -v h=$h "\$1 == \"pack\" { p = \$2 } \$1 == h { print p, \$2, \$3 }" map >loc &&
	read -r p off len <loc &&
	test -n "$len" &&
	o="$IMG/objects/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-)" &&
	b=sha256:$(sha256sum <"$o" | cut -c1-64) &&
	size=$(stat -c %s src/etc/seq) &&
	max=$(stored_max $size) &&
	echo "$h $b $size $max $p $off $len" >seq.obj &&
	curl -fsS -o "files/$p" "http://$A/v2/test/img/blobs/$p"
'

test_expect_success 'a blob sent without end is cut off at what its content can need; the temp file never grows past it' '
	read -r h b size max p off len <seq.obj &&
	start_fake endless 127.0.0.1 --endless $((64 << 20)) &&
	(
		trap "" XFSZ &&
		ulimit -f $(( (max + 511) / 512 )) &&
		test_expect_code 111 timeout 20 "$GEAR_BUILD/t/unit/test-remote" fetch \
			"docker+http://127.0.0.1:$(cat endless.port)/test/img" $h $b out $size 2>err
	) &&
	echo "gear: object sha256:$(echo $h | cut -c1-12): GET '\''http://127.0.0.1:$(cat endless.port)/v2/test/img/blobs/$b'\'': the answer is larger than $max bytes" >expect &&
	test_cmp expect err
'

test_expect_success 'so is one whose Content-Length says it is too long, before its body' '
	read -r h b size max p off len <seq.obj &&
	mkdir big &&
	head -c $((max + 1)) /dev/zero >big/$b &&
	start_fake big 127.0.0.1 --files big &&
	test_expect_code 111 timeout 20 "$GEAR_BUILD/t/unit/test-remote" fetch \
		"docker+http://127.0.0.1:$(cat big.port)/test/img" $h $b out $size 2>err &&
	echo "gear: object sha256:$(echo $h | cut -c1-12): GET '\''http://127.0.0.1:$(cat big.port)/v2/test/img/blobs/$b'\'': the answer is larger than $max bytes" >expect &&
	test_cmp expect err
'

test_expect_success 'a range answered with the whole pack (200): read up to the range only, the content right' '
	read -r h b size max p off len <seq.obj &&
	start_fake whole 127.0.0.1 --files files &&
	timeout 20 "$GEAR_BUILD/t/unit/test-remote" fetch \
		"docker+http://127.0.0.1:$(cat whole.port)/test/img" $h $p@$off+$len out $size &&
	test_cmp src/etc/seq out &&
	echo "GET /v2/test/img/blobs/$p -" >expect &&
	test_cmp expect whole.log
'

test_expect_success 'a range answered endlessly (200): cut at the range, then refused as not the content' '
	read -r h b size max p off len <seq.obj &&
	: >endless.log &&
	(
		trap "" XFSZ &&
		ulimit -f $(( (len + 511) / 512 )) &&
		test_expect_code 111 timeout 20 "$GEAR_BUILD/t/unit/test-remote" fetch \
			"docker+http://127.0.0.1:$(cat endless.port)/test/img" $h $p@$off+$len out $size 2>err
	) &&
	grep "^gear: object .fetched object. is corrupt: content has digest " err
'

test_expect_success 'a 206 for another range than the one asked is refused' '
	read -r h b size max p off len <seq.obj &&
	start_fake shifted 127.0.0.1 --files files --range --range-shift 1 &&
	test_expect_code 111 timeout 20 "$GEAR_BUILD/t/unit/test-remote" fetch \
		"docker+http://127.0.0.1:$(cat shifted.port)/test/img" $h $p@$off+$len out $size 2>err &&
	echo "gear: object sha256:$(echo $h | cut -c1-12): GET '\''http://127.0.0.1:$(cat shifted.port)/v2/test/img/blobs/$p'\'': the answer is for bytes '\''bytes $((off + 1))-$((off + len))/$(stat -c %s files/$p)'\'', not $off-$((off + len - 1))" >expect &&
	test_cmp expect err
'

test_expect_success 'a 206 with more bytes than the range is cut off at the range' '
	read -r h b size max p off len <seq.obj &&
	start_fake extra 127.0.0.1 --files files --range --range-extra 100000 &&
	test_expect_code 111 timeout 20 "$GEAR_BUILD/t/unit/test-remote" fetch \
		"docker+http://127.0.0.1:$(cat extra.port)/test/img" $h $p@$off+$len out $size 2>err &&
	echo "gear: object sha256:$(echo $h | cut -c1-12): GET '\''http://127.0.0.1:$(cat extra.port)/v2/test/img/blobs/$p'\'': the answer is larger than $len bytes" >expect &&
	test_cmp expect err &&
	start_fake exact 127.0.0.1 --files files --range &&
	"$GEAR_BUILD/t/unit/test-remote" fetch "docker+http://127.0.0.1:$(cat exact.port)/test/img" $h $p@$off+$len out $size &&
	test_cmp src/etc/seq out
'

test_expect_success 'a map giving a content more bytes than it can need is refused before any request' '
	read -r h b size max p off len <seq.obj &&
	: >exact.log &&
	test_expect_code 111 "$GEAR_BUILD/t/unit/test-remote" fetch \
		"docker+http://127.0.0.1:$(cat exact.port)/test/img" $h $p@0+$((max + 1)) out $size 2>err &&
	echo "gear: object sha256:$(echo $h | cut -c1-12): the map gives it $((max + 1)) bytes, more than $max" >expect &&
	test_cmp expect err &&
	test_cmp /dev/null exact.log
'

test_expect_success 'through gear-fs: EIO at once, nothing cached; from a sound store the file reads' '
	read -r h b size max p off len <seq.obj &&
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/f3" && IMG="$GEAR_SYSROOT/var/lib/gear" &&
		echo "docker+http://127.0.0.1:$(cat endless.port)/test/img:latest" >"$IMG/images/test/img/latest/origin" &&
		start_fs test/img m1 &&
		start=$(date +%s) &&
		test_must_fail timeout 20 cat m1/etc/seq >/dev/null 2>err &&
		grep "Input/output error" err &&
		test $(( $(date +%s) - start )) -lt 10 &&
		grep -q "^gear-fs: cannot fetch '\''/etc/seq'\'' (sha256:$h): .* is corrupt: content has digest " m1.err &&
		find "$IMG/public" -type f >cached &&
		test_cmp /dev/null cached &&
		stop_fs m1 &&
		echo "docker+http://$A/test/img:latest" >"$IMG/images/test/img/latest/origin" &&
		start_fs test/img m1 &&
		test_cmp src/etc/seq m1/etc/seq &&
		stop_fs m1
	)
'

test_done
