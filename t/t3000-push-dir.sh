#!/bin/sh
test_description='gear-push and gear-pull with a directory store'
. "$(dirname "$0")/lib/test-lib.sh"

# objects_of NAME: the distinct object digests of an image, sorted
objects_of() {
	gear-index "$1" >idx.tmp &&
	awk -F '\t' '$1 == "f" { sub("sha256:", "", $6); print $6 }' idx.tmp | sort -u
}
# stored_bytes: the sum of the sizes of the local objects named on stdin
stored_bytes() {
	total=0
	while read -r h; do
		total=$((total + $(stat -c %s "$IMG/objects/$(echo "$h" | cut -c1-2)/$(echo "$h" | cut -c3-)")))
	done
	echo $total
}
# files_of DIR: every regular file below DIR, relative, sorted
files_of() { (cd "$1" && find . -type f | sort); }

test_expect_success 'build the test images' '
	build-test-images --big 3 imgs >/dev/null 2>&1 &&
	gear-build -q oci:imgs/oci:multi test/multi >/dev/null &&
	mkdir store
'

test_expect_success 'gear-push to a directory sends every object once and prints the counts' '
	objects_of test/multi >objs &&
	n=$(wc -l <objs) && test $n -gt 10 &&
	b=$(stored_bytes <objs) &&
	gear-push test/multi store >out 2>err &&
	echo "objects sent $n, skipped 0, bytes $b" >expect &&
	test_cmp expect out &&
	test_cmp /dev/null err
'

test_expect_success 'the store holds the objects exactly as the local store does' '
	sed "s|^\(..\)|./\1/|" objs >expect &&
	files_of store/objects >got &&
	test_cmp expect got &&
	while read -r h; do
		p=$(echo "$h" | cut -c1-2)/$(echo "$h" | cut -c3-) &&
		cmp "$IMG/objects/$p" "store/objects/$p" || return 1
	done <objs
'

test_expect_success 'the store holds a copy of the image layout, no temp files' '
	diff -r "$IMG/images/test/multi/latest" store/images/test/multi/latest &&
	find store -name ".gear-tmp*" >tmps &&
	test_cmp /dev/null tmps
'

test_expect_success 'pushing again sends nothing' '
	gear-push test/multi dir:store >out &&
	echo "objects sent 0, skipped $(wc -l <objs), bytes 0" >expect &&
	test_cmp expect out
'

test_expect_success 'a second image sends only the objects the store lacks' '
	gear-build -q oci:imgs/oci:other test/other >/dev/null &&
	objects_of test/other >objs2 &&
	comm -13 objs objs2 >new &&
	test -s new &&
	test $(wc -l <new) -lt $(wc -l <objs2) &&
	gear-push test/other store >out &&
	echo "objects sent $(wc -l <new), skipped $(($(wc -l <objs2) - $(wc -l <new))), bytes $(stored_bytes <new)" >expect &&
	test_cmp expect out
'

test_expect_success 'gear-pull on a fresh image tree fetches the index image only' '
	size=$(find store/images/test/multi/latest -type f -printf "%s\n" | awk "{ s += \$1 } END { print s }") &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull store test/multi >out 2>err &&
	echo "bytes fetched $size" >expect &&
	test_cmp expect out &&
	test_cmp /dev/null err &&
	F="$TRASH_DIRECTORY/fresh/var/lib/gear" &&
	test ! -e "$F/objects" &&
	echo "dir:$TRASH_DIRECTORY/store" >expect &&
	test_cmp expect "$F/images/test/multi/latest/origin" &&
	test ! -e "$F/images/test/multi/latest/objects.map" &&
	diff -r -x origin "$IMG/images/test/multi/latest" "$F/images/test/multi/latest"
'

test_expect_success 'the pulled image has the same index' '
	gear-index -l test/multi >expect &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-index -l test/multi >got &&
	test_cmp expect got
'

test_expect_success 'gear-fsck accepts a pulled image whose objects stay in its store' '
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-fsck >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -e "$TRASH_DIRECTORY/fresh/var/lib/gear/objects"
'

test_expect_success 'every object of the pulled image is fetched from the store and verified' '
	head -n 3 objs >some &&
	while read -r h; do
		"$GEAR_BUILD/t/unit/test-remote" fetch "$(cat "$TRASH_DIRECTORY/fresh/var/lib/gear/images/test/multi/latest/origin")" "$h" - "obj.$h" &&
		echo "$h  obj.$h" | sha256sum -c --quiet || return 1
	done <some
'

test_expect_success 'pushing a new build of a tag replaces the store image atomically' '
	gear-build -q oci:imgs/oci:other test/multi >/dev/null &&
	gear-push test/multi store >out &&
	diff -r "$IMG/images/test/multi/latest" store/images/test/multi/latest &&
	find store -name ".gear-tmp*" >tmps &&
	test_cmp /dev/null tmps
'

test_expect_success 'a push killed mid-way resumes and sends only the rest' '
	mkdir store2 &&
	gear-build -q oci:imgs/oci:multi test/again >/dev/null &&
	objects_of test/again >objs3 &&
	n=$(wc -l <objs3) &&
	test_expect_code 137 env GEAR_TEST_PUSH_KILL_AFTER=5 gear-push test/again store2 >out &&
	test ! -e store2/images &&
	files_of store2/objects >got &&
	test $(wc -l <got) = 5 &&
	sed "s|^\./\(..\)/|\1|" got >sent &&
	gear-push test/again store2 >out &&
	echo "objects sent $((n - 5)), skipped 5, bytes $(($(stored_bytes <objs3) - $(stored_bytes <sent)))" >expect &&
	test_cmp expect out &&
	diff -r "$IMG/images/test/again/latest" store2/images/test/again/latest
'

test_expect_success 'a corrupt object in the store is detected when fetched' '
	h=$(tail -n 1 objs) &&
	p=store/objects/$(echo "$h" | cut -c1-2)/$(echo "$h" | cut -c3-) &&
	chmod u+w "$p" &&
	printf X | dd of="$p" bs=1 seek=10 conv=notrunc 2>/dev/null &&
	test_expect_code 111 "$GEAR_BUILD/t/unit/test-remote" fetch dir:store "$h" - obj.bad 2>err &&
	echo "gear: object '\''fetched object'\'' is corrupt: content has digest sha256:" >expect &&
	sed "s/sha256:.*/sha256:/" err >got &&
	test_cmp expect got
'

test_expect_success 'a corrupt blob of a store image is refused by gear-pull, nothing is left' '
	cp -r store store3 &&
	L=$(python3 -c "import json; print(json.load(open(\"store3/images/test/other/latest/index.json\"))[\"manifests\"][0][\"digest\"][7:])") &&
	chmod u+w store3/images/test/other/latest/blobs/sha256/$L &&
	printf " " >>store3/images/test/other/latest/blobs/sha256/$L &&
	test_expect_code 111 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh3" gear-pull store3 test/other 2>err &&
	echo "gear-pull: cannot pull '\''test/other:latest'\'': blob sha256:$(echo $L | cut -c1-12): '\''$L'\'' does not match its digest" >expect &&
	test_cmp expect err &&
	test ! -e "$TRASH_DIRECTORY/fresh3/var/lib/gear/images/test/other"
'

test_expect_success 'unknown images' '
	test_expect_code 1 gear-push test/nope store 2>err &&
	echo "gear-push: no image '\''test/nope:latest'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 1 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull store test/nope 2>err &&
	echo "gear-pull: cannot pull '\''test/nope:latest'\'': store '\''$TRASH_DIRECTORY/store'\'' has no image '\''test/nope:latest'\''" >expect &&
	test_cmp expect err
'

test_expect_success 'bad store specs' '
	test_expect_code 100 gear-push test/multi ftp://x/y 2>err &&
	echo "gear-push: invalid store '\''ftp://x/y'\'': want DIR, dir:DIR or docker://HOST[:PORT]/REPO[:TAG]" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-push test/multi docker://h/Bad 2>err &&
	echo "gear-push: invalid store '\''docker://h/Bad'\'': invalid repository '\''Bad'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 111 gear-push test/multi nowhere 2>err &&
	echo "gear-push: cannot open store '\''nowhere'\'': No such file or directory" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-pull store 2>err &&
	head -n 1 err >got &&
	echo "gear-pull: no STORE given and no store= in '\''$GEAR_SYSROOT/etc/gear/gear.conf'\''" >expect &&
	test_cmp expect got &&
	test_expect_code 100 gear-push --tls-verify=maybe test/multi store 2>err &&
	head -n 1 err >got &&
	echo "gear-push: invalid --tls-verify '\''maybe'\'': want true or false" >expect &&
	test_cmp expect got
'

test_done
