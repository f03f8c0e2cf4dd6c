#!/bin/sh
# bench/start-reads.sh [WORKDIR]
#
# The bytes a cold start of each service of bench/lib-set.sh reads, and so the
# floor of what any lazy fetch of its image must move: the image unpacked
# (umoci) onto an ext4 file system on a loop device whose read-ahead is 0, the
# page cache dropped, the service run (podman run --rootfs) until its first
# answer; then the pages of its files in the page cache, which with no
# read-ahead are the pages the start read (and what the kernel's fault-around
# mapped of them, which reads nothing).
#
# Prints per image: the ordinary pull's bytes (its gzip layers), the MB the
# start read, and for slices of 4 KiB to 1 MiB (a fetch that brings a whole
# slice for any page of it) the MB of those slices and what they take
# compressed as one zstd stream at level 19 (bench/residency.c), with that
# share of the ordinary pull. What gear moves is in bench/fs-start.sh; its
# index, object map and the HTTP overhead come on top of these floors.
# FS_START_IMAGES picks some of the images (names, space-separated).
# Needs root, podman, a free loop device and the Debian archive the first time.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib-set.sh"
bench_start start-reads 1 "$@"

podman="podman --runtime runc"
ulimits="--ulimit nofile=20000:20000 --ulimit nproc=4096:4096"
loop=
cleanup() {
	set +e
	$podman rm -f -t 0 "gr$$" >/dev/null 2>&1
	mountpoint -q "$run/fs" && umount "$run/fs"
	[ -n "$loop" ] && losetup -d "$loop"
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$run/fs"
cc -O2 -o "$run/residency" "$top/bench/residency.c" -lzstd
write_probe "$run/probe.py"

truncate -s 4G "$run/fs.img"
mkfs.ext4 -q -F "$run/fs.img"
loop=$(losetup -f --show "$run/fs.img")
mount "$loop" "$run/fs"
blockdev --setra 0 "$loop"
[ "$(blockdev --getra "$loop")" = 0 ] || { echo "cannot turn read-ahead off on $loop" >&2; exit 1; }

apps=$(picked_services)

# layer_bytes NAME: the bytes of the image's layers in the set's layout (what an ordinary pull moves)
layer_bytes() {
	python3 - "$sdir/oci" "$1" <<'EOF'
import json, sys
oci, tag = sys.argv[1], sys.argv[2]
m = [x for x in json.load(open(oci + "/index.json"))["manifests"]
     if x.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
m = json.load(open(oci + "/blobs/sha256/" + m["digest"].split(":")[1]))
print(sum(l["size"] for l in m["layers"]))
EOF
}

printf "%-8s %9s %9s" image pull-MB read-MB
for s in 4K 16K 64K 256K 1M; do printf " %20s" "$s:MB/zstd/share"; done
echo
echo "$apps" | while read -r name port kind cmd; do
	root="$run/fs/$name"
	umoci unpack --image "$sdir/oci:$name" "$root" >/dev/null 2>&1
	eval "set -- $cmd"
	port_free "$port"
	cold
	"$py" "$run/probe.py" "$kind" "$port" &
	probe=$!
	$podman run -d --name "gr$$" --network host $ulimits --rootfs "$root/rootfs" "$@" >/dev/null || { kill $probe; exit 1; }
	wait $probe || { echo "$name does not answer:" >&2; $podman logs "gr$$" >&2; exit 1; }
	$podman rm -f -t 0 "gr$$" >/dev/null
	find "$root/rootfs" -type f -size +0 | "$run/residency" >"$run/res"
	pull=$(layer_bytes "$name")
	printf "%-8s %9.1f %9.1f" "$name" "$(awk -v b="$pull" 'BEGIN { print b / 1e6 }')" \
		"$(awk '$1 == "resident" { print $2 }' "$run/res")"
	awk -v p="$pull" '$1 == "slice" { printf " %7.1f %5.2f %5.1f%%", $3, $4, 100 * $4 * 1e6 / p }' "$run/res"
	echo
	rm -rf "$root"
done
