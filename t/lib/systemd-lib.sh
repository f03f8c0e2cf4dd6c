# for tests that run containers: a private systemd user manager in $SD
# (scripts/gear-test-systemd), and the commands to reach it. Sourced after
# test-lib.sh; each test registers 'gear-test-systemd stop "$SD"' itself.

SD="$TRASH_DIRECTORY/sd"
IMAGE=localhost/gear-test-web:latest

# run a command inside the manager's namespace, in user mode
g() { gear-test-systemd run "$SD" "$@"; }
sdctl() { gear-test-systemd run "$SD" systemctl --user "$@"; }

# the body of a page, waiting up to 5s for the server to listen
http_get() {
	i=0
	while ! curl -sf --max-time 2 "http://127.0.0.1:$1/$2"; do
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "no answer on port $1" >&2; return 1; }
		sleep 0.1
	done
}

# the body of one request, no retry (an idle container's first, say)
http_once() { curl -sf --max-time 60 "http://127.0.0.1:$1/$2"; }
# listening PORT: something listens on the port (checked without connecting)
listening() { ss -Hltn "sport = :$1" | grep -q .; }
# wait_until CMD...: until CMD succeeds, 60s at most
wait_until() {
	i=0
	until "$@"; do
		i=$((i + 1)) && test $i -lt 600 || { echo "still not: $*" >&2; return 1; }
		sleep 0.1
	done
}
# no_process ID: the container's unit is inactive and podman runs nothing of it
no_process() {
	test "$(sdctl is-active ctr-$1.service)" = inactive &&
	test_must_fail g podman container exists ctr-$1
}

# test_gear_conf [LINE...]: the host's gear.conf, with the units running this
# build's commands (gear-link --apply, gear-fs), and extra lines
test_gear_conf() {
	mkdir -p "$GEAR_SYSROOT/etc/gear" &&
	cp "$GEAR_BUILD/share/gear.conf" "$GEAR_SYSROOT/etc/gear/gear.conf" &&
	echo "gear-bin=$GEAR_BUILD/bin" >>"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	for line in "$@"; do
		echo "$line" >>"$GEAR_SYSROOT/etc/gear/gear.conf" || return 1
	done
}

# without test_gear_conf too: the units run this build's commands
mkdir -p "$GEAR_SYSROOT/etc/gear" && echo "gear-bin=$GEAR_BUILD/bin" >"$GEAR_SYSROOT/etc/gear/gear.conf"
