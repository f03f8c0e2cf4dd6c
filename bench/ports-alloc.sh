#!/bin/sh
# gear-ports alloc on a tree holding 100 and 10,000 allocated ports, with
# the cost of starting a process (/bin/true) measured in the same run.
# usage: bench/ports-alloc.sh [RUNS]
set -e
cd "$(dirname "$0")/.."
runs=${1:-300}
make -s all
PATH=$PWD/bin:$PATH
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine" >&2; exit 111; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fill() { # fill ROOT COUNT: COUNT ports held by COUNT/100 containers
	n=0
	while [ $n -lt $(($2 / 100)) ]; do
		GEAR_SYSROOT=$1 gear-ports alloc "fill$n" $(seq 1 100) >/dev/null
		n=$((n + 1))
	done
}

median_ms() { # the median column of hyperfine's CSV, in ms
	awk -F, 'NR == 2 { printf "%.3f", $4 * 1000 }' "$1"
}

fill "$work/small" 100
fill "$work/large" 10000
for size in small large; do
	GEAR_SYSROOT=$work/$size hyperfine -N -w 20 -r "$runs" \
		-p "gear-ports release bench" --export-csv "$work/$size.csv" \
		"gear-ports alloc bench 80" >/dev/null 2>&1
done
hyperfine -N -w 20 -r "$runs" --export-csv "$work/true.csv" true >/dev/null 2>&1

t=$(median_ms "$work/true.csv")
s=$(median_ms "$work/small.csv")
l=$(median_ms "$work/large.csv")
printf 'gear-ports alloc, median of %s runs\n' "$runs"
printf '  process start (/bin/true)   %8s ms\n' "$t"
printf '  100 ports allocated         %8s ms  (%.2fx true)\n' "$s" "$(echo "$s / $t" | bc -l)"
printf '  10,000 ports allocated      %8s ms  (%.2fx true, %.2fx the 100-port tree)\n' "$l" \
	"$(echo "$l / $t" | bc -l)" "$(echo "$l / $s" | bc -l)"
