#!/bin/sh
test_description='gear-daemon: geard'\''s HTTP API on a Unix socket, through the commands'\'' own calls'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=41500-41599
SOCK=$GEAR_SYSROOT/run/gear/gear.sock
test_atexit 'gear-test-systemd stop "$SD"'
test_atexit 'userdel ctr-t15i 2>/dev/null; userdel git-t15r 2>/dev/null; userdel t15u 2>/dev/null; :'
test_atexit '[ -f fg.pid ] && kill $(cat fg.pid); :'

# api METHOD PATH [BODY]: the body of the answer in out, its status on stdout
api() {
	if [ $# -ge 3 ]; then
		curl -s --max-time 120 --unix-socket "$SOCK" -o out -w "%{http_code}" -X "$1" --data-binary "$3" "http://gear$2"
	else
		curl -s --max-time 120 --unix-socket "$SOCK" -o out -w "%{http_code}" -X "$1" "http://gear$2"
	fi
}
# the files of the trees named after ID, as NAME TYPE MODE, with the id and versions made alike
tree_of() {
	find "$GEAR_SYSROOT" -path "$GEAR_SYSROOT/run" -prune -o -path "*$1*" -printf "%P %y %m\n" |
		sed "s/$1/ID/g; s|/ID/[^ /]* f|/ID/VERSION f|" | sort
}
# a unit's text with the id, its version and its ports made alike
unit_of() {
	sed "s/$1/ID/g; s/41[5][0-9][0-9]/PORT/g; s/^\(X-ContainerRequestId=\).*/\1V/" "$CTR/units/t1/ctr-$1.service"
}
snapshot() { find "$GEAR_SYSROOT" -path "$GEAR_SYSROOT/run" -prune -o -printf "%P %y %m %s\n" | sort; }

test_expect_success 'setup: a manager, gear-init with its daemon socket' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	g gear-init >/dev/null &&
	getent group gear &&
	grep -x "ListenStream=$SOCK" "$UNITDIR/gear-daemon.socket" &&
	grep -x "SocketMode=0660" "$UNITDIR/gear-daemon.socket" &&
	grep -x "SocketGroup=gear" "$UNITDIR/gear-daemon.socket" &&
	grep -x "ExecStart=$GEAR_BUILD/bin/gear-daemon" "$UNITDIR/gear-daemon.service" &&
	grep -x "Environment=GEAR_SYSROOT=$GEAR_SYSROOT" "$UNITDIR/gear-daemon.service" &&
	test -h "$UNITDIR/sockets.target.wants/gear-daemon.socket" &&
	test "$(sdctl is-active gear-daemon.socket)" = active &&
	test "$(sdctl is-active gear-daemon.service)" = inactive &&
	test "$(stat -c "%a %G" "$SOCK")" = "660 gear"
'

test_expect_success 'socket activation: the first request starts the daemon' '
	test "$(api GET /containers)" = 200 &&
	echo "{\"Containers\":[]}" >expect &&
	test_cmp expect out &&
	test "$(sdctl is-active gear-daemon.service)" = active
'

test_expect_success 'PUT /container/ID installs and starts; it answers on its port' '
	test "$(api PUT /container/t15a "{\"Image\":\"$IMAGE\",\"Started\":true,\"PortRange\":\"$RANGE\",\"Ports\":[{\"Internal\":8080,\"External\":0}],\"Environment\":{\"Variables\":[{\"Name\":\"GREETING\",\"Value\":\"a\"}]}}")" = 200 &&
	echo "{\"Id\":\"t15a\",\"Ports\":[{\"Internal\":8080,\"External\":41500}]}" >expect &&
	test_cmp expect out &&
	http_get 41500 env.txt >body &&
	echo a >expect &&
	test_cmp expect body
'

test_expect_success 'the same with the commands gives the same tree' '
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t15b GREETING=a >out &&
	printf "t15b\t8080\t41501\n" >expect &&
	test_cmp expect out &&
	tree_of t15a >a && tree_of t15b >b &&
	test_cmp a b &&
	unit_of t15a >a && unit_of t15b >b &&
	test_cmp a b &&
	g gear-env t15a >a && g gear-env t15b >b &&
	test_cmp a b
'

test_expect_success 'GET status, ports and the list' '
	pid=$(sdctl show -p MainPID --value ctr-t15a.service) &&
	test "$(api GET /container/t15a/status)" = 200 &&
	jq -e ".Id == \"t15a\" and .ActiveState == \"active\" and .MainPID == $pid and .Boot == true" out &&
	jq -e ".Ports == [{\"Internal\":8080,\"External\":41500}]" out &&
	test "$(api GET /container/t15a/ports)" = 200 &&
	echo "{\"Ports\":[{\"Internal\":8080,\"External\":41500}]}" >expect &&
	test_cmp expect out &&
	test "$(api GET /containers)" = 200 &&
	jq -c ".Containers[] | [.Id, .ActiveState]" out >list &&
	printf "[\"t15a\",\"active\"]\n[\"t15b\",\"active\"]\n" >expect &&
	test_cmp expect list
'

test_expect_success 'stopped, started, restart: as gear-stop, gear-start, gear-restart' '
	test "$(api PUT /container/t15a/stopped)" = 204 &&
	test "$(sdctl is-active ctr-t15a.service)" = inactive &&
	test_must_fail curl -sf --max-time 2 http://127.0.0.1:41500/ &&
	g gear-stop t15b &&
	tree_of t15a >a && tree_of t15b >b && test_cmp a b &&
	unit_of t15a >a && unit_of t15b >b && test_cmp a b &&
	test "$(api PUT /container/t15a/started)" = 204 &&
	http_get 41500 env.txt >body &&
	g gear-start t15b &&
	tree_of t15a >a && tree_of t15b >b && test_cmp a b &&
	pid=$(sdctl show -p MainPID --value ctr-t15a.service) &&
	test "$(api POST /container/t15a/restart)" = 204 &&
	new=$(sdctl show -p MainPID --value ctr-t15a.service) &&
	test "$new" -gt 0 && test "$new" != "$pid" &&
	http_get 41500 env.txt >body
'

test_expect_success 'GET log: the journal of its unit, chunked' '
	curl -s --unix-socket "$SOCK" -D head -o log "http://gear/container/t15a/log?lines=50" &&
	grep -i "^HTTP/1.1 202" head &&
	grep -i "^Transfer-Encoding: chunked" head &&
	grep "gear-web: serving on port 8080" log &&
	test "$(api GET "/container/t15a/log?lines=x")" = 400
'

test_expect_success 'environment: GET, PATCH and PUT, seen by gear-env' '
	test "$(api GET /environment/t15a)" = 200 &&
	echo "{\"Id\":\"t15a\",\"Variables\":[{\"Name\":\"GREETING\",\"Value\":\"a\"}]}" >expect &&
	test_cmp expect out &&
	test "$(api PATCH /environment/t15a "{\"Variables\":[{\"Name\":\"B\",\"Value\":\"2 3\"}]}")" = 204 &&
	g gear-env t15a >out &&
	printf "GREETING=a\nB=2 3\n" >expect &&
	test_cmp expect out &&
	test "$(api PUT /environment/t15e "{\"Variables\":[{\"Name\":\"C\",\"Value\":\"x\"}]}")" = 204 &&
	g gear-set-env t15f C=x &&
	g gear-env t15e >a && g gear-env t15f >b && test_cmp a b &&
	test "$(api GET /environment/t15zz)" = 404
'

test_expect_success 'PUT /keys: the keys of containers and repositories, seen by gear-keys list' '
	ssh-keygen -q -t ed25519 -N "" -f key &&
	mkdir src && git -C src init -q && echo hi >src/hello && git -C src add hello &&
	git -C src -c user.name=t -c user.email=t@t commit -q -m one &&
	test "$(api PUT /repository/t15r "{\"CloneUrl\":\"$PWD/src\"}")" = 204 &&
	test "$(api PUT /repository/t15r "{}")" = 409 &&
	k=$(cat key.pub) &&
	test "$(api PUT /keys "{\"Keys\":[{\"Type\":\"authorized_keys\",\"Value\":\"$k\"}],\"Containers\":[{\"Id\":\"t15a\"}],\"Repositories\":[{\"Id\":\"t15r\",\"Permissions\":\"write\"}]}")" = 200 &&
	fp=$(jq -r ".Fingerprints[0]" out) &&
	g gear-keys list t15a >out &&
	grep "^$fp	ssh	ssh-ed25519 " out &&
	g gear-keys add --key-file key.pub t15b >/dev/null &&
	g gear-keys list repo://t15r >out &&
	grep "^$fp	write	" out &&
	test "$(api PUT /keys "{\"Keys\":[{\"Type\":\"authorized_keys\",\"Value\":\"$k\"}],\"Containers\":[{\"Id\":\"t15zz\"}]}")" = 404
'

test_expect_success 'GET /repository/ID/archive/REF: the tree of that ref' '
	curl -sf --unix-socket "$SOCK" -o a.tar "http://gear/repository/t15r/archive/HEAD" &&
	tar -tf a.tar >list &&
	echo hello >expect &&
	test_cmp expect list &&
	test "$(api GET /repository/t15r/archive/nosuchref)" = 400
'

test_expect_success 'links and idle: as gear-link and gear-idle' '
	test "$(api PUT /container/t15a/links "{\"NetworkLinks\":[\"127.0.0.1:8081:127.0.0.1:41501\"]}")" = 204 &&
	g gear-link t15b -n 127.0.0.1:8081:127.0.0.1:41501 &&
	tree_of t15a >a && tree_of t15b >b && test_cmp a b &&
	test "$(api PUT /container/t15a/idle)" = 204 &&
	test "$(api GET /container/t15a/status)" = 200 &&
	jq -e ".Idle == true" out &&
	test "$(api PUT /container/t15a/unidle)" = 204 &&
	test "$(sdctl is-active ctr-t15a.service)" = active
'

test_expect_success 'bad input is 400 with a JSON message, and writes nothing' '
	snapshot >before &&
	test "$(api PUT /container/..%2F..%2Fetc "{\"Image\":\"$IMAGE\"}")" = 400 &&
	jq -e ".message == \"invalid identifier '"'"'../../etc'"'"'\"" out &&
	test "$(api GET /container/%2e%2e/status)" = 400 &&
	test "$(api PUT /environment/a%00bcd "{}")" = 400 &&
	test "$(api PUT /container/t15z "{\"Image\":")" = 400 &&
	jq -e ".message | startswith(\"malformed JSON\")" out &&
	test "$(api PUT /container/t15z "[1]")" = 400 &&
	test "$(api PUT /container/t15z "{\"Image\":\"$IMAGE\",\"Strated\":true}")" = 400 &&
	jq -e ".message == \"unknown field '"'"'Strated'"'"' in the container\"" out &&
	test "$(api PUT /container/t15z "{\"Image\":\"$IMAGE\",\"Ports\":[{\"Internal\":70000}]}")" = 400 &&
	test "$(api PUT /container/t15z "{\"Image\":\"$IMAGE\",\"Volumes\":[\"../x:/y\"]}")" = 400 &&
	test "$(api PATCH /environment/t15a "{\"Variables\":[{\"Name\":\"A B\",\"Value\":\"1\"}]}")" = 400 &&
	test "$(api PUT /keys "{\"Keys\":[{\"Type\":\"authorized_keys\",\"Value\":\"nonsense\"}],\"Containers\":[{\"Id\":\"t15a\"}]}")" = 400 &&
	head -c 1100000 /dev/zero | tr "\0" " " >big &&
	test "$(api PUT /container/t15z @big)" = 400 &&
	jq -e ".message == \"request body larger than 1048576 bytes\"" out &&
	curl -s --unix-socket "$SOCK" -X PUT -H "Transfer-Encoding: chunked" --data-binary @big -D - \
		http://gear/environment/t15z >out &&
	grep "^HTTP/1.1 400" out &&
	snapshot >after &&
	test_cmp before after
'

test_expect_success 'an unknown route or container is a JSON 404; another method 405' '
	test "$(api GET /nothing/here)" = 404 &&
	jq -e ".message == \"no such route\"" out &&
	test "$(api GET /container/t15zz/status)" = 404 &&
	jq -e ".message == \"no container '"'"'t15zz'"'"'\"" out &&
	test "$(api PUT /container/t15zz/started)" = 404 &&
	test "$(api DELETE /containers)" = 405
'

test_expect_success 'a caller neither root nor in the group gets 403; a member of the group is served' '
	chmod 0666 "$SOCK" &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups curl -s --unix-socket "$SOCK" -D - http://gear/containers >out &&
	grep "^HTTP/1.1 403" out &&
	tail -n 1 out | jq -e ".message | startswith(\"permission denied\")" &&
	useradd --system -M -G gear t15u &&
	setpriv --reuid=t15u --regid=nogroup --clear-groups curl -s --unix-socket "$SOCK" -D - http://gear/containers >out &&
	grep "^HTTP/1.1 200" out &&
	tail -n 1 out | jq -e ".Containers[0].Id == \"t15a\""
'

test_expect_success 'gear-daemon --listen unix:PATH serves in the foreground' '
	g sh -c "echo \$\$ >fg.pid; exec gear-daemon --listen unix:$PWD/fg.sock" &
	wait_until test -S fg.sock &&
	curl -sf --unix-socket fg.sock http://gear/container/t15a/ports >out &&
	echo "{\"Ports\":[{\"Internal\":8080,\"External\":41500}]}" >expect &&
	test_cmp expect out &&
	kill $(cat fg.pid) && rm fg.pid &&
	wait_until test_must_fail test -e fg.sock &&
	test_expect_code 100 gear-daemon --listen tcp:1 2>err &&
	grep "unix:PATH" err &&
	test_expect_code 100 gear-daemon 2>err &&
	grep "LISTEN_FDS" err
'

test_expect_success 'DELETE /container/ID: as gear-delete, nothing left' '
	test "$(api DELETE /container/t15a)" = 204 &&
	g gear-delete t15b &&
	find "$GEAR_SYSROOT" -path "$GEAR_SYSROOT/run" -prune -o -name "*t15[ab]*" -print >left &&
	test_must_fail test -s left &&
	test "$(api DELETE /container/t15a)" = 404 &&
	test "$(api DELETE /repository/t15r)" = 204
'

test_done
