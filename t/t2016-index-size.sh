#!/bin/sh
test_description='a GEAR.size past INT64_MAX in an index is refused when the index is read'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

# with_size NAME SIZE: images/NAME/latest, a copy of small's index image whose
# file "a" claims SIZE bytes (blobs, manifest and index.json rehashed)
with_size() {
	python3 - "$IMG/images" "$1" "$2" <<-\EOF
	import gzip, hashlib, io, json, os, shutil, sys, tarfile
	images, name, size = sys.argv[1:]
	src, dst = images + "/small/latest", images + "/" + name + "/latest"
	shutil.copytree(src, dst)
	blobs = dst + "/blobs/sha256/"
	def put(b):
	    h = hashlib.sha256(b).hexdigest()
	    open(blobs + h, "wb").write(b)
	    return h
	ix = json.load(open(dst + "/index.json"))
	m = json.load(open(blobs + ix["manifests"][0]["digest"][7:]))
	old = m["layers"][0]["digest"][7:]
	t = tarfile.open(fileobj=io.BytesIO(gzip.decompress(open(blobs + old, "rb").read())))
	out = io.BytesIO()
	w = tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT)
	for ti in t:
	    if ti.name == "a":
	        ti.pax_headers["SCHILY.xattr.GEAR.size"] = size
	    w.addfile(ti)
	w.close()
	os.unlink(blobs + old)
	layer = gzip.compress(out.getvalue(), mtime=0)
	m["layers"][0]["digest"] = "sha256:" + put(layer)
	m["layers"][0]["size"] = len(layer)
	mb = json.dumps(m, separators=(",", ":"), sort_keys=True).encode()
	os.unlink(blobs + ix["manifests"][0]["digest"][7:])
	ix["manifests"][0]["digest"] = "sha256:" + put(mb)
	ix["manifests"][0]["size"] = len(mb)
	open(dst + "/index.json", "w").write(json.dumps(ix))
	EOF
}

msg="invalid index: entry 'a': size 9223372036854775808 is larger than 9223372036854775807 bytes"

test_expect_success 'setup: a small image, and copies whose file claims sizes around INT64_MAX' '
	mkdir src &&
	echo hello >src/a && echo world >src/b &&
	gear-build -q dir:src small >/dev/null &&
	with_size max 9223372036854775807 &&
	with_size huge 9223372036854775808 &&
	with_size huger 18446744073709551615 &&
	with_size hugest 123456789012345678901234567890 &&
	with_size notanumber 12x
'

test_expect_success 'a size of INT64_MAX reads' '
	gear-index max >out &&
	grep -x "f	0644	0	0	9223372036854775807	sha256:[0-9a-f]*	a" out
'

test_expect_success 'gear-index refuses a size past INT64_MAX, naming the entry and the size' '
	test_expect_code 111 gear-index huge >out 2>err &&
	test_must_fail test -s out &&
	echo "gear-index: image '\''huge:latest'\'': $msg" >expect &&
	test_cmp expect err
'

test_expect_success 'so do larger sizes, to the largest 64-bit number and past it' '
	test_expect_code 111 gear-index huger 2>err &&
	echo "gear-index: image '\''huger:latest'\'': invalid index: entry '\''a'\'': size 18446744073709551615 is larger than 9223372036854775807 bytes" >expect &&
	test_cmp expect err &&
	test_expect_code 111 gear-index hugest 2>err &&
	echo "gear-index: image '\''hugest:latest'\'': invalid index: entry '\''a'\'': size 123456789012345678901234567890 is larger than 9223372036854775807 bytes" >expect &&
	test_cmp expect err &&
	test_expect_code 111 gear-index notanumber 2>err &&
	echo "gear-index: image '\''notanumber:latest'\'': invalid index: entry '\''a'\'': invalid size" >expect &&
	test_cmp expect err
'

test_expect_success 'gear-export refuses it and writes nothing' '
	test_expect_code 111 gear-export huge exp 2>err &&
	echo "gear-export: image '\''huge:latest'\'': $msg" >expect &&
	test_cmp expect err &&
	test_must_fail test -e exp
'

test_expect_success 'gear-fs refuses to mount it' '
	fs_ready &&
	mkdir mnt &&
	{ timeout 20 gear-fs -f huge mnt 2>err; echo $? >code; } &&
	if grep -q " $PWD/mnt " /proc/mounts; then fusermount3 -u -z mnt; echo mounted >>code; fi &&
	echo 111 >expect &&
	test_cmp expect code &&
	echo "gear-fs: cannot mount '\''huge:latest'\'': image '\''huge:latest'\'': $msg" >expect &&
	test_cmp expect err
'

test_expect_success 'gear-fsck reports it as a bad image' '
	test_expect_code 1 gear-fsck >out 2>err &&
	grep -x "badimage	huge:latest	image '\''huge:latest'\'': $msg" out &&
	grep "^badimage	huger:latest	" out &&
	grep "^badimage	hugest:latest	" out &&
	grep "^badimage	notanumber:latest	" out &&
	test $(wc -l <out) = 4
'

test_done
