#!/bin/sh
# bench/crash.sh [-n KILLS] [-k] [PHASE...]: kill -9 at random instants
#
# Runs each command, kills it with SIGKILL after a random fraction of its
# normal duration (measured first, median of 3 runs), KILLS times (default
# 100; a run that ends before its kill is not counted, only reported as
# "ended first"), and after each kill checks:
#   - that gear-fsck, gear-ports check and gear-clean --dry-run exit as
#     documented and explain everything left (bench/tree-check.py compares
#     every file of the trees with what they report; temporary files nobody
#     holds are backdated first, as if gear-clean's minute had passed);
#   - what the phase promises (an update leaves the old or the new container,
#     never a mixture: killed between the environment and the commit, it
#     leaves the old unit with the copy of the old environment, which
#     gear-clean --dry-run must report and gear-clean put back);
#   - that the same command run again succeeds;
#   - that every file read through a gear-fs mount of the image concerned is
#     byte-identical to the source rootfs (cmp);
#   - that after gear-clean and gear-fsck --repair the tools report nothing
#     and the tree check passes.
# PHASEs (default all): install-new install-update delete build push-dir
# push-registry pull-dir pull-registry fs gc. Real components: a private
# systemd user manager, podman, a registry (docker-registry), FUSE. Prints per
# phase the kills, the runs that ended first and the inconsistencies (each
# with its details; all details also in WORK/details). -k keeps the work
# directory. Run as root, after make; nice it on a shared machine.
set -u

kills=100
keep=
while [ $# -gt 0 ]; do
	case $1 in
	-n) kills=$2; shift 2 ;;
	-k) keep=1; shift ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "usage: bench/crash.sh [-n KILLS] [-k] [PHASE...]" >&2; exit 100 ;;
	*) break ;;
	esac
done
phases=${*:-install-new install-update delete build push-dir push-registry pull-dir pull-registry fs gc}

top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$top/scripts:$PATH"
work=$(mktemp -d /tmp/gear-crash.XXXXXX)
export PATH LC_ALL=C GEAR_SYSROOT="$work/root"
IMAGE=localhost/gear-test-web:latest
CTR=$GEAR_SYSROOT/var/lib/containers
# the image tree of the pushes and of the fs phase, and the one of the gc phase
II=$work/i
IMG=$II/var/lib/gear
G=$work/g
check=$top/bench/tree-check.py
# Debian's python3: a version manager's shim in PATH costs a second a run
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
fspid= gcfs=

cleanup() {
	set +e
	[ -n "$fspid" ] && kill "$fspid" 2>/dev/null
	[ -n "$gcfs" ] && kill "$gcfs" 2>/dev/null
	for m in $(awk -v w="$work" 'index($2, w) == 1 && $3 ~ /^fuse/ { print $2 }' /proc/mounts); do
		fusermount3 -u -z "$m" 2>/dev/null
	done
	[ -f "$work/reg/pid" ] && gear-test-registry stop "$work/reg" >/dev/null 2>&1
	gear-test-systemd stop "$work/sd" >/dev/null 2>&1
	if [ -n "$keep" ]; then echo "crash: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "crash: $*" >&2; exit 111; }
now() { date +%s%N; }
rnd() { od -An -N4 -tu4 /dev/urandom | awk '{ printf "%.6f", $1 / 4294967296 }'; }
# delay_of NS: a random instant within NS nanoseconds, in seconds; worked out
# before the command starts, so that the processes it takes (a tenth of a
# second on a loaded machine) do not push every kill late
delay_of() { awk -v r="$(rnd)" -v d="$1" 'BEGIN { printf "%.4f", r * d / 1e9 }'; }

# the gear commands talk to the private manager from outside its namespace
on_manager() {
	. "$work/sd/env"
	export GEAR_SYSTEMD=user XDG_RUNTIME_DIR="$GEAR_TEST_RUNTIME_DIR"
}

# ---- bookkeeping -------------------------------------------------------------

# problem TEXT...: one inconsistency of the current kill
problem() {
	printf '%s\tkill %s\t%s\n' "$phase" "$kill_no" "$*" >>"$work/details"
	nproblems=$((nproblems + 1))
}

# tree_check [ARG...]: bench/tree-check.py on $troot, its findings counted as problems
tree_check() {
	env GEAR_SYSROOT="$troot" $py "$check" "$@" >"$work/check.out" 2>&1
	while IFS= read -r line; do problem "$line"; done <"$work/check.out"
}

# expect_ok WHAT CMD...: the command must exit 0
expect_ok() {
	what=$1
	shift
	"$@" >"$work/run.out" 2>"$work/run.err" && return 0
	problem "$what: exit $?: $(tr '\n' ' ' <"$work/run.err" | cut -c1-300)"
	return 1
}

# repair_and_check [STORE...]: gear-clean, gear-fsck --repair, then nothing may be left
repair_and_check() {
	for s in "$troot" "$@"; do
		env GEAR_SYSROOT="$s" gear-clean >/dev/null 2>"$work/run.err" ||
			problem "gear-clean: exit $?: $(head -c 300 "$work/run.err")"
		env GEAR_SYSROOT="$s" gear-fsck -q --repair >/dev/null 2>"$work/run.err"
		[ $? -le 1 ] || problem "gear-fsck --repair: $(head -c 300 "$work/run.err")"
	done
	set --
	for s in $stores; do set -- "$@" --store "$s"; done
	tree_check --final --age-temps "$@"
}

# same_tree MNT: every regular file of the source rootfs is byte-identical through MNT
same_tree() {
	(cd "$work/ref/rootfs" && xargs -0 sh -c 'for f; do cmp -s -- "$f" "$0/$f" || echo "$f"; done' "$1") \
		<"$work/files" >"$work/differ" 2>&1
	[ -s "$work/differ" ] || return 0
	problem "$(wc -l <"$work/differ") files differ through the mount, first: $(head -n 1 "$work/differ")"
	return 1
}

# mount_fs ROOT NAME MNT [OPT]: gear-fs -f in the background, $fspid, waits for the mount
mount_fs() {
	mkdir -p "$3"
	env GEAR_SYSROOT="$1" gear-fs -f ${4:-} "$2" "$3" 2>>"$work/fs.err" &
	fspid=$!
	i=0
	until grep -q " $3 fuse.gear " /proc/mounts; do
		i=$((i + 1))
		kill -0 "$fspid" 2>/dev/null && [ $i -lt 200 ] || { problem "gear-fs did not mount $2"; return 1; }
		sleep 0.02
	done
}

# umount_fs MNT: unmounts; gear-fs must exit 0
umount_fs() {
	fusermount3 -u "$1" || fusermount3 -u -z "$1"
	wait "$fspid"
	code=$?
	[ $code = 0 ] || problem "gear-fs exited $code at unmount"
	fspid=
}

# verify_image ROOT NAME: mounts the image and compares it with the source
verify_image() {
	mount_fs "$1" "$2" "$work/vm" || return 1
	same_tree "$work/vm"
	umount_fs "$work/vm"
}

# ---- the driver --------------------------------------------------------------

# each phase P defines P_prep (before each run), P_cmd (the command, exec'd),
# P_ended (after a run that ended before its kill), P_killed (checks after a
# kill), P_rerun (the same command again, checked); $stores: the directory
# stores to check with the trees

median3() { sort -n | sed -n 2p; }

# one line per phase, then its inconsistencies grouped (numbers and digests made alike)
phase_summary() {
	secs=$((($(now) - start) / 1000000000))
	printf '%-16s kills %4d  ended first %4d  inconsistent kills %4d  problems %4d  (mean normal run %d ms, %d s)\n' \
		"$(echo "$phase" | tr _ -)" "$kill_no" "$ended" "$bad_kills" "$nproblems" $((dur / 1000000)) "$secs" \
		>>"$work/summary"
	tail -n 1 "$work/summary"
	[ "$nproblems" = 0 ] && return
	awk -F'\t' -v p="$phase" '$1 == p { print $3 }' "$work/details" |
		sed -E 's/[0-9a-f]{12,}/HEX/g; s/[0-9]+/N/g' | sort | uniq -c | sort -rn |
		sed 's/^/    /' | tee -a "$work/summary"
}

# runs alternate between two kinds (prep gets the run's number; odd and even
# differ in some phases), each with its own normal duration
drive() {
	: >"$work/durations.0"
	: >"$work/durations.1"
	for i in 1 2 3 4 5 6; do
		"${phase}_prep" $i
		t0=$(now)
		("${phase}_cmd") >/dev/null 2>"$work/run.err" || die "$phase: the command fails: $(cat "$work/run.err")"
		t1=$(now)
		echo $((t1 - t0)) >>"$work/durations.$((i % 2))"
		"${phase}_ended"
	done
	dur_0=$(median3 <"$work/durations.0") dur_1=$(median3 <"$work/durations.1")
	kill_no=0 ended=0 nproblems=0 bad_kills=0 n=0
	start=$(now)
	while [ $kill_no -lt "$kills" ]; do
		n=$((n + 1))
		[ $n -le $((kills * 40)) ] || die "$phase: $ended of $n runs ended before their kill"
		"${phase}_prep" $n
		[ $((n % 2)) = 1 ] && dur=$dur_1 || dur=$dur_0
		delay=$(delay_of "$dur")
		"${phase}_cmd" >"$work/cmd.out" 2>"$work/cmd.err" &
		pid=$!
		sleep "$delay"
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
		code=$?
		if [ $code != 137 ]; then
			ended=$((ended + 1))
			[ $code = 0 ] || die "$phase: the command failed ($code): $(cat "$work/cmd.err")"
			"${phase}_ended"
			continue
		fi
		kill_no=$((kill_no + 1))
		before=$nproblems
		set --
		for s in $stores; do set -- "$@" --store "$s"; done
		tree_check --age-temps "$@"
		"${phase}_killed"
		"${phase}_rerun"
		repair_and_check $stores
		[ $nproblems = "$before" ] || bad_kills=$((bad_kills + 1))
	done
	dur=$(((dur_0 + dur_1) / 2))
	phase_summary
}

# ---- phases ------------------------------------------------------------------

stores=

# install-new: a new container with two ports and an environment
install_new_prep() { :; }
install_new_cmd() { exec gear-install -p 8080:0,9090:0 "$IMAGE" crnew1 GREETING=new; }
install_new_killed() {
	# either it exists, complete, or it does not: a unit is its versions' hard link
	:
}
install_new_ended() { gear-delete crnew1 >/dev/null || die "cannot delete crnew1"; }
install_new_rerun() {
	expect_ok "gear-install again" gear-install -p 8080:0,9090:0 "$IMAGE" crnew1 GREETING=new || return
	[ "$(cut -f 1,2 "$work/run.out" | tr '\n\t' ' :')" = "crnew1:8080 crnew1:9090 " ] ||
		problem "gear-install again printed: $(tr '\n' ' ' <"$work/run.out")"
	grep -qx GREETING=new "$CTR/env/contents/cr/crnew1" || problem "the environment of crnew1 is not GREETING=new"
	expect_ok "gear-delete" gear-delete crnew1 || return
	left=$(find "$GEAR_SYSROOT" -name '*crnew1*' ! -name '.gear-tmp.*' | head -n 3)
	[ -z "$left" ] || problem "left after gear-delete: $left"
}

# install-update: a started container updated, v1 <-> v2 (ports and environment change)
upd_spec() {
	case $1 in
	v1) echo "-p 8080:0,9090:0 $IMAGE crupd1 GREETING=v1" ;;
	v2) echo "-p 9090:0,7070:0 $IMAGE crupd1 GREETING=v2" ;;
	esac
}
upd_state() {
	u=$CTR/units/cr/ctr-crupd1.service
	ports=$(sed -n 's/^X-PortMapping=\([0-9]*\):.*/\1/p' "$u" | tr '\n' ' ')
	case $ports in
	"8080 9090 ") unit=v1 ;;
	"9090 7070 ") unit=v2 ;;
	*) unit="?($ports)" ;;
	esac
	env=$(sed -n 's/^GREETING=//p' "$CTR/env/contents/cr/crupd1")
}
install_update_setup() {
	# shellcheck disable=SC2046
	gear-install --start $(upd_spec v1) >/dev/null || die "cannot install crupd1"
	upd_cur=v1
}
# an update does not restart the container: the one started with v1 still
# listens on the ports v2 released, which a later phase would be given
install_update_teardown() { gear-delete crupd1 >/dev/null || die "cannot delete crupd1"; }
install_update_prep() {
	[ "$upd_cur" = v1 ] && upd_next=v2 || upd_next=v1
}
# shellcheck disable=SC2046
install_update_cmd() { exec gear-install $(upd_spec "$upd_next"); }
install_update_ended() { upd_cur=$upd_next; }
install_update_killed() {
	upd_state
	if [ "$unit" != "$env" ]; then
		# the old unit, the new environment: the copy of the old one must say so
		gear-clean --dry-run >"$work/clean.out" 2>&1
		if grep -qxF "$(printf 'install\t%s' "$CTR/units/cr/crupd1/.env-before")" "$work/clean.out"; then
			echo "install-update	kill $kill_no	the environment put back by gear-clean" >>"$work/notes"
			gear-clean >/dev/null 2>&1 || problem "gear-clean fails after a killed update"
			upd_state
		fi
		[ "$unit" = "$env" ] ||
			problem "update $upd_cur -> $upd_next killed: the unit is $unit, the environment $env"
	fi
	grep -qx 'WantedBy=container-active.target' "$CTR/units/cr/ctr-crupd1.service" ||
		problem "the started container is no longer recorded as started"
}
install_update_rerun() {
	# shellcheck disable=SC2046
	expect_ok "gear-install (update) again" gear-install $(upd_spec "$upd_next") || return
	upd_cur=$upd_next
	upd_state
	[ "$unit" = "$upd_cur" ] && [ "$env" = "$upd_cur" ] ||
		problem "after the update again: unit $unit, environment $env, want $upd_cur"
}

# delete: a container (started every other time) deleted
delete_prep() {
	opt=
	[ $(($1 % 2)) = 1 ] && opt=--start
	gear-install $opt -p 8080:0 "$IMAGE" crdel1 GREETING=del >/dev/null 2>"$work/prep.err" && return 0
	# after a killed delete: a problem, with what the container said
	problem "gear-install $opt crdel1 after the delete again failed: $(tr '\n' ' ' <"$work/prep.err" | cut -c1-300)" \
		"journal: $(journalctl -D "$GEAR_TEST_JOURNAL_DIR" _SYSTEMD_USER_UNIT=ctr-crdel1.service -n 12 -o cat 2>&1 |
			tr '\n' ' ' | cut -c1-900)"
	gear-delete crdel1 >/dev/null 2>&1
	gear-install -p 8080:0 "$IMAGE" crdel1 GREETING=del >/dev/null || die "cannot install crdel1"
}
delete_cmd() { exec gear-delete crdel1; }
delete_killed() { :; }
delete_ended() { :; }
delete_rerun() {
	expect_ok "gear-delete again" gear-delete crdel1 || return
	left=$(find "$GEAR_SYSROOT" -name '*crdel1*' ! -name '.gear-tmp.*' | head -n 3)
	[ -z "$left" ] || problem "left after gear-delete again: $left"
	st=$(systemctl --user is-active ctr-crdel1.service 2>/dev/null)
	case $st in inactive | unknown | "") ;; *) problem "ctr-crdel1.service is $st after the delete" ;; esac
}

# build: a fresh image tree every other time, else the same tag built again
B=$work/b
build_prep() {
	[ $(($1 % 2)) = 1 ] && rm -rf "$B"
	return 0
}
build_cmd() { exec env GEAR_SYSROOT="$B" gear-build -q "oci:$work/imgs/oci:multi" cr/multi; }
build_killed() { :; }
build_ended() { :; }
build_rerun() {
	expect_ok "gear-build again" env GEAR_SYSROOT="$B" gear-build -q "oci:$work/imgs/oci:multi" cr/multi || return
	[ "$(cat "$work/run.out")" = "$manifest" ] || problem "the build again gave $(cat "$work/run.out")"
	verify_image "$B" cr/multi
}

# push-dir: into a fresh directory store every other time, else over the same image
S=$work/s
push_dir_prep() {
	[ $(($1 % 2)) = 1 ] && rm -rf "$S"
	mkdir -p "$S/var/lib/gear"
}
push_dir_cmd() { exec env GEAR_SYSROOT="$II" gear-push cr/multi "$S/var/lib/gear"; }
push_dir_killed() { :; }
push_dir_ended() { :; }
push_dir_rerun() {
	expect_ok "gear-push again" env GEAR_SYSROOT="$II" gear-push cr/multi "$S/var/lib/gear" || return
	rm -rf "$work/v"
	expect_ok "gear-pull of what was pushed" env GEAR_SYSROOT="$work/v" gear-pull "$S/var/lib/gear" cr/multi || return
	verify_image "$work/v" cr/multi
}

# push-registry: into a new repository every other time, else the same one again
push_registry_prep() {
	repos=$((repos + 1))
	[ $(($1 % 2)) = 1 ] && repo=crash/p$repos
	return 0
}
push_registry_cmd() { exec env GEAR_SYSROOT="$II" gear-push --tls-verify=false cr/multi "docker://$addr/$repo"; }
push_registry_killed() { :; }
push_registry_ended() { :; }
push_registry_rerun() {
	expect_ok "gear-push again" env GEAR_SYSROOT="$II" gear-push --tls-verify=false cr/multi "docker://$addr/$repo" || return
	rm -rf "$work/v"
	expect_ok "gear-pull of what was pushed" \
		env GEAR_SYSROOT="$work/v" gear-pull --tls-verify=false "docker://$addr/$repo" cr/multi || return
	verify_image "$work/v" cr/multi
}

# pull-dir, pull-registry: with --prefetch, into a fresh tree every other time
P=$work/p
pull_prep() {
	[ $(($1 % 2)) = 1 ] && rm -rf "$P"
	return 0
}
pull_rerun() {
	expect_ok "gear-pull again" env GEAR_SYSROOT="$P" gear-pull --tls-verify=false --prefetch "$src" cr/multi || return
	grep -q "^prefetched [0-9]* of $nlisted files" "$work/run.out" ||
		problem "gear-pull --prefetch printed: $(tr '\n' ' ' <"$work/run.out")"
	verify_image "$P" cr/multi
}
pull_dir_prep() { pull_prep "$1"; }
pull_dir_cmd() { exec env GEAR_SYSROOT="$P" gear-pull --prefetch "$work/src/var/lib/gear" cr/multi; }
pull_dir_killed() { :; }
pull_dir_ended() { :; }
pull_dir_rerun() { src=$work/src/var/lib/gear; pull_rerun; }
pull_registry_prep() { pull_prep "$1"; }
pull_registry_cmd() { exec env GEAR_SYSROOT="$P" gear-pull --tls-verify=false --prefetch "docker://$addr/crash/src" cr/multi; }
pull_registry_killed() { :; }
pull_registry_ended() { :; }
pull_registry_rerun() { src=docker://$addr/crash/src; pull_rerun; }

# fs: gear-fs killed while every file is read through it for the first time
fs_phase() {
	M=$work/m
	# the first read of every file, without and with --prefetch
	for opt in "" --prefetch; do
		: >"$work/durations"
		for i in 1 2 3; do
			env GEAR_SYSROOT="$II" gear-gc >/dev/null || die "gear-gc fails"
			mount_fs "$II" cr/multi "$M" $opt || die "cannot mount"
			t0=$(now)
			(cd "$M" && xargs -0 cat -- >/dev/null) <"$work/files" ||
				die "cannot read through the mount"
			t1=$(now)
			echo $((t1 - t0)) >>"$work/durations"
			umount_fs "$M"
		done
		[ -z "$opt" ] && dur_plain=$(median3 <"$work/durations") || dur_prefetch=$(median3 <"$work/durations")
	done
	kill_no=0 ended=0 nproblems=0 bad_kills=0 n=0
	start=$(now)
	while [ $kill_no -lt "$kills" ]; do
		n=$((n + 1))
		[ $n -le $((kills * 40)) ] || die "$phase: $ended of $n runs ended before their kill"
		env GEAR_SYSROOT="$II" gear-gc >/dev/null 2>&1 || problem "gear-gc fails before a mount"
		opt= dur=$dur_plain
		[ $((n % 2)) = 0 ] && opt=--prefetch dur=$dur_prefetch
		mount_fs "$II" cr/multi "$M" $opt || die "cannot mount"
		delay=$(delay_of "$dur")
		(cd "$M" && xargs -0 cat -- >/dev/null 2>&1) <"$work/files" &
		reader=$!
		sleep "$delay"
		if ! kill -0 $reader 2>/dev/null; then
			ended=$((ended + 1))
			wait $reader
			umount_fs "$M"
			continue
		fi
		kill -9 "$fspid"
		wait "$fspid" 2>/dev/null
		fspid=
		wait $reader
		fusermount3 -u -z "$M" 2>/dev/null
		kill_no=$((kill_no + 1))
		before=$nproblems
		tree_check --age-temps
		# the same mount again: every file byte-identical
		mount_fs "$II" cr/multi "$M" $opt && same_tree "$M"
		umount_fs "$M"
		repair_and_check
		[ $nproblems = "$before" ] || bad_kills=$((bad_kills + 1))
	done
	dur=$(((dur_plain + dur_prefetch) / 2))
	phase_summary
}

# gc: a cache of a few thousand contents trimmed to nothing while cr/multi stays mounted
gc_setup() {
	mkdir -p "$work/many"
	i=0
	while [ $i -lt 1000 ]; do
		echo "content $i" >"$work/many/f$i"
		i=$((i + 1))
	done
	env GEAR_SYSROOT="$G" gear-build -q "dir:$work/many" cr/many >/dev/null &&
		env GEAR_SYSROOT="$G" gear-build -q "oci:$work/imgs/oci:multi" cr/multi >/dev/null ||
		die "cannot build cr/many or cr/multi"
	mount_fs "$G" cr/many "$work/mm" || die "cannot mount cr/many"
	(cd "$work/mm" && cat -- f* >/dev/null) || die "cannot read cr/many"
	umount_fs "$work/mm"
	rm -rf "$work/public.many"
	cp -a "$G/var/lib/gear/public" "$work/public.many"
	# cr/multi stays mounted, everything read: gc keeps all of it
	mount_fs "$G" cr/multi "$work/gm" || die "cannot mount cr/multi"
	same_tree "$work/gm" || die "cr/multi does not read back"
	gcfs=$fspid
	fspid=
	env GEAR_SYSROOT="$G" gear-gc --max-size 0 >/dev/null || die "gear-gc fails"
	(cd "$G/var/lib/gear/public" && find . -type f ! -name '.*' | sed 's|^\./||; s|/||' | sort) >"$work/multi.contents"
}
gc_prep() { cp -a "$work/public.many/." "$G/var/lib/gear/public/"; }
gc_cmd() { exec env GEAR_SYSROOT="$G" gear-gc --max-size 0; }
gc_killed() { :; }
gc_ended() { :; }
gc_rerun() {
	expect_ok "gear-gc again" env GEAR_SYSROOT="$G" gear-gc --max-size 0 || return
	(cd "$G/var/lib/gear/public" && find . -type f ! -name '.*' | sed 's|^\./||; s|/||' | sort) >"$work/cached"
	cmp -s "$work/cached" "$work/multi.contents" ||
		problem "after gc the cache holds $(wc -l <"$work/cached") contents, not the $(wc -l <"$work/multi.contents") of the mounted image"
	same_tree "$work/gm"
}

# ---- setup -------------------------------------------------------------------

echo "crash: work directory $work, $kills kills per command"
mkdir -p "$GEAR_SYSROOT/etc/gear"
cp "$top/share/gear.conf" "$GEAR_SYSROOT/etc/gear/gear.conf"
printf "run-arg=--pull=never\ngear-bin=%s/bin\n" "$top" >>"$GEAR_SYSROOT/etc/gear/gear.conf"
build-test-image >/dev/null 2>&1 || die "cannot build the test image"
build-test-images --big 8 "$work/imgs" >/dev/null 2>&1 || die "cannot build the test images"
umoci unpack --image "$work/imgs/oci:multi" "$work/ref" >/dev/null 2>&1 || die "cannot unpack the source"
(cd "$work/ref/rootfs" && find . -type f -print0) >"$work/files"
gear-test-systemd start "$work/sd" >/dev/null || die "cannot start the private manager"
on_manager
addr=$(gear-test-registry start "$work/reg") || die "cannot start the registry"
manifest=$(env GEAR_SYSROOT="$II" gear-build -q "oci:$work/imgs/oci:multi" cr/multi) || die "cannot build cr/multi"
# an access list, so that pushes ship one and pulls prefetch it
mount_fs "$II" cr/multi "$work/m" || die "cannot mount cr/multi"
(cd "$work/m" && xargs -0 cat -- >/dev/null) <"$work/files" || die "cannot read through the mount"
umount_fs "$work/m"
nlisted=$(wc -l <"$IMG/images/cr/multi/latest/access.list")
mkdir -p "$work/src/var/lib/gear"
env GEAR_SYSROOT="$II" gear-push cr/multi "$work/src/var/lib/gear" >/dev/null || die "cannot push to the source store"
env GEAR_SYSROOT="$II" gear-push --tls-verify=false cr/multi "docker://$addr/crash/src" >/dev/null || die "cannot push to the registry"
: >"$work/summary"
: >"$work/details"
: >"$work/notes"

for phase in $phases; do
	stores= troot=$GEAR_SYSROOT
	case $phase in
	install-new) phase=install_new ;;
	install-update) phase=install_update; install_update_setup ;;
	delete) ;;
	build) troot=$B ;;
	push-dir) phase=push_dir stores=$S troot=$II ;;
	push-registry) phase=push_registry troot=$II repo=crash/p0 repos=0 ;;
	pull-dir) phase=pull_dir troot=$P ;;
	pull-registry) phase=pull_registry troot=$P ;;
	fs) troot=$II; fs_phase; continue ;;
	gc) troot=$G; gc_setup ;;
	*) die "unknown phase '$phase'" ;;
	esac
	drive
	[ "$phase" = install_update ] && install_update_teardown
done

echo
echo "crash: summary ($kills kills per command)"
cat "$work/summary"
if [ -s "$work/notes" ]; then
	echo
	echo "crash: repairs the phases expect (phase, kill, what)"
	cat "$work/notes"
fi
if [ -s "$work/details" ]; then
	echo
	echo "crash: every inconsistency (phase, kill, detail)"
	cat "$work/details"
fi
