#!/bin/sh
test_description='registry token auth: docker-registry with auth: token:, tokens from a test issuer'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"
. "$TEST_DIRECTORY/lib/fake-registry.sh"

same_tree() {
	rsync -n -aHAXc --modify-window=-1 --delete --itemize-changes "$1/" "$2/" >tree-diff &&
	: >tree-empty &&
	test_cmp tree-empty tree-diff
}
# start_issuer NAME ANONYMOUS: the token issuer, its port in NAME.port, its requests in NAME.log
start_issuer() {
	: >"$1.log" &&
	python3 "$TEST_DIRECTORY/lib/token-issuer.py" 127.0.0.1 "$1.port" "$1.log" key.pem gear-test-issuer users "$2" &
	echo $! >"$1.pid"
	i=0
	until test -s "$1.port"; do
		i=$((i + 1))
		test $i -lt 100 && kill -0 "$(cat "$1.pid")" 2>/dev/null || return 1
		sleep 0.05
	done
}
# start_token_registry NAME ISSUER: docker-registry trusting ISSUER's tokens, its address in NAME/addr
start_token_registry() {
	GEAR_REGISTRY_TOKEN_REALM=http://127.0.0.1:$(cat "$2.port")/token \
	GEAR_REGISTRY_TOKEN_SERVICE=gear-test GEAR_REGISTRY_TOKEN_ISSUER=gear-test-issuer \
	GEAR_REGISTRY_TOKEN_CERTS="$TRASH_DIRECTORY/cert.pem" GEAR_REGISTRY_DATA="$TRASH_DIRECTORY/data" \
		gear-test-registry start "$1" >/dev/null
}

test_expect_success 'a key and certificate, an issuer that refuses anonymous tokens, its registry' '
	openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
		-subj /CN=gear-test-issuer >/dev/null 2>&1 &&
	echo "alice:s3cret" >users &&
	start_issuer closed none &&
	start_token_registry reg closed &&
	A=$(cat reg/addr) &&
	printf "{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}\n" $A $(printf alice:s3cret | base64) >auth.json &&
	printf "{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}\n" $A $(printf alice:wrong | base64) >wrong.json &&
	build-test-images --big 3 imgs >/dev/null 2>&1 &&
	umoci unpack --image imgs/oci:multi ref >/dev/null 2>&1 &&
	gear-build -q oci:imgs/oci:multi test/multi >/dev/null
'
test_atexit 'gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null; gear-test-registry stop "$TRASH_DIRECTORY/reg2" 2>/dev/null'
test_atexit 'for p in closed open; do test -f "$TRASH_DIRECTORY/$p.pid" && kill $(cat "$TRASH_DIRECTORY/$p.pid") 2>/dev/null; done'
A=$(cat reg/addr 2>/dev/null)
REALM=http://127.0.0.1:$(cat closed.port 2>/dev/null)/token

test_expect_success 'the registry wants a token' '
	curl -sS -o /dev/null -D hdr "http://$A/v2/" &&
	grep -i "^www-authenticate: Bearer realm=\"$REALM\",service=\"gear-test\"" hdr
'

test_expect_success 'skopeo pushes the source image with credentials' '
	skopeo copy --quiet --dest-tls-verify=false --dest-creds alice:s3cret oci:imgs/oci:multi docker://$A/src/multi:1
'

test_expect_success 'anonymous gear-build is denied when the issuer denies it' '
	test_expect_code 111 gear-build --authfile none.json docker+http://$A/src/multi:1 anon 2>err &&
	echo "gear-build: cannot build '\''anon:latest'\'': '\''docker+http://$A/src/multi:1'\'': token from '\''$REALM'\'': not authorized (HTTP 401)" >expect &&
	test_cmp expect err &&
	test_must_fail test -d "$IMG/images/anon" &&
	grep -x "user=- scope=repository:src/multi:pull" closed.log
'

test_expect_success 'wrong credentials are denied' '
	test_expect_code 111 gear-build --authfile wrong.json docker+http://$A/src/multi:1 anon 2>err &&
	grep "not authorized (HTTP 401)" err
'

test_expect_success 'with credentials gear-build gets a token, the tree is the one umoci unpacks' '
	: >closed.log &&
	gear-build --authfile auth.json docker+http://$A/src/multi:1 test/tok >out &&
	gear-export test/tok exp &&
	same_tree ref/rootfs exp &&
	echo "user=alice scope=repository:src/multi:pull" >expect &&
	test_cmp expect closed.log
'

test_expect_success 'gear-push with credentials: one token per scope, cached for every object' '
	: >closed.log &&
	gear-push --authfile auth.json test/multi docker+http://$A/gear/multi >out &&
	grep "^objects sent [1-9][0-9], skipped 0" out &&
	sed "s/push,pull/pull,push/" closed.log | sort >got &&
	printf "%s\n" "user=alice scope=repository:gear/multi:pull" "user=alice scope=repository:gear/multi:pull,push" >expect &&
	test_cmp expect got
'

test_expect_success 'anonymous gear-push is denied' '
	test_expect_code 111 gear-push --authfile none.json test/multi docker+http://$A/gear/other 2>err &&
	grep "not authorized (HTTP 401)" err
'

test_expect_success 'gear-pull with credentials, then gear-fs fetches each file with a token' '
	: >closed.log &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --authfile auth.json docker+http://$A/gear/multi pulled >out &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-index pulled >got.idx && gear-index test/multi >want.idx &&
	test_cmp want.idx got.idx &&
	mkdir -p xdg/containers && cp auth.json xdg/containers/auth.json &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" XDG_RUNTIME_DIR="$TRASH_DIRECTORY/xdg" start_fs pulled mnt &&
	diff -r --no-dereference ref/rootfs/data mnt/data >diff.out;
	k=$?;
	stop_fs mnt &&
	test $k = 0 &&
	test -n "$(ls "$TRASH_DIRECTORY/fresh/var/lib/gear/public")" &&
	sort -u closed.log >got &&
	echo "user=alice scope=repository:gear/multi:pull" >expect &&
	test_cmp expect got &&
	test $(wc -l <closed.log) -le 2
'

test_expect_success 'without credentials gear-fs cannot fetch: an I/O error' '
	rm -rf "$TRASH_DIRECTORY/fresh/var/lib/gear/public" &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" XDG_RUNTIME_DIR="$TRASH_DIRECTORY/none" start_fs pulled mnt &&
	test_must_fail cat mnt/data/* >/dev/null 2>cat.err;
	k=$?;
	stop_fs mnt &&
	test $k = 0 &&
	grep "Input/output error" cat.err
'

test_expect_success 'an issuer that allows anonymous pulls: anonymous build works, anonymous push does not' '
	start_issuer open pull &&
	start_token_registry reg2 open &&
	B=$(cat reg2/addr) &&
	gear-build -q --authfile none.json docker+http://$B/src/multi:1 test/anon >/dev/null &&
	gear-export test/anon exp-anon &&
	same_tree ref/rootfs exp-anon &&
	grep -x "user=- scope=repository:src/multi:pull" open.log &&
	test_expect_code 111 gear-push --authfile none.json test/multi docker+http://$B/gear/anon 2>err &&
	grep "not authorized (HTTP 401)" err
'

test_expect_success 'credentials go to the registry and its realm, the token to the registry only, not where it redirects' '
	start_fake files 127.0.0.2 --files blobs &&
	start_fake redir 127.0.0.1 --bearer "http://127.0.0.1:$(cat open.port)/token" \
		--redirect "http://127.0.0.2:$(cat files.port)/b/" &&
	mkdir blobs && echo hello >blobs/content &&
	h=$(sha256sum <blobs/content | cut -c1-64) &&
	mv blobs/content blobs/sha256:$h &&
	R=127.0.0.1:$(cat redir.port) &&
	mkdir -p run/containers &&
	printf "{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}\n" $R $(printf alice:s3cret | base64) >run/containers/auth.json &&
	: >open.log &&
	XDG_RUNTIME_DIR="$TRASH_DIRECTORY/run" "$GEAR_BUILD/t/unit/test-remote" fetch \
		"docker+http://$R/test/img" $h sha256:$h got.blob &&
	test_cmp blobs/sha256:$h got.blob &&
	echo "GET /b/sha256:$h -" >expect &&
	test_cmp expect files.log &&
	cut -d" " -f1-3 redir.log >got &&
	printf "GET /v2/test/img/blobs/sha256:%s Basic\nGET /v2/test/img/blobs/sha256:%s Bearer\n" $h $h >expect &&
	test_cmp expect got &&
	echo "user=alice scope=repository:test/img:pull" >expect &&
	test_cmp expect open.log
'
test_atexit 'stop_fakes'

test_done
