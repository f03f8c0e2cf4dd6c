#!/bin/sh
test_description='gear-install --isolate: a host user per container and an MCS level from its uid'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=41500-41599
# the level gear-install(1) documents for a uid: the (uid - 1000000)th pair
level_of() {
	awk -v n=$(($1 - 1000000)) 'BEGIN { b = 1; while ((b + 1) * b / 2 <= n) b++; printf "s0:c%d,c%d\n", n - b * (b - 1) / 2, b }'
}
test_atexit 'userdel ctr-t15a; userdel ctr-t15b; userdel ctr-T15.x; userdel ctr-t15c'
test_atexit 'gear-test-systemd stop "$SD"'

test_expect_success 'setup' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD"
'

test_expect_success 'an invalid ID never creates a user' '
	cp /etc/passwd passwd.before &&
	cp /etc/group group.before &&
	test_expect_code 100 g gear-install --isolate --start $IMAGE "t15/../x" 2>err &&
	grep "^gear-install: invalid identifier '\''t15/../x'\''" err &&
	test_expect_code 100 g gear-install --isolate $IMAGE "-t15x" 2>err &&
	test_expect_code 100 g gear-install --isolate $IMAGE t15okay "bad id" 2>err &&
	test_must_fail getent passwd ctr-t15okay &&
	test_cmp passwd.before /etc/passwd &&
	test_cmp group.before /etc/group
'

test_expect_success 'two isolated containers: each runs as its own user' '
	g gear-install --port-range $RANGE -p 8080:0 --isolate --start $IMAGE t15a t15b >out &&
	printf "t15a\t8080\t41500\nt15b\t8080\t41501\n" >expect &&
	test_cmp expect out &&
	getent passwd ctr-t15a >pw.a &&
	getent passwd ctr-t15b >pw.b &&
	grep ":gear container t15a:/:/bin/sh$" pw.a &&
	ua=$(cut -d: -f3 pw.a) && ub=$(cut -d: -f3 pw.b) &&
	test $ua -ge 1000000 && test $ua -le 1523775 &&
	test $ub -ge 1000000 && test $ub -le 1523775 &&
	test $ua != $ub &&
	http_get 41500 uid.txt >body &&
	echo $ua >expect &&
	test_cmp expect body &&
	http_get 41501 uid.txt >body &&
	echo $ub >expect &&
	test_cmp expect body &&
	pid=$(g podman inspect --format "{{.State.Pid}}" ctr-t15a) &&
	test "$(stat -c %u /proc/$pid)" = $ua &&
	grep -x "X-ContainerUserId=$ua:$(cut -d: -f4 pw.a)" "$CTR/units/t1/ctr-t15a.service"
'

test_expect_success 'their MCS levels differ and follow the documented mapping' '
	ua=$(id -u ctr-t15a) && ub=$(id -u ctr-t15b) &&
	grep "^	--security-opt=label=level:" "$CTR/units/t1/ctr-t15a.service" >la &&
	grep "^	--security-opt=label=level:" "$CTR/units/t1/ctr-t15b.service" >lb &&
	echo "	--security-opt=label=level:$(level_of $ua) \\" >expect &&
	test_cmp expect la &&
	echo "	--security-opt=label=level:$(level_of $ub) \\" >expect &&
	test_cmp expect lb &&
	test_must_fail test_cmp la lb
'

test_expect_success 'a reinstall keeps the user and its level' '
	cp "$CTR/units/t1/ctr-t15a.service" before &&
	ua=$(id -u ctr-t15a) &&
	g gear-install --port-range $RANGE -p 8080:0 --isolate $IMAGE t15a GREETING=again >out &&
	test "$(id -u ctr-t15a)" = $ua &&
	grep "^	--security-opt=label=level:" before >la &&
	grep "^	--security-opt=label=level:" "$CTR/units/t1/ctr-t15a.service" >lb &&
	test_cmp la lb
'

test_expect_success 'an id with capitals and a dot gets its user too' '
	g gear-install --isolate $IMAGE T15.x &&
	getent passwd ctr-T15.x &&
	g gear-delete T15.x &&
	test_must_fail getent passwd ctr-T15.x
'

test_expect_success 'a user an older gear locked with "!" gets "*", so sshd without PAM admits its keys' '
	useradd --system --badname --no-create-home --user-group --home-dir / --shell /bin/sh \
		-c "gear container t15c" -K SYS_UID_MIN=1000000 -K SYS_UID_MAX=1523775 \
		-K SYS_GID_MIN=1000000 -K SYS_GID_MAX=1523775 ctr-t15c &&
	test "$(getent shadow ctr-t15c | cut -d: -f2)" = "!" &&
	uc=$(id -u ctr-t15c) &&
	g gear-install --isolate $IMAGE t15c &&
	test "$(getent shadow ctr-t15c | cut -d: -f2)" = "*" &&
	test "$(id -u ctr-t15c)" = $uc &&
	g gear-delete t15c &&
	test_must_fail getent passwd ctr-t15c
'

test_expect_success 'delete removes the users gear made, and only those' '
	useradd --system --no-create-home --badname -c "made by hand" ctr-t15hand &&
	g gear-delete t15a t15b t15hand &&
	test_must_fail getent passwd ctr-t15a &&
	test_must_fail getent passwd ctr-t15b &&
	getent passwd ctr-t15hand &&
	userdel ctr-t15hand
'

test_done
