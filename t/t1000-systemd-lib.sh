#!/bin/sh
test_description='the sd-bus layer, the unit template and gear.conf against a private systemd user manager and podman'
. "$(dirname "$0")/lib/test-lib.sh"

SD=$TRASH_DIRECTORY/systemd
T=$GEAR_BUILD/t/unit/test-systemd
R=$GEAR_BUILD/t/unit/test-unit
IMAGE=localhost/gear-test-web:latest
CONF=$GEAR_SYSROOT/etc/gear/gear.conf

in_manager() { gear-test-systemd run "$SD" "$@"; }

# a port nothing listens on
free_port() {
	p=$((20000 + $$ % 20000))
	while curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/"; [ $? != 7 ]; do
		p=$((p + 1))
	done
	echo $p
}

# fetch URL FILE: retries while the server comes up
fetch() {
	i=0
	until curl -sf --max-time 2 -o "$2" "$1"; do
		i=$((i + 1))
		[ $i -lt 50 ] || return 1
		sleep 0.2
	done
}

# refused URL: nothing answers there (curl: 7, connection refused)
refused() {
	curl -s -o /dev/null --max-time 2 "$1"
	[ $? = 7 ]
}

# gone PID: no such process, or only its zombie (reaped by PID 1 when it gets to it)
gone() {
	! [ -d /proc/$1 ] || grep -q "^$1 (.*) [ZX] " /proc/$1/stat
}

# info UNIT KEY: one value of "test-systemd info"
info() { in_manager "$T" info "$1" | sed -n "s/^$2	//p"; }

# wait_for UNIT KEY VALUE
wait_for() {
	i=0
	until [ "$(info "$1" "$2")" = "$3" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "$1: $2 is '$(info "$1" "$2")', not '$3'" >&2; return 1; }
		sleep 0.1
	done
}

test_atexit "gear-test-systemd stop '$SD'"

test_expect_success 'start a private user manager' '
	gear-test-systemd start "$SD" "$UNITDIR" &&
	gear-test-systemd status "$SD" >status &&
	grep -Ex "running|degraded" status &&
	. "$SD/env" &&
	test "$GEAR_TEST_UNITDIR" = "$UNITDIR" &&
	kill -0 "$GEAR_TEST_NS_PID" "$GEAR_TEST_MANAGER_PID" "$GEAR_TEST_JOURNALD_PID" &&
	test -S "$GEAR_TEST_RUNTIME_DIR/bus" &&
	test -S "$GEAR_TEST_RUNTIME_DIR/systemd/private"
'

test_expect_success 'starting it again is a no-op' '
	. "$SD/env" && ns=$GEAR_TEST_NS_PID manager=$GEAR_TEST_MANAGER_PID &&
	gear-test-systemd start "$SD" "$UNITDIR" &&
	. "$SD/env" &&
	test "$GEAR_TEST_NS_PID" = "$ns" && test "$GEAR_TEST_MANAGER_PID" = "$manager"
'

test_expect_success 'the manager has its own cgroup and /run, the host keeps its own' '
	. "$SD/env" &&
	grep -q ":/$GEAR_TEST_CGROUP/user.slice/user-0.slice/user@0.service/init.scope\$" \
		/proc/$GEAR_TEST_MANAGER_PID/cgroup &&
	in_manager test -d /run/systemd/system &&
	in_manager test -S /run/user/0/bus &&
	test ! -e /run/user/0/bus
'

test_expect_success 'usage errors' '
	test_expect_code 100 gear-test-systemd start 2>err &&
	grep "start DIR" err &&
	test_expect_code 100 gear-test-systemd frobnicate "$SD" &&
	test_expect_code 1 gear-test-systemd status "$TRASH_DIRECTORY/none" &&
	test_expect_code 111 gear-test-systemd run "$TRASH_DIRECTORY/none" true 2>err &&
	grep "no private manager runs for" err
'

test_expect_success 'reload and read the state of a unit' '
	printf "[Service]\nExecStart=/bin/sleep 1000\n" >"$UNITDIR/t1000-sleep.service" &&
	in_manager "$T" reload &&
	in_manager "$T" info t1000-sleep.service >out &&
	cat >expect <<-EOF &&
	id	t1000-sleep.service
	load	loaded
	active	inactive
	sub	dead
	fragment	$UNITDIR/t1000-sleep.service
	result	success
	main-pid	0
	status	0
	restarts	0
	active-enter	0
	inactive-enter	0
	EOF
	test_cmp expect out
'

test_expect_success 'start waits for the job' '
	in_manager "$T" start t1000-sleep.service >out &&
	echo done >expect &&
	test_cmp expect out &&
	test "$(info t1000-sleep.service active)" = active &&
	test "$(info t1000-sleep.service sub)" = running &&
	pid=$(info t1000-sleep.service main-pid) &&
	test "$(cat /proc/$pid/comm)" = sleep &&
	test "$(info t1000-sleep.service active-enter)" -gt 0 &&
	echo $pid >pid1
'

test_expect_success 'restart gives a new main process' '
	in_manager "$T" restart t1000-sleep.service >out &&
	echo done >expect &&
	test_cmp expect out &&
	pid=$(info t1000-sleep.service main-pid) &&
	test "$pid" != "$(cat pid1)" &&
	gone $(cat pid1) &&
	test "$(cat /proc/$pid/comm)" = sleep
'

test_expect_success 'list units by pattern' '
	in_manager "$T" list "t1000-*" >out &&
	printf "t1000-sleep.service\tloaded\tactive\trunning\n" >expect &&
	test_cmp expect out
'

test_expect_success 'the bus works from outside the namespace too' '
	. "$SD/env" &&
	env -u XDG_RUNTIME_DIR GEAR_SYSTEMD=user DBUS_SESSION_BUS_ADDRESS=$GEAR_TEST_BUS \
		"$T" list "t1000-*" >out &&
	printf "t1000-sleep.service\tloaded\tactive\trunning\n" >expect &&
	test_cmp expect out
'

test_expect_success 'stop waits for the job' '
	pid=$(info t1000-sleep.service main-pid) &&
	in_manager "$T" stop t1000-sleep.service >out &&
	echo done >expect &&
	test_cmp expect out &&
	test "$(info t1000-sleep.service active)" = inactive &&
	test "$(info t1000-sleep.service main-pid)" = 0 &&
	gone $pid
'

test_expect_success 'a failing job is reported, with the unit state' '
	printf "[Service]\nType=oneshot\nExecStart=/bin/false\n" >"$UNITDIR/t1000-fail.service" &&
	in_manager "$T" reload &&
	test_expect_code 111 in_manager "$T" start t1000-fail.service >out 2>err &&
	echo failed >expect &&
	test_cmp expect out &&
	echo "test-systemd: start job for '\''t1000-fail.service'\'' failed: result '\''failed'\''" >expect &&
	test_cmp expect err &&
	test "$(info t1000-fail.service active)" = failed &&
	test "$(info t1000-fail.service result)" = exit-code &&
	test "$(info t1000-fail.service status)" = 1 &&
	in_manager "$T" reset-failed t1000-fail.service &&
	test "$(info t1000-fail.service active)" = inactive
'

test_expect_success 'a unit that does not exist is a negative answer' '
	test_expect_code 1 in_manager "$T" start t1000-none.service 2>err &&
	echo "test-systemd: cannot start '\''t1000-none.service'\'': Unit t1000-none.service not found" >expect &&
	test_cmp expect err &&
	test "$(info t1000-none.service load)" = not-found &&
	in_manager "$T" reset-failed t1000-none.service
'

test_expect_success 'GEAR_SYSTEMD is checked; no manager is a system failure' '
	test_expect_code 100 env GEAR_SYSTEMD=session "$T" reload 2>err &&
	echo "test-systemd: invalid GEAR_SYSTEMD '\''session'\'' (want '\''system'\'' or '\''user'\'')" >expect &&
	test_cmp expect err &&
	test_expect_code 111 env -u DBUS_SESSION_BUS_ADDRESS GEAR_SYSTEMD=user \
		XDG_RUNTIME_DIR=/nonexistent "$T" reload 2>err &&
	echo "test-systemd: cannot connect to the user manager: No such file or directory" >expect &&
	test_cmp expect err
'

test_expect_success 'targets and slices load cleanly' '
	cp "$GEAR_BUILD"/share/units/container.target "$GEAR_BUILD"/share/units/container-active.target \
		"$GEAR_BUILD"/share/units/container.slice "$GEAR_BUILD"/share/units/container-small.slice \
		"$UNITDIR"/ &&
	in_manager "$T" reload &&
	in_manager systemd-analyze --user verify "$UNITDIR/container.target" "$UNITDIR/container-active.target" \
		"$UNITDIR/container.slice" "$UNITDIR/container-small.slice" >out 2>&1 &&
	test ! -s out &&
	for u in container.target container-active.target container.slice container-small.slice; do
		test "$(info $u load)" = loaded || return 1
	done
'

test_expect_success 'build the test image (and only once)' '
	build-test-image &&
	podman image inspect --format "{{.Id}}" $IMAGE >id1 &&
	build-test-image &&
	podman image inspect --format "{{.Id}}" $IMAGE >id2 &&
	test_cmp id1 id2 &&
	test_expect_code 100 build-test-image --bogus
'

test_expect_success 'podman runs the image with the settings of share/gear.conf' '
	mkdir -p "${CONF%/*}" &&
	cp "$GEAR_BUILD/share/gear.conf" "$CONF" &&
	echo "gear-bin=$GEAR_BUILD/bin" >>"$CONF" &&
	podman --runtime=runc run --rm --ulimit=nofile=20000:20000 --ulimit=nproc=4096:4096 \
		--entrypoint /bin/id $IMAGE -u >out &&
	echo 0 >expect &&
	test_cmp expect out
'

test_expect_success 'a rendered container unit verifies without warnings' '
	port=$(free_port) && echo $port >port &&
	echo GREETING=hello from t1000 >"$TRASH_DIRECTORY/web.env" &&
	"$R" render --conf "$CONF" --port 8080:$port --env "$TRASH_DIRECTORY/web.env" \
		t1000web $IMAGE req-1 >"$UNITDIR/ctr-t1000web.service" &&
	grep -x "X-PortMapping=8080:$port" "$UNITDIR/ctr-t1000web.service" &&
	in_manager systemd-analyze --user verify "$UNITDIR/ctr-t1000web.service" >out 2>&1 &&
	test ! -s out &&
	in_manager "$T" reload &&
	test "$(info ctr-t1000web.service load)" = loaded
'

test_expect_success 'the container unit serves HTTP on the published port' '
	port=$(cat port) &&
	in_manager "$T" start ctr-t1000web.service >out &&
	echo done >expect &&
	test_cmp expect out &&
	fetch http://127.0.0.1:$port/ page &&
	echo "gear test web" >expect &&
	test_cmp expect page &&
	fetch http://127.0.0.1:$port/env.txt env &&
	echo "hello from t1000" >expect &&
	test_cmp expect env &&
	test "$(info ctr-t1000web.service sub)" = running &&
	test "$(in_manager podman ps --filter name=ctr-t1000web --format "{{.Names}}")" = ctr-t1000web
'

test_expect_success 'podman outside the namespace sees the container too' '
	podman container inspect --format "{{.State.Status}}" ctr-t1000web >out &&
	echo running >expect &&
	test_cmp expect out
'

test_expect_success 'the container runs inside the unit cgroup, in container-small.slice' '
	. "$SD/env" &&
	pid=$(in_manager podman inspect --format "{{.State.Pid}}" ctr-t1000web) &&
	grep -q "/container.slice/container-small.slice/ctr-t1000web.service/" /proc/$pid/cgroup
'

test_expect_success 'its output reaches the journal as a user unit' '
	in_manager journalctl -q -o cat _SYSTEMD_USER_UNIT=ctr-t1000web.service >log &&
	grep -x "gear-web: serving on port 8080 as uid 0" log
'

test_expect_success 'stopping the unit stops and removes the container' '
	port=$(cat port) &&
	in_manager "$T" stop ctr-t1000web.service >out &&
	echo done >expect &&
	test_cmp expect out &&
	test "$(info ctr-t1000web.service active)" = inactive &&
	refused http://127.0.0.1:$port/ &&
	in_manager podman ps -a --filter name=ctr-t1000web --format "{{.Names}}" >out &&
	test ! -s out
'

test_expect_success 'an isolated container runs as its user with its MCS level' '
	port=$(free_port) &&
	"$R" render --conf "$CONF" --port 8080:$port --user 4242:4242 --mcs s0:c7,c9 \
		t1000iso $IMAGE req-1 >"$UNITDIR/ctr-t1000iso.service" &&
	in_manager "$T" reload &&
	in_manager "$T" start ctr-t1000iso.service &&
	fetch http://127.0.0.1:$port/uid.txt uid &&
	echo 4242 >expect &&
	test_cmp expect uid &&
	in_manager podman inspect --format "{{.Config.User}}" ctr-t1000iso >out &&
	echo 4242:4242 >expect &&
	test_cmp expect out &&
	in_manager "$T" stop ctr-t1000iso.service
'

test_expect_success 'a container that fails is restarted, then shows its exit status' '
	echo GEAR_TEST_FAIL=1 >"$TRASH_DIRECTORY/fail.env" &&
	"$R" render --conf "$CONF" --env "$TRASH_DIRECTORY/fail.env" \
		t1000bad $IMAGE req-1 >"$UNITDIR/ctr-t1000bad.service" &&
	in_manager "$T" reload &&
	in_manager "$T" start ctr-t1000bad.service &&
	wait_for ctr-t1000bad.service sub auto-restart &&
	test "$(info ctr-t1000bad.service result)" = exit-code &&
	test "$(info ctr-t1000bad.service status)" = 3 &&
	in_manager journalctl -q -o cat _SYSTEMD_USER_UNIT=ctr-t1000bad.service >log &&
	grep -x "gear-web: failing on request" log &&
	in_manager "$T" stop ctr-t1000bad.service &&
	in_manager "$T" reset-failed ctr-t1000bad.service
'

test_expect_success 'a manager restart starts what container-active.target wants' '
	port=$(cat port) &&
	mkdir -p "$UNITDIR/container-active.target.wants" "$UNITDIR/default.target.wants" &&
	ln -s ../ctr-t1000web.service "$UNITDIR/container-active.target.wants/" &&
	ln -s ../container-active.target "$UNITDIR/default.target.wants/" &&
	. "$SD/env" && old=$GEAR_TEST_MANAGER_PID &&
	gear-test-systemd restart "$SD" &&
	. "$SD/env" &&
	test "$GEAR_TEST_MANAGER_PID" != "$old" &&
	wait_for ctr-t1000web.service active active &&
	fetch http://127.0.0.1:$port/ page &&
	test "$(info ctr-t1000iso.service active)" = inactive &&
	test "$(info container-active.target active)" = active
'

test_expect_success 'stop leaves nothing behind' '
	port=$(cat port) &&
	. "$SD/env" &&
	gear-test-systemd stop "$SD" &&
	for p in $GEAR_TEST_NS_PID $GEAR_TEST_MANAGER_PID $GEAR_TEST_JOURNALD_PID; do
		gone $p || return 1
	done &&
	for d in /sys/fs/cgroup/*/; do
		test ! -d "$d$GEAR_TEST_CGROUP" || return 1
	done &&
	test ! -e "$SD/env" &&
	refused http://127.0.0.1:$port/ &&
	for c in ctr-t1000web ctr-t1000iso ctr-t1000bad; do
		test_expect_code 1 podman container exists $c || return 1
	done &&
	test_expect_code 1 gear-test-systemd status "$SD" >out &&
	echo offline >expect &&
	test_cmp expect out &&
	gear-test-systemd stop "$SD"
'

test_done
