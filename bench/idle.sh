#!/bin/sh
# bench/idle.sh [RUNS] [busybox|python3]: the first request to an idle
# container against the same request to a running one
#
# A private systemd user manager and one web image, three ways: an ordinary
# container that runs (the peer), the same image idle-capable, and a Gear
# image of it (gear-build, files fetched through gear-fs) idle-capable. Each
# run idles the two idle-capable containers (gear-idle, not timed), then
# times one GET to each from idle (curl: connect to the last byte of the
# answer, which is checked), then the same request again to each, now
# running behind its proxy, and to the peer. RUNS runs (default 15). Prints
# the medians in milliseconds and their ratios to the peer.
#
# busybox (the default): the web image of scripts/build-test-image, serving
# /index.html. python3: the Debian python3 image of the image set
# (bench/lib-set.sh, built once in ${TMPDIR:-/var/tmp}/gear-bench/set),
# running "python3 -m http.server" on /etc and serving /debian_version.
# Goals: the first request from idle answered within 1.5 s for busybox and
# 3 s for python3. Run as root, after make.
set -eu

runs=${1:-15}
kind=${2:-busybox}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$top/scripts:$PATH"
work=$(mktemp -d /tmp/gear-bench-idle.XXXXXX)
export PATH GEAR_SYSROOT="$work/root"
SD=$work/sd
image=localhost/gear-test-web:latest

cleanup() {
	gear-test-systemd stop "$SD" >/dev/null 2>&1 || :
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
g() { gear-test-systemd run "$SD" "$@"; }

mkdir -p "$GEAR_SYSROOT/etc/gear"
cp "$top/share/gear.conf" "$GEAR_SYSROOT/etc/gear/gear.conf"
printf 'run-arg=--pull=never\ngear-bin=%s/bin\n' "$top" >>"$GEAR_SYSROOT/etc/gear/gear.conf"
case $kind in
busybox)
	build-test-image >/dev/null
	podman save -q --format docker-archive -o "$work/web.tar" $image >/dev/null
	gear-build docker-archive:"$work/web.tar" web >/dev/null
	path=/index.html goal=1500
	echo "gear test web" >"$work/expect"
	;;
python3)
	. "$top/bench/lib-set.sh"
	set_dir=${TMPDIR:-/var/tmp}/gear-bench
	mkdir -p "$set_dir"
	(cd "$set_dir" && work=$set_dir && build_set)
	# the set's python3 image, its command a web server on /etc
	skopeo copy -q "oci:$set_dir/set/oci:python3" "oci:$work/py:python3"
	umoci config --image "$work/py:python3" --tag web --config.workingdir / \
		--clear=config.cmd --config.cmd python3 --config.cmd -m --config.cmd http.server \
		--config.cmd 8080 --config.cmd --directory --config.cmd /etc
	image=localhost/gear-bench-python3-web:latest
	skopeo copy -q "oci:$work/py:web" "containers-storage:$image"
	gear-build "oci:$work/py:web" web >/dev/null
	path=/debian_version goal=3000
	;;
*)
	echo "usage: bench/idle.sh [RUNS] [busybox|python3]" >&2
	exit 100
	;;
esac
gear-test-systemd start "$SD" >/dev/null
# port of the mapping gear-install printed
port() { g gear-install --port-range 42600-42699 -p 8080:0 "$@" | cut -f3; }
p_run=$(port --start $image benchrun)
p_idle=$(port --start $image benchidle)
p_gear=$(port --start gear:web benchgear)
[ -s "$work/expect" ] || g podman exec ctr-benchrun cat /etc/debian_version >"$work/expect"
[ -s "$work/expect" ] || { echo "bench/idle.sh: nothing to expect" >&2; exit 1; }

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# time_get PORT FILE: one request, its time in ms appended to FILE; the body must be right
time_get() {
	curl -sf --max-time 60 -o "$work/body" -w '%{time_total}\n' "http://127.0.0.1:$1$path" |
		awk '{ printf "%.1f\n", $1 * 1000 }' >>"$2"
	cmp -s "$work/body" "$work/expect" || { echo "bench/idle.sh: wrong answer on port $1" >&2; exit 1; }
}
idle() {
	g gear-idle "$@"
	# gear-idle waits for the stop job; a container whose PID 1 ignores
	# SIGTERM (python3's) is killed after the stop timeout, and fails
	for id in "$@"; do
		s=$(g systemctl --user is-active ctr-$id.service) || :
		case $s in
		inactive | failed) ;;
		*) echo "bench/idle.sh: '$id' is $s after gear-idle" >&2; exit 1 ;;
		esac
	done
}
# warm every path once
idle benchidle benchgear
time_get $p_idle /dev/null
time_get $p_gear /dev/null
time_get $p_run /dev/null
i=0
while [ $i -lt "$runs" ]; do
	idle benchidle benchgear
	time_get $p_idle "$work/idle"
	time_get $p_gear "$work/gear-idle"
	time_get $p_idle "$work/proxy"
	time_get $p_gear "$work/gear-proxy"
	time_get $p_run "$work/run"
	i=$((i + 1))
done
peer=$(median "$work/run")
printf '%-34s %10s %8s\n' request median_ms ratio
for f in "run|running, podman's port (the peer)" "proxy|running, behind its proxy" \
	"idle|first from idle" "gear-proxy|Gear image, behind its proxy" "gear-idle|Gear image, first from idle"; do
	m=$(median "$work/${f%%|*}")
	printf '%-34s %10s %8s\n' "${f#*|}" "$m" "$(awk -v m="$m" -v p="$peer" 'BEGIN { printf "%.1f", m / p }')"
done
echo "runs: $runs; image: $kind; goal: first from idle under $goal ms"
