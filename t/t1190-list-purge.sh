#!/bin/sh
test_description='gear-list-units and gear-purge: one row and one stop per container, whatever the ids share'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=42300-42399
test_atexit 'gear-test-systemd stop "$SD"'

test_expect_success 'setup: a manager, t19ab and t19ab-x started, t19ab-y installed' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t19ab t19ab-x >out &&
	g gear-install --port-range $RANGE -p 8080:0 $IMAGE t19ab-y >>out &&
	printf "t19ab\t8080\t42300\nt19ab-x\t8080\t42301\nt19ab-y\t8080\t42302\n" >expect &&
	test_cmp expect out
'

test_expect_success 'list-units: each container once, sorted by id' '
	g gear-list-units >out &&
	printf "t19ab\tactive\trunning\tloaded\nt19ab-x\tactive\trunning\tloaded\n" >expect &&
	test_cmp expect out &&
	g gear-list-units --all >out &&
	printf "t19ab\tactive\trunning\tloaded\nt19ab-x\tactive\trunning\tloaded\nt19ab-y\tinactive\tdead\tunloaded\n" >expect &&
	test_cmp expect out
'

test_expect_success 'purge stops each container once' '
	g gear-purge -v >out &&
	grep "^ctr-" out >stops &&
	printf "ctr-t19ab-x.service\tstopped\nctr-t19ab-y.service\tstopped\nctr-t19ab.service\tstopped\n" >expect &&
	sort stops >sorted &&
	test_cmp expect sorted &&
	test "$(sdctl is-active ctr-t19ab.service)" != active &&
	test "$(sdctl is-active ctr-t19ab-x.service)" != active
'

test_expect_success 'cleanup: the containers deleted' '
	g gear-init &&
	g gear-delete t19ab t19ab-x t19ab-y &&
	g gear-list-units --all >out &&
	test_must_fail test -s out
'

test_done
