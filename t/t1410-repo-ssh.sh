#!/bin/sh
test_description='git clone, fetch and push through a real sshd: gear-switchns --git and --git-ro'
. "$(dirname "$0")/lib/test-lib.sh"

# git-ID runs gear-switchns and reaches its repository: both live in a
# directory every user may enter, which the trash directory need not be
W=$(mktemp -d /tmp/gear-t1410.XXXXXX) && chmod 755 "$W" || exit 1
GEAR_SYSROOT="$W/root"
CTR="$GEAR_SYSROOT/var/lib/containers"
export GEAR_SYSROOT CTR
GIT="git -c user.name=t -c user.email=t@example -c init.defaultBranch=master"
test_atexit 'rm -rf "$W"'
test_atexit 'userdel git-t41a; userdel git-t41b'
test_atexit 'gear-test-sshd stop sshd; gear-test-sshd stop sshd2'

# as KEY: git over the test sshd with that key
as() {
	key=$1 && shift &&
	GIT_SSH_COMMAND="gear-test-sshd ssh $TRASH_DIRECTORY/sshd -i $TRASH_DIRECTORY/$key" "$@"
}
# sshcmd KEY USER CMD: ssh USER@127.0.0.1 CMD with KEY
sshcmd() {
	gear-test-sshd ssh sshd -i "$1" "$2@127.0.0.1" "$3"
}
# gitr ID ARGS...: git on the repository itself, as root
gitr() {
	d="$CTR/git/$(printf %.2s "$1")/$1.git" && shift &&
	git -c safe.directory="*" --git-dir="$d" "$@"
}
# refused KEY CMD CODE MESSAGE: the forced command refuses CMD, the repositories unchanged
refused() {
	gitr t41a for-each-ref >refs.before &&
	test_expect_code "$3" sshcmd "$1" git-t41a "$2" >out 2>err </dev/null &&
	test_must_fail test -s out &&
	printf "%s\n" "$4" >expect &&
	test_cmp expect err &&
	gitr t41a for-each-ref >refs.after &&
	test_cmp refs.before refs.after
}

test_expect_success 'setup: gear where git-ID reaches it, two repositories, keys, sshd' '
	mkdir "$W/bin" &&
	cp "$GEAR_BUILD/gear" "$W/bin/gear" &&
	for c in $(gear --list); do ln -s gear "$W/bin/gear-$c" || return 1; done &&
	mkdir -p "$GEAR_SYSROOT/etc/gear" &&
	echo "gear-bin=$W/bin" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	$GIT init -q src &&
	(cd src && echo one >a && printf "#!/bin/sh\n" >run && chmod 755 run && ln -s a l &&
	 $GIT add -A && $GIT commit -q -m one) &&
	gear-repo create t41a &&
	gear-repo create --from src t41b &&
	for k in wkey rkey okey; do ssh-keygen -q -t ed25519 -N "" -f $k || return 1; done &&
	gear-keys add --write --key-file wkey.pub repo://t41a >/dev/null &&
	gear-keys add --key-file rkey.pub repo://t41a >/dev/null &&
	gear-keys add --write --key-file okey.pub repo://t41b >/dev/null &&
	cat >nopam.conf <<-EOF &&
	UsePAM no
	Match User git-*
	        AuthorizedKeysCommand @KEYS_COMMAND@ %u
	        AuthorizedKeysCommandUser root
	        SetEnv GEAR_SYSROOT=$GEAR_SYSROOT
	EOF
	gear-test-sshd start sshd nopam.conf >/dev/null
'

test_expect_success 'push with a write key into the empty repository' '
	as wkey git -C src push -q git-t41a@127.0.0.1:t41a master 2>err &&
	test "$(gitr t41a rev-parse master)" = "$(git -C src rev-parse master)" &&
	find "$CTR/git/t4/t41a.git" ! -user git-t41a >notown &&
	test_must_fail test -s notown
'

test_expect_success 'clone and fetch with a read key' '
	as rkey git clone -q git-t41a@127.0.0.1:t41a clone &&
	test "$(git -C clone rev-parse HEAD)" = "$(git -C src rev-parse master)" &&
	test -x clone/run && test -h clone/l &&
	(cd src && echo two >b && $GIT add b && $GIT commit -q -m two) &&
	as wkey git -C src push -q git-t41a@127.0.0.1:t41a.git master &&
	as rkey git -C clone pull -q --ff-only &&
	test "$(git -C clone rev-parse HEAD)" = "$(git -C src rev-parse master)"
'

test_expect_success 'a read key cannot push: a clear refusal, nothing changed' '
	(cd clone && echo three >c && $GIT add c && $GIT commit -q -m three) &&
	gitr t41a for-each-ref >refs.before &&
	test_must_fail as rkey git -C clone push git-t41a@127.0.0.1:t41a master 2>err &&
	grep "^gear-switchns: repository '\''t41a'\'': this key may read, not push$" err &&
	gitr t41a for-each-ref >refs.after &&
	test_cmp refs.before refs.after
'

test_expect_success 'every way of naming the repository works: ID, ID.git, /ID, ~/ID, ~' '
	gitr t41a rev-parse master >expect &&
	for p in t41a t41a.git /t41a /t41a.git "~/t41a" "~/t41a.git" "~" "~/"; do
		as rkey git ls-remote git-t41a@127.0.0.1:"$p" refs/heads/master >out &&
		cut -f1 out >got &&
		test_cmp expect got || { echo "path $p"; return 1; }
	done &&
	as rkey git ls-remote ssh://git-t41a@127.0.0.1/t41a.git refs/heads/master >out &&
	cut -f1 out >got &&
	test_cmp expect got &&
	{ sshcmd rkey git-t41a "git upload-pack '\''t41a'\''" </dev/null >adv 2>/dev/null || :; } &&
	grep "refs/heads/master" adv
'

test_expect_success 'git archive --remote reads it with a read key' '
	as rkey git archive --remote=git-t41a@127.0.0.1:t41a master >remote.tar &&
	git -C src archive master >local.tar &&
	tar -tvf remote.tar >remote.tv &&
	tar -tvf local.tar >local.tv &&
	test_cmp local.tv remote.tv
'

test_expect_success 'path games are refused: .., -x, another repository, quoting' '
	refused rkey "git-upload-pack '\''../x'\''" 100 "gear-switchns: refused path '\''../x'\''" &&
	refused rkey "git-upload-pack '\''/t41a/../t41b'\''" 100 "gear-switchns: refused path '\''/t41a/../t41b'\''" &&
	refused rkey "git-upload-pack '\''-x'\''" 100 "gear-switchns: refused path '\''-x'\''" &&
	refused rkey "git-upload-pack '\''--help'\''" 100 "gear-switchns: refused path '\''--help'\''" &&
	refused rkey "git-upload-pack '\''t41b'\''" 100 \
		"gear-switchns: refused path '\''t41b'\'': this key opens only repository '\''t41a'\''" &&
	refused wkey "git-receive-pack '\''/t41b.git'\''" 100 \
		"gear-switchns: refused path '\''/t41b.git'\'': this key opens only repository '\''t41a'\''" &&
	refused rkey "git-upload-pack '\''t3'\''\'\'''\''1a'\''" 100 \
		"gear-switchns: refused path '\''t3'\''1a'\'': this key opens only repository '\''t41a'\''" &&
	refused rkey "git-upload-pack '\''t41a'\''\!'\'''\''" 100 \
		"gear-switchns: refused path '\''t41a!'\'': this key opens only repository '\''t41a'\''" &&
	refused rkey "git-upload-pack '\''$CTR/git/t4/t41a.git'\''" 100 \
		"gear-switchns: refused path '\''$CTR/git/t4/t41a.git'\'': this key opens only repository '\''t41a'\''" &&
	refused rkey "git-upload-pack '\'''\''" 100 "gear-switchns: refused path '\'''\''"
'

test_expect_success 'verb and shell games are refused: other programs, unquoted or trailing words, newlines' '
	msg="want git-upload-pack, git-receive-pack or git-upload-archive" &&
	refused rkey "sh -c id" 100 "gear-switchns: refused command '\''sh -c id'\'': $msg" &&
	refused rkey "id" 100 "gear-switchns: refused command '\''id'\'': $msg" &&
	refused rkey "git-shell -c '\''git-upload-pack t41a'\''" 100 \
		"gear-switchns: refused command '\''git-shell -c '\''git-upload-pack t41a'\'''\'': $msg" &&
	refused wkey "git-upload-packx '\''t41a'\''" 100 "gear-switchns: refused command '\''git-upload-packx '\''t41a'\'''\'': $msg" &&
	refused rkey "git upload-pack t41a" 100 \
		"gear-switchns: refused command '\''git upload-pack t41a'\'': want one single-quoted path" &&
	refused rkey "git-upload-pack '\''t41a'\''; id" 100 \
		"gear-switchns: refused command '\''git-upload-pack '\''t41a'\''; id'\'': want one single-quoted path" &&
	refused rkey "git-upload-pack  '\''t41a'\''" 100 \
		"gear-switchns: refused command '\''git-upload-pack  '\''t41a'\'''\'': want one single-quoted path" &&
	refused rkey "git-upload-pack '\''t41a'\''
id" 100 "gear-switchns: refused command '\''git-upload-pack '\''t41a'\''?id'\'': control character" &&
	refused rkey "git-upload-pack '\''t41a
'\''" 100 "gear-switchns: refused command '\''git-upload-pack '\''t41a?'\'''\'': control character" &&
	refused rkey "git-receive-pack '\''t41a'\''" 1 "gear-switchns: repository '\''t41a'\'': this key may read, not push"
'

test_expect_success 'a login without a command says what the account is, exit 1; no pty' '
	test_expect_code 1 gear-test-sshd ssh sshd -T -i rkey git-t41a@127.0.0.1 </dev/null >out 2>err &&
	echo "gear-switchns: '\''git-t41a'\'' is a Git repository: use git clone, fetch or push" >expect &&
	test_cmp expect err &&
	test_must_fail gear-test-sshd ssh sshd -tt -i wkey git-t41a@127.0.0.1 </dev/null >out 2>err &&
	grep "^PTY allocation request failed" err
'

test_expect_success 'keys of another repository, or none, do not log in' '
	test_expect_code 255 sshcmd okey git-t41a "git-upload-pack '\''t41a'\''" </dev/null 2>err &&
	grep "Permission denied" err &&
	test_expect_code 255 sshcmd rkey git-t41b "git-upload-pack '\''t41b'\''" </dev/null 2>err &&
	grep "Permission denied" err &&
	as okey git ls-remote git-t41b@127.0.0.1:t41b >out &&
	grep refs/heads/master out
'

test_expect_success 'the key lines allow nothing else: no forwarding, pty, agent, X11 or user rc' '
	tr -d "\r" <sshd/log >sshd.log &&
	grep "key options: command$" sshd.log &&
	test_must_fail grep -E "key options: .*(port-forwarding|pty|agent|x11|user-rc)" sshd.log &&
	test_expect_code 255 timeout 20 gear-test-sshd ssh sshd -i wkey -N -o ExitOnForwardFailure=yes \
		-R 127.0.0.1:0:127.0.0.1:22 git-t41a@127.0.0.1 2>err &&
	grep "remote port forwarding failed" err
'

test_expect_success 'the shipped Match block covers git-* users; with UsePAM yes too' '
	grep "^#Match User ctr-\*,git-\*$" "$GEAR_BUILD/share/sshd/gear.conf" &&
	gear-test-sshd stop sshd &&
	{ echo "UsePAM yes" && sed -n "s|^#\([^ ]\)|\1|p" "$GEAR_BUILD/share/sshd/gear.conf" |
		sed "s|@BINDIR@/gear-auth-keys-command|@KEYS_COMMAND@|" &&
		printf "\tSetEnv GEAR_SYSROOT=%s\n" "$GEAR_SYSROOT"; } >pam.conf &&
	gear-test-sshd start sshd pam.conf >/dev/null &&
	as rkey git clone -q git-t41a@127.0.0.1:t41a clone2 &&
	(cd src && echo four >d && $GIT add d && $GIT commit -q -m four) &&
	as wkey git -C src push -q git-t41a@127.0.0.1:t41a master &&
	test "$(gitr t41a rev-parse master)" = "$(git -C src rev-parse master)" &&
	test_must_fail as rkey git -C clone push git-t41a@127.0.0.1:t41a master 2>err &&
	grep "this key may read, not push" err
'

test_expect_success 'delete: the keys stop working, and nothing is left' '
	gear-repo delete t41a &&
	test_expect_code 255 sshcmd wkey git-t41a "git-upload-pack '\''t41a'\''" </dev/null 2>err &&
	grep "Permission denied" err &&
	test_must_fail getent passwd git-t41a &&
	test_must_fail test -e "$CTR/git/t4/t41a.git" &&
	test_must_fail test -e "$CTR/access/git/write/t4/t41a" &&
	test_must_fail test -e "$CTR/access/git/read/t4/t41a" &&
	gear-repo list >out &&
	printf "t41b\t%s\n" "$CTR/git/t4/t41b.git" >expect &&
	test_cmp expect out
'

test_done
