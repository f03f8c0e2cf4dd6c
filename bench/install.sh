#!/bin/sh
# bench/install.sh [BIG [SMALL [N]]]: does gear-install stay flat as the host fills?
#
# Two hosts, each a private systemd user manager with its own trees: one
# already holding SMALL containers (default 100), one holding BIG (default
# 10000). N more containers (default 1000) are installed on each, without
# starting them, one gear-install per container as a script would, the two
# hosts taking turns so that both see the same machine. Prints the median and
# 90th percentile of one install, and the time of "gear-list-units --all"
# (median of 5) on each host afterwards, with the ratios BIG/SMALL.
# Identifiers are random, as gear-tree(5) recommends. Run as root,
# after make.
set -eu

big=${1:-10000}
small=${2:-100}
n=${3:-1000}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$top/scripts:$PATH"
image=localhost/bench:latest
work=$(mktemp -d /tmp/gear-bench.XXXXXX)
export PATH

cleanup() {
	for h in small big; do
		GEAR_SYSROOT=$work/$h gear-test-systemd stop "$work/$h.sd" >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# N random 12-hex-digit identifiers, distinct, starting with a letter
ids() {
	awk -v n="$1" -v seed="$2" 'BEGIN {
		srand(seed)
		while (k < n) {
			id = sprintf("%c%05x%06x", 97 + int(rand() * 6), int(rand() * 1048576), int(rand() * 16777216))
			if (!(id in seen)) { seen[id] = 1; print id; k++ }
		}
	}'
}

# runs a command against host $1's manager, from outside its namespace
on() {
	h=$1
	shift
	. "$work/$h.sd/env"
	GEAR_SYSROOT=$work/$h XDG_RUNTIME_DIR=$GEAR_TEST_RUNTIME_DIR GEAR_SYSTEMD=user "$@"
}

now_us() { date +%s%6N; }

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
p90() { sort -n "$1" | awk '{ v[NR] = $1 } END { i = int(NR * 0.9); if (i < 1) i = 1; print v[i] }'; }

for h in small big; do
	GEAR_SYSROOT=$work/$h gear-test-systemd start "$work/$h.sd" >/dev/null
done

echo "bench: filling the hosts: $small and $big containers"
ids "$small" 1 >"$work/small.fill"
ids "$big" 2 >"$work/big.fill"
ids "$n" 3 | sed 's/^/m/' >"$work/measure"
for h in small big; do
	t0=$(now_us)
	on $h xargs -P 4 -n 1 gear-install "$image" <"$work/$h.fill" ||
		{ echo "bench: cannot fill the $h host" >&2; exit 111; }
	t1=$(now_us)
	echo "bench: $h host filled in $(( (t1 - t0) / 1000 )) ms"
done

echo "bench: $n installs on each host, taking turns"
: >"$work/small.t"
: >"$work/big.t"
while read -r id; do
	for h in small big; do
		t0=$(now_us)
		on $h gear-install "$image" "$id" || { echo "bench: install failed on $h" >&2; exit 111; }
		t1=$(now_us)
		echo $((t1 - t0)) >>"$work/$h.t"
	done
done <"$work/measure"

for h in small big; do
	: >"$work/$h.list"
	for i in 1 2 3 4 5; do
		t0=$(now_us)
		on $h gear-list-units --all >"$work/$h.out"
		t1=$(now_us)
		echo $((t1 - t0)) >>"$work/$h.list"
	done
	eval "${h}_count=\$(wc -l <\"$work/$h.out\")"
	eval "${h}_med=\$(median \"$work/$h.t\")"
	eval "${h}_p90=\$(p90 \"$work/$h.t\")"
	eval "${h}_list=\$(median \"$work/$h.list\")"
done

[ "$small_count" = $((small + n)) ] && [ "$big_count" = $((big + n)) ] ||
	{ echo "bench: list-units --all printed $small_count and $big_count lines" >&2; exit 1; }

awk -v s="$small" -v b="$big" -v n="$n" \
	-v sm="$small_med" -v bm="$big_med" -v sp="$small_p90" -v bp="$big_p90" \
	-v sl="$small_list" -v bl="$big_list" -v sc="$small_count" -v bc="$big_count" 'BEGIN {
	printf "\n%-40s %12s %12s %10s\n", "", "host of " s, "host of " b, "ratio"
	printf "%-40s %12.2f %12.2f %10.2f\n", "gear-install, median ms (" n " each)", sm / 1000, bm / 1000, bm / sm
	printf "%-40s %12.2f %12.2f %10.2f\n", "gear-install, 90th percentile ms", sp / 1000, bp / 1000, bp / sp
	printf "%-40s %12.1f %12.1f %10.2f\n", "gear-list-units --all, ms", sl / 1000, bl / 1000, bl / sl
	printf "%-40s %12d %12d %10.2f\n", "  containers listed", sc, bc, bc / sc
	printf "%-40s %12.2f %12.2f %10.2f\n", "  us per container listed", sl / sc, bl / bc, (bl / bc) / (sl / sc)
}'
