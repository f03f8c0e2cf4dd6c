#!/bin/sh
test_description='gear-build docker://...: an image read from a registry, its layers streamed and checked'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fake-registry.sh"

# same_tree A B: rsync, not gear, finds no difference in content, type, mode,
# owner, size, link targets, hardlinks, xattrs, devices or mtimes (to the nanosecond)
same_tree() {
	rsync -n -aHAXc --modify-window=-1 --delete --itemize-changes "$1/" "$2/" >tree-diff &&
	: >tree-empty &&
	test_cmp tree-empty tree-diff
}
# manifest REF: the raw manifest of REF in the registry
manifest() { skopeo inspect --raw --tls-verify=false "docker://$A/$1"; }

test_expect_success 'build the test images, unpack them with umoci, start a registry' '
	build-test-images --big 3 imgs >/dev/null 2>&1 &&
	umoci unpack --image imgs/oci:multi ref-multi >/dev/null 2>&1 &&
	umoci unpack --image imgs/oci:other ref-other >/dev/null 2>&1 &&
	gear-test-registry start reg >addr
'
test_atexit 'gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'
A=$(cat addr 2>/dev/null)

test_expect_success 'skopeo copies an OCI image and a docker archive into the registry' '
	skopeo copy --quiet --dest-tls-verify=false oci:imgs/oci:multi docker://$A/src/multi:oci &&
	skopeo copy --quiet --dest-tls-verify=false docker-archive:imgs/multi.tar docker://$A/src/multi:docker &&
	skopeo copy --quiet --dest-tls-verify=false oci:imgs/oci:other docker://$A/src/multi:other &&
	manifest src/multi:oci >m-oci &&
	grep -q "application/vnd.oci.image.config.v1+json" m-oci &&
	manifest src/multi:docker >m-docker &&
	grep -q "application/vnd.docker.container.image.v1+json" m-docker
'

test_expect_success 'an OCI manifest: the exported tree is the one umoci unpacks' '
	gear-build --tls-verify=false docker://$A/src/multi:oci test/oci >out &&
	grep -x "image	test/oci:latest" out &&
	gear-export test/oci exp-oci &&
	same_tree ref-multi/rootfs exp-oci
'

test_expect_success 'a docker schema 2 manifest gives the same image as the OCI layout' '
	gear-build -q docker+http://$A/src/multi:docker test/docker >m1 &&
	gear-build -q oci:imgs/oci:multi test/local >m2 &&
	gear-export test/docker exp-docker &&
	same_tree ref-multi/rootfs exp-docker &&
	gear-index test/docker >i1 && gear-index test/local >i2 &&
	test_cmp i2 i1
'

test_expect_success 'by digest' '
	d=sha256:$(sha256sum <m-oci | cut -c1-64) &&
	gear-build -q --tls-verify=false docker://$A/src/multi@$d test/bydigest >/dev/null &&
	gear-export test/bydigest exp-digest &&
	same_tree ref-multi/rootfs exp-digest
'

test_expect_success 'an index with two platforms: linux/amd64 by default, the other with --platform' '
	manifest src/multi:other >m-other &&
	python3 - "$A" m-oci m-other >index.json <<-\EOF &&
	import hashlib, json, sys
	def desc(path, arch):
	    b = open(path, "rb").read()
	    return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
	            "digest": "sha256:" + hashlib.sha256(b).hexdigest(), "size": len(b),
	            "platform": {"os": "linux", "architecture": arch}}
	print(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
	                  "manifests": [desc(sys.argv[3], "arm64"), desc(sys.argv[2], "amd64")]}))
	EOF
	curl -fsS -X PUT -H "Content-Type: application/vnd.oci.image.index.v1+json" \
		--data-binary @index.json "http://$A/v2/src/multi/manifests/two" &&
	gear-build -q --tls-verify=false docker://$A/src/multi:two test/amd64 >/dev/null &&
	gear-export test/amd64 exp-amd64 &&
	same_tree ref-multi/rootfs exp-amd64 &&
	gear-build -q --tls-verify=false --platform linux/arm64 docker://$A/src/multi:two test/arm64 >/dev/null &&
	gear-export test/arm64 exp-arm64 &&
	same_tree ref-other/rootfs exp-arm64
'

test_expect_success 'a platform the index lacks, and an invalid one' '
	test_expect_code 100 gear-build --tls-verify=false --platform linux/s390x docker://$A/src/multi:two x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': '\''docker://$A/src/multi:two'\'': no linux/s390x image" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-build --platform linux docker+http://$A/src/multi:two x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': invalid platform '\''linux'\'': want OS/ARCH[/VARIANT]" >expect &&
	test_cmp expect err &&
	test_must_fail test -d "$IMG/images/x"
'

test_expect_success 'a missing tag' '
	test_expect_code 1 gear-build docker+http://$A/src/multi:nope x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': '\''docker+http://$A/src/multi:nope'\'': the registry has no tag '\''nope'\''" >expect &&
	test_cmp expect err
'

test_expect_success 'a layer whose bytes do not match its digest: refused, nothing built' '
	gear-images >before &&
	layer=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[\"layers\"][-1][\"digest\"][7:])" m-other) &&
	data=reg/data/docker/registry/v2/blobs/sha256/$(echo $layer | cut -c1-2)/$layer/data &&
	cp "$data" layer.orig &&
	head -c $(stat -c %s layer.orig) /dev/zero >"$data" &&
	test_expect_code 111 gear-build docker+http://$A/src/multi:other bad 2>err &&
	cp layer.orig "$data" &&
	l=$(echo $layer | cut -c1-12) &&
	echo "gear-build: cannot build '\''bad:latest'\'': layer 1 (sha256:$l): blob sha256:$l from the registry does not match its digest" >expect &&
	test_cmp expect err &&
	gear-images >after &&
	test_cmp before after &&
	test_must_fail test -d "$IMG/images/bad"
'

test_expect_success 'an invalid digest in the reference' '
	test_expect_code 100 gear-build docker+http://$A/src/multi@sha256:nothex x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': invalid digest in '\''docker+http://$A/src/multi@sha256:nothex'\''" >expect &&
	test_cmp expect err
'

test_expect_success 'a malformed layer (a path with ..) from the registry: the error of the layer, nothing built' '
	python3 - hostile <<-\EOF &&
	import gzip, hashlib, io, json, os, sys, tarfile
	# a bad entry first, then more than a pipe holds: the build stops while the layer still streams
	d = sys.argv[1]
	os.makedirs(d + "/blobs/sha256")
	def blob(b):
	    h = hashlib.sha256(b).hexdigest()
	    open(d + "/blobs/sha256/" + h, "wb").write(b)
	    return {"digest": "sha256:" + h, "size": len(b)}
	raw = io.BytesIO()
	with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
	    for name, data in (("../evil", b"x"), ("big", os.urandom(8 << 20))):
	        i = tarfile.TarInfo(name)
	        i.size = len(data)
	        t.addfile(i, io.BytesIO(data))
	layer = blob(gzip.compress(raw.getvalue(), 1))
	layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
	config = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
	                          "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}}).encode())
	config["mediaType"] = "application/vnd.oci.image.config.v1+json"
	man = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
	                       "config": config, "layers": [layer]}).encode())
	man["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
	man["annotations"] = {"org.opencontainers.image.ref.name": "bad"}
	json.dump({"schemaVersion": 2, "manifests": [man]}, open(d + "/index.json", "w"))
	json.dump({"imageLayoutVersion": "1.0.0"}, open(d + "/oci-layout", "w"))
	EOF
	skopeo copy --quiet --dest-tls-verify=false oci:hostile:bad docker://$A/hostile/dotdot:bad &&
	test_expect_code 100 gear-build oci:hostile:bad x 2>err-oci &&
	test_expect_code 100 gear-build docker+http://$A/hostile/dotdot:bad x 2>err-reg &&
	sed "s/^.*: layer 1 (sha256:[0-9a-f]*): //" err-oci >expect &&
	sed "s/^.*: layer 1 (sha256:[0-9a-f]*): //" err-reg >got &&
	test_cmp expect got &&
	test_must_fail grep -i "pipe" err-reg &&
	test_must_fail test -d "$IMG/images/x"
'

test_expect_success 'a hostile registry: a manifest whose bytes do not match the digest asked for' '
	mkdir files &&
	d=sha256:$(sha256sum <m-oci | cut -c1-64) &&
	sed "s/\"size\":/\"size\": /" m-oci >"files/$d" &&
	start_fake fake 127.0.0.1 --files files &&
	F=127.0.0.1:$(cat fake.port) &&
	test_expect_code 111 gear-build docker+http://$F/src/multi@$d x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': '\''docker+http://$F/src/multi@$d'\'': manifest $d does not match its digest" >expect &&
	test_cmp expect err
'
test_atexit 'stop_fakes'
c=$(printf "{}" | sha256sum | cut -c1-64)

test_expect_success 'a hostile registry: docker schema 1, a layer that is not a tar, a config too large' '
	F=127.0.0.1:$(cat fake.port) &&
	echo "{\"schemaVersion\": 1, \"fsLayers\": []}" >files/s1 &&
	test_expect_code 100 gear-build docker+http://$F/src/multi:s1 x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': '\''docker+http://$F/src/multi:s1'\'': manifest s1 is docker schema 1, which is not supported" >expect &&
	test_cmp expect err &&
	z=0000000000000000000000000000000000000000000000000000000000000000 &&
	echo "{\"config\": {\"digest\": \"sha256:$z\", \"size\": 2}, \"layers\": [{\"mediaType\": \"text/plain\", \"digest\": \"sha256:$z\", \"size\": 1}]}" >files/notar &&
	printf "{}" >"files/sha256:$z" &&
	test_expect_code 111 gear-build docker+http://$F/src/multi:notar x 2>err &&
	grep "does not match its digest" err &&
	printf "{}" >"files/sha256:$c" &&
	echo "{\"config\": {\"digest\": \"sha256:$c\", \"size\": 2}, \"layers\": [{\"mediaType\": \"text/plain\", \"digest\": \"sha256:$z\", \"size\": 1}]}" >files/notar &&
	test_expect_code 100 gear-build docker+http://$F/src/multi:notar x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': '\''docker+http://$F/src/multi:notar'\'': layer 1 in '\''docker+http://$F/src/multi:notar'\'' has unsupported media type '\''text/plain'\''" >expect &&
	test_cmp expect err &&
	echo "{\"config\": {\"digest\": \"sha256:$c\", \"size\": 99999999999}, \"layers\": []}" >files/bigconf &&
	test_expect_code 100 gear-build docker+http://$F/src/multi:bigconf x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': '\''docker+http://$F/src/multi:bigconf'\'': invalid config in the manifest" >expect &&
	test_cmp expect err &&
	test_must_fail test -d "$IMG/images/x"
'

test_expect_success 'a hostile registry: an endless config is cut off at its declared size' '
	start_fake endless 127.0.0.1 --files files --endless 100000000 &&
	echo "{\"config\": {\"digest\": \"sha256:$c\", \"size\": 1000}, \"layers\": []}" >files/endless &&
	E=127.0.0.1:$(cat endless.port) &&
	test_expect_code 111 gear-build docker+http://$E/src/multi:endless x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': '\''docker+http://$E/src/multi:endless'\'': GET '\''http://$E/v2/src/multi/blobs/sha256:$c'\'': the answer is larger than 1000 bytes" >expect &&
	test_cmp expect err
'

test_done
