#!/bin/sh
# bench/load.sh [-r ROUNDS] [-s SECONDS] [-p PULLS] [-k] [PART...]: gear under load
#
# PARTs (default all three):
#   containers  50 workers each installing and deleting its own container
#               ROUNDS times (default 4), and 10 workers installing or
#               deleting one same container 2*ROUNDS times each, all at once,
#               through a private systemd user manager; every call must
#               succeed; afterwards gear-fsck, gear-ports check and gear-clean
#               report nothing, no port is owned twice, no unit lacks its
#               port links or the reverse (bench/tree-check.py --final)
#   mounts      8 workers mounting one image with gear-fs (every other one
#               with --prefetch), comparing every file with the source (cmp)
#               and unmounting, in a loop, a ninth mount of it up throughout,
#               a tenth worker mounting and reading another image (garbage
#               for gc), and gear-gc --max-size 0 in a loop, for SECONDS
#               (default 120): no wrong bytes, no read error, no content of
#               the image in use removed, every gear-fs exits 0
#   prefetch    PULLS (default 30) gear-pull --prefetch into a fresh tree
#               while gear-gc --max-size 0 loops on it; each pull pauses once
#               its prefetch is done (GEAR_TEST_PAUSE=pull:prefetched) and
#               every listed content must then still be in public/, at once
#               and after a second of gc
# Prints per part the operations, failures and corruptions. -k keeps the
# work directory. Run as root, after make; nice it on a shared machine.
set -u

rounds=4 seconds=120 pulls=30 keep=
while [ $# -gt 0 ]; do
	case $1 in
	-r) rounds=$2; shift 2 ;;
	-s) seconds=$2; shift 2 ;;
	-p) pulls=$2; shift 2 ;;
	-k) keep=1; shift ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "usage: bench/load.sh [-r ROUNDS] [-s SECONDS] [-p PULLS] [-k] [PART...]" >&2; exit 100 ;;
	*) break ;;
	esac
done
parts=${*:-containers mounts prefetch}

top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$top/scripts:$PATH"
work=$(mktemp -d /tmp/gear-load.XXXXXX)
export PATH LC_ALL=C GEAR_SYSROOT="$work/root"
IMAGE=localhost/gear-test-web:latest
II=$work/i
IMG=$II/var/lib/gear
check=$top/bench/tree-check.py
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3

cleanup() {
	set +e
	touch "$work/stop"
	for p in "$work"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
	sleep 0.5
	for m in $(awk -v w="$work" 'index($2, w) == 1 && $3 ~ /^fuse/ { print $2 }' /proc/mounts); do
		fusermount3 -u -z "$m" 2>/dev/null
	done
	gear-test-systemd stop "$work/sd" >/dev/null 2>&1
	if [ -n "$keep" ]; then echo "load: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "load: $*" >&2; exit 111; }
now() { date +%s; }
# count FILE: lines of FILE (0 when missing)
count() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
# note FILE TEXT: one line to FILE
note() { printf '%s\n' "$2" >>"$1"; }

# ---- containers --------------------------------------------------------------

# distinct ID: install, delete, ROUNDS times; notes when it held which port
own_worker() {
	id=$1 out=$work/c/$1
	r=0
	while [ $r -lt "$rounds" ]; do
		r=$((r + 1))
		if gear-install -p 8080:0 "$IMAGE" "$id" GREETING=$r >"$out.o" 2>"$out.e"; then
			t_in=$(date +%s%N)
			note "$work/c/ops" "install $id"
			port=$(awk -F'\t' -v id="$id" '$1 == id && $2 == 8080 { print $3 }' "$out.o")
			[ -n "$port" ] || note "$work/c/fail" "install $id printed: $(cat "$out.o")"
		else
			note "$work/c/fail" "install $id: exit $?: $(cat "$out.e")"
			port=
		fi
		t_out=$(date +%s%N)
		if gear-delete "$id" >"$out.o" 2>"$out.e"; then
			note "$work/c/ops" "delete $id"
		else
			note "$work/c/fail" "delete $id: exit $?: $(cat "$out.e")"
		fi
		[ -n "$port" ] && note "$work/c/held" "$port $id $t_in $t_out"
	done
}

# one ID for all: install or delete at random
same_worker() {
	w=$1 out=$work/c/same$1
	r=0
	while [ $r -lt $((rounds * 2)) ]; do
		r=$((r + 1))
		if [ "$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')" -lt 160 ]; then
			op=install
			gear-install -p 8080:0,9090:0 "$IMAGE" ldsame GREETING=$w.$r >"$out.o" 2>"$out.e"
		else
			op=delete
			gear-delete ldsame >"$out.o" 2>"$out.e"
		fi
		rc=$?
		if [ $rc = 0 ]; then
			note "$work/c/ops" "$op ldsame"
		else
			note "$work/c/fail" "$op ldsame: exit $rc: $(cat "$out.e")"
		fi
	done
}

part_containers() {
	mkdir -p "$work/c"
	t0=$(now)
	i=0
	while [ $i -lt 50 ]; do
		i=$((i + 1))
		own_worker "$(printf 'ld%02d' $i)" &
	done
	i=0
	while [ $i -lt 10 ]; do
		i=$((i + 1))
		same_worker $i &
	done
	wait
	t1=$(now)
	env GEAR_SYSROOT="$GEAR_SYSROOT" $py "$check" --final --age-temps >"$work/c/corrupt" 2>&1
	# no port held by two containers at once: from install's answer to the delete
	[ -f "$work/c/held" ] && sort -k1,1n -k3,3n "$work/c/held" | awk '
		$1 == port && $3 < end && $2 != id { print "port " $1 " held by " id " and " $2 " at once" }
		$1 != port || $4 > end { port = $1; end = $4; id = $2 }' >>"$work/c/corrupt"
	# every container the tree has is one systemd knows, with its ports
	for u in "$GEAR_SYSROOT"/var/lib/containers/units/*/ctr-*.service; do
		[ -e "$u" ] || continue
		id=${u##*/ctr-}
		id=${id%.service}
		st=$(systemctl --user show -p LoadState --value "ctr-$id.service" 2>/dev/null)
		[ "$st" = loaded ] || note "$work/c/corrupt" "ctr-$id.service is $st in the manager"
	done
	printf 'containers: %d operations (%d installs, %d deletes) in %d s, %d failures, %d corruptions\n' \
		"$(count "$work/c/ops")" "$(grep -c '^install' "$work/c/ops")" "$(grep -c '^delete' "$work/c/ops")" \
		$((t1 - t0)) "$(count "$work/c/fail")" "$(count "$work/c/corrupt")" | tee -a "$work/summary"
	for f in fail corrupt; do
		[ -s "$work/c/$f" ] && sed "s/^/    $f: /" "$work/c/$f" | sort | uniq -c | head -n 20 | tee -a "$work/summary"
	done
	return 0
}

# ---- mounts ------------------------------------------------------------------

# mount_worker N OPT: mount, cmp every file, unmount, until the deadline
mount_worker() {
	m=$work/mnt$1 d=$work/f/$1
	mkdir -p "$m"
	while [ ! -e "$work/stop" ]; do
		env GEAR_SYSROOT="$II" gear-fs -f $2 ld/multi "$m" 2>>"$d.fserr" &
		pid=$!
		i=0
		until grep -q " $m fuse.gear " /proc/mounts; do
			i=$((i + 1))
			if [ $i -gt 400 ] || ! kill -0 $pid 2>/dev/null; then
				note "$work/f/fail" "gear-fs did not mount $m"
				break 2
			fi
			sleep 0.02
		done
		note "$work/f/mounts" "$1"
		(cd "$work/ref/rootfs" && xargs -0 sh -c '
			for f; do
				if cmp -s -- "$f" "$0/$f"; then echo ok
				elif cmp -- "$f" "$0/$f" 2>&1 | grep -q " differ: "; then echo "wrong $f"
				else echo "error $f: $(cmp -- "$f" "$0/$f" 2>&1 | head -n 1)"; fi
			done' "$m") <"$work/files" >>"$d.cmp" 2>&1
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m"
		wait $pid
		code=$?
		[ $code = 0 ] || note "$work/f/fail" "gear-fs on $m exited $code"
	done
}

# churn: another image mounted, read and unmounted, so that gc has work
churn_worker() {
	m=$work/mntc
	mkdir -p "$m"
	while [ ! -e "$work/stop" ]; do
		env GEAR_SYSROOT="$II" gear-fs ld/other "$m" 2>>"$work/f/churn.err" || { sleep 0.2; continue; }
		(cd "$m" && find . -type f -exec cat {} + >/dev/null 2>&1)
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m"
		note "$work/f/churns" x
		sleep 0.1
	done
}

gc_loop() {
	while [ ! -e "$work/stop" ]; do
		if env GEAR_SYSROOT="$1" gear-gc --max-size 0 >"$work/gc.$2.out" 2>"$work/gc.$2.err"; then
			note "$work/gc.$2.runs" x
			sed -n 's/^removed sha256:\([0-9a-f]*\) .*/\1/p' "$work/gc.$2.out" >>"$work/gc.$2.removed"
		else
			note "$work/gc.$2.fail" "gear-gc: $(cat "$work/gc.$2.err")"
		fi
	done
}

part_mounts() {
	mkdir -p "$work/f"
	rm -f "$work/stop"
	: >"$work/gc.f.removed"
	# one mount up throughout: every content of ld/multi is in use all along
	mkdir -p "$work/mnt0"
	env GEAR_SYSROOT="$II" gear-fs -f ld/multi "$work/mnt0" 2>"$work/f/mnt0.err" &
	echo $! >"$work/mnt0.pid"
	i=0
	until grep -q " $work/mnt0 fuse.gear " /proc/mounts; do
		i=$((i + 1))
		[ $i -lt 400 ] || die "cannot mount ld/multi"
		sleep 0.02
	done
	t0=$(now)
	workers=
	i=0
	while [ $i -lt 8 ]; do
		i=$((i + 1))
		opt=
		[ $((i % 2)) = 0 ] && opt=--prefetch
		mount_worker $i "$opt" &
		workers="$workers $!"
	done
	churn_worker &
	workers="$workers $!"
	gc_loop "$II" f &
	workers="$workers $!"
	sleep "$seconds"
	touch "$work/stop"
	wait $workers
	t1=$(now)
	# the mount up throughout still reads right
	(cd "$work/ref/rootfs" && xargs -0 sh -c 'for f; do cmp -s -- "$f" "$0/$f" || echo "wrong $f (mount up throughout)"; done' \
		"$work/mnt0") <"$work/files" >>"$work/f/corrupt" 2>&1
	fusermount3 -u "$work/mnt0"
	wait "$(cat "$work/mnt0.pid")" || note "$work/f/fail" "the gear-fs up throughout exited $?"
	rm -f "$work/mnt0.pid"
	cat "$work"/f/*.cmp >"$work/f/all" 2>/dev/null
	grep '^wrong ' "$work/f/all" >>"$work/f/corrupt"
	grep '^error ' "$work/f/all" >>"$work/f/fail"
	sort -u "$work/gc.f.removed" >"$work/f/removed"
	comm -12 "$work/f/removed" "$work/multi.contents" | sed 's/^/in use and removed: /' >>"$work/f/corrupt"
	[ -f "$work/gc.f.fail" ] && cat "$work/gc.f.fail" >>"$work/f/fail"
	printf 'mounts: %d mounts, %d files compared, %d other mounts, %d gc runs removing %d contents, in %d s: %d failures, %d corruptions\n' \
		"$(($(count "$work/f/mounts") + 1))" "$(grep -c '^ok$' "$work/f/all")" "$(count "$work/f/churns")" \
		"$(count "$work/gc.f.runs")" "$(count "$work/gc.f.removed")" $((t1 - t0)) \
		"$(count "$work/f/fail")" "$(count "$work/f/corrupt")" | tee -a "$work/summary"
	for f in fail corrupt; do
		[ -s "$work/f/$f" ] && sed "s/^/    $f: /" "$work/f/$f" | sort | uniq -c | head -n 20 | tee -a "$work/summary"
	done
	return 0
}

# ---- prefetch ----------------------------------------------------------------

part_prefetch() {
	mkdir -p "$work/p"
	P=$work/pt
	rm -f "$work/stop"
	mkdir -p "$P/var/lib/gear"
	gc_loop "$P" p &
	t0=$(now)
	n=0
	while [ $n -lt "$pulls" ]; do
		n=$((n + 1))
		# a fresh tree each time: the pull fetches everything its list names
		rm -rf "$P/var/lib/gear/images" "$P/var/lib/gear/public"/??
		rm -f "$work/p/paused"
		env GEAR_SYSROOT="$P" GEAR_TEST_PAUSE=pull:prefetched GEAR_TEST_PAUSE_FILE="$work/p/paused" \
			gear-pull --prefetch "$work/store" ld/multi >"$work/p/out" 2>"$work/p/err" &
		pid=$!
		i=0
		while [ ! -e "$work/p/paused" ]; do
			i=$((i + 1))
			kill -0 $pid 2>/dev/null && [ $i -lt 1200 ] || break
			sleep 0.05
		done
		if [ -e "$work/p/paused" ]; then
			for look in 1 2 3 4 5 6 7 8 9 10 11; do
				while read -r h; do
					rest=${h#??}
					f=$P/var/lib/gear/public/${h%"$rest"}/$rest
					[ -f "$f" ] || note "$work/p/corrupt" "pull $n: listed content $h missing while the prefetch holds it"
				done <"$work/listed"
				sleep 0.1
			done
			rm -f "$work/p/paused"
		else
			note "$work/p/fail" "pull $n did not reach its pause"
		fi
		if wait $pid; then
			note "$work/p/ops" "pull $n"
			grep -q "^prefetched [0-9]* of $(count "$work/listed") files" "$work/p/out" ||
				note "$work/p/fail" "pull $n printed $(tr '\n' ' ' <"$work/p/out")"
		else
			note "$work/p/fail" "pull $n: exit $?: $(cat "$work/p/err")"
		fi
	done
	touch "$work/stop"
	wait
	t1=$(now)
	[ -f "$work/gc.p.fail" ] && cat "$work/gc.p.fail" >>"$work/p/fail"
	# a content missing at several looks of one pull counts once
	[ -f "$work/p/corrupt" ] && sort -u -o "$work/p/corrupt" "$work/p/corrupt"
	printf 'prefetch: %d pulls with --prefetch, %d gc runs removing %d contents, in %d s: %d failures, %d corruptions\n' \
		"$(count "$work/p/ops")" "$(count "$work/gc.p.runs")" "$(count "$work/gc.p.removed")" $((t1 - t0)) \
		"$(count "$work/p/fail")" "$(count "$work/p/corrupt")" | tee -a "$work/summary"
	for f in fail corrupt; do
		[ -s "$work/p/$f" ] && sed "s/^/    $f: /; s/pull [0-9]*:/pull N:/" "$work/p/$f" | sort | uniq -c |
			head -n 20 | tee -a "$work/summary"
	done
	return 0
}

# ---- setup -------------------------------------------------------------------

echo "load: work directory $work"
: >"$work/summary"
for part in $parts; do
	case $part in
	containers)
		mkdir -p "$GEAR_SYSROOT/etc/gear"
		cp "$top/share/gear.conf" "$GEAR_SYSROOT/etc/gear/gear.conf"
		printf "run-arg=--pull=never\ngear-bin=%s/bin\n" "$top" >>"$GEAR_SYSROOT/etc/gear/gear.conf"
		build-test-image >/dev/null 2>&1 || die "cannot build the test image"
		gear-test-systemd start "$work/sd" >/dev/null || die "cannot start the private manager"
		. "$work/sd/env"
		export GEAR_SYSTEMD=user XDG_RUNTIME_DIR="$GEAR_TEST_RUNTIME_DIR"
		;;
	mounts | prefetch)
		[ -d "$work/ref" ] && continue
		build-test-images --big 8 "$work/imgs" >/dev/null 2>&1 || die "cannot build the test images"
		umoci unpack --image "$work/imgs/oci:multi" "$work/ref" >/dev/null 2>&1 || die "cannot unpack the source"
		(cd "$work/ref/rootfs" && find . -type f -print0) >"$work/files"
		env GEAR_SYSROOT="$II" gear-build -q "oci:$work/imgs/oci:multi" ld/multi >/dev/null &&
			env GEAR_SYSROOT="$II" gear-build -q "oci:$work/imgs/oci:other" ld/other >/dev/null ||
			die "cannot build the images"
		env GEAR_SYSROOT="$II" gear-index ld/multi |
			awk -F'\t' '$1 == "f" { sub("sha256:", "", $6); print $6 }' | sort -u >"$work/multi.contents"
		# an access list naming every content, shipped with the image
		mkdir -p "$work/m"
		env GEAR_SYSROOT="$II" gear-fs ld/multi "$work/m" || die "cannot mount ld/multi"
		(cd "$work/m" && xargs -0 cat -- >/dev/null) <"$work/files" || die "cannot read ld/multi"
		fusermount3 -u "$work/m"
		sort -u "$IMG/images/ld/multi/latest/access.list" >"$work/listed"
		mkdir -p "$work/store"
		env GEAR_SYSROOT="$II" gear-push ld/multi "$work/store" >/dev/null || die "cannot push"
		;;
	*) die "unknown part '$part'" ;;
	esac
done

for part in $parts; do
	"part_$part"
done

echo
echo "load: summary"
cat "$work/summary"
