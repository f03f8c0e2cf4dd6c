#!/bin/sh
# bench/startup.sh [RUNS]: what a small tool pays to start, against cat
#
# In a scratch tree (GEAR_SYSROOT) holding one container's environment, SSH
# key and ports: the median wall time of each command over RUNS runs
# (default 300, hyperfine, no shell), its ratio to "cat" of a small file
# measured in the same run, the shared objects mapped when main starts (the
# dynamic loader's list, as ldd counts it) and all the objects the command
# has mapped when it ends (the dynamic loader's link maps, LD_DEBUG=files:
# libraries loaded on demand included). GEAR_BENCH_BIN=DIR measures the
# gear-* links in DIR instead of this build's (another build, to compare).
# Run as root, after make.
set -eu

runs=${1:-300}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/gear-startup.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
export GEAR_SYSROOT="$work/root"
B=${GEAR_BENCH_BIN:-$top/bin}
id=benchstart1

# a container that exists (its unit file), its environment, a key and ports
mkdir -p "$GEAR_SYSROOT/var/lib/containers/units/be" "$work/home"
: >"$GEAR_SYSROOT/var/lib/containers/units/be/ctr-$id.service"
"$B/gear-set-env" $id GREETING=hello PORT=8080 >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$work/home/key"
"$B/gear-keys" add --key-file "$work/home/key.pub" $id >/dev/null
"$B/gear-ports" alloc $id 8080 >/dev/null
envfile=$(find "$GEAR_SYSROOT/var/lib/containers/env/contents" -type f | head -n 1)
small="$work/small"
cp "$envfile" "$small"

# name|command line, the first is the peer
set -- \
	"cat|cat $small" \
	"gear-env|$B/gear-env $id" \
	"gear-auth-keys-command|$B/gear-auth-keys-command ctr-$id" \
	"gear-keys list|$B/gear-keys list $id" \
	"gear-ports list|$B/gear-ports list" \
	"gear-set-env|$B/gear-set-env $id GREETING=hello" \
	"gear-clean --dry-run|$B/gear-clean --dry-run" \
	"gear-images|$B/gear-images"

at_main=$(LD_TRACE_LOADED_OBJECTS=1 "$B/gear" | grep -c .)
cat_main=$(LD_TRACE_LOADED_OBJECTS=1 "$(command -v cat)" | grep -c .)
printf '%-24s %10s %7s %8s %8s\n' command median_us ratio at_main at_end
peer=
for c in "$@"; do
	name=${c%%|*}
	cmd=${c#*|}
	hyperfine -N --style none --warmup 20 --runs "$runs" \
		--export-csv "$work/h.csv" "$cmd" >/dev/null 2>&1
	# median in seconds, the 5th column of hyperfine's CSV
	med=$(awk -F, 'NR == 2 { printf "%.0f", $5 * 1e6 }' "$work/h.csv")
	[ -n "$peer" ] || peer=$med
	# every object the loader mapped, the program itself and the vDSO aside
	# (ldd lists the vDSO and the loader too, not the program)
	end=$(LD_DEBUG=files $cmd 2>&1 >/dev/null | grep -c 'generating link map')
	if [ "$name" = cat ]; then main=$cat_main; else main=$at_main; fi
	printf '%-24s %10s %7s %8s %8s\n' "$name" "$med" \
		"$(awk -v a="$med" -v b="$peer" 'BEGIN { printf "%.2f", a / b }')" "$main" "$((end + 2))"
done
