#!/bin/sh
test_description='HOST/ID targets: the container commands run on other hosts over ssh'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

HOSTS_NS=t62 HOSTS_NET=10.162.0 HOSTS_PORT=46222
. "$TEST_DIRECTORY/lib/hosts-lib.sh"

# ga CMD...: CMD on host a, with the test's ssh
ga() { on a env GEAR_SSH="$T/ssh" "$@"; }
active() { on $1 systemctl --user is-active "ctr-$2.service"; }
# the fingerprint of the test's key, as gear-keys names it
key_fp() { ssh-keygen -lf "$T/key.pub" | cut -d " " -f 2 | sed "s/^SHA256://" | tr +/ -_; }
test_atexit 'userdel git-t62repo'

test_expect_success 'setup: two namespaces joined by a veth pair, a host in each' '
	hosts_setup &&
	printf "#!/bin/sh\necho \"\$*\" >>%s\nexec %s \"\$@\"\n" "$T/calls" "$T/ssh" >"$T/rec" &&
	chmod +x "$T/rec"
'

test_expect_success 'gear-install on both hosts in one call; env values that are shell syntax arrive verbatim' '
	ga gear-install "$IMAGE" $HA/t62one $HB/t62two "X=a;touch $T/pwned" "Y=\$(touch $T/pwned)\`touch $T/pwned\`" \
		"Z=it'\''s \"q\" \\ *" >out 2>err &&
	cat out err &&
	test -f "$T/hosta/var/lib/containers/units/t6/ctr-t62one.service" &&
	test_must_fail test -e "$T/hosta/var/lib/containers/units/t6/ctr-t62two.service" &&
	test -f "$T/hostb/var/lib/containers/units/t6/ctr-t62two.service" &&
	test_must_fail test -e "$T/hostb/var/lib/containers/units/t6/ctr-t62one.service" &&
	on b gear-env t62two >env &&
	cat env &&
	grep -xF "X=a;touch $T/pwned" env &&
	grep -xF "Y=\$(touch $T/pwned)\`touch $T/pwned\`" env &&
	grep -xF "Z=it'\''s \"q\" \\ *" env &&
	test_must_fail test -e "$T/pwned"
'

test_expect_success 'gear-set-env HOST/ID: a value with ; and $() set verbatim, nothing run' '
	ga gear-set-env $HB/t62two "W=b;touch $T/pwned;\$(touch $T/pwned)" &&
	on b gear-env t62two >env &&
	grep -xF "W=b;touch $T/pwned;\$(touch $T/pwned)" env &&
	ga gear-env $HB/t62two >env2 &&
	test_cmp env env2 &&
	test_must_fail test -e "$T/pwned"
'

test_expect_success 'gear-link HOST/ID, its options after the target' '
	ga gear-link $HB/t62two -n "8081:$AA:8080" &&
	grep -x "127.0.0.1	8081	8080	$AA" "$T/hostb/var/lib/containers/ports/links/t6/t62two" &&
	test_must_fail test -e "$T/hosta/var/lib/containers/ports/links/t6/t62two"
'

test_expect_success 'gear-start on both hosts in one call' '
	ga gear-start $HA/t62one $HB/t62two &&
	test "$(active a t62one)" = active &&
	test "$(active b t62two)" = active
'

test_expect_success 'gear-status on both hosts in one call, each output streamed' '
	ga gear-status $HA/t62one $HB/t62two >out &&
	cat out &&
	grep -x "id:	t62one" out &&
	grep -x "id:	t62two" out &&
	test $(grep -c "^state:	active" out) = 2
'

test_expect_success 'gear-list-units HOST HOST: each line after its host' '
	ga gear-list-units $HA $HB >out &&
	cat out &&
	grep "^$HA	t62one	active	" out &&
	grep "^$HB	t62two	active	" out &&
	test $(grep -cv "^$HA	\|^$HB	" out) = 0 &&
	ga gear-list-units $HB >one &&
	grep "^t62two	active	" one &&
	test_must_fail grep t62one one
'

test_expect_success 'gear-stop on both hosts in one call' '
	ga gear-stop $HA/t62one $HB/t62two &&
	test_must_fail active a t62one &&
	test_must_fail active b t62two
'

test_expect_success 'a local ID and a remote one in one call: the local one runs here, without ssh' '
	: >"$T/calls" &&
	on a env GEAR_SSH="$T/rec" gear-start t62one $HB/t62two &&
	test "$(active a t62one)" = active &&
	test "$(active b t62two)" = active &&
	echo "-oBatchMode=yes -p 46222 -- $AB gear-start -- t62two" >expect &&
	test_cmp expect "$T/calls" &&
	: >"$T/calls" &&
	on a env GEAR_SSH="$T/rec" gear-restart localhost/t62one local/t62one root@$HB/t62two &&
	echo "-oBatchMode=yes -p 46222 -- root@$AB gear-restart -- t62two" >expect &&
	test_cmp expect "$T/calls"
'

test_expect_success 'an unknown ID on a remote: its exit status and message' '
	test_expect_code 1 ga gear-stop $HB/t62none 2>err &&
	cat err &&
	grep "t62none" err &&
	test_expect_code 1 ga gear-stop $HA/t62none $HB/t62two 2>err &&
	cat err &&
	grep "^gear-stop: 1 of 2 hosts failed: $HA\$" err &&
	test_must_fail active b t62two
'

test_expect_success 'a host that cannot be reached: 111, the others still run' '
	test_expect_code 111 ga gear-start $AB:46299/t62two $HA/t62one 2>err &&
	cat err &&
	grep "^gear-start: 1 of 2 hosts failed: $AB:46299\$" err &&
	test "$(active a t62one)" = active
'

test_expect_success 'an invalid ID or host is refused here with 100, before any ssh' '
	: >"$T/calls" &&
	test_expect_code 100 on a env GEAR_SSH="$T/rec" gear-start $HA/t62one "$HB/t62x;touch\${IFS}$T/pwned" 2>err &&
	grep "invalid identifier" err &&
	test_expect_code 100 on a env GEAR_SSH="$T/rec" gear-stop "$HB/\$(touch)" 2>err &&
	test_expect_code 100 on a env GEAR_SSH="$T/rec" gear-stop "h;touch $T/pwned/t62one" 2>err &&
	grep "invalid host" err &&
	test_expect_code 100 on a env GEAR_SSH="$T/rec" gear-stop "-oProxyCommand=touch/t62one" 2>err &&
	test_expect_code 100 on a env GEAR_SSH="$T/rec" gear-list-units "h1;id" 2>err &&
	test_expect_code 100 on a env GEAR_SSH="$T/rec" gear-set-env "$HB/../../x" A=1 2>err &&
	test_must_fail test -s "$T/calls" &&
	test_must_fail test -e "$T/pwned" &&
	on a env GEAR_SSH="$T/rec" gear-status $HB/t62two >/dev/null &&
	grep -x -- "-oBatchMode=yes -p 46222 -- $AB gear-status -- t62two" "$T/calls"
'

test_expect_success 'gear-keys add HOST/ID: the keys read and checked here, sent to the host on its standard input' '
	fp=$(key_fp) &&
	: >"$T/calls" &&
	on a env GEAR_SSH="$T/rec" gear-keys add --key-file "$T/key.pub" $HB/t62two >out &&
	echo "$fp" >expect &&
	test_cmp expect out &&
	echo "-oBatchMode=yes -p 46222 -- $AB gear-keys add -- t62two" >expect &&
	test_cmp expect "$T/calls" &&
	test -h "$T/hostb/var/lib/containers/access/containers/t6/t62two/$fp" &&
	test_must_fail test -e "$T/hosta/var/lib/containers/keys" &&
	ga gear-keys list $HB/t62two >out &&
	printf "%s\tssh\t%s\n" "$fp" "$(cut -d " " -f 1,2 "$T/key.pub")" >expect &&
	test_cmp expect out
'

test_expect_success 'gear-keys repo://HOST/ID --write, a local target beside it, and list there' '
	fp=$(key_fp) &&
	on b gear-repo create t62repo &&
	ga gear-keys add --write repo://$HB/t62repo <"$T/key.pub" >out &&
	echo "$fp" >expect &&
	test_cmp expect out &&
	ga gear-keys add repo://$HB/t62repo ctr://localhost/t62one <"$T/key.pub" >out &&
	printf "%s\n%s\n" "$fp" "$fp" >expect &&
	test_cmp expect out &&
	ga gear-keys list repo://$HB/t62repo >out &&
	printf "%s\twrite\t%s\n" "$fp" "$(cut -d " " -f 1,2 "$T/key.pub")" >expect &&
	test_cmp expect out &&
	ga gear-keys list t62one >out &&
	grep "^$fp	ssh	" out &&
	ga gear-keys remove --write repo://$HB/t62repo <"$T/key.pub" &&
	ga gear-keys list repo://$HB/t62repo >out &&
	printf "%s\tread\t%s\n" "$fp" "$(cut -d " " -f 1,2 "$T/key.pub")" >expect &&
	test_cmp expect out
'

test_expect_success 'gear-keys HOST/ID refusals: bad keys and targets here, before ssh; a missing container there' '
	: >"$T/calls" &&
	echo "ssh-ed25519 AAAA" | test_expect_code 100 on a env GEAR_SSH="$T/rec" gear-keys add $HB/t62two 2>err &&
	grep "^gear-keys: stdin:1: " err &&
	test_expect_code 100 on a env GEAR_SSH="$T/rec" gear-keys add --key-file "$T/none.pub" $HB/t62two 2>err &&
	grep "cannot open" err &&
	test_expect_code 100 on a env GEAR_SSH="$T/rec" gear-keys add "repo://$HB/x;id" <"$T/key.pub" 2>err &&
	grep "invalid identifier" err &&
	test_expect_code 100 on a env GEAR_SSH="$T/rec" gear-keys add --write $HB/t62two <"$T/key.pub" 2>err &&
	grep "^gear-keys: '\''--write'\'' applies to repositories, not '\''$HB/t62two'\''" err &&
	test_must_fail test -s "$T/calls" &&
	test_expect_code 1 ga gear-keys add $HB/t62none <"$T/key.pub" 2>err &&
	grep "no container '\''t62none'\''" err
'

test_expect_success 'cleanup: gear-delete on both hosts in one call' '
	ga gear-delete $HA/t62one $HB/t62two &&
	test_must_fail test -e "$T/hosta/var/lib/containers/units/t6/ctr-t62one.service" &&
	test_must_fail test -e "$T/hostb/var/lib/containers/units/t6/ctr-t62two.service"
'

test_done
