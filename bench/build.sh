#!/bin/sh
# bench/build.sh [WORKDIR [ROUNDS]]
#
# gear-build against umoci unpack, side by side, on real Debian images, and
# the store a whole image set takes against the registry's compressed layers.
#
# The image set is bench/lib-set.sh's, built once and kept in WORKDIR/set.
# Needs root and the Debian archive.
#
# Prints, per image: the content (bytes of regular files, as gear-build counts
# them), the seconds and MB/s of umoci unpack and of gear-build (each into a
# fresh directory, after sync; gear-build includes its fsyncs, umoci does
# none), and their ratio: medians of ROUNDS (default 3) runs of each, taking
# turns; nothing is deleted until the end (a file system that has just freed
# many inodes makes creating files slower for a few minutes). Then the machine's single-core speed for the same
# work (SHA-256, gzip inflate, zstd at the store's level), the bound it puts on two cores, and
# gear-build's share of it. Then the storage of the whole set.
set -e

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib-set.sh"
bench_start build 3 "$@"

now() { date +%s.%N; }
# mbps BYTES SECONDS
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# layers IMAGE: the digests and sizes of an image's layers, "HEX SIZE" per line
layers() {
	python3 - "$1" "$sdir" <<'EOF'
import json, sys
d = sys.argv[2] + "/oci/"
for m in json.load(open(d + "index.json"))["manifests"]:
    if m["annotations"]["org.opencontainers.image.ref.name"] == sys.argv[1]:
        man = json.load(open(d + "blobs/sha256/" + m["digest"][7:]))
        for l in man["layers"]:
            print(l["digest"][7:], l["size"])
EOF
}

images="base1 python3 nginx redis postgresql nodejs"
run="run.$$"
mkdir -p "$run"

i=0
while [ $i -lt "$rounds" ]; do
	i=$((i + 1))
	for img in $images; do
		sync
		t0=$(now)
		umoci unpack --image "$sdir/oci:$img" "$run/u$i-$img" >/dev/null 2>&1
		t1=$(now)
		sync
		t2=$(now)
		GEAR_SYSROOT="$work/$run/g$i-$img" gear-build "oci:$sdir/oci:$img" "bench/$img" >"$run/out-$img"
		t3=$(now)
		echo "$(secs $t0 $t1) $(secs $t2 $t3)" >>"$run/times-$img"
	done
done

printf "%-11s %9s %8s %8s %8s %8s %6s\n" image content-MB umoci-s umoci-MB/s gear-s gear-MB/s ratio
tot_bytes=0 tot_u=0 tot_g=0
for img in $images; do
	bytes=$(sed -n 's/^bytes-in	//p' "$run/out-$img")
	u=$(cut -d" " -f1 "$run/times-$img" | median) g=$(cut -d" " -f2 "$run/times-$img" | median)
	printf "%-11s %9s %8s %8s %8s %8s %6s\n" $img $(mbps $bytes 1) $u $(mbps $bytes $u) $g $(mbps $bytes $g) \
		$(awk -v u=$u -v g=$g 'BEGIN { printf "%.2fx", u / g }')
	tot_bytes=$((tot_bytes + bytes))
	tot_u=$(awk -v a=$tot_u -v b=$u 'BEGIN { print a + b }')
	tot_g=$(awk -v a=$tot_g -v b=$g 'BEGIN { print a + b }')
done
printf "%-11s %9s %8s %8s %8s %8s %6s\n" all $(mbps $tot_bytes 1) $tot_u $(mbps $tot_bytes $tot_u) $tot_g \
	$(mbps $tot_bytes $tot_g) $(awk -v u=$tot_u -v g=$tot_g 'BEGIN { printf "%.2fx", u / g }')

# the machine's speed for the same work, one core each
big=$(for img in $images; do layers $img; done | sort -k2 -n | tail -1 | cut -d" " -f1)
zcat "$sdir/oci/blobs/sha256/$big" >"$run/layer.tar"
raw=$(stat -c %s "$run/layer.tar")
t0=$(now); zcat "$sdir/oci/blobs/sha256/$big" >/dev/null; t1=$(now)
inflate=$(mbps $raw $(secs $t0 $t1))
level=$(sed -n 's/^#define STORE_ZSTD_LEVEL //p' "$top/common/store/store.h")
t0=$(now); zstd -q -$level -T1 -c "$run/layer.tar" >/dev/null; t1=$(now)
zstd=$(mbps $raw $(secs $t0 $t1))
sha=$(openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null | awk '/^sha256/ { sub("k", "", $2); printf "%.1f", $2 / 1000 }')
bound=$(awk -v i=$inflate -v z=$zstd -v s=$sha 'BEGIN { printf "%.1f", 2 / (1 / i + 1 / z + 1 / s) }')
cores=$(nproc)
echo
echo "machine, one core: sha256 $sha MB/s, gzip inflate $inflate MB/s, zstd -$level $zstd MB/s"
echo "bound for inflate + sha256 + zstd on 2 of $cores cores: $bound MB/s;" \
	"gear-build reached $(mbps $tot_bytes $tot_g) MB/s =" \
	"$(awk -v b=$bound -v g=$(mbps $tot_bytes $tot_g) 'BEGIN { printf "%.0f%%", 100 * g / b }') of it"

# storage: the whole set in one store against the registry's unique layers
export GEAR_SYSROOT="$work/$run/all"
for img in $images; do
	gear-build -q "oci:$sdir/oci:$img" "bench/$img" >/dev/null
done
store=$(find "$GEAR_SYSROOT/var/lib/gear/objects" -path "*/objects/??/*" -type f -printf "%s\n" | awk '{ s += $1 } END { print s }')
index=$(for img in $images; do
	d="$GEAR_SYSROOT/var/lib/gear/images/bench/$img/latest/blobs/sha256"
	for b in "$d"/*; do if gzip -t "$b" 2>/dev/null; then stat -c %s "$b"; fi; done
done | awk '{ s += $1 } END { print s }')
registry=$(for img in $images; do layers $img; done | sort -u | awk '{ s += $2 } END { print s }')
content=$(gear-images | awk -F'\t' '{ s += $4 } END { print s }')
distinct=$(for img in $images; do gear-index "bench/$img"; done |
	awk -F'\t' '$1 == "f" { print $6, $5 }' | sort -u | awk '{ s += $2 } END { print s }')
echo
echo "storage of all $(echo $images | wc -w) images:"
echo "  registry, unique gzip layers:     $(mbps $registry 1) MB"
echo "  images' file content, uncompressed: $(mbps $content 1) MB"
echo "  distinct file contents, uncompressed: $(mbps $distinct 1) MB"
echo "  gear store (objects):             $(mbps $store 1) MB" \
	"($(du -sm "$GEAR_SYSROOT/var/lib/gear/objects" | cut -f1) MB on disk, in blocks)"
echo "  gear index layers:                $(mbps $index 1) MB"
echo "  gear store + indexes vs registry: $(awk -v s=$store -v i=$index -v r=$registry 'BEGIN { printf "%.1f%% saved", 100 * (1 - (s + i) / r) }')"
rm -rf "$run"
