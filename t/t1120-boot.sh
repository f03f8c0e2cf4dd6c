#!/bin/sh
test_description='gear-init brings back started containers on a new manager and an empty unit directory; gear-purge'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=41300-41399
# the symbolic links in the unit directory, as "NAME -> TARGET", but the join
# socket's and the HTTP API's, which gear-init adds (see t1200, t1500)
unit_links() {
	(cd "$UNITDIR" && find . -type l -printf "%p -> %l\n" | sort) |
		{ grep -vx -e "./sockets.target.wants/gear-switchns.socket -> ../gear-switchns.socket" \
			-e "./sockets.target.wants/gear-daemon.socket -> ../gear-daemon.socket" || :; }
}
test_atexit 'gear-test-systemd stop "$SD"'

test_expect_success 'setup: started, stopped and never started containers' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t13a GREETING=a >out &&
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t13b GREETING=b >>out &&
	g gear-install --port-range $RANGE -p 8080:0 $IMAGE t13c >>out &&
	g gear-stop t13b &&
	printf "t13a\t8080\t41300\nt13b\t8080\t41301\nt13c\t8080\t41302\n" >expect &&
	test_cmp expect out &&
	http_get 41300 env.txt &&
	unit_links >links.before &&
	cat links.before
'

test_expect_success 'a reboot with the unit directory intact starts the started ones' '
	gear-test-systemd restart "$SD" &&
	http_get 41300 env.txt >body &&
	echo a >expect &&
	test_cmp expect body &&
	test "$(sdctl is-active ctr-t13a.service)" = active &&
	test_must_fail curl -sf --max-time 2 http://127.0.0.1:41301/ &&
	test "$(sdctl is-active ctr-t13b.service)" = inactive
'

test_expect_success 'a new host with the old disk: no links, a new manager, nothing runs' '
	find "$UNITDIR" -type l -delete &&
	find "$UNITDIR" -mindepth 1 -type d -empty -delete &&
	unit_links >links &&
	test_must_fail test -s links &&
	gear-test-systemd restart "$SD" &&
	test_must_fail curl -sf --max-time 2 http://127.0.0.1:41300/ &&
	g gear-list-units --all >out &&
	printf "t13a\tinactive\tdead\tunlinked\nt13b\tinactive\tdead\tunlinked\nt13c\tinactive\tdead\tunlinked\n" >expect &&
	test_cmp expect out &&
	cp "$CTR/units/t1/ctr-t13c.service" unit.c &&
	g gear-stop t13c &&
	g gear-stop -n t13c &&
	test_cmp unit.c "$CTR/units/t1/ctr-t13c.service" &&
	unit_links >links &&
	test_must_fail test -s links
'

test_expect_success 'gear-init brings back the started container and leaves the others stopped' '
	g gear-init -v >out &&
	printf "ctr-t13a.service\tenabled, starts on boot\nctr-t13b.service\tenabled\nctr-t13c.service\tenabled\n" >expect &&
	test_cmp expect out &&
	http_get 41300 env.txt >body &&
	echo a >expect &&
	test_cmp expect body &&
	test "$(sdctl is-active ctr-t13a.service)" = active &&
	test "$(sdctl is-active ctr-t13b.service)" = inactive &&
	test "$(sdctl is-active ctr-t13c.service)" = inactive &&
	test_must_fail curl -sf --max-time 2 http://127.0.0.1:41301/ &&
	unit_links >links &&
	test_cmp links.before links
'

test_expect_success 'gear-init again changes nothing; the next reboot starts the same' '
	pid=$(sdctl show -p MainPID --value ctr-t13a.service) &&
	g gear-init &&
	test "$(sdctl show -p MainPID --value ctr-t13a.service)" = "$pid" &&
	unit_links >links &&
	test_cmp links.before links &&
	gear-test-systemd restart "$SD" &&
	http_get 41300 env.txt &&
	test "$(sdctl is-active ctr-t13b.service)" = inactive
'

test_expect_success 'gear-init removes links of containers that are gone' '
	ln -s ../../../var/lib/containers/units/t1/ctr-t13gone.service "$UNITDIR/ctr-t13gone.service" &&
	ln -s ../ctr-t13gone.service "$UNITDIR/container-active.target.wants/ctr-t13gone.service" &&
	g gear-init &&
	test_must_fail test -L "$UNITDIR/ctr-t13gone.service" &&
	test_must_fail test -L "$UNITDIR/container-active.target.wants/ctr-t13gone.service" &&
	unit_links >links &&
	test_cmp links.before links
'

test_expect_success 'purge stops everything and removes every link; the tree stays' '
	test_tree_snapshot tree.before &&
	g gear-purge -v >out &&
	test_tree_snapshot tree.after &&
	grep -v -e " \./etc/systemd/" -e " \./run/" tree.before >ctr.before &&
	grep -v -e " \./etc/systemd/" -e " \./run/" tree.after >ctr.after &&
	test_cmp ctr.before ctr.after &&
	test_must_fail test -e "$GEAR_SYSROOT/run/gear/switchns.sock" &&
	test_must_fail test -e "$GEAR_SYSROOT/run/gear/gear.sock" &&
	grep -x "ctr-t13a.service	stopped" out &&
	grep -x "container-active.target	stopped" out &&
	grep -x "container-small.slice	stopped" out &&
	test_must_fail curl -sf --max-time 2 http://127.0.0.1:41300/ &&
	test "$(sdctl is-active ctr-t13a.service)" = inactive &&
	unit_links >links &&
	test_must_fail test -s links &&
	test -f "$CTR/units/t1/ctr-t13a.service" &&
	test -f "$CTR/targets/container-active.target" &&
	g gear-list-units >out &&
	test_must_fail test -s out
'

test_expect_success 'gear-init after a purge brings the host back' '
	g gear-init &&
	http_get 41300 env.txt &&
	unit_links >links &&
	test_cmp links.before links
'

test_done
