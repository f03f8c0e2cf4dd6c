#!/bin/sh
test_description='gear-build, gear-export, gear-index, gear-images: the tree of a Gear image is the tree umoci unpacks'
. "$(dirname "$0")/lib/test-lib.sh"

# same_tree A B: rsync, not gear, finds no difference in content, type, mode,
# owner, size, link targets, hardlinks, xattrs, devices or mtimes (to the nanosecond)
same_tree() {
	rsync -n -aHAXc --modify-window=-1 --delete --itemize-changes "$1/" "$2/" >tree-diff &&
	: >tree-empty &&
	test_cmp tree-empty tree-diff
}

# index_of DIR: what gear-index must print for a tree, computed from the files themselves
cat >index_of.py <<'EOF'
import hashlib, os, stat, sys

def esc(p):
    out = b""
    for b in p:
        if b == 0x5c: out += b"\\\\"
        elif b == 0x09: out += b"\\t"
        elif b == 0x0a: out += b"\\n"
        elif b < 0x20 or b == 0x7f: out += b"\\%03o" % b
        else: out += bytes([b])
    return out

root = os.fsencode(sys.argv[1])
first = {}
def entry(rel, st):
    m = st.st_mode
    t = {stat.S_IFDIR: "d", stat.S_IFREG: "f", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
         stat.S_IFBLK: "b", stat.S_IFIFO: "p"}[stat.S_IFMT(m)]
    size = digest = "-"
    if t == "f":
        if (st.st_dev, st.st_ino) in first: t = "h"
        else: first[(st.st_dev, st.st_ino)] = rel
        with open(os.path.join(root, rel), "rb") as f:
            digest = "sha256:" + hashlib.sha256(f.read()).hexdigest()
        size = str(st.st_size)
    sys.stdout.buffer.write(b"%s\t%04o\t%d\t%d\t%s\t%s\t%s\n" % (t.encode(), stat.S_IMODE(m), st.st_uid, st.st_gid,
                            size.encode(), digest.encode(), esc(rel) if rel else b"."))
def walk(rel):
    for name in sorted(os.listdir(os.path.join(root, rel) if rel else root)):
        r = rel + b"/" + name if rel else name
        st = os.lstat(os.path.join(root, r))
        entry(r, st)
        if stat.S_ISDIR(st.st_mode): walk(r)
entry(b"", os.lstat(root))
walk(b"")
EOF

test_expect_success 'build the test images (umoci, skopeo, python tarfile)' '
	build-test-images imgs &&
	test -d imgs/oci && test -d imgs/oci-zstd && test -d imgs/oci-plain && test -f imgs/multi.tar
'

test_expect_success 'umoci unpacks the source: the reference tree' '
	umoci unpack --image imgs/oci:multi ref >/dev/null 2>&1 &&
	test -d ref/rootfs/data &&
	test $(stat -c %s ref/rootfs/big/blob) -gt 67108864
'

test_expect_success 'the comparison sees differences in mtime, owner, mode, xattr, content, links, types' '
	for change in "touch -h -d \"2020-01-02 03:04:05.987654000\" data/nsec" \
		"chown -h 1:1 data/dangling" "chmod 4755 data/owned" \
		"setfattr -x user.comment data/xattr" "setcap -r bin/capped" \
		"printf x >>data/empty" "rm data/hl2 && cp data/hl1 data/hl2" \
		"rm data/dangling && ln -s ../../elsewhere data/dangling" \
		"rm dev/null && mknod dev/null c 1 5" "rm run/fifo && touch run/fifo" \
		"touch -h -d @1 -- \"data/new
line\""
	do
		rm -rf copy && cp -a ref/rootfs copy && same_tree ref/rootfs copy &&
		(cd copy && eval "$change") &&
		test_must_fail same_tree ref/rootfs copy || return 1
	done
'

test_expect_success 'gear-build of an OCI layout prints its summary' '
	gear-build oci:imgs/oci:multi test/multi >out 2>err &&
	test_must_fail test -s err &&
	cut -f1 out >keys &&
	printf "%s\n" image manifest files bytes-in objects-new objects-reused bytes-new bytes-stored dedup saved >expect &&
	test_cmp expect keys &&
	grep -x "image	test/multi:latest" out &&
	grep -x "objects-reused	[1-9][0-9]*" out &&
	grep -x "manifest	sha256:[0-9a-f]\{64\}" out
'

test_expect_success 'gear-export gives the tree umoci gives' '
	gear-export test/multi out-oci &&
	same_tree ref/rootfs out-oci
'

test_expect_success 'zstd layers, uncompressed layers and a docker archive give the same image' '
	gear-build -q oci:imgs/oci:multi test/multi >m1 &&
	gear-build -q oci:imgs/oci-zstd:multi test/zstd >m2 &&
	gear-build -q oci:imgs/oci-plain:multi test/plain >m3 &&
	gear-build -q docker-archive:imgs/multi.tar test/docker:v1 >m4 &&
	test_cmp m1 m2 && test_cmp m1 m3 && test_cmp m1 m4 &&
	for n in test/zstd test/plain test/docker:v1; do
		rm -rf out && gear-export $n out && same_tree ref/rootfs out || return 1
	done
'

test_expect_success 'gear-index prints every path with its metadata and digest' '
	gear-index test/multi >index 2>err &&
	test_must_fail test -s err &&
	python3 index_of.py ref/rootfs >expect &&
	test_cmp expect index &&
	grep -Fx "h	0644	0	0	38	sha256:$(sha256sum <ref/rootfs/etc/base-file | cut -d" " -f1)	etc/base-link" index &&
	grep -Fx "f	0644	0	0	8	sha256:$(sha256sum <"ref/rootfs/data/new
line" | cut -d" " -f1)	data/new\\nline" index
'

test_expect_success 'gear-index -l adds link targets and device numbers' '
	gear-index -l test/multi >long &&
	grep -Fx "l	0777	0	0	-	-	lib	usr/lib" long &&
	grep -Fx "c	0666	0	0	-	-	dev/null	1,3" long &&
	grep -Fx "b	0660	0	0	-	-	dev/sda	8,0" long &&
	grep -Fx "h	0644	0	0	21	sha256:$(sha256sum <ref/rootfs/data/hl1 | cut -d" " -f1)	data/hl2	data/hl1" long &&
	grep -Fx "d	1777	0	0	-	-	tmp	-" long
'

test_expect_success 'a plain directory builds too, with the same index' '
	gear-build -q dir:ref/rootfs test/dir >m5 &&
	gear-index test/dir >index-dir &&
	test_cmp index index-dir &&
	gear-export test/dir out-dir &&
	same_tree ref/rootfs out-dir
'

test_expect_success 'the image config keeps the run semantics of the source' '
	skopeo inspect --config oci:imgs/oci:multi >src.json &&
	skopeo inspect --config "oci:$IMG/images/test/multi/latest" >gear.json &&
	python3 -c "import json,sys; [print(json.dumps(json.load(open(f))[\"config\"], sort_keys=True)) for f in sys.argv[1:]]" \
		src.json gear.json >configs &&
	sed -n 1p configs >want && sed -n 2p configs >got &&
	test_cmp want got &&
	grep "\"Entrypoint\": \[\"/bin/sh\"\]" got &&
	grep "\"WorkingDir\": \"/data\"" got &&
	grep "\"8080/tcp\"" got &&
	grep "\"org.example.test\": \"multi\"" got
'

test_expect_success 'the index is an ordinary one-layer OCI image that umoci unpacks' '
	skopeo inspect "oci:$IMG/images/test/multi/latest" >inspect.json &&
	python3 -c "import json; print(len(json.load(open(\"inspect.json\"))[\"Layers\"]))" >layers &&
	echo 1 >expect && test_cmp expect layers &&
	umoci unpack --image "$IMG/images/test/multi/latest:latest" idx >/dev/null 2>&1 &&
	(cd idx/rootfs && find . -printf "%y %p\n" | sort) >got &&
	(cd ref/rootfs && find . -printf "%y %p\n" | sort) >want &&
	test_cmp want got &&
	find idx/rootfs -type f -size +0 >nonempty &&
	test_must_fail test -s nonempty
'

test_expect_success 'gear-images lists the images with file counts and sizes' '
	gear-images >list 2>err &&
	test_must_fail test -s err &&
	files=$(find ref/rootfs -type f -printf "%i\n" | sort -u | wc -l) &&
	bytes=$(find ref/rootfs -type f -printf "%i %s\n" | sort -u | awk "{s += \$2} END {print s}") &&
	digest=$(cat m1) &&
	for n in "test/dir	latest" "test/docker	v1" "test/multi	latest" "test/plain	latest" "test/zstd	latest"; do
		if [ "$n" = "test/dir	latest" ]; then d=$(cat m5); else d=$digest; fi &&
		printf "%s\t%s\t%s\t%s\n" "$n" $files $bytes $d || return 1
	done >expect &&
	test_cmp expect list &&
	gear-images -q >names &&
	printf "%s\n" test/dir:latest test/docker:v1 test/multi:latest test/plain:latest test/zstd:latest >expect &&
	test_cmp expect names
'

test_expect_success 'usage errors exit 100' '
	test_expect_code 100 gear-build oci:imgs/oci:multi 2>err &&
	grep "^usage: gear-build" err &&
	test_expect_code 100 gear-build -j 0 oci:imgs/oci:multi x 2>err &&
	grep "invalid JOBS" err &&
	test_expect_code 100 gear-index 2>err && grep "^usage: gear-index" err &&
	test_expect_code 100 gear-export test/multi 2>err && grep "^usage: gear-export" err &&
	test_expect_code 100 gear-images extra 2>err && grep "^usage: gear-images" err &&
	test_expect_code 100 gear-fsck a b 2>err && grep "^usage: gear-fsck" err
'

test_expect_success 'invalid names, tags and sources are refused with exit 100' '
	test_tree_snapshot before &&
	test_expect_code 100 gear-build oci:imgs/oci:multi Test/Upper 2>err &&
	echo "gear-build: invalid image name '\''Test/Upper'\'': want '\''/'\''-separated components of [a-z0-9] joined by '\''.'\'', '\''_'\'' or '\''-'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-build oci:imgs/oci:multi ../x 2>err && grep "invalid image name '\''\.\./x'\''" err &&
	test_expect_code 100 gear-build oci:imgs/oci:multi /abs 2>err && grep "invalid image name" err &&
	test_expect_code 100 gear-build oci:imgs/oci:multi a//b 2>err && grep "invalid image name" err &&
	test_expect_code 100 gear-build oci:imgs/oci:multi x:.tag 2>err &&
	echo "gear-build: invalid tag '\''.tag'\'': want 1 to 128 characters of [A-Za-z0-9_.-], not starting with '\''.'\'' or '\''-'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-build docker:imgs/oci x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': invalid source '\''docker:imgs/oci'\'': want oci:DIR[:REF], docker-archive:FILE[:REF] or dir:PATH" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-build oci:imgs/oci x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': '\''imgs/oci'\'' holds several images: name one as oci:imgs/oci:REF" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-build oci:imgs/oci:nosuch x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': no image '\''nosuch'\'' in '\''imgs/oci'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-build oci:nowhere:multi x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': cannot open '\''nowhere'\'': No such file or directory" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-build docker-archive:imgs/multi.tar:other/name x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': no image '\''other/name'\'' in '\''imgs/multi.tar'\''" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'an image name may not clash with the tag of another' '
	test_expect_code 100 gear-build -q oci:imgs/oci:other test/multi/latest 2>err &&
	echo "gear-build: cannot build '\''test/multi/latest:latest'\'': image name '\''test/multi/latest'\'' clashes with image '\''test/multi:latest'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-build -q oci:imgs/oci:other test:multi 2>err &&
	echo "gear-build: cannot build '\''test:multi'\'': tag '\''multi'\'' clashes with images named '\''test/multi/...'\''" >expect &&
	test_cmp expect err
'

test_expect_success 'gear-export refuses a non-empty directory and a missing image' '
	mkdir full && echo x >full/file &&
	test_expect_code 100 gear-export test/multi full 2>err &&
	echo "gear-export: cannot export '\''test/multi:latest'\'': '\''full'\'' is not empty" >expect &&
	test_cmp expect err &&
	test_expect_code 1 gear-export test/nothere out-none 2>err &&
	echo "gear-export: no image '\''test/nothere:latest'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 1 gear-index test/multi:nothere 2>err &&
	echo "gear-index: no image '\''test/multi:nothere'\''" >expect &&
	test_cmp expect err
'

test_expect_success 'a build whose image cannot be written adds nothing to the store: its objects stay staged, then go' '
	L="$TRASH_DIRECTORY/lost" &&
	mkdir -p src "$L/var/lib/gear/images/test" &&
	head -c 4096 /dev/urandom | base64 >src/content &&
	echo "not a directory" >"$L/var/lib/gear/images/test/x" &&
	test_expect_code 111 env GEAR_SYSROOT="$L" gear-build dir:src test/x 2>err &&
	grep "images/test/x/.gear-tmp.latest.*Not a directory" err &&
	test -z "$(find "$L/var/lib/gear/objects" "$L/var/lib/gear/build" -type f)"
'

test_done
