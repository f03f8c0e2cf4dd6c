#!/bin/sh
# fuzz.sh [RUNS] [TARGET...]: each libFuzzer target for RUNS executions (default 10^7),
# one at a time under nice, corpora kept in fuzz/corpus.NAME; prints executions,
# exec/s and crashes per target. Scratch files go to TMPDIR (default /dev/shm, which
# keeps the targets that write trees off the disk); ASan keeps freed memory mapped.
set -e
cd "$(dirname "$0")/.."
[ -n "$TMPDIR" ] || { [ -d /dev/shm ] && export TMPDIR=/dev/shm; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-release_to_os_interval_ms=-1:quarantine_size_mb=8}
runs=${1:-10000000}
[ $# -gt 0 ] && shift
targets=$*
[ -n "$targets" ] || targets=$(ls fuzz/fuzz-*.c | sed 's/\.c$//')
make -s $targets
printf '%-20s %12s %10s %8s\n' target executions exec/s crashes
for f in $targets; do
	name=$(basename "$f")
	corpus=fuzz/corpus.$name
	arts=fuzz/crash.$name
	mkdir -p "$corpus" "$arts"
	seeds=
	[ -d "fuzz/seeds/$name" ] && seeds="fuzz/seeds/$name"
	nice -n 10 "./$f" -runs="$runs" -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
		-print_final_stats=1 -artifact_prefix="$arts/" "$corpus" $seeds \
		>"$corpus.log" 2>&1 || true
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$corpus.log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$corpus.log")
	crashes=$(ls "$arts" | wc -l)
	printf '%-20s %12s %10s %8s\n' "$name" "${execs:-?}" "${speed:-?}" "$crashes"
done
