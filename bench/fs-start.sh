#!/bin/sh
# bench/fs-start.sh [WORKDIR [ROUNDS]]
#
# Cold start of a service from a registry: a Gear image (gear-pull of the
# index, gear-fs fetching each file on first open, the overlay gear-fs
# --overlay mounts for a container, podman) against two ordinary paths from
# the same registry: skopeo copy of the whole image, umoci unpack, podman
# run --rootfs; and podman pull + podman run (a private podman storage, so
# nothing is local), side by side, on the image set of bench/lib-set.sh:
#   python3   python3 -m http.server    answers GET /
#   nginx     nginx -g 'daemon off;'    answers GET /
#   redis     redis-server              answers PING with +PONG
#   nodejs    node, a one-line server   answers GET /
# The clock runs from nothing local (fresh trees, page cache dropped) to the
# service's first answer. Two links to the same registry storage: loopback
# (127.0.0.1), and a veth into a network namespace the benchmark creates,
# limited to 100 Mbit/s each way with tc (tbf). A third way is measured too:
# the Gear image mounted with gear-fs --prefetch (as its unit does), which
# fetches the files of the access list a first run recorded (from a mount
# where the image was built, before gear-push, which lays those files out
# first in its packs and ships the list) in the background, in the list's
# order, while the container starts.
#
# Prints, per image and link, the median seconds of ROUNDS (default 3) runs of
# each way and the ratios ordinary / gear and podman / gear; then, per image, the bytes each way
# moved over the limited link (the veth's counters: HTTP and TCP included)
# and gear's share of the ordinary path's bytes; first, the registry bytes of
# the gear images against the gzip layers (blobs each repository links to);
# FS_START_IMAGES picks some of the images (names, space-separated). FS_START_RECOMPRESS=LEVEL
# runs gear-recompress -l LEVEL on the store (its objects and its solid
# frames) once the images are built, before the pushes. Needs root, podman, FUSE,
# tc, and the Debian archive the first time (the image set). Run after make.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib-set.sh"
bench_start start 3 "$@"

ns=gearbench$$
hveth=gbh$$ nveth=gbn$$
haddr=10.231.$(($$ % 200)).1 naddr=10.231.$(($$ % 200)).2
podman="podman --runtime runc"
ulimits="--ulimit nofile=20000:20000 --ulimit nproc=4096:4096"

cleanup() {
	set +e
	for c in $($podman ps -a --format '{{.Names}}' | grep "^gb$$-"); do $podman rm -f -t 0 "$c" >/dev/null 2>&1; done
	for d in "$run"/podman-*; do
		[ -d "$d" ] && $podman --root "$d/storage" --runroot "/run/gb$$-${d##*/podman-}" rm -a -f -t 0 >/dev/null 2>&1
	done
	rm -rf /run/gb$$-*
	grep -o " $run/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
	gear-test-registry stop "$run/reg-lo" >/dev/null 2>&1
	ip netns exec $ns gear-test-registry stop "$run/reg-ns" >/dev/null 2>&1
	ip netns del $ns 2>/dev/null
	ip link del $hveth 2>/dev/null
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$run"

apps=$(picked_services)

write_probe "$run/probe.py"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b - a }'; }
rx() { cat /sys/class/net/$hveth/statistics/rx_bytes; }

# the limited link: a namespace behind a veth, 100 Mbit/s each way
ip netns add $ns
ip link add $hveth type veth peer name $nveth
ip link set $nveth netns $ns
ip addr add $haddr/24 dev $hveth
ip link set $hveth up
ip netns exec $ns ip addr add $naddr/24 dev $nveth
ip netns exec $ns ip link set $nveth up
ip netns exec $ns ip link set lo up
tc qdisc add dev $hveth root tbf rate 100mbit burst 256kb latency 100ms
ip netns exec $ns tc qdisc add dev $nveth root tbf rate 100mbit burst 256kb latency 100ms

# one registry storage, served on loopback and inside the namespace
lo=$(gear-test-registry start "$run/reg-lo")
limited=$(GEAR_REGISTRY_HOST=$naddr GEAR_REGISTRY_PORT=5000 GEAR_REGISTRY_DATA="$run/reg-lo/data" \
	ip netns exec $ns gear-test-registry start "$run/reg-ns")
echo "# registry on $lo (loopback) and $limited (100 Mbit/s veth)" >&2
# container NAME ROOTFS PORT KIND COMMAND...: runs it detached, waits for its answer
container() {
	c=gb$$-$1 root=$2 port=$3 kind=$4
	shift 4
	eval "set -- $*"
	port_free "$port"
	"$py" "$run/probe.py" "$kind" "$port" &
	probe=$!
	$podman run -d --name "$c" --network host $ulimits --rootfs "$root" "$@" >/dev/null || { kill $probe; exit 1; }
	wait $probe || { echo "$c does not answer:" >&2; $podman logs "$c" >&2; exit 1; }
}
gone() {
	$podman rm -f -t 0 "gb$$-$1" >/dev/null
}

# recorded NAME PORT KIND CMD: a first run from a mount of the image where it
# was built, which records its access list there; gear-push then lays the
# files it lists first in the image's packs, and ships the list for --prefetch
recorded() {
	name=$1
	d="$run/rec-$name"
	rm -rf "$d" && mkdir -p "$d/lower" "$d/upper" "$d/work" "$d/merged"
	GEAR_SYSROOT="$run/build" gear-fs "bench/$name" "$d/lower"
	mount -t overlay overlay -o "lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work" "$d/merged"
	shift
	container "$name" "$d/merged" "$@"
	gone "$name"
	umount "$d/merged"
	fusermount3 -u "$d/lower"
	while pgrep -f "gear-fs bench/$name $d/lower" >/dev/null; do sleep 0.05; done
	rm -rf "$d"
}

# plain REG NAME PORT KIND CMD: the ordinary path; prints seconds
plain() {
	reg=$1 name=$2
	d="$run/plain-$name"
	rm -rf "$d" && mkdir -p "$d"
	cold
	t0=$(now)
	skopeo copy -q --src-tls-verify=false "docker://$reg/plain/$name:latest" "oci:$d/oci:latest" >/dev/null
	umoci unpack --image "$d/oci:latest" "$d/bundle" >/dev/null 2>&1
	shift 2
	container "$name" "$d/bundle/rootfs" "$@"
	t1=$(now)
	gone "$name"
	rm -rf "$d"
	secs $t0 $t1
}

# pulled REG NAME PORT KIND CMD: podman pull and podman run, into an empty storage
# (its runroot short: podman refuses one over 50 characters); prints seconds
pulled() {
	reg=$1 name=$2 port=$3 kind=$4
	d="$run/podman-$name" rr="/run/gb$$-$name"
	p="$podman --root $d/storage --runroot $rr --storage-driver overlay"
	rm -rf "$d" "$rr" && mkdir -p "$d"
	cold
	t0=$(now)
	$p pull -q --tls-verify=false "$reg/plain/$name:latest" >/dev/null
	shift 4
	eval "set -- $*"
	port_free "$port"
	"$py" "$run/probe.py" "$kind" "$port" &
	probe=$!
	$p run -d --name "gb$$-$name" --network host $ulimits "$reg/plain/$name:latest" "$@" >/dev/null ||
		{ kill $probe; exit 1; }
	wait $probe || { echo "gb$$-$name does not answer:" >&2; $p logs "gb$$-$name" >&2; exit 1; }
	t1=$(now)
	$p rm -f -t 0 "gb$$-$name" >/dev/null
	$p rmi -a -f >/dev/null 2>&1
	grep -o " $d/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$d" "$rr"
	secs $t0 $t1
}

# lazy REG NAME PORT KIND CMD: a Gear image, fetched lazily; prints seconds
lazy() {
	reg=$1 name=$2
	d="$run/gear-$name"
	rm -rf "$d" && mkdir -p "$d/lower" "$d/upper" "$d/work" "$d/merged"
	cold
	t0=$(now)
	GEAR_SYSROOT="$d/root" gear-pull --tls-verify=false "docker://$reg/gear/$name:latest" "bench/$name" >/dev/null
	GEAR_SYSROOT="$d/root" gear-fs --direct $prefetch "bench/$name" "$d/lower"
	GEAR_SYSROOT="$d/root" gear-fs --overlay "$d/lower" "$d/upper" "$d/work" "$d/merged"
	shift 2
	container "$name" "$d/merged" "$@"
	t1=$(now)
	gone "$name"
	umount "$d/merged"
	fusermount3 -u "$d/lower"
	while pgrep -f "gear-fs --direct .*bench/$name $d/lower" >/dev/null; do sleep 0.05; done
	cp "$d/root/var/lib/gear/images/bench/$name/latest/fs.stats" "$run/stats-$name"
	rm -rf "$d"
	secs $t0 $t1
}
prefetch=

# prefetched REG NAME PORT KIND CMD: the same, mounted with --prefetch
prefetched() {
	prefetch=--prefetch
	lazy "$@"
	prefetch=
}

# bytes WAY NAME PORT KIND CMD: bytes moved over the limited link by one cold start
bytes() {
	way=$1
	shift
	b0=$(rx)
	$way "$limited" "$@" >/dev/null
	echo $(($(rx) - b0))
}

echo "$apps" | while read -r name port kind cmd; do
	skopeo copy -q --dest-tls-verify=false "oci:$sdir/oci:$name" "docker://$lo/plain/$name:latest" >/dev/null
	GEAR_SYSROOT="$run/build" gear-build -q "oci:$sdir/oci:$name" "bench/$name" >/dev/null
	recorded "$name" $port $kind "$cmd"
done
[ -z "${FS_START_RECOMPRESS:-}" ] ||
	GEAR_SYSROOT="$run/build" gear-recompress -l "$FS_START_RECOMPRESS" >/dev/null
echo "$apps" | while read -r name port kind cmd; do
	GEAR_SYSROOT="$run/build" gear-push --tls-verify=false "bench/$name" "docker://$lo/gear/$name" >/dev/null
done
# repo_bytes PREFIX: the bytes of the blobs the registry's repositories PREFIX/* link to, each blob once
repo_bytes() {
	v2="$run/reg-lo/data/docker/registry/v2"
	find "$v2/repositories/$1" -name link -path "*/sha256/*" | sed 's|.*/sha256/\([0-9a-f]*\)/link$|\1|' | sort -u |
		while read -r h; do stat -c %s "$v2/blobs/sha256/$(echo $h | cut -c1-2)/$h/data"; done |
		awk '{ s += $1 } END { print s + 0 }'
}
pb=$(repo_bytes plain) gb=$(repo_bytes gear)
printf "registry storage, these images, access lists recorded: gzip layers %.1f MB, gear %.1f MB: %.1f%% saved\n\n" \
	$(awk -v b=$pb 'BEGIN { print b / 1e6 }') $(awk -v b=$gb 'BEGIN { print b / 1e6 }') \
	$(awk -v p=$pb -v g=$gb 'BEGIN { print 100 * (1 - g / p) }')

printf "%-8s %-8s %9s %9s %9s %9s %8s %8s %8s\n" image link ordinary-s podman-s gear-s prefetch-s ratio ratio-pf pod-pf
echo "$apps" | while read -r name port kind cmd; do
	for link in loopback limited; do
		reg=$lo
		[ $link = loopback ] || reg=$limited
		: >"$run/p" && : >"$run/g" && : >"$run/f" && : >"$run/d"
		i=0
		while [ $i -lt "$rounds" ]; do
			plain "$reg" "$name" $port $kind "$cmd" >>"$run/p"
			pulled "$reg" "$name" $port $kind "$cmd" >>"$run/d"
			lazy "$reg" "$name" $port $kind "$cmd" >>"$run/g"
			prefetched "$reg" "$name" $port $kind "$cmd" >>"$run/f"
			i=$((i + 1))
		done
		p=$(median <"$run/p") g=$(median <"$run/g") f=$(median <"$run/f") d=$(median <"$run/d")
		printf "%-8s %-8s %9s %9s %9s %9s %7.1fx %7.1fx %7.1fx\n" $name $link $p $d $g $f \
			$(awk -v p=$p -v g=$g 'BEGIN { print p / g }') $(awk -v p=$p -v f=$f 'BEGIN { print p / f }') \
			$(awk -v p=$d -v f=$f 'BEGIN { print p / f }')
	done
done

echo
printf "%-8s %12s %10s %12s %7s %12s %7s %10s %10s\n" image ordinary-MB podman-MB gear-MB share prefetch-MB share files-read image-files
echo "$apps" | while read -r name port kind cmd; do
	bp=$(bytes plain "$name" $port $kind "$cmd")
	bd=$(bytes pulled "$name" $port $kind "$cmd")
	bg=$(bytes lazy "$name" $port $kind "$cmd")
	read_files=$(awk '$1 == "fetched_files" { print $2 }' "$run/stats-$name")
	bf=$(bytes prefetched "$name" $port $kind "$cmd")
	all=$(GEAR_SYSROOT="$run/build" gear-images | awk -F'\t' -v n="bench/$name" '$1 == n { print $3 }')
	printf "%-8s %12.1f %10.1f %12.1f %6.1f%% %12.1f %6.1f%% %10s %10s\n" $name \
		$(awk -v b=$bp 'BEGIN { print b / 1e6 }') $(awk -v b=$bd 'BEGIN { print b / 1e6 }') $(awk -v b=$bg 'BEGIN { print b / 1e6 }') \
		$(awk -v p=$bp -v g=$bg 'BEGIN { print 100 * g / p }') $(awk -v b=$bf 'BEGIN { print b / 1e6 }') \
		$(awk -v p=$bp -v g=$bf 'BEGIN { print 100 * g / p }') "$read_files" "$all"
done
