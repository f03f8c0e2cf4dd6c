#!/bin/sh
# bench/switchns.sh [RUNS]: what joining a container adds to an SSH login
#
# One sshd on a loopback port (scripts/gear-test-sshd), a private systemd
# user manager with one isolated container and the join socket (gear-init).
# Times "ssh ctr-ID@127.0.0.1 true" (the login joined to the container by
# gear-switchns) against "ssh USER@127.0.0.1 true" for a plain user of the
# same sshd running true on the host, taking turns, RUNS times each (default
# 30). Prints the medians, their difference (the cost of joining, goal
# under 150 ms) and their ratio; and, for the parts, the medians of
# the join without ssh (gear-switchns run as ctr-ID), "runc exec" (what the
# join runs) and "podman exec" (what it ran before) of "/bin/sh -c true" in
# the container, run directly as root. Run as root,
# after make.
set -eu

runs=${1:-30}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$top/scripts:$PATH"
work=$(mktemp -d /tmp/gear-bench-switchns.XXXXXX)
chmod 0755 "$work"
export PATH GEAR_SYSROOT="$work/root"
SD=$work/sd
id=benchjoin1
plain=gearbenchplain

cleanup() {
	gear-test-sshd stop "$work/sshd" >/dev/null 2>&1 || :
	gear-test-systemd stop "$SD" >/dev/null 2>&1 || :
	userdel "ctr-$id" >/dev/null 2>&1 || :
	userdel "$plain" >/dev/null 2>&1 || :
	rm -rf "$work" /run/gear-bench-switchns.$$
}
trap cleanup EXIT
trap 'exit 130' INT TERM
g() { gear-test-systemd run "$SD" "$@"; }

mkdir -p "$GEAR_SYSROOT/bin" "$GEAR_SYSROOT/etc/gear"
cp "$top/gear" "$GEAR_SYSROOT/bin/gear"
for c in $("$top/gear" --list); do ln -s gear "$GEAR_SYSROOT/bin/gear-$c"; done
cp "$top/share/gear.conf" "$GEAR_SYSROOT/etc/gear/gear.conf"
printf 'run-arg=--pull=never\ngear-bin=%s/bin\n' "$GEAR_SYSROOT" >>"$GEAR_SYSROOT/etc/gear/gear.conf"
build-test-image >/dev/null
gear-test-systemd start "$SD" >/dev/null
g gear-install --isolate --start localhost/gear-test-web:latest $id >/dev/null
g gear-init >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
gear-keys add --key-file "$work/key.pub" $id >/dev/null
useradd --system --no-create-home --home-dir / --shell /bin/sh --password '*' $plain
# sshd wants the keys file and every directory above it root's, not writable by others
mkdir -m 0755 /run/gear-bench-switchns.$$
cp "$work/key.pub" /run/gear-bench-switchns.$$/authorized_keys
cat >"$work/sshd.conf" <<EOC
UsePAM no
Match User ctr-*
	AuthorizedKeysCommand @KEYS_COMMAND@ %u
	AuthorizedKeysCommandUser root
	SetEnv GEAR_SYSROOT=$GEAR_SYSROOT
Match User $plain
	AuthorizedKeysFile /run/gear-bench-switchns.$$/authorized_keys
EOC
gear-test-sshd start "$work/sshd" "$work/sshd.conf" >/dev/null

now_us() { date +%s%6N; }
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
time_one() {
	t0=$(now_us)
	gear-test-sshd ssh "$work/sshd" -i "$work/key" "$1@127.0.0.1" true
	echo $(($(now_us) - t0)) >>"$2"
}
cid=$(cat "$GEAR_SYSROOT/run/gear/cid/$id")
# warm both paths first
time_one "ctr-$id" /dev/null
time_one $plain /dev/null
i=0
while [ $i -lt "$runs" ]; do
	time_one "ctr-$id" "$work/join"
	time_one $plain "$work/plain.t"
	t0=$(now_us)
	podman exec ctr-$id /bin/sh -c true
	echo $(($(now_us) - t0)) >>"$work/exec"
	t0=$(now_us)
	setpriv --reuid="ctr-$id" --regid="$(id -g "ctr-$id")" --clear-groups \
		env SSH_ORIGINAL_COMMAND=true "$GEAR_SYSROOT/bin/gear-switchns" </dev/null
	echo $(($(now_us) - t0)) >>"$work/client"
	t0=$(now_us)
	runc --root=/run/runc exec "$cid" /bin/sh -c true
	echo $(($(now_us) - t0)) >>"$work/runc"
	i=$((i + 1))
done
j=$(median "$work/join")
p=$(median "$work/plain.t")
x=$(median "$work/exec")
rc=$(median "$work/runc")
cl=$(median "$work/client")
printf '%-34s %10s\n' "path" "median_ms"
printf '%-34s %10.1f\n' "ssh plain user true" "$(echo "$p / 1000" | bc -l)"
printf '%-34s %10.1f\n' "ssh ctr-ID true (joined)" "$(echo "$j / 1000" | bc -l)"
printf '%-34s %10.1f\n' "joining (difference)" "$(echo "($j - $p) / 1000" | bc -l)"
printf '%-34s %10.2f\n' "ratio joined / plain" "$(echo "$j / $p" | bc -l)"
printf '%-34s %10.1f\n' "gear-switchns true, no ssh" "$(echo "$cl / 1000" | bc -l)"
printf '%-34s %10.1f\n' "runc exec sh -c true, as root" "$(echo "$rc / 1000" | bc -l)"
printf '%-34s %10.1f\n' "podman exec sh -c true, as root" "$(echo "$x / 1000" | bc -l)"
