#!/bin/sh
test_description='gear-idle killed at each step, what idling leaves behind, and the bound on the wait for a container'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=42500-42599
test_atexit 'gear-test-systemd stop "$SD"'

# explained: gear-ports check finds nothing, gear-clean has nothing to remove
explained() {
	g gear-ports check &&
	g gear-clean --dry-run >clean &&
	test_must_fail test -s clean
}

test_expect_success 'setup' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	echo "gear test web" >expect.body
'

test_expect_success 'killed after the flag: it still runs, flagged; gear-idle again finishes it' '
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE idl2a >out &&
	printf "idl2a\t8080\t42500\n" >expect &&
	test_cmp expect out &&
	test_expect_code 137 g env GEAR_TEST_CRASH_AT=idle-flag gear-idle --port-range $RANGE idl2a &&
	test -f "$CTR/units/id/ctr-idl2a.idle" &&
	grep -x "X-PortBackend=8080:42501" "$CTR/units/id/ctr-idl2a.service" &&
	test "$(sdctl is-active ctr-idl2a.service)" = active &&
	explained &&
	g gear-idle idl2a &&
	no_process idl2a &&
	listening 42500 &&
	http_once 42500 index.html >body &&
	test_cmp expect.body body
'

test_expect_success 'killed after the flag, then a reboot: gear-init brings it back idle' '
	g gear-stop idl2a &&
	g gear-start idl2a &&
	test_expect_code 137 g env GEAR_TEST_CRASH_AT=idle-flag gear-idle idl2a &&
	gear-test-systemd restart "$SD" &&
	g gear-init >/dev/null &&
	no_process idl2a &&
	listening 42500 &&
	g gear-list-units >rows &&
	grep -x "idl2a	idle	listening	loaded" rows &&
	http_once 42500 index.html >body &&
	test_cmp expect.body body
'

test_expect_success 'killed after the stop, before its sockets listen: gear-init starts them' '
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE idl2b >out &&
	printf "idl2b\t8080\t42502\n" >expect &&
	test_cmp expect out &&
	test_expect_code 137 g env GEAR_TEST_CRASH_AT=idle-stop gear-idle --port-range $RANGE idl2b &&
	no_process idl2b &&
	test_must_fail listening 42502 &&
	explained &&
	g gear-init >/dev/null &&
	listening 42502 &&
	no_process idl2b &&
	http_once 42502 index.html >body &&
	test_cmp expect.body body
'

test_expect_success 'killed after the commit, before its socket units: gear-init writes them, gear-idle again finishes the install' '
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE idl2c >out &&
	test_expect_code 137 g env GEAR_TEST_CRASH_AT=unit-committed gear-idle --port-range $RANGE idl2c &&
	grep -x "X-PortBackend=8080:42505" "$CTR/units/id/ctr-idl2c.service" &&
	test_must_fail test -e "$CTR/units/id/ctr-idl2c:42504.socket" &&
	g gear-ports check &&
	g gear-init >/dev/null &&
	test -f "$CTR/units/id/ctr-idl2c:42504.socket" &&
	test -f "$CTR/units/id/ctr-idl2c:42504.service" &&
	test -L "$UNITDIR/ctr-idl2c:42504.socket" &&
	test -f "$CTR/units/id/idl2c/.installing" &&
	g gear-idle idl2c &&
	test_must_fail test -e "$CTR/units/id/idl2c/.installing" &&
	no_process idl2c &&
	http_once 42504 index.html >body &&
	test_cmp expect.body body &&
	explained
'

test_expect_success 'killed before the commit: the backend is a leftover gear-ports check explains, reused next time' '
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE idl2d >out &&
	test_expect_code 137 g env GEAR_TEST_CRASH_AT=enable gear-idle --port-range $RANGE idl2d &&
	test_must_fail grep X-PortBackend "$CTR/units/id/ctr-idl2d.service" &&
	test_expect_code 1 g gear-ports check >check &&
	printf "42507\tidl2d\tmismatch\n" >expect &&
	test_cmp expect check &&
	g gear-idle --port-range $RANGE idl2d &&
	grep -x "X-PortBackend=8080:42507" "$CTR/units/id/ctr-idl2d.service" &&
	explained
'

test_expect_success 'gear-clean removes idle units no unit calls for, with their links; gear-init a flag that does not stand' '
	g gear-stop idl2d &&
	: >"$CTR/units/id/ctr-idl2d.idle" &&
	g gear-install --port-range $RANGE -p 8080:0 $IMAGE idl2e >/dev/null &&
	cp "$CTR/units/id/ctr-idl2d:42506.socket" "$CTR/units/id/ctr-idl2e:42508.socket" &&
	ln -s ../../../var/lib/containers/units/id/ctr-idl2e:42508.socket "$UNITDIR/ctr-idl2e:42508.socket" &&
	ln -s ../ctr-idl2e:42508.socket "$UNITDIR/container-active.target.wants/ctr-idl2e:42508.socket" &&
	cp "$CTR/units/id/ctr-idl2d:42506.service" "$CTR/units/id/ctr-idl2z:42599.service" &&
	: >"$CTR/units/id/ctr-idl2z.idle" &&
	g gear-clean --dry-run >dry &&
	sort dry >dry.sorted &&
	{
		printf "idle\t$CTR/units/id/%s\n" ctr-idl2e:42508.socket ctr-idl2z:42599.service &&
		printf "unit\t$CTR/units/id/ctr-idl2z.idle\n"
	} >expect &&
	test_cmp expect dry.sorted &&
	test -f "$CTR/units/id/ctr-idl2z.idle" &&
	g gear-clean >out &&
	sort out >out.sorted &&
	test_cmp expect out.sorted &&
	for f in ctr-idl2e:42508.socket ctr-idl2z.idle ctr-idl2z:42599.service; do
		test_must_fail test -e "$CTR/units/id/$f" || return 1
	done &&
	test -f "$CTR/units/id/ctr-idl2d.idle" &&
	g gear-init >/dev/null &&
	test_must_fail test -e "$CTR/units/id/ctr-idl2d.idle" &&
	no_process idl2d &&
	test_must_fail listening 42506 &&
	test_must_fail test -L "$UNITDIR/ctr-idl2e:42508.socket" &&
	test_must_fail test -L "$UNITDIR/container-active.target.wants/ctr-idl2e:42508.socket" &&
	test -f "$CTR/units/id/ctr-idl2d:42506.socket" &&
	explained
'

test_expect_success 'a container that never listens: the proxy gives up after 30 seconds and says why' '
	g gear-install --port-range $RANGE -p 8080:0 $IMAGE idl2f PORT=9999 >out &&
	printf "idl2f\t8080\t42509\n" >expect &&
	test_cmp expect out &&
	g gear-idle --port-range $RANGE idl2f &&
	test_must_fail curl -sf --max-time 45 http://127.0.0.1:42509/ &&
	journalctl -D "$(. "$SD/env" && echo "$GEAR_TEST_JOURNAL_DIR")" _SYSTEMD_USER_UNIT=ctr-idl2f:42509.service \
		-o cat >log &&
	grep "gear-idle: cannot wake .idl2f.: .idl2f. accepts no connection on 127.0.0.1:42510 after 30 seconds" log &&
	g gear-stop idl2f &&
	test_must_fail listening 42509
'

test_expect_success 'delete killed after the unit is gone: gear-clean removes its sockets and proxies, its flag and the rest' '
	g gear-idle idl2c &&
	test_expect_code 137 g env GEAR_TEST_CRASH_AT=unit-removed gear-delete idl2c &&
	test -f "$CTR/units/id/ctr-idl2c:42504.socket" &&
	g gear-clean >out &&
	grep -x "idle	$CTR/units/id/ctr-idl2c:42504.socket" out &&
	grep -x "idle	$CTR/units/id/ctr-idl2c:42504.service" out &&
	grep -x "unit	$CTR/units/id/ctr-idl2c.idle" out &&
	grep -x "port	$CTR/ports/interfaces/1/425/42505" out &&
	test_must_fail test -e "$CTR/units/id/ctr-idl2c:42504.socket" &&
	test_must_fail test -L "$UNITDIR/ctr-idl2c:42504.socket" &&
	test_must_fail test -L "$UNITDIR/container-active.target.wants/ctr-idl2c:42504.socket" &&
	g gear-delete idl2c &&
	find "$GEAR_SYSROOT" -name "*idl2c*" >left &&
	test_must_fail test -s left
'

test_done
