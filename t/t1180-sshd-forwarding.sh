#!/bin/sh
test_description='a real sshd with the key lines: ssh -L reaches the container port, ssh -R is refused'
. "$(dirname "$0")/lib/test-lib.sh"

ID=t18fwd
USER_=ctr-$ID
test_atexit 'gear-test-sshd stop sshd; gear-test-sshd stop sshd2; userdel '$USER_
test_atexit '[ -f socat.pid ] && kill $(cat socat.pid)'

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# fwd PORT: a line through 127.0.0.1:PORT comes back from the listener
through() {
	echo ping | timeout 10 socat -t 2 - TCP:127.0.0.1:$1 >reply &&
	echo pong >expect &&
	test_cmp expect reply
}

test_expect_success 'setup: a user, a container unit with a port, a listener on it, a key' '
	useradd --system --no-create-home --home-dir / --shell /bin/sh $USER_ &&
	P=$(free_port) && echo "P=$P" >vars &&
	test_fake_unit $ID 8080:$P &&
	ssh-keygen -q -t ed25519 -N "" -f key &&
	gear-keys add --key-file key.pub $ID >/dev/null &&
	{ socat TCP-LISTEN:$P,bind=127.0.0.1,fork,reuseaddr SYSTEM:"read l; echo pong" & echo $! >socat.pid; } &&
	sleep 0.3 && through $P
'
test ! -f vars || . ./vars

# sshd as an admin would start with no forwarding settings at all: the key lines alone
test_expect_success 'sshd without forwarding settings' '
	cat >bare.conf <<-EOF &&
	UsePAM yes
	Match User ctr-*
	        AuthorizedKeysCommand @KEYS_COMMAND@ %u
	        AuthorizedKeysCommandUser root
	EOF
	gear-test-sshd start sshd bare.conf >/dev/null
'

test_expect_success '-L to the container port works' '
	L=$(free_port) &&
	{ gear-test-sshd ssh sshd -i key -N -o ExitOnForwardFailure=yes -L $L:127.0.0.1:$P $USER_@127.0.0.1 2>ssh.err & echo $! >ssh.pid; } &&
	i=0 && until through $L 2>/dev/null; do i=$((i + 1)); test $i -lt 50 || break; sleep 0.1; done &&
	through $L; r=$?; kill $(cat ssh.pid); test $r = 0
'

test_expect_success '-L elsewhere is refused by permitopen' '
	L=$(free_port) && O=$(free_port) &&
	{ gear-test-sshd ssh sshd -i key -N -L $L:127.0.0.1:$O $USER_@127.0.0.1 2>ssh.err & echo $! >ssh.pid; } &&
	sleep 1 && { echo ping | timeout 5 socat -t 2 - TCP:127.0.0.1:$L >reply 2>/dev/null || :; } &&
	kill $(cat ssh.pid) && test_must_fail test -s reply
'

test_expect_success '-R to a host port is refused' '
	R=$(free_port) &&
	test_expect_code 255 timeout 20 gear-test-sshd ssh sshd -i key -N -o ExitOnForwardFailure=yes \
		-R $R:127.0.0.1:$P $USER_@127.0.0.1 2>ssh.err &&
	grep "remote port forwarding failed" ssh.err
'

test_expect_success 'the key carries no agent, X11 or user rc' '
	tr -d "\r" <sshd/log >sshd.log &&
	grep "key options: command permitopen permitlisten port-forwarding pty$" sshd.log
'

test_expect_success 'make install ships the Match block, commented' '
	make -s -C "$GEAR_BUILD" install DESTDIR="$TRASH_DIRECTORY/dest" PREFIX=/usr/local >/dev/null &&
	f="$TRASH_DIRECTORY/dest/usr/local/share/gear/sshd/gear.conf" &&
	test -f "$f" &&
	test_must_fail grep "^[^#]" "$f" &&
	grep "^#	AuthorizedKeysCommand /usr/local/bin/gear-auth-keys-command %u$" "$f"
'

test_expect_success 'with the shipped block: -L works, -R and Unix sockets are refused' '
	gear-test-sshd stop sshd &&
	{ echo "UsePAM yes" && sed -n "s|^#\([^ ]\)|\1|p" "$TRASH_DIRECTORY/dest/usr/local/share/gear/sshd/gear.conf" |
		sed "s|/usr/local/bin/gear-auth-keys-command|@KEYS_COMMAND@|"; } >shipped.conf &&
	gear-test-sshd start sshd2 shipped.conf >/dev/null &&
	R=$(free_port) &&
	test_expect_code 255 timeout 20 gear-test-sshd ssh sshd2 -i key -N -o ExitOnForwardFailure=yes \
		-R $R:127.0.0.1:$P $USER_@127.0.0.1 2>ssh.err &&
	test_expect_code 255 timeout 20 gear-test-sshd ssh sshd2 -i key -N -o ExitOnForwardFailure=yes \
		-R /tmp/gear-t1180.$$.sock:127.0.0.1:$P $USER_@127.0.0.1 2>ssh.err &&
	test_must_fail test -e /tmp/gear-t1180.$$.sock &&
	L=$(free_port) &&
	{ gear-test-sshd ssh sshd2 -i key -N -o ExitOnForwardFailure=yes -L $L:127.0.0.1:$P $USER_@127.0.0.1 2>ssh.err & echo $! >ssh.pid; } &&
	i=0 && until through $L 2>/dev/null; do i=$((i + 1)); test $i -lt 50 || break; sleep 0.1; done &&
	through $L; r=$?; kill $(cat ssh.pid); test $r = 0
'

test_done
