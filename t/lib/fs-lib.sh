# gear-fs helpers for the tests, sourced after test-lib.sh

# start_fs NAME DIR [OPTION...]: gear-fs in the foreground, in the background
# of this test; waits until DIR is mounted; its pid in DIR.pid, stderr in DIR.err
start_fs() {
	while grep -q " $PWD/$2 fuse.gear " /proc/mounts; do fusermount3 -u -z "$2" || return 1; done
	mkdir -p "$2" || return 1
	fs_name=$1 fs_dir=$2
	shift 2
	gear-fs -f "$@" "$fs_name" "$fs_dir" 2>"$fs_dir.err" &
	set -- "$fs_name" "$fs_dir"
	echo $! >"$2.pid"
	i=0
	until grep -q " $PWD/$2 fuse.gear " /proc/mounts; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$(cat "$2.pid")" 2>/dev/null; then
			echo "gear-fs did not mount $2:"; cat "$2.err"; return 1
		fi
		sleep 0.05
	done
}

# stop_fs DIR: unmounts; gear-fs must exit 0 (when a child of this shell) and be gone
stop_fs() {
	pid=$(cat "$1.pid") &&
	fusermount3 -u "$1" || return 1
	wait "$pid" 2>/dev/null
	code=$?
	if [ $code != 0 ] && [ $code != 127 ]; then echo "gear-fs on $1 exited $code"; return 1; fi
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "gear-fs on $1 does not exit"; return 1; }
		sleep 0.1
	done
	! grep -q " $PWD/$1 fuse.gear " /proc/mounts
}

# stat_of IMAGE KEY: a counter of the image's last mount (rewritten 0.1 s after a change)
stat_of() {
	sleep 0.4 &&
	case $1 in *:*) ;; *) set -- "$1:latest" "$2" ;; esac
	awk -v k="$2" '$1 == k { print $2 }' "$IMG/images/${1%%:*}/${1#*:}/fs.stats"
}

# wait_stat IMAGE KEY VALUE: until the counter has that value (5 s at most)
wait_stat() {
	i=0
	until [ "$(stat_of "$1" "$2")" = "$3" ]; do
		i=$((i + 1))
		[ $i -lt 12 ] || { echo "$2 of $1 is $(stat_of "$1" "$2"), not $3"; return 1; }
	done
}

# pub HEX: the public/ cache file of a content
pub() { echo "$IMG/public/$(echo $1 | cut -c1-2)/$(echo $1 | cut -c3-)"; }

# fs_ready: fails with the reason when FUSE cannot be used here
fs_ready() {
	test -c /dev/fuse || { echo "/dev/fuse is missing: FUSE tests cannot run"; return 1; }
	command -v fusermount3 >/dev/null || { echo "fusermount3 is missing (package fuse3)"; return 1; }
	exec 3</dev/fuse || { echo "/dev/fuse cannot be opened"; return 1; }
}

# waits_on_lock PID: PID waits for a flock (10 s at most)
waits_on_lock() {
	i=0
	until grep -q -- "-> FLOCK .* $1 " /proc/locks; do
		i=$((i + 1))
		test $i -lt 200 || { echo "process $1 does not wait for a lock"; return 1; }
		sleep 0.05
	done
}

# map_blob_headed V2 LINE: a small blob of the registry storage V2 (.../docker/registry/v2) is a
# zstd-compressed map whose first line is LINE
map_blob_headed() {
	for d in $(find "$1/blobs" -name data -size -64k); do
		zstd -dc "$d" 2>/dev/null | head -n 1 | grep -qx "$2" && return 0
	done
	echo "no map blob headed '$2' in $1"
	return 1
}
