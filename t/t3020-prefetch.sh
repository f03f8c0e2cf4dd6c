#!/bin/sh
test_description='access lists: recorded by gear-fs, shipped by gear-push, brought back by gear-pull, fetched by --prefetch'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

passwd=b6c593b0bdccd482c5ccf5f4de4ada37f7e1f44091afcd32ecfd3891584dc296
libfake=b215566f4ef7f77419b1075eb67323e2f3697f5d9d840cad3f871e9234a311a6
hl1=2d224def5335f2fe98f2c42c53d17da5cf71baa9ab1e936f90e6dfef85b1d230
F="$TRASH_DIRECTORY/fresh/var/lib/gear"
G="$TRASH_DIRECTORY/reg-host/var/lib/gear"

# cached_in ROOT: the contents in ROOT's public/, sorted
cached_in() { (cd "$1/public" 2>/dev/null && find . -type f ! -name ".*" | sed "s|^\./||; s|/||" | sort); }

test_atexit 'rm -f "$TRASH_DIRECTORY/publish.pause"; fusermount3 -u -q m2; fusermount3 -u -q m1; gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'

test_expect_success 'setup: FUSE, the test image, a registry' '
	fs_ready &&
	build-test-images --big 3 imgs >/dev/null 2>&1 &&
	gear-build -q oci:imgs/oci:multi test/multi >/dev/null &&
	gear-test-registry start reg >addr &&
	mkdir store
'

test_expect_success 'a mount records the files opened; one that opens nothing keeps the list' '
	start_fs test/multi m1 &&
	cat m1/etc/passwd m1/usr/lib/libfake.so m1/data/hl1 m1/etc/passwd >/dev/null &&
	stop_fs m1 &&
	printf "%s\n" $passwd $libfake $hl1 >expect &&
	test_cmp expect "$IMG/images/test/multi/latest/access.list" &&
	start_fs test/multi m1 &&
	ls -lR m1 >/dev/null &&
	stop_fs m1 &&
	test_cmp expect "$IMG/images/test/multi/latest/access.list"
'

test_expect_success 'gear-push --prefetch is a usage error' '
	test_expect_code 100 gear-push --prefetch test/multi store 2>err &&
	grep -x "gear-push: unknown option '\''--prefetch'\''" err
'

test_expect_success 'a directory store gets the access list; gear-pull brings it back' '
	gear-push test/multi store >/dev/null &&
	test_cmp expect store/images/test/multi/latest/access.list &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull store test/multi >out &&
	test_cmp expect "$F/images/test/multi/latest/access.list" &&
	test ! -d "$F/public"
'

test_expect_success 'gear-pull --prefetch fetches exactly the listed files, verified, into public/' '
	rm -rf fresh &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --prefetch store test/multi >out &&
	sed -n 2p out >got &&
	echo "prefetched 3 of 3 files, $((67 + 300000 + 21)) bytes ($((67 + 300000 + 21)) on the wire), 0 present" >want &&
	test_cmp want got &&
	sort expect >sorted &&
	cached_in "$F" >cached &&
	test_cmp sorted cached &&
	umoci unpack --image imgs/oci:multi ref >/dev/null 2>&1 &&
	cmp ref/rootfs/etc/passwd "$F/public/b6/${passwd#b6}" &&
	cmp ref/rootfs/usr/lib/libfake.so "$F/public/b2/${libfake#b2}" &&
	cmp ref/rootfs/data/hl1 "$F/public/2d/${hl1#2d}"
'

test_expect_success 'a mount of the prefetched image fetches nothing for those files' '
	(
		GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" && IMG="$F" &&
		start_fs test/multi m1 &&
		cmp ref/rootfs/etc/passwd m1/etc/passwd &&
		cmp ref/rootfs/usr/lib/libfake.so m1/usr/lib/libfake.so &&
		cmp ref/rootfs/data/hl1 m1/data/hl1 &&
		test "$(stat_of test/multi fetched_files)" = 0 &&
		test "$(stat_of test/multi cache_hits)" = 3 &&
		stop_fs m1
	)
'

test_expect_success 'prefetching again finds everything present' '
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --prefetch store test/multi >out &&
	echo "prefetched 0 of 3 files, 0 bytes (0 on the wire), 3 present" >want &&
	sed -n 2p out >got &&
	test_cmp want got
'

test_expect_success 'a registry gets the access list as a blob named in the manifest; --prefetch uses it' '
	R=docker://$(cat addr) &&
	gear-push --tls-verify=false test/multi $R/test/multi >/dev/null &&
	skopeo inspect --raw --tls-verify=false $R/test/multi:latest >manifest &&
	dg=$(python3 -c "import json,sys; print(json.load(open(\"manifest\"))[\"annotations\"][\"io.gear.access-list\"])") &&
	curl -fsS "http://$(cat addr)/v2/test/multi/blobs/$dg" >blob &&
	test_cmp expect blob &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/reg-host" gear-pull --prefetch --tls-verify=false $R/test/multi:latest web:1 >out &&
	test_cmp expect "$G/images/web/1/access.list" &&
	grep -x "prefetched 3 of 3 files, $((67 + 300000 + 21)) bytes ([0-9]* on the wire), 0 present" out &&
	cached_in "$G" >cached &&
	test_cmp sorted cached
'

# range_open OPTIONS...: a fresh pull of web:1 mounted with --prefetch OPTIONS,
# its first publish held; two contents of the range read meanwhile
range_open() {
	P="$TRASH_DIRECTORY/pause-host" flag="$TRASH_DIRECTORY/publish.pause" &&
	rm -rf "$P" "$flag" &&
	GEAR_SYSROOT="$P" gear-pull --tls-verify=false docker://$(cat addr)/test/multi:latest web:1 >/dev/null &&
	GEAR_SYSROOT="$P" GEAR_TEST_PAUSE=cache:publish GEAR_TEST_PAUSE_FILE="$flag" start_fs web:1 m2 --prefetch "$@" &&
	i=0 &&
	while ! test -e "$flag" && test $i -lt 600; do sleep 0.05; i=$((i + 1)); done &&
	test -e "$flag" &&
	timeout 20 cat m2/etc/passwd >got &&
	cmp ref/rootfs/etc/passwd got &&
	timeout 20 cmp ref/rootfs/usr/lib/libfake.so m2/usr/lib/libfake.so &&
	test -e "$flag" &&
	! test -e "$P/var/lib/gear/public/b6/${passwd#b6}" &&
	rm -f "$flag" &&
	stop_fs m2 &&
	test -f "$P/var/lib/gear/public/b6/${passwd#b6}" &&
	GEAR_SYSROOT="$P" gear-fsck >/dev/null &&
	awk "\$1 == \"fetched_files\" || \$1 == \"cache_hits\" || \$1 == \"prefetched_files\"" \
		"$P/var/lib/gear/images/web/1/fs.stats" >stats &&
	printf "fetched_files 0\ncache_hits 2\nprefetched_files 3\n" >want &&
	test_cmp want stats
}

test_expect_success 'an open of a content a --prefetch range brings gets it once verified, before its batch is synced' '
	range_open
'

test_expect_success 'so it does with --no-read-around' '
	range_open --no-read-around
'

test_expect_success 'the prefetch reaches the registry with the credentials of --authfile' '
	cat >authproxy.py <<-\EOF &&
	import base64, http.client, http.server, sys
	want = "Basic " + base64.b64encode(b"alice:s3cret").decode()
	up = sys.argv[1]
	class H(http.server.BaseHTTPRequestHandler):
	    protocol_version = "HTTP/1.1"
	    def relay(self):
	        if self.headers.get("Authorization") != want:
	            self.send_response(401)
	            self.send_header("Content-Length", "0")
	            self.end_headers()
	            return
	        c = http.client.HTTPConnection(up)
	        fwd = {k: v for k, v in self.headers.items() if k.lower() not in ("authorization", "host")}
	        c.request(self.command, self.path, headers=fwd)
	        r = c.getresponse()
	        body = r.read()
	        self.send_response(r.status)
	        for k, v in r.getheaders():
	            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
	                self.send_header(k, v)
	        self.send_header("Content-Length", str(len(body)))
	        self.end_headers()
	        if self.command != "HEAD":
	            self.wfile.write(body)
	    do_GET = do_HEAD = relay
	    def log_message(self, *a): pass
	s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
	open("proxy.port", "w").write(str(s.server_address[1]))
	s.serve_forever()
	EOF
	python3 authproxy.py "$(cat addr)" &
	echo $! >proxy.pid &&
	while ! test -s proxy.port; do sleep 0.1; done &&
	P=127.0.0.1:$(cat proxy.port) &&
	printf "{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}\n" "$P" "$(printf alice:s3cret | base64)" >auth.json &&
	env GEAR_SYSROOT="$TRASH_DIRECTORY/auth-host" XDG_RUNTIME_DIR=/nonexistent \
		gear-pull --prefetch --tls-verify=false --authfile auth.json docker://$P/test/multi:latest web:1 >out 2>err;
	code=$? &&
	kill $(cat proxy.pid) &&
	test_cmp /dev/null err &&
	test $code = 0 &&
	grep -x "prefetched 3 of 3 files, $((67 + 300000 + 21)) bytes ([0-9]* on the wire), 0 present" out &&
	cached_in "$TRASH_DIRECTORY/auth-host/var/lib/gear" >cached &&
	test_cmp sorted cached
'

test_expect_success 'an image with no access list prefetches nothing' '
	gear-build -q oci:imgs/oci:other test/other >/dev/null &&
	gear-push test/other store >/dev/null &&
	test ! -e store/images/test/other/latest/access.list &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --prefetch store test/other >out &&
	sed -n 2p out >got &&
	echo "prefetched 0 of 0 files, 0 bytes (0 on the wire), 0 present" >want &&
	test_cmp want got
'

test_expect_success 'a malformed access list in the store is refused by gear-pull, nothing is left' '
	cp store/images/test/multi/latest/access.list saved &&
	echo "../../etc/passwd" >>store/images/test/multi/latest/access.list &&
	test_expect_code 111 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh3" gear-pull store test/multi 2>err &&
	grep "^gear-pull: cannot pull '\''test/multi:latest'\'': .*invalid access list: line 4$" err &&
	test ! -e fresh3/var/lib/gear/images/test/multi &&
	find fresh3 -name ".gear-tmp*" >tmps &&
	test_cmp /dev/null tmps &&
	cp saved store/images/test/multi/latest/access.list
'

test_expect_success 'contents of a stale access list the image lacks are skipped, with a warning' '
	rm -rf fresh &&
	echo 0000000000000000000000000000000000000000000000000000000000000000 >>store/images/test/multi/latest/access.list &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --prefetch store test/multi >out 2>err &&
	echo "gear-pull: 1 contents of the access list are not in the image: skipped" >want &&
	test_cmp want err &&
	sed -n 2p out >got &&
	echo "prefetched 3 of 3 files, $((67 + 300000 + 21)) bytes ($((67 + 300000 + 21)) on the wire), 0 present" >want &&
	test_cmp want got &&
	cached_in "$F" >cached &&
	test_cmp sorted cached &&
	cp saved store/images/test/multi/latest/access.list
'

test_expect_success 'a corrupt object in the store fails the prefetch and is not cached' '
	rm -rf fresh &&
	obj=store/objects/b2/${libfake#b2} &&
	cp $obj saved-obj &&
	printf "garbage!" | dd of=$obj bs=1 seek=10 conv=notrunc 2>/dev/null &&
	test_expect_code 111 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --prefetch store test/multi >out 2>err &&
	grep "^gear-pull: cannot prefetch '\''test/multi:latest'\'': content sha256:b215566f4ef7: " err &&
	test ! -e "$F/public/b2/${libfake#b2}" &&
	cp saved-obj $obj
'

test_done
