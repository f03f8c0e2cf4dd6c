#!/bin/sh
test_description='gear-install and gear-delete killed with SIGKILL at every step leave the old or the new container'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=41400-41499
# gear-ports check finds nothing but links an interrupted install explains
ports_explained() {
	g gear-ports check >check
	cut -f3 check | sort -u >problems
	grep -v -x -e gone -e mismatch problems >unexplained
	test_must_fail test -s unexplained
}
# every difference between two snapshots is something an install interrupted
# before its commit may leave: a version file, a port link, the environment
# file, the link into the unit directory
leftovers_only() {
	diff "$1" "$2" >diff.all
	test_must_fail grep "^<" diff.all &&
	sed -n "s/^> //p" diff.all |
	grep -v -e "^[df] [0-7]* \./var/lib/containers/units/t1/$3\(/[^/ ]*\)\? $" \
		-e "^l 777 \./var/lib/containers/ports/interfaces/1/[0-9]*/[0-9]* \.\./\.\./\.\./\.\./units/t1/ctr-$3\.service$" \
		-e "^f 600 \./var/lib/containers/env/contents/t1/$3 $" \
		-e "^l 777 \./etc/systemd/system/ctr-$3\.service \.\./\.\./\.\./var/lib/containers/units/t1/ctr-$3\.service$" \
		>diff.bad
	test_must_fail test -s diff.bad
}
# waiting_on LOCK: until some process waits for the flock of LOCK (30s at most)
waiting_on() {
	ino=$(stat -c %i "$1") &&
	i=0 &&
	while ! grep -E -q -- "-> FLOCK +ADVISORY +WRITE +[0-9]+ +[0-9a-f]+:[0-9a-f]+:$ino " /proc/locks; do
		i=$((i + 1)) && test $i -lt 300 || { echo "nobody waits for '$1'" >&2; return 1; }
		sleep 0.1
	done
}
# no_data_dirs FILE: FILE without data/ and data/t1/, which a volume leaves
# the snapshot without the shard directories a clean leaves (of data/ and ports/links/)
no_data_dirs() {
	grep -v -e " \./var/lib/containers/data $" -e " \./var/lib/containers/data/t1 $" \
		-e "^d .* \./var/lib/containers/ports/links\(/t1\)\{0,1\} $" "$1"
}
PAUSE="$TRASH_DIRECTORY/pause"
test_atexit 'rm -f "$PAUSE"; wait'
test_atexit 'userdel ctr-t14a; userdel ctr-t14b'
test_atexit 'gear-test-systemd stop "$SD"'

test_expect_success 'setup: a manager and one container, so the shared files exist' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t14z >out &&
	printf "t14z\t8080\t41400\n" >expect &&
	test_cmp expect out
'

for step in ports user version env enable; do
	test_expect_success "first install killed at '$step': as before, plus explained leftovers" '
		test_tree_snapshot before &&
		test_expect_code 137 env GEAR_TEST_CRASH_AT='$step' \
			gear-test-systemd run "$SD" gear-install --port-range $RANGE -p 8080:0 --isolate --start \
			$IMAGE t14a GREETING=crash &&
		test_must_fail test -e "$CTR/units/t1/ctr-t14a.service" &&
		test_must_fail test -e "$UNITDIR/container-active.target.wants/ctr-t14a.service" &&
		test_tree_snapshot after &&
		leftovers_only before after t14a &&
		ports_explained &&
		g gear-list-units --all >out &&
		printf "t14z\tactive\trunning\tloaded\n" >expect &&
		test_cmp expect out
	'
	test_expect_success "after '$step': the same install again completes it" '
		g gear-install --port-range $RANGE -p 8080:0 --isolate --start $IMAGE t14a GREETING=crash >out &&
		printf "t14a\t8080\t41401\n" >expect &&
		test_cmp expect out &&
		g gear-ports check &&
		http_get 41401 env.txt >body &&
		echo crash >expect &&
		test_cmp expect body &&
		test -L "$UNITDIR/container-active.target.wants/ctr-t14a.service" &&
		g gear-delete t14a &&
		find "$GEAR_SYSROOT" -name "*t14a*" >left &&
		test_must_fail test -s left
	'
done

test_expect_success 'a new install killed before its commit: gear-clean --dry-run lists what it left, gear-clean removes it' '
	test_tree_snapshot before &&
	test_expect_code 137 env GEAR_TEST_CRASH_AT=enable \
		gear-test-systemd run "$SD" gear-install --port-range $RANGE -p 8080:0 -v vol:/data \
		-n 8081:192.0.2.1:80 $IMAGE t14c GREETING=crash &&
	test -d "$CTR/data/t1/t14c/vol" &&
	test -f "$CTR/ports/links/t1/t14c" &&
	echo env >expect &&
	test_cmp expect "$CTR/units/t1/t14c/.installing" &&
	test_tree_snapshot after &&
	g gear-clean --dry-run >out &&
	cat >expect <<-EOF &&
	install	$UNITDIR/ctr-t14c.service
	install	$CTR/env/contents/t1/t14c
	install	$CTR/data/t1/t14c
	install	$CTR/ports/links/t1/t14c
	install	$CTR/units/t1/t14c
	port	$CTR/ports/interfaces/1/414/41401
	EOF
	test_cmp expect out &&
	test_tree_snapshot after.dry &&
	test_cmp after after.dry &&
	g gear-clean >out &&
	test_cmp expect out &&
	test_tree_snapshot cleaned &&
	no_data_dirs before >before.nodata &&
	no_data_dirs cleaned >cleaned.nodata &&
	test_cmp before.nodata cleaned.nodata &&
	g gear-clean >out &&
	test_must_fail test -s out
'

test_expect_success 'an environment that was there before the killed install stays' '
	g gear-set-env t14d KEEP=1 &&
	test_expect_code 137 env GEAR_TEST_CRASH_AT=enable \
		gear-test-systemd run "$SD" gear-install --port-range $RANGE $IMAGE t14d &&
	test_must_fail test -s "$CTR/units/t1/t14d/.installing" &&
	g gear-clean >out &&
	cat >expect <<-EOF &&
	install	$UNITDIR/ctr-t14d.service
	install	$CTR/units/t1/t14d
	EOF
	test_cmp expect out &&
	echo KEEP=1 >expect &&
	test_cmp expect "$CTR/env/contents/t1/t14d" &&
	rm "$CTR/env/contents/t1/t14d"
'

test_expect_success 'what an install that still runs wrote is not taken for leftovers' '
	rm -f "$PAUSE" install.rc clean.rc &&
	{ env GEAR_TEST_PAUSE=install:after-env GEAR_TEST_PAUSE_FILE="$PAUSE" \
		gear-test-systemd run "$SD" gear-install --port-range $RANGE -p 8080:0 -v vol:/data \
		$IMAGE t14e GREETING=live >install.out 2>&1 && echo 0 >install.rc || echo $? >install.rc; } &
	test_wait_file "$PAUSE" &&
	{ g gear-clean >clean.out 2>&1 && echo 0 >clean.rc || echo $? >clean.rc; } &
	waiting_on "$CTR/ports" &&
	test -f "$CTR/units/t1/t14e/.installing" &&
	test -f "$CTR/env/contents/t1/t14e" &&
	test -d "$CTR/data/t1/t14e/vol" &&
	rm "$PAUSE" &&
	test_wait_file install.rc &&
	test_wait_file clean.rc &&
	test "$(cat install.rc) $(cat clean.rc)" = "0 0" &&
	test_must_fail grep t14e clean.out &&
	test -f "$CTR/units/t1/ctr-t14e.service" &&
	echo GREETING=live >expect &&
	test_cmp expect "$CTR/env/contents/t1/t14e" &&
	test -d "$CTR/data/t1/t14e/vol" &&
	g gear-delete t14e
'

for step in commit boot release; do
	test_expect_success "first install killed at '$step': the container is installed" '
		test_expect_code 137 env GEAR_TEST_CRASH_AT='$step' \
			gear-test-systemd run "$SD" gear-install --port-range $RANGE -p 8080:0 --start \
			$IMAGE t14a GREETING=crash &&
		v=$(ls "$CTR/units/t1/t14a") &&
		test "$(stat -c %i "$CTR/units/t1/t14a/$v")" = "$(stat -c %i "$CTR/units/t1/ctr-t14a.service")" &&
		test "$(readlink "$UNITDIR/ctr-t14a.service")" = ../../../var/lib/containers/units/t1/ctr-t14a.service &&
		echo GREETING=crash >expect &&
		test_cmp expect "$CTR/env/contents/t1/t14a" &&
		grep -x "WantedBy=container-active.target" "$CTR/units/t1/ctr-t14a.service" &&
		g gear-ports check &&
		g gear-start t14a &&
		http_get 41401 env.txt &&
		test -L "$UNITDIR/container-active.target.wants/ctr-t14a.service" &&
		g gear-delete t14a
	'
done

test_expect_success 'setup: a started container with two ports, to update' '
	g gear-install --port-range $RANGE -p 8080:0,9090:0 --start $IMAGE t14b GREETING=v1 >out &&
	printf "t14b\t8080\t41401\nt14b\t9090\t41402\n" >expect &&
	test_cmp expect out &&
	cp "$CTR/units/t1/ctr-t14b.service" unit.v1 &&
	http_get 41401 env.txt
'

for step in ports version env enable; do
	test_expect_success "update killed at '$step': the old unit, its ports, leftovers explained" '
		test_expect_code 137 env GEAR_TEST_CRASH_AT='$step' \
			gear-test-systemd run "$SD" gear-install --port-range $RANGE -p 9090:0,7070:0 \
			$IMAGE t14b GREETING=v2 &&
		test_cmp unit.v1 "$CTR/units/t1/ctr-t14b.service" &&
		test -L "$CTR/ports/interfaces/1/414/41401" &&
		test -L "$CTR/ports/interfaces/1/414/41402" &&
		test -L "$UNITDIR/container-active.target.wants/ctr-t14b.service" &&
		ports_explained &&
		test "$(sdctl is-active ctr-t14b.service)" = active
	'
done

# v2 over v1, killed at STEP (the environment is changed at "env")
kill_update() {
	test_expect_code 137 env GEAR_TEST_CRASH_AT=$1 \
		gear-test-systemd run "$SD" gear-install --port-range $RANGE -p 9090:0,7070:0 $IMAGE t14b GREETING=v2 &&
	test_cmp unit.v1 "$CTR/units/t1/ctr-t14b.service"
}
# back to v1, started, in unit.v1
back_to_v1() {
	g gear-install --port-range $RANGE -p 8080:0,9090:0 $IMAGE t14b GREETING=v1 >out &&
	cp "$CTR/units/t1/ctr-t14b.service" unit.v1 &&
	echo GREETING=v1 >expect &&
	test_cmp expect "$CTR/env/contents/t1/t14b"
}

for step in env enable; do
	test_expect_success "update killed at '$step': gear-clean puts the old environment back" '
		kill_update $step &&
		test -f "$CTR/units/t1/t14b/.env-before" &&
		g gear-clean --dry-run >out &&
		grep -x "install	$CTR/units/t1/t14b/.env-before" out &&
		g gear-clean >out &&
		grep -x "install	$CTR/units/t1/t14b/.env-before" out &&
		echo GREETING=v1 >expect &&
		test_cmp expect "$CTR/env/contents/t1/t14b" &&
		test_must_fail test -e "$CTR/units/t1/t14b/.env-before" &&
		test_cmp unit.v1 "$CTR/units/t1/ctr-t14b.service" &&
		g gear-clean >out &&
		test_must_fail grep t14b out
	'
done

test_expect_success 'update killed at env: the next install, without an environment, keeps the old one' '
	kill_update env &&
	g gear-install --port-range $RANGE -p 8080:0,9090:0 $IMAGE t14b >out &&
	echo GREETING=v1 >expect &&
	test_cmp expect "$CTR/env/contents/t1/t14b" &&
	test_must_fail test -e "$CTR/units/t1/t14b/.env-before" &&
	test_must_fail test -e "$CTR/units/t1/t14b/.installing" &&
	back_to_v1
'

test_expect_success 'update killed at env, then gear-set-env: the later change stays' '
	kill_update env &&
	g gear-set-env t14b LATER=1 &&
	g gear-clean >out &&
	grep -x "install	$CTR/units/t1/t14b/.env-before" out &&
	printf "GREETING=v2\nLATER=1\n" >expect &&
	test_cmp expect "$CTR/env/contents/t1/t14b" &&
	test_must_fail test -e "$CTR/units/t1/t14b/.env-before" &&
	back_to_v1
'

test_expect_success 'a new install killed after it changed a shared environment: gear-clean puts it back' '
	g gear-set-env t14s SHARED=1 &&
	test_expect_code 137 env GEAR_TEST_CRASH_AT=enable \
		gear-test-systemd run "$SD" gear-install --env-id t14s $IMAGE t14g SHARED=2 &&
	echo SHARED=2 >expect &&
	test_cmp expect "$CTR/env/contents/t1/t14s" &&
	g gear-clean >out &&
	cat >expect <<-EOF &&
	install	$CTR/units/t1/t14g/.env-before
	install	$UNITDIR/ctr-t14g.service
	install	$CTR/units/t1/t14g
	EOF
	test_cmp expect out &&
	echo SHARED=1 >expect &&
	test_cmp expect "$CTR/env/contents/t1/t14s" &&
	rm "$CTR/env/contents/t1/t14s"
'

for step in commit release; do
	test_expect_success "update killed at '$step': the new unit, old ports at worst mismatched" '
		test_expect_code 137 env GEAR_TEST_CRASH_AT='$step' \
			gear-test-systemd run "$SD" gear-install --port-range $RANGE -p 9090:0,7070:0 \
			$IMAGE t14b GREETING=v2 &&
		grep -x "X-PortMapping=9090:41402" "$CTR/units/t1/ctr-t14b.service" &&
		grep -x "X-PortMapping=7070:41403" "$CTR/units/t1/ctr-t14b.service" &&
		echo GREETING=v2 >expect &&
		test_cmp expect "$CTR/env/contents/t1/t14b" &&
		ports_explained &&
		test -L "$UNITDIR/container-active.target.wants/ctr-t14b.service" &&
		g gear-install --port-range $RANGE -p 9090:0,7070:0 $IMAGE t14b GREETING=v2 >out &&
		printf "t14b\t9090\t41402\nt14b\t7070\t41403\n" >expect &&
		test_cmp expect out &&
		g gear-ports check &&
		test_must_fail test -L "$CTR/ports/interfaces/1/414/41401" &&
		g gear-install --port-range $RANGE -p 8080:0,9090:0 $IMAGE t14b GREETING=v1 >out &&
		cp "$CTR/units/t1/ctr-t14b.service" unit.v1
	'
done

test_expect_success 'a delete killed once it unlinked the unit: the container is gone, not left where systemd cannot see it' '
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t14f >out &&
	test_expect_code 137 env GEAR_TEST_CRASH_AT=unlinked gear-test-systemd run "$SD" gear-delete t14f &&
	test_must_fail test -e "$UNITDIR/ctr-t14f.service" &&
	test_must_fail test -e "$CTR/units/t1/ctr-t14f.service" &&
	g gear-delete t14f &&
	find "$GEAR_SYSROOT" -name "*t14f*" >left &&
	test_must_fail test -s left
'

test_expect_success 'delete killed after the unit is gone: gear-clean takes its links and versions, a second delete finishes' '
	cp "$CTR/env/contents/t1/t14b" expect.env &&
	test_expect_code 137 env GEAR_TEST_CRASH_AT=unit-removed gear-test-systemd run "$SD" gear-delete t14b &&
	test_must_fail test -e "$CTR/units/t1/ctr-t14b.service" &&
	test_must_fail test -e "$UNITDIR/ctr-t14b.service" &&
	ports_explained &&
	g gear-clean --dry-run >out &&
	cat >expect <<-EOF &&
	unit	$UNITDIR/container-active.target.wants/ctr-t14b.service
	unit	$UNITDIR/ctr-t14b.service
	unit	$CTR/units/t1/t14b
	port	$CTR/ports/interfaces/1/414/41401
	port	$CTR/ports/interfaces/1/414/41402
	EOF
	test_cmp expect out &&
	g gear-clean >out &&
	test_cmp expect out &&
	test_cmp expect.env "$CTR/env/contents/t1/t14b" &&
	g gear-clean >out &&
	test_must_fail test -s out &&
	g gear-delete t14b &&
	g gear-ports check &&
	find "$GEAR_SYSROOT" -name "*t14b*" >left &&
	test_must_fail test -s left
'

test_done
