#!/bin/sh
test_description='gear-push and gear-pull with a registry (docker-registry on 127.0.0.1)'
. "$(dirname "$0")/lib/test-lib.sh"

objects_of() {
	gear-index "$1" >idx.tmp &&
	awk -F '\t' '$1 == "f" { sub("sha256:", "", $6); print $6 }' idx.tmp | sort -u
}
obj() { echo "$IMG/objects/$(echo "$1" | cut -c1-2)/$(echo "$1" | cut -c3-)"; }
stored_bytes() {
	total=0
	while read -r h; do
		total=$((total + $(stat -c %s "$(obj "$h")")))
	done
	echo $total
}
# json FILE EXPR: a value from a JSON file, with python3
json() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"; }
# locs MAP: "CONTENT_HEX sha256:PACK@OFFSET+LENGTH" for each content of a map of packs
locs() { awk -F '\t' '$1 == "pack" { p = $2; next } { print $1, p "@" $2 "+" $3 }' "$1"; }

test_expect_success 'build the test images, start a registry' '
	build-test-images --big 3 imgs >/dev/null 2>&1 &&
	gear-build -q oci:imgs/oci:multi test/multi >/dev/null &&
	gear-test-registry start reg >addr &&
	test -s reg/pid
'
test_atexit 'gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'
test_atexit 'for p in auth.pid hang.pid; do test -f "$TRASH_DIRECTORY/$p" && kill $(cat "$TRASH_DIRECTORY/$p") 2>/dev/null; done'
A=$(cat addr 2>/dev/null)
R=docker://$A

test_expect_success 'gear-push uploads the objects in one pack and prints the counts' '
	objects_of test/multi >objs &&
	n=$(wc -l <objs) && test $n -gt 10 &&
	gear-push --tls-verify=false test/multi $R/test/multi >out 2>err &&
	echo "objects sent $n, skipped 0, bytes $(stored_bytes <objs), packs sent 1, skipped 0" >expect &&
	test_cmp expect out &&
	test_cmp /dev/null err
'

test_expect_success 'the pack holds each object as stored, where the map says; the registry gets it compact' '
	curl -fsS -H "Accept: application/vnd.oci.image.manifest.v1+json" -o raw "http://$A/v2/test/multi/manifests/latest" &&
	map=$(json raw "d[\"annotations\"][\"io.gear.object-map\"]") &&
	curl -fsS -o map "http://$A/v2/test/multi/blobs/$map" &&
	zstd -q -d -c map >wire.txt &&
	printf "gear-map 3\t%s\n" $(wc -l <objs) >expect &&
	head -n 1 wire.txt >got &&
	test_cmp expect got &&
	grep -v "^pack" wire.txt >lines &&
	! grep -q "[0-9a-f]\{64\}" lines &&
	cp "$IMG/images/test/multi/latest/pushed/$A/test/multi.map" map.txt &&
	test $(wc -l <wire.txt) = $(($(wc -l <map.txt) + 1)) &&
	grep "^pack" wire.txt >wpacks &&
	grep "^pack" map.txt >packs &&
	test_cmp packs wpacks &&
	test $(wc -l <packs) = 1 &&
	read -r word p size <packs &&
	curl -fsS -o pack "http://$A/v2/test/multi/blobs/$p" &&
	test $(stat -c %s pack) = $size &&
	echo "${p#sha256:}  pack" | sha256sum -c --quiet &&
	locs map.txt >locs &&
	cut -d" " -f1 locs | sort >got &&
	test_cmp objs got &&
	while read -r h at; do
		off=${at#*@} && len=${off#*+} && off=${off%+*} &&
		tail -c +$((off + 1)) pack | head -c $len >member &&
		cmp member "$(obj "$h")" || return 1
	done <locs
'

test_expect_success 'pushing again sends nothing' '
	gear-push --tls-verify=false test/multi $R/test/multi >out &&
	echo "objects sent 0, skipped $(wc -l <objs), bytes 0, packs sent 0, skipped 1" >expect &&
	test_cmp expect out
'

test_expect_success 'skopeo inspect shows the index image' '
	skopeo inspect --tls-verify=false $R/test/multi >inspect &&
	skopeo inspect --raw --tls-verify=false $R/test/multi >raw &&
	L=$(ls "$IMG/images/test/multi/latest/blobs/sha256") &&
	layer=$(json raw "d[\"layers\"][0][\"digest\"]") &&
	echo "$L" | grep -qx "${layer#sha256:}" &&
	json inspect "d[\"Layers\"]" >got &&
	echo "[$(printf "%s" "'\''$layer'\''")]" >expect &&
	test_cmp expect got &&
	map=$(json raw "d[\"annotations\"][\"io.gear.object-map\"]") &&
	curl -fsS -o map "http://$A/v2/test/multi/blobs/$map" &&
	zstd -q -d -c map >map.txt &&
	grep -vc "^pack\|^gear-map" map.txt >count &&
	wc -l <objs >expect &&
	test_cmp expect count
'

test_expect_success 'gear-pull on a fresh image tree fetches the index image only' '
	F="$TRASH_DIRECTORY/fresh/var/lib/gear" &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --tls-verify=false $R/test/multi:latest web:1 >out 2>err &&
	D="$F/images/web/1" &&
	size=$(($(find "$D/blobs" -type f -printf "%s\n" | awk "{ s += \$1 } END { print s }"))) &&
	echo "bytes fetched $size" >expect &&
	test_cmp expect out &&
	test_cmp /dev/null err &&
	test $size -lt 100000 &&
	test ! -e "$F/objects" &&
	echo "docker+http://$A/test/multi:latest" >expect &&
	test_cmp expect "$D/origin" &&
	sed -n "1s/\t.*//p" "$D/objects.map" >head &&
	echo "gear-map 3" >expect &&
	test_cmp expect head &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-index -m web:1 >map &&
	test_cmp "$IMG/images/test/multi/latest/pushed/$A/test/multi.map" map &&
	ls "$D/blobs/sha256" >got && test $(wc -l <got) = 4 &&
	gear-index -l test/multi >expect &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-index -l web:1 >got &&
	test_cmp expect got
'

test_expect_success 'objects fetched through the map (ranges of the pack) are the content, verified' '
	D="$TRASH_DIRECTORY/fresh/var/lib/gear/images/web/1" &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-index -m web:1 >map &&
	locs map >locs &&
	while read -r h at; do
		"$GEAR_BUILD/t/unit/test-remote" fetch "$(cat "$D/origin")" "$h" "$at" "obj" &&
		echo "$h  obj" | sha256sum -c --quiet || return 1
	done <locs
'

test_expect_success 'a push killed mid-way through a pack resumes and sends only the rest' '
	n=$(wc -l <objs) &&
	mkdir -p "$GEAR_SYSROOT/etc/gear" &&
	echo "pack-size=256K" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	# without the record of the first push, whose packs it would reuse instead
	rm -r "$IMG/images/test/multi/latest/pushed" &&
	test_expect_code 137 env GEAR_TEST_PUSH_KILL_AFTER=2 gear-push --tls-verify=false test/multi $R/again:v1 >out &&
	test_expect_code 1 env GEAR_SYSROOT="$TRASH_DIRECTORY/x" gear-pull --tls-verify=false $R/again:v1 a 2>err &&
	gear-push --tls-verify=false test/multi $R/again:v1 >out &&
	sed -n "s/^objects sent \([0-9]*\), skipped \([0-9]*\), bytes \([0-9]*\), packs sent \([0-9]*\), skipped 2$/\1 \2 \3 \4/p" out >got &&
	read -r sent skipped bytes packs <got &&
	test $((sent + skipped)) = $n &&
	test $skipped -gt 0 && test $packs -gt 0 &&
	test $bytes -lt $(stored_bytes <objs) &&
	gear-push --tls-verify=false test/multi $R/again:v1 >out &&
	echo "objects sent 0, skipped $n, bytes 0, packs sent 0, skipped $((packs + 2))" >expect &&
	test_cmp expect out &&
	rm "$GEAR_SYSROOT/etc/gear/gear.conf" &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --tls-verify=false $R/again:v1 again >out &&
	gear-index -l test/multi >expect &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-index -l again >got &&
	test_cmp expect got
'

test_expect_success 'unknown tags and images' '
	test_expect_code 1 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --tls-verify=false $R/test/multi:nope x 2>err &&
	echo "gear-pull: cannot pull '\''x:latest'\'': the registry has no tag '\''nope'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 1 gear-push --tls-verify=false test/nope $R/test/nope 2>err &&
	echo "gear-push: no image '\''test/nope:latest'\''" >expect &&
	test_cmp expect err
'

test_expect_success 'TLS verification is on by default' '
	test_expect_code 111 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull $R/test/multi x 2>err &&
	grep -q "^gear-pull: cannot pull '\''x:latest'\'': GET '\''https://$A/v2/test/multi/manifests/latest'\'': " err
'

test_expect_success 'an image that is not a Gear index is refused' '
	skopeo copy --dest-tls-verify=false oci:imgs/oci:multi $R/plain:1 >/dev/null 2>&1 &&
	test_expect_code 100 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --tls-verify=false $R/plain:1 x 2>err &&
	echo "gear-pull: cannot pull '\''x:latest'\'': '\''plain:1'\'' is not a Gear index image" >expect &&
	test_cmp expect err &&
	test ! -e "$TRASH_DIRECTORY/fresh/var/lib/gear/images/x/latest"
'

test_expect_success 'HTTP basic auth from a containers-auth.json file' '
	cat >authsrv.py <<-\EOF &&
	import base64, http.server, sys
	want = "Basic " + base64.b64encode(b"alice:s3cret:x").decode()
	class H(http.server.BaseHTTPRequestHandler):
	    def do_GET(self):
	        ok = self.headers.get("Authorization") == want
	        self.send_response(404 if ok else 401)
	        self.send_header("Content-Length", "0")
	        self.end_headers()
	    def log_message(self, *a): pass
	s = http.server.HTTPServer(("127.0.0.1", 0), H)
	open("auth.port", "w").write(str(s.server_address[1]))
	s.serve_forever()
	EOF
	python3 authsrv.py &
	echo $! >auth.pid &&
	while ! test -s auth.port; do sleep 0.1; done &&
	H=127.0.0.1:$(cat auth.port) &&
	printf "{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}\n" "$H" "$(printf alice:s3cret:x | base64)" >auth.json &&
	printf "{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}\n" "$H" "$(printf alice:wrong | base64)" >bad.json &&
	test_expect_code 1 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --tls-verify=false --authfile auth.json docker://$H/a x 2>err1 &&
	test_expect_code 111 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --tls-verify=false --authfile bad.json docker://$H/a x 2>err2 &&
	test_expect_code 111 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" XDG_RUNTIME_DIR=/nonexistent gear-pull --tls-verify=false docker://$H/a x 2>err3 &&
	mkdir -p run/containers && cp auth.json run/containers/auth.json &&
	test_expect_code 1 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" XDG_RUNTIME_DIR="$TRASH_DIRECTORY/run" gear-pull --tls-verify=false docker://$H/a x 2>err4 &&
	kill $(cat auth.pid) &&
	echo "gear-pull: cannot pull '\''x:latest'\'': the registry has no tag '\''latest'\''" >expect &&
	test_cmp expect err1 &&
	test_cmp expect err4 &&
	echo "gear-pull: cannot pull '\''x:latest'\'': GET '\''http://$H/v2/a/manifests/latest'\'': not authorized (HTTP 401)" >expect &&
	test_cmp expect err2 &&
	test_cmp expect err3
'

# times_out NAME SECONDS: a pull from the server on port NAME.port (pid in
# NAME.pid, stopped here) fails for a timeout, within SECONDS, GEAR_FETCH_TIMEOUT being 2
times_out() {
	while ! test -s $1.port; do sleep 0.1; done &&
	start=$(date +%s) &&
	test_expect_code 111 env GEAR_FETCH_TIMEOUT=2 GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" \
		gear-pull --tls-verify=false docker://127.0.0.1:$(cat $1.port)/a x 2>err &&
	end=$(date +%s) &&
	kill $(cat $1.pid) &&
	cat err &&
	test $((end - start)) -le $2 &&
	grep -q "Timeout was reached" err
}
test_atexit 'for p in hang.pid drip.pid; do [ -f $p ] && kill $(cat $p) 2>/dev/null; done; :'

test_expect_success 'a registry that hangs gives an error within the timeout' '
	python3 -c "
import socket, time
s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(8)
open(\"hang.port\", \"w\").write(str(s.getsockname()[1]))
conns = []
t = time.time()
while time.time() - t < 30:
    c, _ = s.accept(); conns.append(c)
" &
	echo $! >hang.pid &&
	times_out hang 6
'

test_expect_success 'a registry that drips its answer (a few bytes a second) gives an error within the timeout' '
	python3 -c "
import socket, threading, time
s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(8)
open(\"drip.port\", \"w\").write(str(s.getsockname()[1]))
def drip(c):
    try:
        c.recv(65536)
        c.sendall(b\"HTTP/1.1 200 OK\\r\\nContent-Type: application/vnd.oci.image.manifest.v1+json\\r\\nContent-Length: 100000\\r\\n\\r\\n\")
        while True:
            c.sendall(b\" \")
            time.sleep(0.3)
    except OSError:
        pass
t = time.time()
while time.time() - t < 60:
    c, _ = s.accept()
    threading.Thread(target=drip, args=(c,), daemon=True).start()
" &
	echo $! >drip.pid &&
	times_out drip 8
'

test_expect_success 'a registry that is down: exit 111 with a clear message' '
	D="$TRASH_DIRECTORY/fresh/var/lib/gear/images/web/1" &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-index -m web:1 >map &&
	locs map | head -n 1 >first &&
	read -r h at <first &&
	b=${at%@*} &&
	gear-test-registry stop reg &&
	test_expect_code 111 env GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" gear-pull --tls-verify=false $R/test/multi y 2>err &&
	echo "gear-pull: cannot pull '\''y:latest'\'': GET '\''http://$A/v2/test/multi/manifests/latest'\'': Couldn'\''t connect to server" >expect &&
	test_cmp expect err &&
	test_expect_code 111 "$GEAR_BUILD/t/unit/test-remote" fetch "$(cat "$D/origin")" "$h" "$at" obj 2>err &&
	echo "gear: object sha256:$(echo $h | cut -c1-12): GET '\''http://$A/v2/test/multi/blobs/$b'\'': Couldn'\''t connect to server" >expect &&
	test_cmp expect err
'

test_done
