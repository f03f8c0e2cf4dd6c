#!/bin/sh
test_description='gear-build refuses hostile and malformed layers, leaving the store and images as they were'
. "$(dirname "$0")/lib/test-lib.sh"

# snap FILE: every path of the image tree, with size and mtime for files
snap() {
	(cd "$IMG" && find . -type d -printf "%y %m %p\n" && find . ! -type d -printf "%y %m %s %T@ %p\n") |
		sort >"$1"
}

# refused CASE MESSAGE: building CASE exits 100 with MESSAGE (layer digests
# shown as D) and changes nothing in the image tree
refused() {
	snap before &&
	test_expect_code 100 gear-build "oci:hostile/$1:bad" "bad/$1" >out 2>err &&
	test_must_fail test -s out &&
	sed "s/(sha256:[0-9a-f]\{12\})/(sha256:D)/" err >got &&
	printf "gear-build: cannot build '%s': %s\n" "bad/$1:latest" "$2" >expect &&
	test_cmp expect got &&
	snap after &&
	test_cmp before after
}

test_expect_success 'build the hostile layers' '
	build-test-images --hostile hostile &&
	test -d hostile/good && test -d hostile/dotdot
'

test_expect_success 'the good image of the same making builds' '
	gear-build -q oci:hostile/good:good good >out &&
	gear-index good >index &&
	grep -x "f	0644	0	0	600	sha256:[0-9a-f]*	etc/motd" index &&
	ls "$IMG/objects" >dirs && test -s dirs
'

test_expect_success 'the message names the layer by its digest' '
	layer=$(python3 -c "import json; d=\"hostile/dotdot/\"; i=json.load(open(d+\"index.json\")); m=json.load(open(d+\"blobs/sha256/\"+i[\"manifests\"][0][\"digest\"][7:])); print(m[\"layers\"][0][\"digest\"][:19])") &&
	test_expect_code 100 gear-build oci:hostile/dotdot:bad x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': layer 1 ($layer): entry '\''../evil'\'': '\''..'\'' in name" >expect &&
	test_cmp expect err
'

test_expect_success 'a ../ name is refused' '
	refused dotdot "layer 1 (sha256:D): entry '\''../evil'\'': '\''..'\'' in name"
'

test_expect_success 'a .. inside a name is refused' '
	refused dotdot-inner "layer 1 (sha256:D): entry '\''etc/../../evil'\'': '\''..'\'' in name"
'

test_expect_success 'an absolute name is refused' '
	refused absolute "layer 1 (sha256:D): entry '\''/etc/evil'\'': absolute name"
'

test_expect_success 'a write through a symlink is refused' '
	refused symlink-write "layer 1 (sha256:D): entry '\''link/shadow'\'': '\''link'\'' is a symlink"
'

test_expect_success 'a write through a symlink of a lower layer is refused' '
	refused symlink-write-layers "layer 2 (sha256:D): entry '\''link/evil'\'': '\''link'\'' is a symlink"
'

test_expect_success 'a hardlink out of the root is refused' '
	refused hardlink-outside "layer 1 (sha256:D): entry '\''h'\'': hardlink target: '\''..'\'' in name" &&
	refused hardlink-absolute "layer 1 (sha256:D): entry '\''h'\'': hardlink target: absolute name"
'

test_expect_success 'a hardlink to nothing is refused' '
	refused hardlink-missing "layer 1 (sha256:D): entry '\''h'\'': hardlink to missing '\''etc/nothere'\''"
'

test_expect_success 'a hardlink that replaces its own parent directory keeps its content' '
	python3 - <<-\EOF &&
	import tarfile, io, json, hashlib
	def mk(entries):
	    b = io.BytesIO()
	    t = tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT)
	    for ti, d in entries:
	        t.addfile(ti, io.BytesIO(d) if d else None)
	    t.close()
	    return b.getvalue()
	def T(n, **k):
	    ti = tarfile.TarInfo(n)
	    for a, v in k.items():
	        setattr(ti, a, v)
	    return ti
	L = mk([(T("a/", type=tarfile.DIRTYPE, mode=0o755), None), (T("a/b", size=5), b"hello"),
	        (T("a", type=tarfile.LNKTYPE, linkname="a/b"), None)])
	c = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
	                "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(L).hexdigest()]}}).encode()
	m = json.dumps([{"Config": "c.json", "RepoTags": ["x:latest"], "Layers": ["l.tar"]}]).encode()
	open("parent-link.tar", "wb").write(mk([(T("c.json", size=len(c)), c), (T("l.tar", size=len(L)), L),
	                                      (T("manifest.json", size=len(m)), m)]))
	EOF
	gear-build -q docker-archive:parent-link.tar parent-link >out &&
	gear-index parent-link >index &&
	grep -x "f	0644	0	0	5	sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824	a" index &&
	test $(wc -l <index) = 2 &&
	rm -rf "$IMG/images/parent-link"
'

test_expect_success 'a truncated gzip layer is refused' '
	refused truncated-gzip "layer 1 (sha256:D): entry '\''big'\'': truncated gzip input"
'

test_expect_success 'a header claiming more bytes than the archive holds is refused' '
	refused size-long "layer 1 (sha256:D): entry '\''etc/motd'\'': Truncated tar archive"
'

test_expect_success 'a header claiming fewer bytes than follow is refused' '
	refused size-short "layer 1 (sha256:D): after entry '\''etc/motd'\'': Damaged tar archive"
'

test_expect_success 'a layer that does not match its digest is refused' '
	want=$(sha256sum <hostile/digest-mismatch/blobs/sha256/$(ls hostile/digest-mismatch/blobs/sha256 | while read b; do
		if gzip -t hostile/digest-mismatch/blobs/sha256/$b 2>/dev/null; then echo $b; fi; done) | cut -d" " -f1) &&
	refused digest-mismatch "layer 1 (sha256:D): content does not match its digest (it is sha256:$want)"
'

test_expect_success 'a layer using the index records of gear itself is refused' '
	refused reserved-xattr "layer 1 (sha256:D): entry '\''x'\'': reserved xattr '\''GEAR.digest'\''"
'

test_expect_success 'a missing layer blob is refused' '
	cp -r hostile/good nolayer &&
	layer=$(cd nolayer/blobs/sha256 && for b in *; do if gzip -t $b 2>/dev/null; then echo $b; fi; done) &&
	rm nolayer/blobs/sha256/$layer &&
	snap before &&
	test_expect_code 100 gear-build oci:nolayer:good x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': layer 1 (sha256:$(echo $layer | cut -c1-12)): cannot open '\''nolayer/blobs/sha256/$layer'\'': No such file or directory" >expect &&
	test_cmp expect err &&
	snap after &&
	test_cmp before after
'

test_expect_success 'a layer blob that is a fifo, a link to /dev/zero or longer than its manifest says: refused, no hang' '
	cp -r hostile/good oddlayer &&
	layer=$(cd oddlayer/blobs/sha256 && for b in *; do if gzip -t $b 2>/dev/null; then echo $b; fi; done) &&
	size=$(stat -c %s oddlayer/blobs/sha256/$layer) &&
	mv oddlayer/blobs/sha256/$layer blob &&
	at="gear-build: cannot build '\''x:latest'\'': layer 1 (sha256:$(echo $layer | cut -c1-12)):" &&
	snap before &&
	mkfifo oddlayer/blobs/sha256/$layer &&
	test_expect_code 100 timeout 20 gear-build oci:oddlayer:good x 2>err &&
	echo "$at cannot open '\''oddlayer/blobs/sha256/$layer'\'': not a regular file" >expect &&
	test_cmp expect err &&
	rm oddlayer/blobs/sha256/$layer && ln -s /dev/zero oddlayer/blobs/sha256/$layer &&
	test_expect_code 100 timeout 20 gear-build oci:oddlayer:good x 2>err &&
	grep -F "$at cannot open '\''oddlayer/blobs/sha256/$layer'\'': Too many levels of symbolic links" err &&
	rm oddlayer/blobs/sha256/$layer && cp blob oddlayer/blobs/sha256/$layer &&
	head -c 100000 /dev/zero >>oddlayer/blobs/sha256/$layer &&
	test_expect_code 100 timeout 20 gear-build oci:oddlayer:good x 2>err &&
	echo "$at blob has more than $size bytes" >expect &&
	test_cmp expect err &&
	snap after &&
	test_cmp before after
'

test_expect_success 'a tampered manifest is refused' '
	cp -r hostile/good badman &&
	man=$(python3 -c "import json; print(json.load(open(\"badman/index.json\"))[\"manifests\"][0][\"digest\"][7:])") &&
	sed -i "s/schemaVersion/schemaversion/" badman/blobs/sha256/$man &&
	test_expect_code 100 gear-build oci:badman:good x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': in '\''badman'\'': blob sha256:$(echo $man | cut -c1-12) does not match its digest" >expect &&
	test_cmp expect err
'

test_expect_success 'a truncated docker archive is refused' '
	build-test-images --big 1 imgs &&
	size=$(stat -c %s imgs/multi.tar) &&
	head -c $((size / 2)) imgs/multi.tar >half.tar &&
	snap before &&
	test_expect_code 100 gear-build docker-archive:half.tar x 2>err &&
	grep "^gear-build: cannot build '\''x:latest'\'': " err &&
	snap after &&
	test_cmp before after
'

# swapped NAME TARGET: builds dir:src, and when the walk reaches ./NAME (its
# entry described, not yet read) makes NAME a link to TARGET; the build must
# fail as one that changed under it, with nothing in the image tree
swapped() {
	rm -rf src && mkdir -p src/d && printf "12345678" >src/f && echo "inside" >src/d/key &&
	snap before &&
	rm -f flag &&
	{ GEAR_TEST_PAUSE="dir-entry:./$1" GEAR_TEST_PAUSE_FILE="$PWD/flag" gear-build dir:src swapped >out 2>err & } &&
	pid=$! &&
	i=0 && until test -e flag; do i=$((i + 1)) && test $i -lt 600 && sleep 0.1 || return 1; done &&
	mv "src/$1" "src/$1.moved" && ln -s "$2" "src/$1" &&
	rm flag &&
	code=0 && { wait $pid || code=$?; } &&
	cat err &&
	test $code = 111 &&
	grep -x "gear-build: cannot build 'swapped:latest': cannot read 'src': '$1' changed while it was read" err &&
	snap after &&
	test_cmp before after
}

test_expect_success 'dir: a file swapped for a link out of the tree between its description and its read is refused' '
	mkdir -p outside && printf "a root-only secret, longer than eight bytes" >outside/secret && chmod 600 outside/secret &&
	swapped f "$PWD/outside/secret"
'

test_expect_success 'dir: a directory swapped for a link out of the tree is refused, nothing below it read' '
	mkdir -p outside/private && echo "private key" >outside/private/key && chmod 700 outside/private &&
	swapped d "$PWD/outside/private"
'

test_expect_success 'dir: a large file that grows between its description and its read is refused, not read on' '
	rm -rf src && mkdir src && head -c $((17 * 1048576)) /dev/zero >src/big &&
	snap before &&
	rm -f flag &&
	{ GEAR_TEST_PAUSE="dir-entry:./big" GEAR_TEST_PAUSE_FILE="$PWD/flag" timeout 60 gear-build dir:src grown >out 2>err & } &&
	pid=$! &&
	i=0 && until test -e flag; do i=$((i + 1)) && test $i -lt 600 && sleep 0.1 || return 1; done &&
	truncate -s 1T src/big &&
	rm flag &&
	code=0 && { wait $pid || code=$?; } &&
	cat err &&
	test $code = 111 &&
	grep "entry '\''./big'\'': changed while it was read" err &&
	rm src/big &&
	snap after &&
	test_cmp before after
'

test_expect_success 'nothing was left behind' '
	ls "$IMG/build" >left &&
	test_must_fail test -s left &&
	gear-images >list &&
	printf "good\tlatest\t2\t" >expect &&
	cut -f1-3 list | tr "\n" "\t" >got &&
	test_cmp expect got &&
	gear-fsck >out 2>err &&
	test_must_fail test -s out
'

test_done
