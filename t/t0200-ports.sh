#!/bin/sh
test_description='gear-ports: allocation, release, list, check'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success 'alloc takes the first free ports from the low end' '
	gear-ports alloc web1 8080 9090:0 >out &&
	printf "8080\t4000\n9090\t4001\n" >expect &&
	test_cmp expect out &&
	test "$(readlink "$CTR/ports/interfaces/1/40/4000")" = ../../../../units/we/ctr-web1.service
'

test_expect_success 'explicit external port' '
	gear-ports alloc web2 80:4500 22 >out &&
	printf "80\t4500\n22\t4002\n" >expect &&
	test_cmp expect out &&
	test -L "$CTR/ports/interfaces/1/45/4500"
'

test_expect_success 'a taken port fails with 1 and changes nothing' '
	test_tree_snapshot before &&
	test_expect_code 1 gear-ports alloc web3 81 80:4500 >out 2>err &&
	echo "gear-ports: cannot allocate ports for '\''web3'\'': port 4500 is taken by '\''web2'\''" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'a gap left by release is filled first' '
	gear-ports release web1 &&
	test_must_fail test -L "$CTR/ports/interfaces/1/40/4000" &&
	gear-ports alloc web3 1 2 3 >out &&
	printf "1\t4000\n2\t4001\n3\t4003\n" >expect &&
	test_cmp expect out
'

test_expect_success 'allocation spills into the next block of 100' '
	gear-ports alloc --range 4098-4102 blk1 1 2 3 >out &&
	printf "1\t4098\n2\t4099\n3\t4100\n" >expect &&
	test_cmp expect out &&
	test -L "$CTR/ports/interfaces/1/41/4100"
'

test_expect_success 'exhausting a small range fails with 1, all or nothing' '
	gear-ports alloc --range 5000-5002 full 1 2 >out &&
	test_tree_snapshot before &&
	test_expect_code 1 gear-ports alloc --range 5000-5002 full2 1 2 2>err &&
	echo "gear-ports: cannot allocate ports for '\''full2'\'': no free port in range 5000-5002" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'list is sorted by port and shows state' '
	test_fake_unit web2 80:4500 22:4002 &&
	gear-ports list >out &&
	grep "^4002	web2	22	ok$" out &&
	grep "^4500	web2	80	ok$" out &&
	grep "^4000	web3	-	gone$" out &&
	cut -f1 out >ports &&
	sort -n ports >sorted &&
	test_cmp sorted ports &&
	test $(wc -l <out) = $(find "$CTR/ports/interfaces" -type l | wc -l)
'

test_expect_success 'the seed introspection pipeline works on the tree' '
	(cd "$CTR" && find ports/interfaces -type l -printf "%l %f " -exec cut -f 1-2 {} \; ) >out 2>err &&
	grep "units/we/ctr-web2.service 4500 \[Unit\]" out &&
	grep "X-PortMapping=80:4500" out
'

test_expect_success 'check reports gone, mismatched, foreign and missing links' '
	rm -rf "$CTR/ports" "$CTR/units" &&
	gear-ports alloc good 80:4000 >/dev/null &&
	gear-ports alloc gone 80:4001 >/dev/null &&
	gear-ports alloc stale 80:4002 81:4003 >/dev/null &&
	test_fake_unit good 80:4000 &&
	test_fake_unit stale 80:4002 &&
	test_fake_unit lost 80:4010 &&
	ln -s /etc/passwd "$CTR/ports/interfaces/1/40/4004" &&
	test_expect_code 1 gear-ports check >out &&
	printf "4001\tgone\tgone\n4003\tstale\tmismatch\n4004\t-\tforeign\n4010\tlost\tmissing\n" >expect &&
	test_cmp expect out
'

test_expect_success 'check --repair removes bad links and restores missing ones' '
	gear-ports check --repair >out &&
	printf "4001\tgone\tgone\tremoved\n4003\tstale\tmismatch\tremoved\n4004\t-\tforeign\tremoved\n4010\tlost\tmissing\trestored\n" >expect &&
	test_cmp expect out &&
	gear-ports check >out &&
	test_must_fail test -s out &&
	test -f /etc/passwd
'

test_expect_success '50 parallel allocations on a range of 50 get 50 distinct ports' '
	rm -rf "$CTR/ports" &&
	i=0 && while [ $i -lt 50 ]; do
		gear-ports alloc --range 6000-6049 "par$i" 80 >"par.$i" 2>&1 &
		i=$((i + 1))
	done && wait &&
	cat par.* | cut -f2 | sort -u >got &&
	test $(wc -l <got) = 50 &&
	test $(find "$CTR/ports/interfaces" -type l | wc -l) = 50 &&
	test_expect_code 1 gear-ports alloc --range 6000-6049 par51 80 2>err &&
	grep "no free port in range 6000-6049" err
'

test_expect_success 'kill -9 during allocations leaves only explainable links' '
	rm -rf "$CTR/ports" "$CTR/units" &&
	( while :; do gear-ports alloc --range 7000-7999 "k$(date +%N | cut -c1-6)" 1 2 3 >/dev/null 2>&1; done ) &
	pid=$! &&
	sleep 1 &&
	pkill -9 -P $pid; kill -9 $pid; wait $pid 2>/dev/null;
	test $(find "$CTR/ports/interfaces" -type l | wc -l) -gt 0 &&
	test_expect_code 1 gear-ports check >out &&
	test_must_fail grep -v "	gone$" out &&
	gear-ports check --repair >/dev/null &&
	gear-ports check &&
	test $(find "$CTR/ports/interfaces" -type l | wc -l) = 0
'

test_expect_success 'invalid identifiers are refused with 100 and no change' '
	test_tree_snapshot before &&
	for id in "" abc aaaaaaaaaaaaaaaaaaaaaaaaa "ab/cd" "../x" "..abcd" ".abcd" "-abcd" "ab cd" "abc\$" localhost/../abcd "local/ab"; do
		test_expect_code 100 gear-ports alloc -- "$id" 80 2>err &&
		grep "invalid identifier" err || return 1
	done &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'localhost/ID and local/ID forms are accepted' '
	gear-ports alloc localhost/form1 80:4900 >out &&
	gear-ports alloc local/form2 80:4901 >out &&
	test "$(readlink "$CTR/ports/interfaces/1/49/4900")" = ../../../../units/fo/ctr-form1.service &&
	gear-ports release localhost/form1 &&
	test_must_fail test -L "$CTR/ports/interfaces/1/49/4900"
'

test_expect_success 'bad port specs and ranges are refused with 100' '
	for spec in 0 65536 x 80:x 80:70000 :80 80: -1 "80:4000:1"; do
		test_expect_code 100 gear-ports alloc -- abcd "$spec" 2>err &&
		grep "invalid port mapping" err || return 1
	done &&
	test_expect_code 100 gear-ports alloc --range 5-1 abcd 80 2>err &&
	grep "invalid port range '\''5-1'\''" err &&
	test_expect_code 100 gear-ports alloc abcd 80 80 2>err &&
	grep "internal port 80 given twice" err
'

test_expect_success 'usage errors' '
	test_expect_code 100 gear-ports 2>err &&
	grep "^usage: gear-ports alloc" err &&
	test_expect_code 100 gear-ports frob 2>err &&
	grep "unknown subcommand '\''frob'\''" err &&
	test_expect_code 100 gear-ports list --repair 2>err &&
	test_expect_code 100 gear-ports alloc abcd 2>err &&
	gear-ports --help >out &&
	grep "^usage: gear-ports alloc" out
'

test_done
