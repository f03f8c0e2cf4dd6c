#!/bin/sh
test_description='ssh ctr-ID@host [CMD] joins the running container: a real sshd, ssh client, systemd and podman'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

# the container users reach the join socket and the gear binary: both live in
# a scratch root every user can traverse (the trash directory may not be)
GEAR_SYSROOT=$(mktemp -d /tmp/gear-t1200.XXXXXX) && chmod 0755 "$GEAR_SYSROOT" || exit 1
CTR=$GEAR_SYSROOT/var/lib/containers
UNITDIR=$GEAR_SYSROOT/etc/systemd/system
export GEAR_SYSROOT CTR UNITDIR
SOCK=$GEAR_SYSROOT/run/gear/switchns.sock
A=t20a B=t20b
test_atexit 'gear-test-sshd stop sshd; gear-test-sshd stop sshd2; gear-test-systemd stop "$SD"'
test_atexit 'userdel ctr-'$A' 2>/dev/null; userdel ctr-'$B' 2>/dev/null; userdel ctr-t20fake 2>/dev/null'
test_atexit 'rm -rf "$GEAR_SYSROOT"'
test_atexit '[ -f hold.pid ] && pkill -P $(cat hold.pid); [ -f ssh.pid ] && kill $(cat ssh.pid); pkill -u ctr-'$A'; pkill -u ctr-'$B'; pkill -u ctr-t20c; :'

# on CTR-USER KEY CMD [SSH-OPTION...]: ssh to the test sshd as that user with
# that key, running CMD (none when empty)
on() {
	u=$1 k=$2 c=$3
	shift 3
	if [ -n "$c" ]; then
		gear-test-sshd ssh sshd -i "$k" "$@" "$u@127.0.0.1" "$c"
	else
		gear-test-sshd ssh sshd -i "$k" "$@" "$u@127.0.0.1"
	fi
}

test_expect_success 'setup: two isolated containers, a key each, gear-init, sshd' '
	mkdir -p "$GEAR_SYSROOT/bin" &&
	cp "$GEAR_BUILD/gear" "$GEAR_SYSROOT/bin/gear" &&
	for c in $("$GEAR_BUILD/gear" --list); do ln -s gear "$GEAR_SYSROOT/bin/gear-$c" || return 1; done &&
	test_gear_conf run-arg=--pull=never "gear-bin=$GEAR_SYSROOT/bin" &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	g gear-install --isolate -p 8080:0 --port-range 41600-41699 --start $IMAGE $A WHO=$A >ports &&
	g gear-install --isolate --start $IMAGE $B WHO=$B &&
	ssh-keygen -q -t ed25519 -N "" -f ka &&
	ssh-keygen -q -t ed25519 -N "" -f kb &&
	ssh-keygen -q -t ed25519 -N "" -f kx &&
	gear-keys add --key-file ka.pub $A >/dev/null &&
	gear-keys add --key-file kb.pub $B >/dev/null &&
	g gear-init >/dev/null &&
	test -S "$SOCK" &&
	test "$(stat -c %a "$SOCK")" = 666 &&
	cat >sshd.conf <<-EOF &&
	UsePAM no
	Match User ctr-*
	        AuthorizedKeysCommand @KEYS_COMMAND@ %u
	        AuthorizedKeysCommandUser root
	        AllowTcpForwarding local
	        AllowStreamLocalForwarding no
	        SetEnv GEAR_SYSROOT=$GEAR_SYSROOT
	EOF
	gear-test-sshd start sshd sshd.conf >/dev/null
'

test_expect_success 'gear-init installs the join units, rendered for this host' '
	grep -x "ListenStream=$SOCK" "$UNITDIR/gear-switchns.socket" &&
	grep -x "Accept=yes" "$UNITDIR/gear-switchns.socket" &&
	grep -x "ExecStart=$GEAR_SYSROOT/bin/gear-switchns --serve" "$UNITDIR/gear-switchns@.service" &&
	grep -x "Environment=GEAR_SYSROOT=$GEAR_SYSROOT" "$UNITDIR/gear-switchns@.service" &&
	test "$(sdctl is-active gear-switchns.socket)" = active
'

test_expect_success 'a command runs inside the container, as its user, and its output comes back' '
	on ctr-$A ka "echo \$WHO; id -u; cat /www/index.html; cat /proc/1/cmdline | tr \"\\0\" \" \"; echo" >out 2>err &&
	echo $A >expect &&
	id -u ctr-$A >>expect &&
	echo "gear test web" >>expect &&
	pid1=$(g podman inspect --format "{{.State.Pid}}" ctr-$A) &&
	tr "\0" " " </proc/$pid1/cmdline >>expect && echo >>expect &&
	test_cmp expect out
'

test_expect_success 'its namespaces and cgroup are the container'\''s' '
	pid1=$(g podman inspect --format "{{.State.Pid}}" ctr-$A) &&
	on ctr-$A ka "cat /proc/self/cgroup" >cg &&
	test_cmp /proc/$pid1/cgroup cg &&
	for ns in mnt pid net uts ipc; do
		on ctr-$A ka "ls -l /proc/self/ns/$ns" >ns.out &&
		grep -F "$(readlink /proc/$pid1/ns/$ns)" ns.out || return 1
	done
'

test_expect_success 'stdin flows in, stderr comes back, the exit status is relayed' '
	printf "one\ntwo\n" | on ctr-$A ka "cat; echo to-err >&2; exit 7" >out 2>err;
	test $? = 7 &&
	printf "one\ntwo\n" >expect &&
	test_cmp expect out &&
	echo to-err >expect &&
	test_cmp expect err
'

test_expect_success 'without a command: a shell in the container, reading stdin' '
	echo "echo shell \$WHO" | on ctr-$A ka "" >out &&
	echo "shell $A" >expect &&
	test_cmp expect out
'

test_expect_success 'ssh -t: a terminal inside the container' '
	on ctr-$A ka "test -t 0 && echo tty; ls -l /proc/self/fd/0; echo pts; ls /dev/pts" -tt </dev/null >out 2>err &&
	tr -d "\r" <out >out.n &&
	grep -x tty out.n &&
	pts=$(sed -n "s|.* -> /dev/pts/\([0-9]*\)$|\1|p" out.n) &&
	test -n "$pts" &&
	sed "1,/^pts$/d" out.n | tr " " "\n" | grep -x "$pts" &&
	on ctr-$A ka "test -t 0 || echo no-tty" </dev/null >out &&
	echo no-tty >expect &&
	test_cmp expect out
'

test_expect_success 'each key reaches its own container only; a key without access none' '
	on ctr-$B kb "echo \$WHO" >out &&
	echo $B >expect &&
	test_cmp expect out &&
	test_expect_code 255 on ctr-$A kb true 2>err &&
	grep "Permission denied" err &&
	test_expect_code 255 on ctr-$B ka true 2>err &&
	test_expect_code 255 on ctr-$A kx true 2>err &&
	grep "Permission denied" err
'

test_expect_success '-L reaches the container port, -R is refused' '
	P=$(cut -f3 ports) &&
	L=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") &&
	{ gear-test-sshd ssh sshd -i ka -N -o ExitOnForwardFailure=yes -L $L:127.0.0.1:$P ctr-$A@127.0.0.1 &
	  echo $! >ssh.pid; } &&
	http_get $L index.html >body; r=$?; kill $(cat ssh.pid); test $r = 0 &&
	echo "gear test web" >expect &&
	test_cmp expect body &&
	test_expect_code 255 timeout 20 gear-test-sshd ssh sshd -i ka -N -o ExitOnForwardFailure=yes \
		-R $L:127.0.0.1:$P ctr-$A@127.0.0.1 2>err &&
	grep "remote port forwarding failed" err
'

test_expect_success 'a stopped container: a clear message, exit 1' '
	g gear-stop $B &&
	test_expect_code 1 on ctr-$B kb "echo never" >out 2>err &&
	test_must_fail test -s out &&
	echo "gear-switchns: container '\''$B'\'' is not running (inactive)" >expect &&
	test_cmp expect err &&
	g gear-start $B
'

test_expect_success 'sshd with PAM admits the container users too' '
	sed "s/^UsePAM no/UsePAM yes/" sshd.conf >sshd2.conf &&
	gear-test-sshd start sshd2 sshd2.conf >/dev/null &&
	gear-test-sshd ssh sshd2 -i ka ctr-$A@127.0.0.1 "echo \$WHO" >out &&
	echo $A >expect &&
	test_cmp expect out
'

# the join service, asked directly by a container user for another container
as() { u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"; }

test_expect_success 'the service takes the container from the caller uid alone' '
	as ctr-$A env SSH_ORIGINAL_COMMAND="echo \$WHO" USER=ctr-$B LOGNAME=ctr-$B HOME=/ \
		"$GEAR_SYSROOT/bin/gear-switchns" </dev/null >out &&
	echo $A >expect &&
	test_cmp expect out &&
	test_expect_code 100 as ctr-$A "$GEAR_SYSROOT/bin/gear-switchns" $B </dev/null 2>err &&
	test_expect_code 100 as ctr-$A "$GEAR_SYSROOT/bin/gear-switchns" --container=$B </dev/null 2>err &&
	as ctr-$A env SSH_ORIGINAL_COMMAND="podman exec ctr-$B true; echo \$WHO" \
		"$GEAR_SYSROOT/bin/gear-switchns" </dev/null >out 2>err &&
	test_cmp expect out
'

test_expect_success 'users that are not an isolated container'\''s are refused' '
	test_expect_code 1 as nobody env SSH_ORIGINAL_COMMAND="echo \$WHO" \
		"$GEAR_SYSROOT/bin/gear-switchns" </dev/null >out 2>err &&
	test_must_fail test -s out &&
	grep "^gear-switchns: uid 65534 (.nobody.) is not the user of an isolated container$" err &&
	{ userdel ctr-t20fake 2>/dev/null; true; } &&
	useradd --system --no-create-home --home-dir / --shell /bin/sh ctr-t20fake &&
	test_expect_code 1 as ctr-t20fake "$GEAR_SYSROOT/bin/gear-switchns" </dev/null 2>err &&
	grep "is not the user of an isolated container" err
'

test_expect_success 'malformed requests are refused and the service stays up' '
	cat >raw.py <<-\EOF &&
	import socket, struct, sys, os, array, time
	def ask(payload, fds=(0, 1, 2), tail=b""):
	    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	    s.connect(sys.argv[1])
	    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
	    s.sendmsg([payload], anc)
	    if tail:
	        s.sendall(tail)
	    s.shutdown(socket.SHUT_WR)
	    r = b""
	    while True:
	        k = s.recv(4096)
	        if not k:
	            break
	        r += k
	    # an error message (E, length, text) may come before the status (X, int32)
	    if r[:1] == b"E":
	        n = struct.unpack("=H", r[1:3])[0]
	        r = r[3 + n:]
	    return "%s %d" % (chr(r[0]), struct.unpack("=i", r[1:5])[0]) if len(r) == 5 else repr(r)
	head = lambda magic=0x6e6a7267, flags=0, n=0, term=b"": struct.pack("=III64s", magic, flags, n, term)
	print(ask(head(magic=1)))
	print(ask(head(), fds=()))
	print(ask(head(), fds=(0, 1, 2, 0, 1)))
	print(ask(head(flags=8)))
	print(ask(head(n=1 << 30)))
	print(ask(head(term=b"x" * 64)))
	print(ask(head(term=b"a;b")))
	print(ask(head(n=3), tail=b"a\0b"))
	d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	d.connect("/dev/log") if os.path.exists("/dev/log") else None
	print(ask(head(), fds=(0, d.fileno(), 2)))
	o = os.open("/", os.O_PATH)
	print(ask(head(), fds=(0, o, 2)))
	# descriptors again with the rest of the header
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.connect(sys.argv[1])
	h = head()
	s.sendmsg([h[:8]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", (0, 1, 2)))])
	time.sleep(0.2)
	s.sendmsg([h[8:]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", (0, 1, 2)))])
	s.shutdown(socket.SHUT_WR)
	r = b"".join(iter(lambda: s.recv(4096), b""))
	if r[:1] == b"E":
	    r = r[3 + struct.unpack("=H", r[1:3])[0]:]
	print("%s %d" % (chr(r[0]), struct.unpack("=i", r[1:5])[0]) if len(r) == 5 else repr(r))
	EOF
	as ctr-$A /usr/bin/python3 raw.py "$SOCK" >out &&
	for i in 1 2 3 4 5 6 7 8 9 10 11; do echo "X 100"; done >expect &&
	test_cmp expect out &&
	on ctr-$A ka "echo \$WHO" >out &&
	echo $A >expect &&
	test_cmp expect out
'

test_expect_success 'a flood of connections does not stop the service' '
	cat >flood.py <<-\EOF &&
	import socket, sys
	for i in range(500):
	    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	    s.connect(sys.argv[1])
	    s.close()
	EOF
	as nobody /usr/bin/python3 flood.py "$SOCK" &&
	test "$(sdctl is-active gear-switchns.socket)" = active &&
	on ctr-$A ka "echo \$WHO" >out &&
	echo $A >expect &&
	test_cmp expect out
'

test_expect_success 'at most 16 sessions of one user at a time' '
	cat >hold.py <<-\EOF &&
	import socket, sys, time
	held = []
	for i in range(16):
	    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	    s.connect(sys.argv[1])
	    held.append(s)
	time.sleep(1.5)
	print("held", flush=True)
	time.sleep(float(sys.argv[2]))
	EOF
	{ as ctr-$A /usr/bin/python3 hold.py "$SOCK" 60 >held & echo $! >hold.pid; } &&
	i=0 && until grep -q held held 2>/dev/null; do i=$((i + 1)); test $i -lt 100 || break; sleep 0.1; done &&
	test_expect_code 1 as ctr-$A "$GEAR_SYSROOT/bin/gear-switchns" </dev/null 2>err &&
	grep "^gear-switchns: 16 sessions of uid $(id -u ctr-$A) run already$" err &&
	on ctr-$B kb "echo \$WHO" >out &&
	echo $B >expect &&
	test_cmp expect out &&
	pkill -P $(cat hold.pid); kill $(cat hold.pid) 2>/dev/null;
	i=0 && until on ctr-$A ka "echo \$WHO" >out 2>/dev/null; do
		i=$((i + 1)); test $i -lt 50 || break; sleep 0.2; done &&
	echo $A >expect &&
	test_cmp expect out
'

test_expect_success 'the unit must name the caller: a lookalike user of another container is refused' '
	uid=1000000 && while getent passwd $uid >/dev/null; do uid=$((uid + 1)); done &&
	useradd --system --no-create-home --home-dir / --shell /bin/sh -u $uid -c "gear container t20c" ctr-t20c &&
	g gear-install --start $IMAGE t20c WHO=t20c &&
	test_expect_code 1 as ctr-t20c "$GEAR_SYSROOT/bin/gear-switchns" </dev/null 2>err &&
	echo "gear-switchns: container '\''t20c'\'' does not run as '\''ctr-t20c'\''" >expect &&
	test_cmp expect err &&
	usermod -c "someone" ctr-t20c &&
	test_expect_code 1 as ctr-t20c "$GEAR_SYSROOT/bin/gear-switchns" </dev/null 2>err &&
	grep "is not the user of an isolated container" err &&
	userdel ctr-t20c &&
	useradd --system --no-create-home --home-dir / --shell /bin/sh -c "gear container t20c" ctr-t20c &&
	test_expect_code 1 as ctr-t20c "$GEAR_SYSROOT/bin/gear-switchns" </dev/null 2>err &&
	grep "is not the user of an isolated container" err &&
	userdel ctr-t20c
'

test_expect_success 'TERM goes in with a terminal; a signal exit is 128+N' '
	TERM=xterm-t20 on ctr-$A ka "echo \$TERM" -tt </dev/null >out &&
	tr -d "\r" <out >out.n &&
	echo xterm-t20 >expect &&
	test_cmp expect out.n &&
	on ctr-$A ka "kill -TERM \$\$";
	test $? = 143
'

# sessions: the service's journal lines, one per session that ran
sessions() { g journalctl -q -o cat -t gear-switchns 2>/dev/null | grep -c ": a session by "; }
# joined_by HOW N: the session after the first N was run by HOW ("runc exec" or
# "podman exec"); the line comes as the service ends, after the caller got its status
joined_by() {
	i=0; until test "$(sessions)" -gt "$2"; do i=$((i + 1)); test $i -lt 100 || return 1; sleep 0.1; done &&
	g journalctl -q -o cat -t gear-switchns | grep ": a session by " | sed -n "$(($2 + 1))p" >session &&
	grep -x "gear-switchns: ctr-$A: a session by $1 ended with exit status 0" session
}
# waits (up to 15 s) while CMD... succeeds, or until it does with "until"
wait_while() { i=0; while "$@" >/dev/null; do i=$((i + 1)); test $i -lt 150 || return 1; sleep 0.1; done; }
wait_until() { i=0; until "$@" >/dev/null; do i=$((i + 1)); test $i -lt 150 || return 1; sleep 0.1; done; }

test_expect_success 'runc joins by the runtime id the unit has podman write; a hang-up ends the session' '
	n=$(sessions) &&
	on ctr-$A ka true &&
	joined_by "runc exec" $n &&
	cid=$(cat "$GEAR_SYSROOT/run/gear/cid/$A") &&
	test "$(printf %s "$cid" | tr -dc 0-9a-f | wc -c)" = 64 &&
	test "$cid" = "$(g podman inspect --format "{{.Id}}" ctr-$A)" &&
	{ gear-test-sshd ssh sshd -i ka ctr-$A@127.0.0.1 "sleep 300" </dev/null & echo $! >ssh.pid; } &&
	wait_until pgrep -u ctr-$A -f "^sleep 300" &&
	pgrep -f "runc --root=/run/runc exec $cid /bin/sh -c sleep 300" &&
	test_must_fail pgrep -f "podman.* exec .*ctr-$A" &&
	kill $(cat ssh.pid) && rm ssh.pid &&
	wait_while pgrep -u ctr-$A -f "sleep 300" &&
	test_must_fail pgrep -f "exec $cid /bin/sh -c sleep 300" &&
	test_must_fail pgrep -u ctr-$A -f "gear-switchns$"
'

# the joins of container A when its runtime id is missing or invalid: podman exec
podman_joins() {
	n=$(sessions) &&
	on ctr-$A ka "echo \$WHO" >out &&
	echo $A >expect &&
	test_cmp expect out &&
	joined_by "podman exec" $n &&
	# not the id, a symbolic link to it, the caller'"'"'s own file, an id runc does not know
	echo ../../../etc >"$cidfile" &&
	n=$(sessions) &&
	on ctr-$A ka "echo \$WHO" >out &&
	test_cmp expect out &&
	joined_by "podman exec" $n &&
	rm "$cidfile" && ln -s "$PWD/cid.saved" "$cidfile" &&
	n=$(sessions) &&
	on ctr-$A ka "echo \$WHO" >out &&
	test_cmp expect out &&
	joined_by "podman exec" $n &&
	rm "$cidfile" && cp cid.saved "$cidfile" && chown ctr-$A "$cidfile" &&
	n=$(sessions) &&
	on ctr-$A ka "echo \$WHO" >out &&
	test_cmp expect out &&
	joined_by "podman exec" $n &&
	rm "$cidfile" && printf "%064d" 0 >"$cidfile" &&
	n=$(sessions) &&
	on ctr-$A ka "echo \$WHO" >out &&
	test_cmp expect out &&
	joined_by "podman exec" $n &&
	rm "$cidfile" &&
	{ gear-test-sshd ssh sshd -i ka ctr-$A@127.0.0.1 "sleep 300" </dev/null & echo $! >ssh.pid; } &&
	wait_until pgrep -f "podman.* exec .*ctr-$A /bin/sh -c sleep 300" &&
	kill $(cat ssh.pid) && rm ssh.pid &&
	wait_while pgrep -f "podman.* exec .*ctr-$A /bin/sh -c sleep 300" &&
	wait_while pgrep -u ctr-$A -f "sleep 300" &&
	test_must_fail pgrep -u ctr-$A -f "gear-switchns$"
}

test_expect_success 'without a valid runtime id (a unit from before it) podman exec joins; a hang-up ends it' '
	cidfile=$GEAR_SYSROOT/run/gear/cid/$A &&
	mv "$cidfile" cid.saved &&
	if podman_joins; then r=0; else r=$?; fi &&
	mv cid.saved "$cidfile" &&
	test $r = 0
'

test_expect_success 'ssh -t: the window size reaches the container, and so does a resize' '
	cat >winch.py <<-\EOF &&
	import fcntl, os, pty, select, struct, sys, termios, time
	def size(fd, rows, cols):
	    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
	pid, fd = pty.fork()
	if pid == 0:
	    size(0, 45, 123)
	    os.execvp(sys.argv[1], sys.argv[1:])
	out, resized, deadline = b"", False, time.time() + 60
	while True:
	    if time.time() > deadline:
	        os.kill(pid, 9)  # a resize that never arrives fails the test, not hangs it
	        break
	    if not select.select([fd], [], [], 0.5)[0]:
	        continue
	    try:
	        k = os.read(fd, 4096)
	    except OSError:
	        break
	    if not k:
	        break
	    out += k
	    if b"ready" in out and not resized:
	        size(fd, 50, 132)  # ssh, in the foreground, gets SIGWINCH
	        resized = True
	os.waitpid(pid, 0)
	sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
	EOF
	python3 winch.py gear-test-sshd ssh sshd -i ka -t ctr-$A@127.0.0.1 \
		"stty size; trap \"stty size; exit 0\" WINCH; echo ready; while :; do sleep 0.1; done" >out &&
	grep -x "45 123" out &&
	grep -x "50 132" out
'

test_expect_success 'after a reboot the socket listens again' '
	gear-test-systemd restart "$SD" &&
	test -h "$UNITDIR/sockets.target.wants/gear-switchns.socket" &&
	i=0 && until test "$(sdctl is-active gear-switchns.socket)" = active; do
		i=$((i + 1)); test $i -lt 300 || break; sleep 0.1; done &&
	test -S "$SOCK"
'

test_expect_success 'gear-delete with a login open: the login ends, the user goes' '
	{ gear-test-sshd ssh sshd -i kb -N ctr-$B@127.0.0.1 </dev/null & echo $! >ssh.pid; } &&
	i=0 && until pgrep -u ctr-$B >/dev/null; do
		i=$((i + 1)); test $i -lt 300 || break; sleep 0.1; done &&
	pgrep -u ctr-$B >/dev/null &&
	g gear-delete $B &&
	test_must_fail getent passwd ctr-$B &&
	i=0 && while kill -0 $(cat ssh.pid) 2>/dev/null; do
		i=$((i + 1)); test $i -lt 300 || break; sleep 0.1; done &&
	test_must_fail kill -0 $(cat ssh.pid) 2>/dev/null &&
	rm ssh.pid
'

test_expect_success 'gear-purge stops and removes the join units' '
	g gear-purge >/dev/null &&
	test_must_fail test -e "$UNITDIR/gear-switchns.socket" &&
	test_must_fail test -e "$UNITDIR/gear-switchns@.service" &&
	test_must_fail test -e "$UNITDIR/sockets.target.wants/gear-switchns.socket" &&
	test_must_fail test -S "$SOCK"
'

test_done
