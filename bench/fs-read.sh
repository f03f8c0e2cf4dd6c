#!/bin/sh
# bench/fs-read.sh [WORKDIR [ROUNDS]]
#
# Warm reads through a gear-fs mount against the same files in a native
# directory (umoci unpack of the same image, on the same disk), side by side.
# "Warm" means every file is already in public/: nothing is fetched. Files
# from the image set of bench/lib-set.sh:
#   small  open+read+close of every file under 16 KiB in python3's
#          /usr/lib/python3.11 (the files an interpreter opens at start)
#   large  a sequential read of the largest file of the nodejs image
# each with the page cache warm (a pass before the clock runs), and dropped
# (echo 3 >/proc/sys/vm/drop_caches before each run: the first read after a
# boot or a fetch). Two ways through gear: the gear-fs mount itself (FUSE),
# and the overlay a container runs on (gear-fs --overlay: the --direct
# mount, and public/ as a data-only layer below it, so fetched files are
# read from public/ directly). Prints, per case, the median of ROUNDS (default 5) runs
# of each side, taking turns, and the ratios gear / native: per file for
# small files, MB/s for the large file. Two more columns for the overlay:
# the one containers got before (over a mount without --direct alone:
# every read through FUSE), and its peer, a plain overlay over the native directory, as a
# container engine runs a container on its image's layers. Needs root and
# FUSE. Run after make.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib-set.sh"
bench_start read 5 "$@"

cleanup() {
	set +e
	for m in "$run"/ov-*/merged "$run"/fovl-*/merged "$run"/novl-*/merged; do umount "$m" 2>/dev/null; done
	for m in "$run"/mnt-* "$run"/fmnt-*; do fusermount3 -u -q "$m" 2>/dev/null; done
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$run"
export GEAR_SYSROOT="$run/root"

cc -O2 -o "$run/readfiles" "$top/bench/readfiles.c"

for name in python3 nodejs; do
	gear-build -q "oci:$sdir/oci:$name" "bench/$name" >/dev/null
	umoci unpack --image "$sdir/oci:$name" "$run/native-$name" >/dev/null 2>&1
	mkdir -p "$run/mnt-$name" "$run/fmnt-$name"
	gear-fs --direct "bench/$name" "$run/mnt-$name"
	gear-fs "bench/$name" "$run/fmnt-$name"
done

(cd "$run/native-python3/rootfs" && find usr/lib/python3.11 -type f -size -16k | sort) >"$run/small"
(cd "$run/native-nodejs/rootfs" && find . -type f -printf "%s %p\n" | sort -n | tail -n 1 | cut -d" " -f2) >"$run/large"
# warm public/: every chosen file fetched once
(cd "$run/mnt-python3" && "$run/readfiles" 1 "$run/small" >/dev/null)
(cd "$run/mnt-nodejs" && "$run/readfiles" 1 "$run/large" >/dev/null)
# the overlays, made once public/ is warm, as a container started then gets them
for name in python3 nodejs; do
	mkdir -p "$run/ov-$name/upper" "$run/ov-$name/work" "$run/ov-$name/merged"
	gear-fs --overlay "$run/mnt-$name" "$run/ov-$name/upper" "$run/ov-$name/work" "$run/ov-$name/merged"
	mkdir -p "$run/fovl-$name/upper" "$run/fovl-$name/work" "$run/fovl-$name/merged"
	mount -t overlay overlay -o "lowerdir=$run/fmnt-$name,upperdir=$run/fovl-$name/upper,workdir=$run/fovl-$name/work" \
		"$run/fovl-$name/merged"
	mkdir -p "$run/novl-$name/upper" "$run/novl-$name/work" "$run/novl-$name/merged"
	mount -t overlay overlay -o "lowerdir=$run/native-$name/rootfs,upperdir=$run/novl-$name/upper,workdir=$run/novl-$name/work" \
		"$run/novl-$name/merged"
done
nsmall=$(wc -l <"$run/small")
large_mb=$(cd "$run/native-nodejs/rootfs" && stat -c %s "$(cat "$run/large")" | awk '{ printf "%.1f", $1 / 1e6 }')

# measure DIR LIST REPEAT DROP: seconds of one run
measure() {
	[ "$4" = drop ] && cold
	(cd "$1" && "$run/readfiles" "$3" "$2" | cut -d" " -f1)
}

# case LABEL NAME LIST REPEAT DROP UNIT: UNIT "us" per file or "MB/s"
bench_case() {
	: >"$run/g" && : >"$run/n" && : >"$run/o" && : >"$run/p" && : >"$run/f"
	# one pass first, so a warm case starts warm on every side
	measure "$run/mnt-$2" "$3" 1 keep >/dev/null
	measure "$run/ov-$2/merged" "$3" 1 keep >/dev/null
	measure "$run/native-$2/rootfs" "$3" 1 keep >/dev/null
	measure "$run/novl-$2/merged" "$3" 1 keep >/dev/null
	measure "$run/fovl-$2/merged" "$3" 1 keep >/dev/null
	i=0
	while [ $i -lt "$rounds" ]; do
		measure "$run/native-$2/rootfs" "$3" "$4" "$5" >>"$run/n"
		measure "$run/mnt-$2" "$3" "$4" "$5" >>"$run/g"
		measure "$run/ov-$2/merged" "$3" "$4" "$5" >>"$run/o"
		measure "$run/novl-$2/merged" "$3" "$4" "$5" >>"$run/p"
		measure "$run/fovl-$2/merged" "$3" "$4" "$5" >>"$run/f"
		i=$((i + 1))
	done
	n=$(median <"$run/n") g=$(median <"$run/g") o=$(median <"$run/o") p=$(median <"$run/p") f=$(median <"$run/f")
	if [ "$6" = us ]; then
		files=$(($(wc -l <"$3") * $4))
		printf "%-34s %9.2f %9.2f %9.2f %7.2fx %7.2fx %7.2fx %7.2fx\n" "$1 (us/file)" \
			$(awk -v t=$n -v f=$files 'BEGIN { print 1e6 * t / f }') \
			$(awk -v t=$g -v f=$files 'BEGIN { print 1e6 * t / f }') \
			$(awk -v t=$o -v f=$files 'BEGIN { print 1e6 * t / f }') \
			$(awk -v n=$n -v g=$g 'BEGIN { print g / n }') \
			$(awk -v n=$n -v g=$o 'BEGIN { print g / n }') \
			$(awk -v n=$n -v g=$f 'BEGIN { print g / n }') \
			$(awk -v n=$n -v g=$p 'BEGIN { print g / n }')
	else
		printf "%-34s %9.0f %9.0f %9.0f %7.2fx %7.2fx %7.2fx %7.2fx\n" "$1 (MB/s)" \
			$(awk -v t=$n -v m=$large_mb -v r=$4 'BEGIN { print m * r / t }') \
			$(awk -v t=$g -v m=$large_mb -v r=$4 'BEGIN { print m * r / t }') \
			$(awk -v t=$o -v m=$large_mb -v r=$4 'BEGIN { print m * r / t }') \
			$(awk -v n=$n -v g=$g 'BEGIN { print g / n }') \
			$(awk -v n=$n -v g=$o 'BEGIN { print g / n }') \
			$(awk -v n=$n -v g=$f 'BEGIN { print g / n }') \
			$(awk -v n=$n -v g=$p 'BEGIN { print g / n }')
	fi
}

echo "# $nsmall small files, one large file of $large_mb MB; ratio: gear time / native time"
printf "%-34s %9s %9s %9s %8s %8s %8s %8s\n" case native gear-fs overlay "fs/nat" "ov/nat" "ovfs/nat" "novl/nat"
bench_case "small files, page cache warm" python3 "$run/small" 20 keep us
bench_case "small files, page cache dropped" python3 "$run/small" 1 drop us
bench_case "large file, page cache warm" nodejs "$run/large" 3 keep MB/s
bench_case "large file, page cache dropped" nodejs "$run/large" 1 drop MB/s
