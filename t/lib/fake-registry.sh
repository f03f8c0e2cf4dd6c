# a registry stand-in (fake-registry.py), sourced after test-lib.sh

# start_fake NAME ADDR [OPTION...]: fake-registry.py on ADDR and a free port,
# in the background; its port in NAME.port, its requests in NAME.log, its
# pid in NAME.pid (stop_fakes ends it)
start_fake() {
	fake_name=$1 fake_addr=$2
	shift 2
	rm -f "$fake_name.port" "$fake_name.log"
	python3 "$TEST_DIRECTORY/lib/fake-registry.py" "$fake_addr" "$fake_name.port" "$fake_name.log" "$@" &
	echo $! >"$fake_name.pid"
	: >"$fake_name.log"
	i=0
	until test -s "$fake_name.port"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$(cat "$fake_name.pid")" 2>/dev/null; then
			echo "fake registry $fake_name did not start"; return 1
		fi
		sleep 0.05
	done
}

# stop_fakes: ends every fake this test started
stop_fakes() {
	for p in "$TRASH_DIRECTORY"/*.pid; do
		test -f "$p" && grep -q fake-registry "/proc/$(cat "$p")/cmdline" 2>/dev/null && kill "$(cat "$p")"
	done
	return 0
}
