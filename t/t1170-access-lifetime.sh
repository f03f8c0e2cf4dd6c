#!/bin/sh
test_description='SSH access lives and dies with its container: delete removes it, a new container of the same ID starts with none'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=41700-41799
test_atexit 'gear-test-systemd stop "$SD"'

keytext() { cut -d" " -f1-2 "$1" | tr -d "\n"; }

test_expect_success 'setup: a private systemd user manager, the test image, keys' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	ssh-keygen -q -t ed25519 -N "" -C old-tenant -f old &&
	ssh-keygen -q -t ed25519 -N "" -C new-tenant -f new
'

test_expect_success 'keys for an ID that is not installed are refused' '
	test_tree_snapshot before &&
	test_expect_code 1 gear-keys add --key-file old.pub t17a >out 2>err &&
	echo "gear-keys: cannot add keys: no container '\''t17a'\''" >expect &&
	test_cmp expect err &&
	test_must_fail test -s out &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'an installed container gets keys; sshd is offered them' '
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t17a >out &&
	gear-keys add --key-file old.pub t17a >out &&
	test -d "$CTR/access/containers/t1/t17a" &&
	gear-auth-keys-command ctr-t17a >ak &&
	grep -F "$(keytext old.pub)" ak
'

test_expect_success 'delete removes the access with the container' '
	g gear-delete t17a &&
	test_must_fail test -e "$CTR/units/t1/ctr-t17a.service" &&
	test_must_fail test -e "$CTR/access/containers/t1/t17a" &&
	ls -a "$CTR/access/containers/t1" >ls.out &&
	printf ".\n..\n" >expect &&
	test_cmp expect ls.out &&
	gear-keys list t17a >out &&
	test_must_fail test -s out
'

test_expect_success 'a new container under the same ID inherits no keys' '
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t17a >out &&
	gear-auth-keys-command ctr-t17a >ak &&
	test_must_fail test -s ak &&
	gear-keys add --key-file new.pub t17a >/dev/null &&
	gear-auth-keys-command ctr-t17a >ak &&
	test $(wc -l <ak) = 1 &&
	grep -F "$(keytext new.pub)" ak &&
	test_must_fail grep -F "$(keytext old.pub)" ak
'

test_expect_success 'gear-clean then removes the key nobody links any more' '
	fp=$(ssh-keygen -lf old.pub | cut -d" " -f2 | sed "s/^SHA256://" | tr "+/" "-_") &&
	key="$CTR/keys/$(printf %.2s "$fp")/$fp" &&
	test -f "$key" &&
	gear-clean >out &&
	printf "key\t%s\n" "$key" >expect &&
	test_cmp expect out &&
	test_must_fail test -e "$key"
'

test_expect_success 'a delete killed after hiding the access: no key offered, the container still there' '
	test_expect_code 137 env GEAR_TEST_CRASH_AT=access gear-test-systemd run "$SD" gear-delete t17a &&
	test -f "$CTR/units/t1/ctr-t17a.service" &&
	test_must_fail test -e "$CTR/access/containers/t1/t17a" &&
	gear-auth-keys-command ctr-t17a >ak &&
	test_must_fail test -s ak &&
	gear-clean --dry-run >out &&
	grep "^access	$CTR/access/containers/t1/\.gear-tmp\.t17a\.[0-9a-f]*$" out
'

test_expect_success 'the delete runs again, gear-clean removes what the kill left' '
	g gear-delete t17a &&
	test_must_fail test -e "$CTR/units/t1/ctr-t17a.service" &&
	gear-clean >out &&
	grep "^access	$CTR/access/containers/t1/\.gear-tmp\.t17a\." out &&
	grep "^key	$CTR/keys/" out &&
	ls -a "$CTR/access/containers/t1" >ls.out &&
	printf ".\n..\n" >expect &&
	test_cmp expect ls.out &&
	test_must_fail test -e "$CTR/access/containers/t1/t17a"
'

test_done
