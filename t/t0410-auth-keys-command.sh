#!/bin/sh
test_description='gear-auth-keys-command: authorized_keys for sshd, read-only'
. "$(dirname "$0")/lib/test-lib.sh"

USAGE='usage: gear-auth-keys-command USER
       gear-auth-keys-command --forced-command'

sshfp() {
	ssh-keygen -lf "$1" >"$1.fp" &&
	sed -n "s/^[0-9]* SHA256:\([A-Za-z0-9+\/]*\) .*/\1/p" "$1.fp" | tr "+/" "-_"
}

keytext() { cut -d" " -f1-2 "$1" | tr -d "\n"; }

snap() {
	test_tree_snapshot "$1" &&
	(cd "$GEAR_SYSROOT" && find . -type f -exec md5sum {} + | sort) >>"$1"
}

# unit ID [INTERNAL:EXTERNAL...]: a container unit with its port mappings
unit() {
	id=$1 && shift &&
	d="$CTR/units/$(echo "$id" | cut -c1-2)" &&
	mkdir -p "$d" &&
	{
		printf "[Unit]\nDescription=container %s\n\n[Service]\nExecStart=/bin/true\n" "$id" &&
		for m in "$@"; do echo "X-PortMapping=$m"; done
	} >"$d/ctr-$id.service"
}

# sorted "FP TEXT" lines of the given .pub files
by_fp() {
	for k in "$@"; do
		printf "%s %s\n" "$(sshfp $k.pub)" "$(keytext $k.pub)"
	done | sort | cut -d" " -f2-
}

test_expect_success 'setup: keys, two containers, a repository' '
	for k in k1 k2 k3; do
		ssh-keygen -q -t ed25519 -N "" -C "$k@example" -f $k || return 1
	done &&
	ssh-keygen -q -t ecdsa -b 256 -N "" -f k4 &&
	unit webapp1 8080:4001 22:4005 &&
	unit noports &&
	test_fake_repo project &&
	cat k1.pub k2.pub k4.pub >three &&
	gear-keys add --key-file three webapp1 >/dev/null &&
	gear-keys add --key-file k3.pub noports >/dev/null &&
	gear-keys add --key-file k1.pub repo://project >/dev/null &&
	gear-keys add --key-file k2.pub repo://project >/dev/null &&
	gear-keys add --write --key-file k2.pub repo://project >/dev/null &&
	gear-keys add --write --key-file k3.pub repo://project >/dev/null &&
	unit unitless &&
	gear-keys add --key-file k4.pub unitless >/dev/null &&
	rm "$CTR/units/un/ctr-unitless.service" &&
	unit idle1
'

test_expect_success '--help and --forced-command' '
	gear-auth-keys-command --help >out 2>err &&
	echo "$USAGE" >expect &&
	test_cmp expect out &&
	test_must_fail test -s err &&
	gear-auth-keys-command --forced-command >out &&
	sw=$(cat out) &&
	case "$sw" in /*/gear-switchns) ;; *) echo "bad forced command $sw"; false ;; esac
'

test_expect_success 'the forced command follows gear.conf gear-bin, not the environment' '
	mkdir -p "$GEAR_SYSROOT/etc/gear" &&
	echo gear-bin=/opt/gear/bin >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	GEAR_BIN=/tmp PATH=/tmp:$PATH gear-auth-keys-command --forced-command >out &&
	echo /opt/gear/bin/gear-switchns >expect &&
	test_cmp expect out &&
	echo "gear-bin=/opt/\"x" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	test_expect_code 111 gear-auth-keys-command ctr-webapp1 >out 2>err &&
	test_must_fail test -s out &&
	echo "gear-bin=relative" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	test_expect_code 100 gear-auth-keys-command ctr-webapp1 >out 2>err &&
	test_must_fail test -s out &&
	grep "gear-bin must be an absolute path" err &&
	rm "$GEAR_SYSROOT/etc/gear/gear.conf"
'

SW=$(gear-auth-keys-command --forced-command)

test_expect_success 'a container: restricted, forced command, its ports only, sorted by fingerprint' '
	snap before &&
	gear-auth-keys-command ctr-webapp1 >out 2>err &&
	opts="restrict,pty,command=\"$SW\",port-forwarding" &&
	opts="$opts,permitopen=\"localhost:4001\",permitopen=\"127.0.0.1:4001\"" &&
	opts="$opts,permitopen=\"localhost:4005\",permitopen=\"127.0.0.1:4005\"" &&
	opts="$opts,permitlisten=\"127.0.0.1:1\"" &&
	by_fp k1 k2 k4 | sed "s|^|$opts |" >expect &&
	test_cmp expect out &&
	test $(wc -l <out) = 3 &&
	test_must_fail test -s err &&
	snap after &&
	test_cmp before after
'

test_expect_success 'a container without ports gets no forwarding at all' '
	gear-auth-keys-command ctr-noports >out &&
	printf "restrict,pty,command=\"%s\" %s\n" \
		"$SW" "$(keytext k3.pub)" >expect &&
	test_cmp expect out
'

test_expect_success 'a repository: write keys get --git, read-only keys --git-ro' '
	gear-auth-keys-command git-project >out &&
	for k in k1 k2 k3; do
		case $k in k1) a=--git-ro ;; *) a=--git ;; esac &&
		printf "%s restrict,command=\"%s %s\" %s\n" "$(sshfp $k.pub)" "$SW" "$a" "$(keytext $k.pub)" ||
		return 1
	done | sort | cut -d" " -f2- >expect &&
	test_cmp expect out &&
	test $(wc -l <out) = 3
'

test_expect_success 'the output is a valid authorized_keys file for ssh-keygen' '
	gear-auth-keys-command ctr-webapp1 >ak &&
	ssh-keygen -lf ak >fps &&
	test $(wc -l <fps) = 3
'

test_expect_success 'keys of a container with no unit are not offered' '
	test -h "$CTR/access/containers/un/unitless/$(sshfp k4.pub)" &&
	gear-auth-keys-command ctr-unitless >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err
'

test_expect_success 'keys of a repository that is gone are not offered' '
	test_fake_repo gone1 &&
	gear-keys add --write --key-file k1.pub repo://gone1 >/dev/null &&
	gear-auth-keys-command git-gone1 >out &&
	test $(wc -l <out) = 1 &&
	rmdir "$CTR/git/go/gone1.git" &&
	test -h "$CTR/access/git/write/go/gone1/$(sshfp k1.pub)" &&
	gear-auth-keys-command git-gone1 >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err
'

test_expect_success 'a user that owns nothing gets nothing' '
	for u in ctr-idle1 git-nothing ctr-nothing; do
		gear-auth-keys-command $u >out 2>err &&
		test_must_fail test -s out &&
		test_must_fail test -s err || return 1
	done
'

test_expect_success 'unknown and invalid user names get nothing and exit 0' '
	snap before &&
	for u in root nobody ctr- git- ctr-ab git-ab "ctr-.." "ctr-../x" "git-../../etc" \
		"ctr-webapp1/x" "ctr-web app" CTR-webapp1 ctrwebapp1 xtr-webapp1 "" \
		ctr-abcdefghijklmnopqrstuvwxy "ctr-localhost/webapp1" "ctr--abc" "ctr-.abc"; do
		gear-auth-keys-command "$u" >out 2>err &&
		test_must_fail test -s out &&
		test_must_fail test -s err || { echo "user $u"; return 1; }
	done &&
	snap after &&
	test_cmp before after
'

test_expect_success 'it writes nothing: no lock, no directory, not even in an empty tree' '
	snap before &&
	for u in ctr-webapp1 ctr-noports git-project ctr-unitless git-nothing; do
		gear-auth-keys-command $u >/dev/null || return 1
	done &&
	snap after &&
	test_cmp before after &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/none" gear-auth-keys-command ctr-webapp1 >out &&
	test_must_fail test -s out &&
	test_must_fail test -e "$TRASH_DIRECTORY/none" &&
	rm -f "$CTR/keys/.lock" &&
	gear-auth-keys-command ctr-webapp1 >out &&
	test $(wc -l <out) = 3 &&
	test_must_fail test -e "$CTR/keys/.lock"
'

test_expect_success 'a removed key is no longer offered' '
	gear-keys remove --key-file k2.pub webapp1 &&
	gear-auth-keys-command ctr-webapp1 >out &&
	test $(wc -l <out) = 2 &&
	test_must_fail grep -F "$(keytext k2.pub)" out &&
	gear-keys remove --write --key-file k2.pub repo://project &&
	gear-auth-keys-command git-project >out &&
	grep -F "restrict,command=\"$SW --git-ro\" $(keytext k2.pub)" out
'

test_expect_success 'a corrupt or foreign key file is skipped' '
	fp=$(sshfp k1.pub) &&
	f="$CTR/keys/$(echo $fp | cut -c1-2)/$fp" &&
	cp "$f" saved &&
	printf "ssh-ed25519 AAAA\nssh-rsa AAAA" >"$f" &&
	gear-auth-keys-command ctr-webapp1 >out &&
	test $(wc -l <out) = 1 &&
	test_must_fail grep -F "ssh-rsa AAAA" out &&
	printf "%s\n" "$(keytext k1.pub)" >"$f" &&
	gear-auth-keys-command ctr-webapp1 >out &&
	test $(wc -l <out) = 1 &&
	cp saved "$f" &&
	gear-auth-keys-command ctr-webapp1 >out &&
	test $(wc -l <out) = 2
'

test_expect_success 'duplicate and zero external ports are listed once' '
	unit dupports 80:4010 81:4010 82:0 &&
	gear-keys add --key-file k1.pub dupports >/dev/null &&
	gear-auth-keys-command ctr-dupports >out &&
	printf "restrict,pty,command=\"%s\",port-forwarding,permitopen=\"localhost:4010\",permitopen=\"127.0.0.1:4010\",permitlisten=\"127.0.0.1:1\" %s\n" \
		"$SW" "$(keytext k1.pub)" >expect &&
	test_cmp expect out
'

test_expect_success 'a fifo planted as a unit file does not hang it' '
	mkdir -p "$CTR/units/fi" && mkfifo "$CTR/units/fi/ctr-fifo1.service" &&
	gear-keys add --key-file k1.pub fifo1 >/dev/null &&
	test_expect_code 111 timeout 10 gear-auth-keys-command ctr-fifo1 >out 2>err &&
	test_must_fail test -s out &&
	grep "is not a regular file" err &&
	rm "$CTR/units/fi/ctr-fifo1.service"
'

test_expect_success 'usage errors exit 100 and print nothing on stdout' '
	test_expect_code 100 gear-auth-keys-command >out 2>err &&
	test_must_fail test -s out &&
	{ echo "gear-auth-keys-command: want one USER" && echo "$USAGE"; } >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-auth-keys-command ctr-webapp1 git-project >out 2>err &&
	test_must_fail test -s out &&
	test_cmp expect err &&
	test_expect_code 100 gear-auth-keys-command --frob >out 2>err &&
	test_must_fail test -s out &&
	{ echo "gear-auth-keys-command: unknown option '\''--frob'\''" && echo "$USAGE"; } >expect &&
	test_cmp expect err
'

# sshd itself: it reads the lines through the keys command, asking for
# ctr-webapp1 whoever logs in (only root exists as a user here)
test_atexit 'gear-test-sshd stop sshd'

test_expect_success 'sshd accepts the lines and forces the command' '
	cat >sshd.conf <<-EOF &&
	UsePAM no
	Match User root
	        AuthorizedKeysCommand @KEYS_COMMAND@ ctr-webapp1
	        AuthorizedKeysCommandUser root
	        AllowTcpForwarding local
	        AllowStreamLocalForwarding no
	        PermitTunnel no
	        PermitUserRC no
	EOF
	gear-test-sshd start sshd sshd.conf >port &&
	{ gear-test-sshd ssh sshd -i k1 root@127.0.0.1 true >ssh.out 2>ssh.err || :; } &&
	test_expect_code 255 gear-test-sshd ssh sshd -i k3 root@127.0.0.1 true >ssh.out 2>ssh.err &&
	grep "Permission denied" ssh.err &&
	sleep 0.2 &&
	tr -d "\r" <sshd/log >sshd.log &&
	grep "Accepted publickey for root from 127.0.0.1 .* ED25519 SHA256:$(sshfp k1.pub | tr -- "-_" "+/")" sshd.log &&
	grep "key options: command permitopen port-forwarding pty$" sshd.log &&
	grep -F "forced command: \"$SW\"" sshd.log &&
	test_must_fail grep "Accepted publickey for root .* SHA256:$(sshfp k3.pub | tr -- "-_" "+/")" sshd.log
'

test_done
