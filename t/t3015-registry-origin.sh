#!/bin/sh
test_description='registry credentials go to the registry only: upload locations and redirects elsewhere get none'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fake-registry.sh"

test_atexit 'stop_fakes'
test_atexit 'gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'

# auth FILE HOST:PORT: a containers-auth.json file with alice's password for that registry
auth() { printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$2" "$(printf alice:s3cret | base64)" >"$1"; }
ALICE="Basic $(printf alice:s3cret | base64)"

test_expect_success 'setup: a small image, its objects as blobs' '
	mkdir -p src/etc src/bin blobs &&
	echo hello >src/etc/hello &&
	seq 1 20000 >src/etc/seq &&
	head -c 100000 /dev/urandom >src/bin/blob &&
	gear-build -q dir:src test/img >/dev/null &&
	h=$(sha256sum <src/etc/seq | cut -c1-64) &&
	o="$IMG/objects/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-)" &&
	b=$(sha256sum <"$o" | cut -c1-64) &&
	cp "$o" "blobs/sha256:$b" &&
	echo "$h $b $(stat -c %s src/etc/seq)" >seq.obj
'

# push_via NAME LOCATION: gear-push with alice's credentials to a fake registry
# NAME whose uploads go to LOCATION
push_via() {
	start_fake "$1" 127.0.0.1 --location "$2" &&
	auth "$1.json" "127.0.0.1:$(cat "$1.port")" &&
	gear-push --tls-verify=false --authfile "$1.json" test/img "docker://127.0.0.1:$(cat "$1.port")/test/img" >out &&
	grep -q "^objects sent 3, skipped 0, bytes " out &&
	grep -c "^POST /v2/test/img/blobs/uploads/ $ALICE$" "$1.log" >posts &&
	echo 4 >expect &&
	test_cmp expect posts &&
	grep -q "^PUT /v2/test/img/manifests/latest $ALICE$" "$1.log"
}

test_expect_success 'an upload location on another port of the same host gets no credentials' '
	start_fake store 127.0.0.1 &&
	push_via reg1 "http://127.0.0.1:$(cat store.port)/upload/1?state=x" &&
	grep "^PUT " store.log >puts &&
	test $(wc -l <puts) = 4 &&
	grep -c "^PUT /upload/1?state=x&digest=sha256:[0-9a-f]\{64\} -$" store.log >got &&
	echo 4 >expect &&
	test_cmp expect got &&
	! grep "^PUT /upload" reg1.log
'

test_expect_success 'an upload location on another host gets no credentials' '
	start_fake store2 127.0.0.2 &&
	push_via reg2 "http://127.0.0.2:$(cat store2.port)/upload/2" &&
	grep -c "^PUT /upload/2?digest=sha256:[0-9a-f]\{64\} -$" store2.log >got &&
	echo 4 >expect &&
	test_cmp expect got &&
	test $(wc -l <store2.log) = 4
'

test_expect_success 'an upload location on the registry itself gets them: absolute, relative to the host or to the request' '
	push_via reg3 "http://{self}/v2/test/img/blobs/uploads/abs?s=1" &&
	grep -c "^PUT /v2/test/img/blobs/uploads/abs?s=1&digest=sha256:[0-9a-f]\{64\} $ALICE$" reg3.log >got &&
	echo 4 >expect &&
	test_cmp expect got &&
	push_via reg4 "/v2/test/img/blobs/uploads/rel" &&
	grep -c "^PUT /v2/test/img/blobs/uploads/rel?digest=sha256:[0-9a-f]\{64\} $ALICE$" reg4.log >got &&
	test_cmp expect got &&
	push_via reg5 "up-5?s=2" &&
	grep -c "^PUT /v2/test/img/blobs/uploads/up-5?s=2&digest=sha256:[0-9a-f]\{64\} $ALICE$" reg5.log >got &&
	test_cmp expect got
'

test_expect_success 'an upload location that is not http or https is refused' '
	start_fake reg6 127.0.0.1 --location "file:///etc/passwd" &&
	auth reg6.json "127.0.0.1:$(cat reg6.port)" &&
	test_expect_code 111 gear-push --tls-verify=false --authfile reg6.json test/img "docker://127.0.0.1:$(cat reg6.port)/test/img" 2>err &&
	grep -q "POST '\''http://127.0.0.1:$(cat reg6.port)/v2/test/img/blobs/uploads/'\'': invalid upload location '\''file:///etc/passwd'\''$" err &&
	! grep "^PUT" reg6.log
'

test_expect_success 'a real registry answering relative locations takes a push with credentials; the image pulls back' '
	GEAR_REGISTRY_RELATIVE_URLS=1 gear-test-registry start reg >addr &&
	A=$(cat addr) &&
	curl -fsS -X POST -D hdr -o /dev/null "http://$A/v2/probe/blobs/uploads/" &&
	grep -qi "^Location: /v2/probe/blobs/uploads/" hdr &&
	auth reg.json "$A" &&
	gear-push --tls-verify=false --authfile reg.json test/img "docker://$A/test/img" >out &&
	grep -q "^objects sent 3, skipped 0, bytes " out &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --tls-verify=false --authfile reg.json "docker://$A/test/img" test/img >/dev/null &&
	gear-index -l test/img >expect &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-index -l test/img >got &&
	test_cmp expect got &&
	read -r h b size <seq.obj &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-index -m test/img >map &&
	awk -F "\t" -v h=$h "\$1 == \"pack\" { p = \$2 } \$1 == h { print p \"@\" \$2 \"+\" \$3 }" map >at &&
	"$GEAR_BUILD/t/unit/test-remote" fetch "docker+http://$A/test/img" $h $(cat at) seq.out &&
	test_cmp src/etc/seq seq.out
'

# fetch_via NAME REDIRECT: an object fetched with alice's credentials from a
# fake registry NAME that redirects blob downloads to REDIRECT
fetch_via() {
	start_fake "$1" 127.0.0.1 --redirect "$2" --files blobs &&
	mkdir -p "run-$1/containers" &&
	auth "run-$1/containers/auth.json" "127.0.0.1:$(cat "$1.port")" &&
	read -r h b size <seq.obj &&
	XDG_RUNTIME_DIR="$TRASH_DIRECTORY/run-$1" "$GEAR_BUILD/t/unit/test-remote" fetch \
		"docker+http://127.0.0.1:$(cat "$1.port")/test/img" $h sha256:$b "$1.out" &&
	test_cmp src/etc/seq "$1.out" &&
	echo "GET /v2/test/img/blobs/sha256:$b $ALICE" >expect &&
	test_cmp expect "$1.log"
}

test_expect_success 'a download redirected to another port of the same host gets no credentials' '
	start_fake files1 127.0.0.1 --files blobs &&
	fetch_via get1 "http://127.0.0.1:$(cat files1.port)/b/" &&
	echo "GET /b/sha256:$b -" >expect &&
	test_cmp expect files1.log
'

test_expect_success 'a download redirected to another host gets no credentials' '
	start_fake files2 127.0.0.2 --files blobs &&
	fetch_via get2 "http://127.0.0.2:$(cat files2.port)/b/" &&
	echo "GET /b/sha256:$b -" >expect &&
	test_cmp expect files2.log
'

test_expect_success 'a download redirected within the registry keeps them' '
	start_fake get3 127.0.0.1 --redirect "http://{self}/b/" --files blobs &&
	mkdir -p run-get3/containers &&
	auth run-get3/containers/auth.json "127.0.0.1:$(cat get3.port)" &&
	read -r h b size <seq.obj &&
	XDG_RUNTIME_DIR="$TRASH_DIRECTORY/run-get3" "$GEAR_BUILD/t/unit/test-remote" fetch \
		"docker+http://127.0.0.1:$(cat get3.port)/test/img" $h sha256:$b get3.out &&
	test_cmp src/etc/seq get3.out &&
	printf "GET /v2/test/img/blobs/sha256:%s %s\nGET /b/sha256:%s %s\n" $b "$ALICE" $b "$ALICE" >expect &&
	test_cmp expect get3.log
'

test_done
