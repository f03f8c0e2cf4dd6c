#!/bin/sh
test_description='gear-idle, gear-unidle and gear-install --idle-timeout: socket units hold the ports, the first connection starts the container'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=42400-42499
A=idl1a B=idl1b C=idl1c D=idl1d
test_atexit 'gear-test-systemd stop "$SD"'

idle_row() { g gear-list-units >rows && grep -x "$1	idle	listening	loaded" rows; }

test_expect_success 'setup: a started container publishing one port' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE $A >out &&
	printf "$A\t8080\t42400\n" >expect &&
	test_cmp expect out &&
	echo "gear test web" >expect.body &&
	http_get 42400 index.html >body &&
	test_cmp expect.body body
'

test_expect_success 'gear-idle: no process, the port listens, the flag is there' '
	g gear-idle --port-range $RANGE $A >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err &&
	no_process $A &&
	listening 42400 &&
	test "$(sdctl is-active ctr-$A:42400.socket)" = active &&
	test -f "$CTR/units/id/ctr-$A.idle" &&
	idle_row $A
'

test_expect_success 'the unit publishes on a loopback backend, recorded and held like any port' '
	U="$CTR/units/id/ctr-$A.service" &&
	grep -x "X-PortMapping=8080:42400" "$U" &&
	grep -x "X-PortBackend=8080:42401" "$U" &&
	grep -x "	--publish=127.0.0.1:42401:8080 \\\\" "$U" &&
	test_must_fail grep -- "--publish=42400" "$U" &&
	grep -x "Wants=ctr-$A:42400.socket" "$U" &&
	grep -x "ListenStream=42400" "$CTR/units/id/ctr-$A:42400.socket" &&
	grep -x "ExecStart=/lib/systemd/systemd-socket-proxyd --exit-idle-time=infinity 127.0.0.1:42401" \
		"$CTR/units/id/ctr-$A:42400.service" &&
	test "$(readlink "$UNITDIR/ctr-$A:42400.socket")" = ../../../var/lib/containers/units/id/ctr-$A:42400.socket &&
	test "$(readlink "$UNITDIR/ctr-$A:42400.service")" = ../../../var/lib/containers/units/id/ctr-$A:42400.service &&
	test "$(readlink "$UNITDIR/container-active.target.wants/ctr-$A:42400.socket")" = ../ctr-$A:42400.socket &&
	test_must_fail test -e "$UNITDIR/container-active.target.wants/ctr-$A.service" &&
	g gear-ports list >ports &&
	printf "42400\t$A\t8080\tok\n42401\t$A\t8080\tok\n" >expect &&
	test_cmp expect ports &&
	g gear-ports check &&
	g gear-status $A >status &&
	grep -x "idle:	yes" status &&
	grep -x "backend:	8080:42401" status
'

test_expect_success 'the first request is answered; then it runs and the flag is gone' '
	http_once 42400 index.html >body &&
	test_cmp expect.body body &&
	test "$(sdctl is-active ctr-$A.service)" = active &&
	test_must_fail test -e "$CTR/units/id/ctr-$A.idle" &&
	test "$(readlink "$UNITDIR/container-active.target.wants/ctr-$A.service")" = ../ctr-$A.service &&
	g gear-list-units >rows &&
	grep -x "$A	active	running	loaded" rows &&
	http_once 42400 index.html >body &&
	test_cmp expect.body body
'

test_expect_success 'gear-unidle starts an idle container; one that is not idle is refused' '
	g gear-idle $A &&
	no_process $A &&
	g gear-unidle $A &&
	test "$(sdctl is-active ctr-$A.service)" = active &&
	test_must_fail test -e "$CTR/units/id/ctr-$A.idle" &&
	http_once 42400 index.html >body &&
	test_cmp expect.body body &&
	test_expect_code 1 g gear-unidle $A 2>err &&
	echo "gear-unidle: cannot unidle '\''$A'\'': '\''$A'\'' is not idle" >expect &&
	test_cmp expect err
'

test_expect_success 'gear-stop stops listening too; gear-start runs it and listens' '
	g gear-idle $A &&
	g gear-stop $A &&
	no_process $A &&
	test_must_fail listening 42400 &&
	test_must_fail test -e "$CTR/units/id/ctr-$A.idle" &&
	test_must_fail test -e "$UNITDIR/container-active.target.wants/ctr-$A:42400.socket" &&
	g gear-list-units --all >rows &&
	grep "^$A	inactive	dead	" rows &&
	g gear-start $A &&
	test "$(sdctl is-active ctr-$A.service)" = active &&
	listening 42400 &&
	http_once 42400 index.html >body &&
	test_cmp expect.body body
'

test_expect_success 'gear-idle --timeout 3s: it idles itself after a quiet while, and wakes again' '
	old=$(ls "$CTR/units/id/$A" | wc -l) &&
	g gear-idle --timeout 3s $A &&
	test $(ls "$CTR/units/id/$A" | wc -l) = $((old + 1)) &&
	grep -x "X-IdleTimeout=3s" "$CTR/units/id/ctr-$A.service" &&
	grep -x "X-PortBackend=8080:42401" "$CTR/units/id/ctr-$A.service" &&
	http_once 42400 index.html >body &&
	test_cmp expect.body body &&
	test "$(sdctl is-active ctr-$A.service)" = active &&
	wait_until test -e "$CTR/units/id/ctr-$A.idle" &&
	wait_until no_process $A &&
	listening 42400 &&
	idle_row $A &&
	http_once 42400 index.html >body &&
	test_cmp expect.body body &&
	test_must_fail test -e "$CTR/units/id/ctr-$A.idle"
'

test_expect_success 'gear-install --idle-timeout: started, it idles itself with no connection at all' '
	g gear-install --port-range $RANGE -p 8080:0 --idle-timeout 3s --start $IMAGE $B >out &&
	printf "$B\t8080\t42402\n" >expect &&
	test_cmp expect out &&
	grep -x "X-PortBackend=8080:42403" "$CTR/units/id/ctr-$B.service" &&
	grep -x "X-IdleTimeout=3s" "$CTR/units/id/ctr-$B.service" &&
	test "$(sdctl is-active ctr-$B.service)" = active &&
	listening 42402 &&
	wait_until test -e "$CTR/units/id/ctr-$B.idle" &&
	wait_until no_process $B &&
	http_once 42402 index.html >body &&
	test_cmp expect.body body
'

test_expect_success 'an update keeps it idle-capable, its backend and its timeout' '
	g gear-install --port-range $RANGE -p 8080:0 $IMAGE $B GREETING=updated >out &&
	printf "$B\t8080\t42402\n" >expect &&
	test_cmp expect out &&
	grep -x "X-PortBackend=8080:42403" "$CTR/units/id/ctr-$B.service" &&
	grep -x "X-IdleTimeout=3s" "$CTR/units/id/ctr-$B.service" &&
	g gear-ports check
'

test_expect_success 'several ports: one socket and proxy per port' '
	g gear-install --port-range $RANGE -p 8080:0,9090:0 $IMAGE $C >out &&
	g gear-idle --port-range $RANGE $C &&
	for p in 42404 42405; do
		test -f "$CTR/units/id/ctr-$C:$p.socket" &&
		test -f "$CTR/units/id/ctr-$C:$p.service" &&
		listening $p || return 1
	done &&
	grep -x "X-PortBackend=8080:42406" "$CTR/units/id/ctr-$C.service" &&
	grep -x "X-PortBackend=9090:42407" "$CTR/units/id/ctr-$C.service" &&
	no_process $C &&
	http_once 42404 index.html >body &&
	test_cmp expect.body body
'

test_expect_success 'boot: gear-init brings idle containers back listening, not running' '
	g gear-idle $A $C &&
	gear-test-systemd restart "$SD" &&
	g gear-init -v >out &&
	grep -x "ctr-$A.service	enabled, listens on boot, idle" out &&
	no_process $A &&
	no_process $C &&
	listening 42400 &&
	listening 42404 &&
	listening 42405 &&
	idle_row $A &&
	http_once 42400 index.html >body &&
	test_cmp expect.body body &&
	test "$(sdctl is-active ctr-$A.service)" = active
'

test_expect_success 'gear-purge stops the sockets too; gear-init after it brings the idle container back' '
	g gear-idle $A &&
	g gear-purge >/dev/null &&
	test_must_fail listening 42400 &&
	test_must_fail listening 42404 &&
	no_process $A &&
	test_must_fail test -L "$UNITDIR/ctr-$A:42400.socket" &&
	test -f "$CTR/units/id/ctr-$A.idle" &&
	g gear-init >/dev/null &&
	listening 42400 &&
	no_process $A &&
	idle_row $A &&
	http_once 42400 index.html >body &&
	test_cmp expect.body body
'

test_expect_success 'bad input: exit 100 or 1, a clear message, nothing changed' '
	g gear-install --port-range $RANGE $IMAGE $D &&
	wait_until test -e "$CTR/units/id/ctr-$A.idle" &&
	wait_until no_process $A &&
	test_tree_snapshot before &&
	test_expect_code 100 g gear-idle ../x 2>err &&
	grep "^gear-idle: invalid identifier" err &&
	test_expect_code 100 g gear-idle 2>err &&
	grep "^usage: gear-idle " err &&
	test_expect_code 1 g gear-idle idl1none 2>err &&
	echo "gear-idle: cannot idle '\''idl1none'\'': no container '\''idl1none'\''" >expect &&
	test_cmp expect err &&
	for bad in 0 0s 500ms 3x -1 s 31d 99999999999 ""; do
		test_expect_code 100 g gear-idle --timeout "$bad" $A 2>err || { echo "accepted: $bad"; return 1; }
		grep "^gear-idle: invalid duration '\''$bad'\'': want 1s to 30d" err || return 1
	done &&
	test_expect_code 100 g gear-install --idle-timeout 0 -p 8080:0 $IMAGE idl1e 2>err &&
	grep "^gear-install: invalid duration '\''0'\''" err &&
	test_expect_code 100 g gear-idle --port-range 9-1 $A 2>err &&
	grep "^gear-idle: invalid port range" err &&
	test_expect_code 100 g gear-install --idle-timeout 3s $IMAGE idl1e 2>err &&
	echo "gear-install: cannot install '\''idl1e'\'': '\''idl1e'\'' publishes no port: a connection could not wake it" >expect &&
	test_cmp expect err &&
	test_expect_code 100 g gear-idle $D 2>err &&
	echo "gear-idle: cannot idle '\''$D'\'': '\''$D'\'' publishes no port: a connection could not wake it" >expect &&
	test_cmp expect err &&
	test_expect_code 100 g gear-unidle ../x 2>err &&
	test_expect_code 1 g gear-unidle idl1none 2>err &&
	grep "no container '\''idl1none'\''" err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'delete leaves nothing: units, links, flag, backend ports' '
	g gear-idle $A &&
	g gear-delete $A $B $C $D &&
	find "$GEAR_SYSROOT" -name "*idl1[abcd]*" >left &&
	test_must_fail test -s left &&
	g gear-ports list >ports &&
	test_must_fail test -s ports &&
	for p in 42400 42401 42402 42403 42404 42405 42406 42407; do
		test_must_fail listening $p || return 1
	done &&
	sdctl list-units --all --plain --no-legend "ctr-idl1*" >units &&
	test_must_fail test -s units &&
	g gear-clean >out &&
	test_must_fail test -s out
'

test_done
