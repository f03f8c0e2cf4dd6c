#!/bin/sh
test_description='gear-daemon: geard'\''s HTTP API on a Unix socket, through the commands'\'' own calls'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=45000-45099
SOCK=$GEAR_SYSROOT/run/gear/gear.sock
test_atexit 'gear-test-systemd stop "$SD"'
test_atexit 'userdel git-t50r 2>/dev/null; userdel git-t5zbig 2>/dev/null; userdel git-t5zslow 2>/dev/null; userdel git-t5zgone 2>/dev/null; userdel git-t5zstop 2>/dev/null; userdel t50u 2>/dev/null; :'
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
	sed "s/$1/ID/g; s/450[0-9][0-9]/PORT/g; s/^\(X-ContainerRequestId=\).*/\1V/" "$CTR/units/t5/ctr-$1.service"
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
	test "$(api PUT /container/t50a "{\"Image\":\"$IMAGE\",\"Started\":true,\"PortRange\":\"$RANGE\",\"Ports\":[{\"Internal\":8080,\"External\":0}],\"Environment\":{\"Variables\":[{\"Name\":\"GREETING\",\"Value\":\"a\"}]}}")" = 200 &&
	echo "{\"Id\":\"t50a\",\"Ports\":[{\"Internal\":8080,\"External\":45000}]}" >expect &&
	test_cmp expect out &&
	http_get 45000 env.txt >body &&
	echo a >expect &&
	test_cmp expect body
'

test_expect_success 'the same with the commands gives the same tree' '
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t50b GREETING=a >out &&
	printf "t50b\t8080\t45001\n" >expect &&
	test_cmp expect out &&
	tree_of t50a >a && tree_of t50b >b &&
	test_cmp a b &&
	unit_of t50a >a && unit_of t50b >b &&
	test_cmp a b &&
	g gear-env t50a >a && g gear-env t50b >b &&
	test_cmp a b
'

test_expect_success 'GET status, ports and the list' '
	pid=$(sdctl show -p MainPID --value ctr-t50a.service) &&
	test "$(api GET /container/t50a/status)" = 200 &&
	jq -e ".Id == \"t50a\" and .ActiveState == \"active\" and .MainPID == $pid and .Boot == true" out &&
	jq -e ".Ports == [{\"Internal\":8080,\"External\":45000}]" out &&
	test "$(api GET /container/t50a/ports)" = 200 &&
	echo "{\"Ports\":[{\"Internal\":8080,\"External\":45000}]}" >expect &&
	test_cmp expect out &&
	test "$(api GET /containers)" = 200 &&
	jq -c ".Containers[] | [.Id, .ActiveState]" out >list &&
	printf "[\"t50a\",\"active\"]\n[\"t50b\",\"active\"]\n" >expect &&
	test_cmp expect list
'

test_expect_success 'stopped, started, restart: as gear-stop, gear-start, gear-restart' '
	test "$(api PUT /container/t50a/stopped)" = 204 &&
	test "$(sdctl is-active ctr-t50a.service)" = inactive &&
	test_must_fail curl -sf --max-time 2 http://127.0.0.1:45000/ &&
	g gear-stop t50b &&
	tree_of t50a >a && tree_of t50b >b && test_cmp a b &&
	unit_of t50a >a && unit_of t50b >b && test_cmp a b &&
	test "$(api PUT /container/t50a/started)" = 204 &&
	http_get 45000 env.txt >body &&
	g gear-start t50b &&
	tree_of t50a >a && tree_of t50b >b && test_cmp a b &&
	pid=$(sdctl show -p MainPID --value ctr-t50a.service) &&
	test "$(api POST /container/t50a/restart)" = 204 &&
	new=$(sdctl show -p MainPID --value ctr-t50a.service) &&
	test "$new" -gt 0 && test "$new" != "$pid" &&
	http_get 45000 env.txt >body
'

test_expect_success 'GET log: the journal of its unit, chunked' '
	curl -s --unix-socket "$SOCK" -D head -o log "http://gear/container/t50a/log?lines=50" &&
	grep -i "^HTTP/1.1 202" head &&
	grep -i "^Transfer-Encoding: chunked" head &&
	grep "gear-web: serving on port 8080" log &&
	test "$(api GET "/container/t50a/log?lines=x")" = 400
'

test_expect_success 'environment: GET, PATCH and PUT, seen by gear-env' '
	test "$(api GET /environment/t50a)" = 200 &&
	echo "{\"Id\":\"t50a\",\"Variables\":[{\"Name\":\"GREETING\",\"Value\":\"a\"}]}" >expect &&
	test_cmp expect out &&
	test "$(api PATCH /environment/t50a "{\"Variables\":[{\"Name\":\"B\",\"Value\":\"2 3\"}]}")" = 204 &&
	g gear-env t50a >out &&
	printf "GREETING=a\nB=2 3\n" >expect &&
	test_cmp expect out &&
	test "$(api PUT /environment/t50e "{\"Variables\":[{\"Name\":\"C\",\"Value\":\"x\"}]}")" = 204 &&
	g gear-set-env t50f C=x &&
	g gear-env t50e >a && g gear-env t50f >b && test_cmp a b &&
	test "$(api GET /environment/t50zz)" = 404
'

test_expect_success 'PUT /keys: the keys of containers and repositories, seen by gear-keys list' '
	ssh-keygen -q -t ed25519 -N "" -f key &&
	mkdir src && git -C src init -q && echo hi >src/hello && git -C src add hello &&
	git -C src -c user.name=t -c user.email=t@t commit -q -m one &&
	test "$(api PUT /repository/t50r "{\"CloneUrl\":\"$PWD/src\"}")" = 204 &&
	test "$(api PUT /repository/t50r "{}")" = 409 &&
	k=$(cat key.pub) &&
	test "$(api PUT /keys "{\"Keys\":[{\"Type\":\"authorized_keys\",\"Value\":\"$k\"}],\"Containers\":[{\"Id\":\"t50a\"}],\"Repositories\":[{\"Id\":\"t50r\",\"Permissions\":\"write\"}]}")" = 200 &&
	fp=$(jq -r ".Fingerprints[0]" out) &&
	g gear-keys list t50a >out &&
	grep "^$fp	ssh	ssh-ed25519 " out &&
	g gear-keys add --key-file key.pub t50b >/dev/null &&
	g gear-keys list repo://t50r >out &&
	grep "^$fp	write	" out &&
	test "$(api PUT /keys "{\"Keys\":[{\"Type\":\"authorized_keys\",\"Value\":\"$k\"}],\"Containers\":[{\"Id\":\"t50zz\"}]}")" = 404
'

test_expect_success 'PUT /keys: every key of every entry; a missing target of either access changes nothing' '
	ssh-keygen -q -t ed25519 -N "" -f k2 && ssh-keygen -q -t ed25519 -N "" -f k3 &&
	k2=$(cat k2.pub) k3=$(cat k3.pub) &&
	test "$(api PUT /keys "{\"Keys\":[{\"Type\":\"authorized_keys\",\"Value\":\"$k2\"},{\"Type\":\"authorized_keys\",\"Value\":\"$k3\"}],\"Containers\":[{\"Id\":\"t50b\"}]}")" = 200 &&
	test "$(jq -r ".Fingerprints | length" out)" = 2 &&
	g gear-keys list t50b >list &&
	for f in $(jq -r ".Fingerprints[]" out); do grep "^$f	ssh	" list || return 1; done &&
	ls -R "$CTR/access" "$CTR/keys" >before &&
	ssh-keygen -q -t ed25519 -N "" -f k4 && k4=$(cat k4.pub) &&
	test "$(api PUT /keys "{\"Keys\":[{\"Type\":\"authorized_keys\",\"Value\":\"$k4\"}],\"Containers\":[{\"Id\":\"t50a\"}],\"Repositories\":[{\"Id\":\"t50nope\",\"Permissions\":\"write\"}]}")" = 404 &&
	grep "t50nope" out &&
	ls -R "$CTR/access" "$CTR/keys" >after &&
	test_cmp before after &&
	! g gear-auth-keys-command ctr-t50a | grep -F "$(cut -d" " -f2 k4.pub)" &&
	cat k2.pub k3.pub | g gear-keys remove t50b
'

test_expect_success 'GET /repository/ID/archive/REF: the tree of that ref' '
	curl -sf --unix-socket "$SOCK" -o a.tar "http://gear/repository/t50r/archive/HEAD" &&
	tar -tf a.tar >list &&
	echo hello >expect &&
	test_cmp expect list &&
	test "$(api GET /repository/t50r/archive/nosuchref)" = 400
'

test_expect_success 'a clone from a server that never answers ends at build-fetch-timeout, others served meanwhile' '
	test_gear_conf run-arg=--pull=never build-fetch-timeout=3 &&
	{ python3 -c "import socket, time; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(8); print(s.getsockname()[1], flush=True); time.sleep(60)" >port & } &&
	spid=$! &&
	wait_until test -s port &&
	{ api PUT /repository/t5zslow "{\"CloneUrl\":\"http://127.0.0.1:$(cat port)/x.git\"}" >slow.code & } &&
	pid=$! &&
	sleep 1 &&
	t0=$(date +%s%N) &&
	test "$(curl -s --max-time 5 --unix-socket "$SOCK" -o env.out -w "%{http_code}" http://gear/environment/t50a)" = 200 &&
	test $(( ($(date +%s%N) - t0) / 1000000 )) -lt 1000 &&
	wait $pid &&
	kill $spid &&
	cat out &&
	test "$(cat slow.code)" = 500 &&
	jq -e ".message == \"not done in 3 seconds\"" out &&
	! g gear-repo list | grep t5zslow &&
	g gear-clean >clean.out &&
	cat clean.out &&
	! getent passwd git-t5zslow &&
	! ls "$CTR/git/t5" | grep t5zslow &&
	test_gear_conf run-arg=--pull=never
'

test_expect_success 'a client that hangs up ends its clone; a daemon stopped during one stops cleanly and answers 503' '
	test_gear_conf run-arg=--pull=never build-fetch-timeout=120 &&
	{ python3 -c "import socket, time; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(8); print(s.getsockname()[1], flush=True); time.sleep(120)" >port2 & } &&
	spid=$! &&
	wait_until test -s port2 &&
	body="{\"CloneUrl\":\"http://127.0.0.1:$(cat port2)/x.git\"}" &&
	test_expect_code 28 curl -s --max-time 2 --unix-socket "$SOCK" -o /dev/null -X PUT --data-binary "$body" http://gear/repository/t5zgone &&
	wait_until sh -c "! pgrep -f \"[r]epo create --from http://127.0.0.1:$(cat port2)\" >/dev/null" &&
	{ g sh -c "echo \$\$ >st.pid; exec gear-daemon --listen unix:$PWD/st.sock" & } &&
	wait_until test -S st.sock &&
	{ curl -s --max-time 60 --unix-socket st.sock -o st.out -w "%{http_code}" -X PUT --data-binary "$body" http://gear/repository/t5zstop >st.code & } &&
	cpid=$! &&
	wait_until pgrep -f "[r]epo create --from http://127.0.0.1:$(cat port2)" &&
	kill $(cat st.pid) &&
	wait_until sh -c "! kill -0 $(cat st.pid) 2>/dev/null" &&
	wait $cpid &&
	cat st.out &&
	test "$(cat st.code)" = 503 &&
	jq -e ".message == \"the daemon is stopping\"" st.out &&
	! pgrep -f "[r]epo create --from http://127.0.0.1:$(cat port2)" &&
	kill $spid &&
	g gear-clean >/dev/null &&
	test_gear_conf run-arg=--pull=never
'

test_expect_success 'an archive larger than max-source-size is refused, not held in memory; a smaller one of the same tree is sent' '
	test_gear_conf run-arg=--pull=never max-source-size=1M &&
	mkdir zsrc && git -C zsrc init -q && head -c 3000000 /dev/zero >zsrc/zeros && git -C zsrc add zeros &&
	git -C zsrc -c user.name=t -c user.email=t@t commit -q -m zeros &&
	test "$(api PUT /repository/t5zbig "{\"CloneUrl\":\"$PWD/zsrc\"}")" = 204 &&
	test "$(api GET /repository/t5zbig/archive/HEAD)" = 500 &&
	cat out &&
	jq -e ".message == \"larger than 1048576 bytes (max-source-size)\"" out &&
	test "$(api GET "/repository/t5zbig/archive/HEAD?format=tar.gz")" = 200 &&
	tar -tzf out >list &&
	echo zeros >expect &&
	test_cmp expect list &&
	test "$(api DELETE /repository/t5zbig)" = 204 &&
	test_gear_conf run-arg=--pull=never
'

test_expect_success 'the socket systemd passed stays in the daemon: the commands of a build do not inherit it' '
	cat >podman-fds <<-EOF &&
	#!/bin/sh
	ls -l /proc/\$\$/fd/ >"$PWD/fds"
	exit 1
	EOF
	chmod +x podman-fds &&
	test_gear_conf run-arg=--pull=never podman=$PWD/podman-fds &&
	git init -q bsrc && echo x >bsrc/f && git -C bsrc add f &&
	git -C bsrc -c user.name=t -c user.email=t@example commit -qm x &&
	test "$(api POST /build-image "{\"BaseImage\":\"localhost/t50b\",\"Source\":\"$PWD/bsrc\",\"Tag\":\"localhost/t50b:1\"}")" = 202 &&
	cat out fds &&
	tail -n 1 out >last &&
	printf "status\t111\n" >expect &&
	test_cmp expect last &&
	grep -q " 0 -> " fds &&
	! grep "socket:" fds &&
	test_gear_conf run-arg=--pull=never
'

test_expect_success 'links and idle: as gear-link and gear-idle' '
	test "$(api PUT /container/t50a/links "{\"NetworkLinks\":[\"127.0.0.1:8081:127.0.0.1:45001\"]}")" = 204 &&
	g gear-link t50b -n 127.0.0.1:8081:127.0.0.1:45001 &&
	tree_of t50a >a && tree_of t50b >b && test_cmp a b &&
	test "$(api PUT /container/t50a/idle "{\"PortRange\":\"$RANGE\"}")" = 204 &&
	test "$(api GET /container/t50a/status)" = 200 &&
	jq -e ".Idle == true" out &&
	test "$(api PUT /container/t50a/unidle)" = 204 &&
	test "$(sdctl is-active ctr-t50a.service)" = active &&
	test "$(api PUT /container/t50a/unidle)" = 409 &&
	jq -e ".message == \"'"'"'t50a'"'"' is not idle\"" out &&
	test "$(api PUT /container/t50a/started "{\"Timeout\":\"1s\"}")" = 400
'

test_expect_success 'bad input is 400 with a JSON message, and writes nothing' '
	snapshot >before &&
	test "$(api PUT /container/..%2F..%2Fetc "{\"Image\":\"$IMAGE\"}")" = 400 &&
	jq -e ".message == \"invalid identifier '"'"'../../etc'"'"'\"" out &&
	test "$(api GET /container/%2e%2e/status)" = 400 &&
	test "$(api PUT /environment/a%00bcd "{}")" = 400 &&
	test "$(api PUT /container/t50z "{\"Image\":")" = 400 &&
	jq -e ".message | startswith(\"malformed JSON\")" out &&
	test "$(api PUT /container/t50z "[1]")" = 400 &&
	test "$(api PUT /container/t50z "{\"Image\":\"$IMAGE\",\"Strated\":true}")" = 400 &&
	jq -e ".message == \"unknown field '"'"'Strated'"'"' in the container\"" out &&
	test "$(api PUT /container/t50z "{\"Image\":\"$IMAGE\",\"Ports\":[{\"Internal\":70000}]}")" = 400 &&
	test "$(api PUT /container/t50z "{\"Image\":\"$IMAGE\",\"Volumes\":[\"../x:/y\"]}")" = 400 &&
	test "$(api PATCH /environment/t50a "{\"Variables\":[{\"Name\":\"A B\",\"Value\":\"1\"}]}")" = 400 &&
	test "$(api PUT /keys "{\"Keys\":[{\"Type\":\"authorized_keys\",\"Value\":\"nonsense\"}],\"Containers\":[{\"Id\":\"t50a\"}]}")" = 400 &&
	test "$(api POST /build-image "{\"BaseImage\":\"$IMAGE\",\"Source\":\"src\"}")" = 400 &&
	jq -e ".message == \"missing '"'"'Tag'"'"'\"" out &&
	test "$(api POST /build-image "{\"BaseImage\":\"$IMAGE\",\"Source\":\"src\",\"Tag\":\"x\",\"Env\":{\"A\":1}}")" = 400 &&
	test "$(api POST /build-image "{\"BaseImage\":\"$IMAGE\",\"Source\":\"repo://..\",\"Tag\":\"x\"}")" = 400 &&
	head -c 1100000 /dev/zero | tr "\0" " " >big &&
	test "$(api PUT /container/t50z @big)" = 400 &&
	jq -e ".message == \"request body larger than 1048576 bytes\"" out &&
	curl -s --unix-socket "$SOCK" -X PUT -H "Transfer-Encoding: chunked" --data-binary @big -D - \
		http://gear/environment/t50z >out &&
	grep "^HTTP/1.1 400" out &&
	snapshot >after &&
	test_cmp before after
'

test_expect_success 'an unknown route or container is a JSON 404; another method 405' '
	test "$(api GET /nothing/here)" = 404 &&
	jq -e ".message == \"no such route\"" out &&
	test "$(api GET /container/t50zz/status)" = 404 &&
	jq -e ".message == \"no container '"'"'t50zz'"'"'\"" out &&
	test "$(api PUT /container/t50zz/started)" = 404 &&
	test "$(api DELETE /containers)" = 405 &&
	test "$(api GET /build-image)" = 405
'

test_expect_success 'a caller neither root nor in the group gets 403; a member of the group is served' '
	chmod 0666 "$SOCK" &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups curl -s --unix-socket "$SOCK" -D - http://gear/containers >out &&
	grep "^HTTP/1.1 403" out &&
	tail -n 1 out | jq -e ".message | startswith(\"permission denied\")" &&
	useradd --system -M -G gear t50u &&
	setpriv --reuid=t50u --regid=nogroup --clear-groups curl -s --unix-socket "$SOCK" -D - http://gear/containers >out &&
	grep "^HTTP/1.1 200" out &&
	tail -n 1 out | jq -e ".Containers[0].Id == \"t50a\""
'

test_expect_success 'gear-daemon --listen unix:PATH serves in the foreground' '
	g sh -c "echo \$\$ >fg.pid; exec gear-daemon --listen unix:$PWD/fg.sock" &
	wait_until test -S fg.sock &&
	curl -sf --unix-socket fg.sock http://gear/container/t50a/ports >out &&
	echo "{\"Ports\":[{\"Internal\":8080,\"External\":45000}]}" >expect &&
	test_cmp expect out &&
	kill $(cat fg.pid) && rm fg.pid &&
	wait_until test_must_fail test -e fg.sock &&
	test_expect_code 100 gear-daemon --listen tcp:1 2>err &&
	grep "unix:PATH" err &&
	test_expect_code 100 gear-daemon 2>err &&
	grep "LISTEN_FDS" err
'

test_expect_success 'a daemon whose binary was replaced runs its builds with itself' '
	mkdir -p old &&
	cp "$GEAR_BUILD/gear" old/gear &&
	ln -sf gear old/gear-daemon &&
	test_gear_conf run-arg=--pull=never podman=$PWD/podman-fds &&
	g sh -c "echo \$\$ >fg.pid; exec old/gear-daemon --listen unix:$PWD/fg.sock" &
	wait_until test -S fg.sock &&
	cp old/gear old/gear.new && mv old/gear.new old/gear &&
	curl -s --max-time 60 --unix-socket fg.sock -o out -X POST \
		--data-binary "{\"BaseImage\":\"localhost/t50b\",\"Source\":\"$PWD/bsrc\",\"Tag\":\"localhost/t50b:1\"}" \
		http://gear/build-image &&
	cat out &&
	grep "^gear-build-image: cannot build '\''localhost/t50b:1'\'': podman image inspect" out &&
	! grep "cannot remove" out &&
	tail -n 1 out >last &&
	printf "status\t111\n" >expect &&
	test_cmp expect last &&
	kill $(cat fg.pid) && rm fg.pid &&
	test_gear_conf run-arg=--pull=never
'

test_expect_success 'DELETE /container/ID: as gear-delete, nothing left' '
	test "$(api DELETE /container/t50a)" = 204 &&
	g gear-delete t50b &&
	find "$GEAR_SYSROOT" -path "$GEAR_SYSROOT/run" -prune -o -name "*t50[ab]*" -print >left &&
	test_must_fail test -s left &&
	test "$(api DELETE /container/t50a)" = 404 &&
	test "$(api DELETE /repository/t50r)" = 204
'

test_done
