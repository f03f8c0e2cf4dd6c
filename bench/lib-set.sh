# the Debian image set the benchmarks share, built once in WORKDIR/set
# (sourced by bench/*.sh with $top set, then bench_start): a Debian bookworm minbase image,
# and five application images, each one layer made by umoci repack on top of
# a minbase layer: python3 and nginx on that same base, redis, postgresql and
# nodejs each on a rebuilt one (a separate mmdebstrap run: the same file
# contents, another layer digest), as images built at different times are.
# Needs root and the Debian archive.

# NAME:PACKAGES:BASE
apps="python3:python3:base1 nginx:nginx-light:base1 redis:redis-server:base2 postgresql:postgresql:base3
nodejs:nodejs:base4"

build_set() {
	[ -f set/done ] && return 0
	rm -rf set && mkdir -p set
	echo "# building the image set in $work/set (a few minutes)" >&2
	umoci init --layout set/oci
	for b in base1 base2 base3 base4; do
		mmdebstrap --variant=minbase --quiet bookworm "set/$b.tar"
		umoci new --image "set/oci:$b"
		umoci raw add-layer --image "set/oci:$b" "set/$b.tar"
		rm "set/$b.tar"
	done
	for app in $apps; do
		name=${app%%:*} base=${app##*:} pkgs=${app#*:}
		pkgs=${pkgs%:*}
		mmdebstrap --variant=minbase --quiet --include="$pkgs" bookworm "set/$name-root"
		umoci unpack --image "set/oci:$base" set/bundle >/dev/null
		rsync -aHAX --numeric-ids --delete "set/$name-root/" set/bundle/rootfs/
		umoci repack --image "set/oci:$name" set/bundle
		umoci config --image "set/oci:$name" --config.cmd /bin/sh
		rm -rf set/bundle "set/$name-root"
	done
	umoci gc --layout set/oci
	touch set/done
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
