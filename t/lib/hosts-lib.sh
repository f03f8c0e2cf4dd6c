# Two hosts for the tests of gear over ssh: network namespaces ${HOSTS_NS}a
# and ${HOSTS_NS}b joined by a veth pair, each with its own tree, service
# manager and sshd ($HOSTS_NET.1 and $HOSTS_NET.2, port $HOSTS_PORT), logged
# into as root with "$T/ssh". Set HOSTS_NS, HOSTS_NET and HOSTS_PORT, unique
# to the test, then source this after systemd-lib.sh and call hosts_setup in
# the setup test.

T=$TRASH_DIRECTORY
NA=${HOSTS_NS}a NB=${HOSTS_NS}b
AA=$HOSTS_NET.1 AB=$HOSTS_NET.2
HA=$AA:$HOSTS_PORT HB=$AB:$HOSTS_PORT
test_atexit 'ip netns del $NA 2>/dev/null; ip netns del $NB 2>/dev/null'
test_atexit 'gear-test-systemd stop "$T/sda"; gear-test-systemd stop "$T/sdb"'
test_atexit 'gear-test-sshd stop "$T/sshda"; gear-test-sshd stop "$T/sshdb"'

# on X CMD...: CMD on host X (a or b): in its network namespace, tree and manager
on() {
	h=$1
	shift
	GEAR_SYSROOT=$T/host$h nsenter --net=/run/netns/$HOSTS_NS$h gear-test-systemd run "$T/sd$h" "$@"
}
# fetch X ID URL: what container ID on host X gets from URL
fetch() { on $1 podman exec ctr-$2 wget -qO- "$3"; }

# hosts_host X ADDRESS: its tree, manager and sshd in namespace ${HOSTS_NS}X
hosts_host() {
	mkdir -p "$T/host$1/etc/gear" &&
	cp "$GEAR_BUILD/share/gear.conf" "$T/host$1/etc/gear/gear.conf" &&
	printf "gear-bin=%s\nrun-arg=--pull=never\n" "$GEAR_BUILD/bin" >>"$T/host$1/etc/gear/gear.conf" &&
	cat >"$T/sshd$1.conf" <<-EOC &&
	ListenAddress $2:$HOSTS_PORT
	AuthorizedKeysCommand /bin/cat $T/key.pub
	AuthorizedKeysCommandUser root
	PermitRootLogin prohibit-password
	SetEnv GEAR_SYSROOT=$T/host$1 GEAR_SYSTEMD=user XDG_RUNTIME_DIR=/run/user/0 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/0/bus PATH=$GEAR_BUILD/bin:/usr/sbin:/usr/bin:/sbin:/bin
	EOC
	GEAR_SYSROOT=$T/host$1 nsenter --net=/run/netns/$HOSTS_NS$1 gear-test-systemd start "$T/sd$1" &&
	on $1 gear-test-sshd start "$T/sshd$1" "$T/sshd$1.conf" >/dev/null
}

hosts_setup() {
	build-test-image &&
	ip netns add $NA && ip netns add $NB &&
	ip link add ${HOSTS_NS}va type veth peer name ${HOSTS_NS}vb &&
	ip link set ${HOSTS_NS}va netns $NA && ip link set ${HOSTS_NS}vb netns $NB &&
	ip -n $NA addr add $AA/24 dev ${HOSTS_NS}va && ip -n $NB addr add $AB/24 dev ${HOSTS_NS}vb &&
	ip -n $NA link set lo up && ip -n $NA link set ${HOSTS_NS}va up &&
	ip -n $NB link set lo up && ip -n $NB link set ${HOSTS_NS}vb up &&
	ssh-keygen -q -t ed25519 -N "" -f "$T/key" &&
	printf "#!/bin/sh\nexec ssh -F /dev/null -i %s -l root -o IdentitiesOnly=yes -o IdentityAgent=none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 \"\$@\"\n" \
		"$T/key" >"$T/ssh" &&
	chmod +x "$T/ssh" &&
	hosts_host a $AA &&
	hosts_host b $AB &&
	nsenter --net=/run/netns/$NA "$T/ssh" -p $HOSTS_PORT $AA gear-list-units &&
	nsenter --net=/run/netns/$NA "$T/ssh" -p $HOSTS_PORT $AB gear-list-units
}
