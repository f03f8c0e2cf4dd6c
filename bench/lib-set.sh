# the Debian image set the benchmarks share, built once in WORKDIR/set ($sdir;
# sourced by bench/*.sh with $top set, then bench_start): a Debian bookworm minbase image,
# and five application images, each one layer made by umoci repack on top of
# a minbase layer: python3 and nginx on that same base, redis, postgresql and
# nodejs each on a rebuilt one (a separate mmdebstrap run: the same file
# contents, another layer digest), as images built at different times are.
# Needs root and the Debian archive.

# NAME:PACKAGES:BASE. BENCH_SET=2 picks a second Debian set (other
# packages, the same layout) in WORKDIR/set2, for bench/push.sh's storage
# section; the other benchmarks know the first set's services only.
case ${BENCH_SET:-1} in
1) sdir=set set_apps="python3:python3:base1 nginx:nginx-light:base1 redis:redis-server:base2
postgresql:postgresql:base3 nodejs:nodejs:base4" ;;
2) sdir=set2 set_apps="ruby:ruby:base1 php:php-cli:base1 apache2:apache2:base2 mariadb:mariadb-server:base3
git:git:base4" ;;
*) echo "BENCH_SET: 1 or 2" >&2 && exit 2 ;;
esac
set_images=$(for a in $set_apps; do printf '%s ' "${a%%:*}"; done)

build_set() {
	[ -f $sdir/done ] && return 0
	rm -rf $sdir && mkdir -p $sdir
	echo "# building the image set in $work/$sdir (a few minutes)" >&2
	umoci init --layout $sdir/oci
	for b in base1 base2 base3 base4; do
		mmdebstrap --variant=minbase --quiet bookworm "$sdir/$b.tar"
		umoci new --image "$sdir/oci:$b"
		umoci raw add-layer --image "$sdir/oci:$b" "$sdir/$b.tar"
		rm "$sdir/$b.tar"
	done
	for app in $set_apps; do
		name=${app%%:*} base=${app##*:} pkgs=${app#*:}
		pkgs=${pkgs%:*}
		mmdebstrap --variant=minbase --quiet --include="$pkgs" bookworm "$sdir/$name-root"
		umoci unpack --image "$sdir/oci:$base" $sdir/bundle >/dev/null
		rsync -aHAX --numeric-ids --delete "$sdir/$name-root/" $sdir/bundle/rootfs/
		umoci repack --image "$sdir/oci:$name" $sdir/bundle
		umoci config --image "$sdir/oci:$name" --config.cmd /bin/sh
		rm -rf $sdir/bundle "$sdir/$name-root"
	done
	umoci gc --layout $sdir/oci
	touch $sdir/done
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
