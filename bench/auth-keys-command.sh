#!/bin/sh
# bench/auth-keys-command.sh: gear-auth-keys-command for one container on a
# tree of 100 containers / 200 keys and of 10,000 containers / 20,000 keys,
# next to cat(1) of the same lines as a static authorized_keys file, measured
# in the same run. Keys are added with gear-keys (two ed25519-shaped keys per
# container); units are written directly with two X-PortMapping lines each.
#
#   bench/auth-keys-command.sh [SMALL LARGE]     (containers; default 100 10000)
#   BENCH_DIR=DIR   where the trees are built (default: a new directory in $TMPDIR)
#   RUNS=N          calls per measurement (default 1000)
#   GEAR_BIN=DIR    where gear-keys and gear-auth-keys-command are (default: bin/)
set -e
cd "$(dirname "$0")/.."
top=$(pwd)
small=${1:-100}
large=${2:-10000}
runs=${RUNS:-1000}
bin=${GEAR_BIN:-$top/bin}
[ -x "$bin/gear-auth-keys-command" ] || { echo "bench: run make first" >&2; exit 111; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine is needed" >&2; exit 111; }
dir=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/gear-bench.XXXXXX")}
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT

# build N: a tree of N containers with 2 keys each; prints the container it queries
build() {
	n=$1 root="$dir/tree-$n"
	rm -rf "$root"
	perl -MMIME::Base64 -e '
		srand(42 + $ARGV[0]);
		sub key { my $b = pack("N/a* N/a*", "ssh-ed25519", join("", map { chr(int(rand(256))) } 1..32));
			  return "ssh-ed25519 " . encode_base64($b, "") . " bench"; }
		for my $i (1 .. $ARGV[0]) {
			printf "%s\t%s\t%s\t%d\n", sprintf("c%04x%07x", int(rand(65536)), $i), key(), key(), 4000 + 2 * $i;
		}' "$n" >"$dir/lines-$n"
	while IFS='	' read -r id k1 k2 port; do
		u="$root/var/lib/containers/units/$(echo "$id" | cut -c1-2)"
		mkdir -p "$u"
		printf '[Service]\nExecStart=/bin/true\nX-PortMapping=8080:%s\nX-PortMapping=22:%s\n' \
			"$port" $((port + 1)) >"$u/ctr-$id.service"
		printf '%s\n%s\n' "$k1" "$k2" | GEAR_SYSROOT="$root" "$bin/gear-keys" add "$id" >/dev/null
	done <"$dir/lines-$n"
	sed -n "$(( (n + 1) / 2 ))p" "$dir/lines-$n" | cut -f 1
}

# median N ID: median seconds per call of the command and of cat, "AUTH CAT"
median() {
	n=$1 id=$2 root="$dir/tree-$n"
	GEAR_SYSROOT="$root" "$bin/gear-auth-keys-command" "ctr-$id" >"$dir/authorized_keys-$n"
	[ "$(wc -l <"$dir/authorized_keys-$n")" = 2 ] || { echo "bench: expected 2 keys for ctr-$id" >&2; exit 1; }
	GEAR_SYSROOT="$root" hyperfine -N --style none --warmup 100 --runs "$runs" --export-json "$dir/h-$n.json" \
		"$bin/gear-auth-keys-command ctr-$id" "cat $dir/authorized_keys-$n" >/dev/null 2>&1
	perl -MJSON::PP -e '
		local $/; open my $f, "<", $ARGV[0] or die; my $r = decode_json(<$f>)->{results};
		printf "%.6f %.6f\n", $r->[0]{median}, $r->[1]{median};' "$dir/h-$n.json"
}

echo "building trees in $dir ($small and $large containers)" >&2
id_small=$(build "$small")
id_large=$(build "$large")
keys_large=$(find "$dir/tree-$large/var/lib/containers/keys" -type f ! -name .lock | wc -l)
echo "tree of $large containers holds $keys_large keys" >&2

set -- $(median "$small" "$id_small")
a_small=$1 c_small=$2
set -- $(median "$large" "$id_large")
a_large=$1 c_large=$2

awk -v s="$small" -v l="$large" -v as="$a_small" -v cs="$c_small" -v al="$a_large" -v cl="$c_large" 'BEGIN {
	printf "containers\tkeys\tauth-keys-command ms\tcat ms\tratio\n"
	printf "%d\t%d\t%.3f\t%.3f\t%.2f\n", s, 2 * s, as * 1000, cs * 1000, as / cs
	printf "%d\t%d\t%.3f\t%.3f\t%.2f\n", l, 2 * l, al * 1000, cl * 1000, al / cl
	printf "auth-keys-command at %d vs %d containers: %.2f\n", l, s, al / as
}'
