#!/bin/sh
test_description='gear-delete against gear-start, gear-restart and gear-install --start: serialised by the container lock'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=42100-42199
PAUSE="$TRASH_DIRECTORY/pause"
test_atexit 'rm -f "$PAUSE"; wait'
test_atexit 'gear-test-systemd stop "$SD"'

# waiting_or_done RCFILE LOCK: until the command that writes RCFILE ended or
# some process waits for the flock of LOCK
waiting_or_done() {
	ino=$(stat -c %i "$2") &&
	i=0 &&
	while ! test -e "$1" && ! grep -E -q -- "-> FLOCK +ADVISORY +WRITE +[0-9]+ +[0-9a-f]+:[0-9a-f]+:$ino " /proc/locks; do
		i=$((i + 1)) && test $i -lt 300 || { echo "neither ended nor waiting" >&2; return 1; }
		sleep 0.1
	done
}
# delete_paused ID: gear-delete ID in the background, stopped after its stop
# (writes delete.rc when it ends)
delete_paused() {
	rm -f "$PAUSE" delete.rc &&
	{ env GEAR_TEST_PAUSE=delete:after-stop GEAR_TEST_PAUSE_FILE="$PAUSE" \
		gear-test-systemd run "$SD" gear-delete "$1" >delete.out 2>&1 &&
		echo 0 >delete.rc || echo $? >delete.rc; } &
	test_wait_file "$PAUSE"
}
# in_background NAME CMD...: CMD in the manager's namespace; NAME.rc when it ends
in_background() {
	name=$1 && shift &&
	rm -f $name.rc &&
	{ g "$@" >$name.out 2>$name.err && echo 0 >$name.rc || echo $? >$name.rc; } &
}

test_expect_success 'setup: a manager and a started container' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t15a GREETING=a >out &&
	printf "t15a\t8080\t42100\n" >expect &&
	test_cmp expect out &&
	http_get 42100 env.txt >body
'

for verb in start restart; do
	test_expect_success "a $verb while a delete is past its stop: waits, then finds no container" '
		delete_paused t15a &&
		test "$(sdctl is-active ctr-t15a.service)" != active &&
		in_background '$verb' gear-'$verb' t15a &&
		waiting_or_done '$verb'.rc "$CTR/units/t1" &&
		rm "$PAUSE" &&
		test_wait_file delete.rc &&
		test_wait_file '$verb'.rc &&
		test "$(cat delete.rc)" = 0 &&
		test "$(cat '$verb'.rc)" = 1 &&
		echo "gear-'$verb': cannot '$verb' '\''t15a'\'': no container '\''t15a'\''" >expect &&
		test_cmp expect '$verb'.err &&
		test "$(sdctl is-active ctr-t15a.service)" != active &&
		test_must_fail curl -sf --max-time 2 http://127.0.0.1:42100/ &&
		g gear-ports check
	'
	test_expect_success "after the $verb: the port goes to the next install, which serves" '
		g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t15a GREETING='$verb' >out &&
		printf "t15a\t8080\t42100\n" >expect &&
		test_cmp expect out &&
		http_get 42100 env.txt >body &&
		echo '$verb' >expect &&
		test_cmp expect body
	'
done

test_expect_success 'an install --start while a delete is past its stop: installed anew after the delete, and running' '
	delete_paused t15a &&
	in_background install gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t15a GREETING=again &&
	waiting_or_done install.rc "$CTR/units/t1" &&
	rm "$PAUSE" &&
	test_wait_file delete.rc &&
	test_wait_file install.rc &&
	test "$(cat delete.rc)" = 0 &&
	test "$(cat install.rc)" = 0 &&
	printf "t15a\t8080\t42100\n" >expect &&
	test_cmp expect install.out &&
	test -f "$CTR/units/t1/ctr-t15a.service" &&
	test "$(sdctl is-active ctr-t15a.service)" = active &&
	http_get 42100 env.txt >body &&
	echo again >expect &&
	test_cmp expect body &&
	g gear-ports check &&
	g gear-ports list >ports &&
	grep "t15a" ports
'

test_expect_success 'an install that fails after its environment step puts back what was there, not over another install' '
	mkdir -p "$UNITDIR/ctr-v15b.service" &&
	rm -f "$PAUSE" &&
	{ env GEAR_TEST_PAUSE=install:after-env GEAR_TEST_PAUSE_FILE="$PAUSE" \
		gear-test-systemd run "$SD" gear-install --env-id t15e $IMAGE v15b A=1 >a.out 2>a.err &&
		echo 0 >a.rc || echo $? >a.rc; } &
	test_wait_file "$PAUSE" &&
	in_background b gear-install --env-id t15e $IMAGE t15c B=2 &&
	waiting_or_done b.rc "$CTR/env/contents/t1" &&
	rm "$PAUSE" &&
	test_wait_file a.rc &&
	test_wait_file b.rc &&
	test "$(cat a.rc)" = 111 &&
	grep "^gear-install: cannot install '\''v15b'\'': cannot create '\''.*/ctr-v15b.service'\''" a.err &&
	test "$(cat b.rc)" = 0 &&
	test_must_fail test -e "$CTR/units/v1/ctr-v15b.service" &&
	test -f "$CTR/units/t1/ctr-t15c.service" &&
	echo B=2 >expect &&
	test_cmp expect "$CTR/env/contents/t1/t15e" &&
	rmdir "$UNITDIR/ctr-v15b.service"
'

test_expect_success 'an install that fails puts back the environment it replaced' '
	mkdir -p "$UNITDIR/ctr-v15b.service" &&
	test_expect_code 111 g gear-install --env-id t15e $IMAGE v15b C=3 2>err &&
	test_cmp expect "$CTR/env/contents/t1/t15e" &&
	test_expect_code 111 g gear-install $IMAGE v15b D=4 2>err &&
	test_must_fail test -e "$CTR/env/contents/v1/v15b" &&
	rmdir "$UNITDIR/ctr-v15b.service"
'

test_expect_success 'cleanup: deleted' '
	g gear-delete t15a t15c v15b &&
	g gear-list-units --all >out &&
	test_must_fail test -s out
'

test_done
