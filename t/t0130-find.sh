#!/bin/sh
test_description='find reads the container tree cleanly: no lock file among keys, environments and ports'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success 'setup: two containers with environments, keys and ports' '
	mkdir -p "$CTR/units/fi" &&
	: >"$CTR/units/fi/ctr-find1.service" &&
	: >"$CTR/units/fi/ctr-find2.service" &&
	gear-set-env find1 A=1 >/dev/null &&
	gear-set-env find2 B=2 >/dev/null &&
	ssh-keygen -q -t ed25519 -N "" -f k1 &&
	ssh-keygen -q -t ed25519 -N "" -f k2 &&
	gear-keys add --key-file k1.pub find1 >/dev/null &&
	gear-keys add --key-file k2.pub find1 find2 >/dev/null &&
	gear-ports alloc find1 8080 8081 >/dev/null &&
	gear-ports alloc find2 8080 >/dev/null &&
	gear-clean >/dev/null
'

test_expect_success 'find keys -type f lists exactly the keys' '
	(cd "$CTR" && find keys -type f) | sort >got &&
	for k in k1 k2; do
		fp=$(ssh-keygen -l -E sha256 -f $k.pub | sed "s/.*SHA256:\([^ ]*\) .*/\1/" | tr "+/" "-_") &&
		echo "keys/$(echo $fp | cut -c1-2)/$fp" || return 1
	done | sort >expect &&
	test_cmp expect got
'

test_expect_success 'find env -type f lists exactly the environments' '
	(cd "$CTR" && find env -type f) | sort >got &&
	printf "env/contents/fi/find1\nenv/contents/fi/find2\n" >expect &&
	test_cmp expect got
'

test_expect_success 'find ports/interfaces -type l lists exactly the ports, and nothing else is there' '
	gear-ports list | cut -f1 | sort -n >ports &&
	test $(wc -l <ports) = 3 &&
	(cd "$CTR" && find ports/interfaces -type l) | sed "s|.*/||" | sort -n >got &&
	test_cmp ports got &&
	(cd "$CTR" && find ports/interfaces ! -type d ! -type l) >other &&
	test_must_fail test -s other
'

test_expect_success 'no lock file anywhere in the container tree' '
	(cd "$CTR" && find . -name "*.lock") >locks &&
	test_must_fail test -s locks
'

test_expect_success 'the lock of keys/ is the directory: while it is held, an add waits' '
	: >hold &&
	{ flock -x "$CTR/keys" sh -c "while test -e hold; do sleep 0.05; done" & } &&
	i=0 &&
	until grep -q "FLOCK .* $! " /proc/locks; do i=$((i + 1)); test $i -lt 100 || exit 1; sleep 0.05; done &&
	{ gear-keys add --key-file k1.pub find2 >add.out 2>&1; echo $? >add.rc; } &
	sleep 1 &&
	test_must_fail test -e add.rc &&
	rm hold &&
	i=0 &&
	until test -s add.rc; do i=$((i + 1)); test $i -lt 200 || exit 1; sleep 0.05; done &&
	test "$(cat add.rc)" = 0
'

test_done
