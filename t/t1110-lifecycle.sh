#!/bin/sh
test_description='gear-start, gear-stop, gear-restart, gear-status, gear-list-units, gear-delete'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=41200-41299
test_atexit 'userdel ctr-t12d'
test_atexit 'gear-test-systemd stop "$SD"'

test_expect_success 'setup: a manager, two started containers and an installed one' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t12a GREETING=a >out &&
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t12b >>out &&
	g gear-install --port-range $RANGE -p 8080:0 $IMAGE t12c >>out &&
	printf "t12a\t8080\t41200\nt12b\t8080\t41201\nt12c\t8080\t41202\n" >expect &&
	test_cmp expect out &&
	http_get 41200 env.txt >body &&
	echo a >expect &&
	test_cmp expect body
'

test_expect_success 'list-units: the units systemd holds; --all adds installed ones' '
	g gear-list-units >out &&
	printf "t12a\tactive\trunning\tloaded\nt12b\tactive\trunning\tloaded\n" >expect &&
	test_cmp expect out &&
	g gear-list-units --all >out &&
	printf "t12a\tactive\trunning\tloaded\nt12b\tactive\trunning\tloaded\nt12c\tinactive\tdead\tunloaded\n" >expect &&
	test_cmp expect out
'

test_expect_success 'status: state, pid, unit path, boot, ports and the log' '
	pid=$(sdctl show -p MainPID --value ctr-t12a.service) &&
	g gear-status t12a >out &&
	grep -x "id:	t12a" out &&
	grep -x "unit:	ctr-t12a.service" out &&
	grep -x "path:	$CTR/units/t1/ctr-t12a.service" out &&
	grep -x "load:	loaded" out &&
	grep -x "state:	active (running)" out &&
	grep -x "pid:	$pid" out &&
	grep -x "boot:	yes" out &&
	grep -x "image:	$IMAGE" out &&
	grep -x "port:	8080:41200" out &&
	grep "gear-web: serving on port 8080 as uid 0$" out &&
	g gear-status t12c >out &&
	grep -x "state:	inactive (dead)" out &&
	grep -x "pid:	-" out &&
	grep -x "boot:	no" out &&
	test_expect_code 1 g gear-status t12zz 2>err &&
	echo "gear-status: cannot show '\''t12zz'\'': no container '\''t12zz'\''" >expect &&
	test_cmp expect err
'

test_expect_success 'stop: the port no longer answers, the boot link and record are gone' '
	old=$(ls "$CTR/units/t1/t12a" | wc -l) &&
	g gear-stop t12a &&
	test_must_fail curl -sf --max-time 2 http://127.0.0.1:41200/ &&
	test_must_fail test -e "$UNITDIR/container-active.target.wants/ctr-t12a.service" &&
	grep -x "WantedBy=container.target" "$CTR/units/t1/ctr-t12a.service" &&
	test $(ls "$CTR/units/t1/t12a" | wc -l) = $((old + 1)) &&
	test "$(sdctl is-active ctr-t12a.service)" = inactive &&
	g gear-stop t12a &&
	test $(ls "$CTR/units/t1/t12a" | wc -l) = $((old + 1)) &&
	g gear-list-units --all >out &&
	grep -x "t12a	inactive	dead	.*" out &&
	g gear-ports check
'

test_expect_success 'start again: it answers, the boot link is back' '
	g gear-start t12a &&
	http_get 41200 env.txt >body &&
	echo a >expect &&
	test_cmp expect body &&
	test "$(readlink "$UNITDIR/container-active.target.wants/ctr-t12a.service")" = ../ctr-t12a.service &&
	grep -x "WantedBy=container-active.target" "$CTR/units/t1/ctr-t12a.service" &&
	test "$(sdctl show -p NeedDaemonReload --value ctr-t12a.service)" = no
'

test_expect_success 'restart changes the main PID' '
	pid=$(sdctl show -p MainPID --value ctr-t12a.service) &&
	test "$pid" -gt 0 &&
	g gear-restart t12a &&
	new=$(sdctl show -p MainPID --value ctr-t12a.service) &&
	test "$new" -gt 0 &&
	test "$new" != "$pid" &&
	http_get 41200 index.html >body
'

test_expect_success 'stop -n queues the stop and returns' '
	g gear-stop -n t12b &&
	test_must_fail test -e "$UNITDIR/container-active.target.wants/ctr-t12b.service" &&
	i=0 &&
	while test "$(sdctl is-active ctr-t12b.service)" != inactive; do
		i=$((i + 1)) && test $i -lt 100 && sleep 0.1 || return 1
	done
'

test_expect_success 'unknown and invalid IDs' '
	test_expect_code 1 g gear-start t12zz 2>err &&
	echo "gear-start: cannot start '\''t12zz'\'': no container '\''t12zz'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 1 g gear-stop t12zz 2>err &&
	test_expect_code 1 g gear-restart t12zz 2>err &&
	test_expect_code 100 g gear-start ../x 2>err &&
	test_expect_code 100 g gear-start 2>err &&
	grep "^usage: gear-start ID" err
'

test_expect_success 'a start that fails prints the unit state and its journal' '
	g gear-install $IMAGE-missing t12f &&
	test_expect_code 111 g gear-start t12f 2>err &&
	head -n 2 err >head &&
	echo "gear-start: cannot start '\''t12f'\'': start job for '\''ctr-t12f.service'\'' failed: result '\''failed'\''" >expect &&
	sed -n 2p err | grep "^ctr-t12f.service: .*main process exited with status 125$" &&
	head -n 1 err >first &&
	test_cmp expect first &&
	grep "podman\[[0-9]*\]: .*gear-test-web:latest-missing" err &&
	g gear-stop t12f
'

test_expect_success 'install --start that fails exits 111 and says why' '
	test_expect_code 111 g gear-install --start $IMAGE-missing t12g 2>err &&
	head -n 1 err >first &&
	echo "gear-install: installed '\''t12g'\'' but cannot start it: start job for '\''ctr-t12g.service'\'' failed: result '\''failed'\''" >expect &&
	test_cmp expect first &&
	grep "^ctr-t12g.service: " err &&
	test -f "$CTR/units/t1/ctr-t12g.service" &&
	g gear-stop t12g
'

test_expect_success 'delete: nothing of the container is left, in either tree or the unit directory' '
	g gear-install --port-range $RANGE -p 8080:0,9090:0 --isolate -v vol:/data $IMAGE t12d X=1 >out &&
	g gear-start t12d &&
	touch "$CTR/units/t1/ctr-t12d.idle" &&
	g gear-delete t12d &&
	find "$GEAR_SYSROOT" -name "*t12d*" >left &&
	test_must_fail test -s left &&
	g gear-ports list >ports &&
	test_must_fail grep t12d ports &&
	test_must_fail getent passwd ctr-t12d &&
	test "$(sdctl show -p LoadState --value ctr-t12d.service)" = not-found &&
	g gear-ports check
'

test_expect_success 'deleting twice, or an unknown container, succeeds' '
	g gear-delete t12d &&
	g gear-delete t12nothere
'

test_expect_success 'delete of running and stopped containers at once' '
	g gear-delete t12a t12b t12c t12f t12g &&
	test_must_fail curl -sf --max-time 2 http://127.0.0.1:41200/ &&
	g gear-list-units --all >out &&
	test_must_fail test -s out &&
	find "$CTR/units" "$CTR/ports/interfaces" "$CTR/env" "$UNITDIR" -name "*t12*" >left &&
	test_must_fail test -s left
'

test_done
