# the Debian image set the benchmarks share, built once in WORKDIR/set ($sdir;
# sourced by bench/*.sh with $top set, then bench_start): a Debian bookworm minbase image,
# and five application images, each one layer made by umoci repack on top of
# a minbase layer: python3 and nginx on that same base, redis, postgresql and
# nodejs each on a rebuilt one (a separate mmdebstrap run: the same file
# contents, another layer digest), as images built at different times are.
# Needs root and the Debian archive.

# NAME:PACKAGES:BASE. BENCH_SET=2 picks a second Debian set (other
# packages, the same layout) in WORKDIR/set2, for bench/push.sh's storage
# section; the other benchmarks know the first set's services only.
case ${BENCH_SET:-1} in
1) sdir=set set_apps="python3:python3:base1 nginx:nginx-light:base1 redis:redis-server:base2
postgresql:postgresql:base3 nodejs:nodejs:base4" ;;
2) sdir=set2 set_apps="ruby:ruby:base1 php:php-cli:base1 apache2:apache2:base2 mariadb:mariadb-server:base3
git:git:base4" ;;
*) echo "BENCH_SET: 1 or 2" >&2 && exit 2 ;;
esac
set_images=$(for a in $set_apps; do printf '%s ' "${a%%:*}"; done)

build_set() {
	[ -f $sdir/done ] && return 0
	rm -rf $sdir && mkdir -p $sdir
	echo "# building the image set in $work/$sdir (a few minutes)" >&2
	umoci init --layout $sdir/oci
	for b in base1 base2 base3 base4; do
		mmdebstrap --variant=minbase --quiet bookworm "$sdir/$b.tar"
		umoci new --image "$sdir/oci:$b"
		umoci raw add-layer --image "$sdir/oci:$b" "$sdir/$b.tar"
		rm "$sdir/$b.tar"
	done
	for app in $set_apps; do
		name=${app%%:*} base=${app##*:} pkgs=${app#*:}
		pkgs=${pkgs%:*}
		mmdebstrap --variant=minbase --quiet --include="$pkgs" bookworm "$sdir/$name-root"
		umoci unpack --image "$sdir/oci:$base" $sdir/bundle >/dev/null
		rsync -aHAX --numeric-ids --delete "$sdir/$name-root/" $sdir/bundle/rootfs/
		umoci repack --image "$sdir/oci:$name" $sdir/bundle
		umoci config --image "$sdir/oci:$name" --config.cmd /bin/sh
		rm -rf $sdir/bundle "$sdir/$name-root"
	done
	umoci gc --layout $sdir/oci
	touch $sdir/done
}


# bench_start NAME ROUNDS [WORKDIR [ROUNDS]]: the build's commands first on
# PATH; makes and enters WORKDIR (default ${TMPDIR:-/var/tmp}/gear-bench,
# absolute in $work), builds the set there when it is missing; $rounds is
# the second ROUNDS when given, else the first; $run is WORKDIR/NAME.PID
bench_start() {
	run_name=$1 rounds=${4:-$2}
	PATH="$top/bin:$top/scripts:$PATH"
	work=${3:-${TMPDIR:-/var/tmp}/gear-bench}
	mkdir -p "$work"
	work=$(cd "$work" && pwd)
	cd "$work"
	run="$work/$run_name.$$"
	build_set
}

# median: of the numbers on stdin, one a line
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# cold: nothing of the files in the page cache (the whole machine's)
cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# the services of the set the start-up benchmarks run, one a line: NAME PORT
# KIND COMMAND... (KIND: what the probe asks, http or redis)
set_services="python3 18080 http python3 -m http.server 18080 --bind 127.0.0.1
nginx 80 http nginx -g 'daemon off;'
redis 16379 redis redis-server --port 16379 --bind 127.0.0.1 --save '' --appendonly no
nodejs 18081 http node -e 'require(\"http\").createServer((q, r) => r.end(\"ok\")).listen(18081, \"127.0.0.1\")'"

# picked_services: the lines of set_services FS_START_IMAGES names ("NAME...";
# unset or empty: all); exits 2 when it names none
picked_services() {
	[ -z "${FS_START_IMAGES:-}" ] && echo "$set_services" && return
	echo "$set_services" | awk -v keep=" $FS_START_IMAGES " 'index(keep, " " $1 " ")' | grep . ||
		{ echo "FS_START_IMAGES names no image of the set" >&2; exit 2; }
}

# write_probe FILE: the probe, run as "$py FILE KIND PORT": waits until the
# service answers (polling every 5 ms, 120 s at most). Started before the container, so the clock stops at the first answer, not at
# the probe's own start-up; run by the interpreter itself, not a wrapper
# script on PATH (pyenv's shim costs 0.4 s of the 2 cores)
py=$(python3 -c 'import sys; print(sys.executable)')
write_probe() {
	cat >"$1" <<'EOF'
import socket, sys, time
kind, port = sys.argv[1], int(sys.argv[2])
req = b"PING\r\n" if kind == "redis" else b"GET / HTTP/1.0\r\n\r\n"
want = b"+PONG" if kind == "redis" else b"HTTP/1."
end = time.time() + 120
while time.time() < end:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(req)
        if s.recv(64).startswith(want):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.005)
sys.exit(1)
EOF
}
# port_free PORT: nothing listens on it, or the probe (started first) would hear that
port_free() {
	! ss -Hltn "sport = :$1" | grep -q . || { echo "port $1 is in use: stop what listens there" >&2; exit 1; }
}
