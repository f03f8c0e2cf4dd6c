#!/bin/sh
test_description='gear-deploy over ssh: two hosts, each a network namespace with its own sshd, tree and manager'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

HOSTS_NS=t16 HOSTS_NET=10.216.0 HOSTS_PORT=2216
. "$TEST_DIRECTORY/lib/hosts-lib.sh"

# deploy ARG...: gear-deploy from host a's namespace, with the test's ssh
deploy() { nsenter --net=/run/netns/$NA env GEAR_SSH="$T/ssh" gear-deploy "$@"; }

test_expect_success 'setup: two namespaces joined by a veth pair, a host in each' '
	hosts_setup &&
	cat >multi.json <<-EOJ
	{
	  "IdPrefix": "t16m",
	  "Containers": [ {
	    "Name": "web", "Image": "$IMAGE", "Count": 2,
	    "PublicPorts": [ { "Internal": 8080 } ],
	    "Links": [ { "To": "web" } ]
	  } ]
	}
	EOJ
'

test_expect_success 'one deployment spread over both hosts' '
	deploy --port-range 41650-41699 multi.json $HA $HB >out 2>err &&
	cat out &&
	grep -x "$HA: gear-install -p 8080:0 --port-range 41650-41699 -- $IMAGE t16mweb-1" out &&
	grep -x "$HB: gear-install -p 8080:0 --port-range 41650-41699 -- $IMAGE t16mweb-2" out &&
	grep -x "$HA: done" out && grep -x "$HB: done" out &&
	test -f "$T/hosta/var/lib/containers/units/t1/ctr-t16mweb-1.service" &&
	test_must_fail test -e "$T/hosta/var/lib/containers/units/t1/ctr-t16mweb-2.service" &&
	test -f "$T/hostb/var/lib/containers/units/t1/ctr-t16mweb-2.service" &&
	test_must_fail test -e "$T/hostb/var/lib/containers/units/t1/ctr-t16mweb-1.service" &&
	FILE1=$(tail -n 1 out) &&
	echo "FILE1=$FILE1" >vars &&
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert [(x[\"Id\"], x[\"On\"]) for x in d[\"Instances\"]] == [(\"t16mweb-1\", \"$HA\"), (\"t16mweb-2\", \"$HB\")], d
" "$FILE1"
'
test ! -f vars || . ./vars

test_expect_success 'inside web-1 on one host, 127.0.0.1:8081 is web-2 on the other' '
	P2=$(on b gear-ports list | awk "\$2 == \"t16mweb-2\" { print \$1 }") &&
	test -n "$P2" &&
	grep -x "127.0.0.1	8081	$P2	$AB" "$T/hosta/var/lib/containers/ports/links/t1/t16mweb-1" &&
	echo "gear test web" >expect &&
	wait_until fetch a t16mweb-1 http://127.0.0.1:8081/index.html >body &&
	test_cmp expect body &&
	on b gear-stop t16mweb-2 &&
	test_must_fail fetch a t16mweb-1 http://127.0.0.1:8081/index.html &&
	on b gear-start t16mweb-2 &&
	wait_until fetch a t16mweb-1 http://127.0.0.1:8081/index.html >body &&
	test_cmp expect body &&
	wait_until fetch b t16mweb-2 http://127.0.0.1:8080/index.html >body &&
	test_cmp expect body
'

test_expect_success 'a host that fails: the run fails with a summary, the other host is done and recorded' '
	gear-test-sshd stop "$T/sshdb" &&
	sed "s/\"Count\": 2/\"Count\": 4/" "$FILE1" >four.json &&
	test_expect_code 111 deploy --port-range 41650-41699 four.json $HA $HB >out 2>err &&
	cat out err &&
	grep -x "$HA: gear-install -p 8080:0 --port-range 41650-41699 -- $IMAGE t16mweb-3" out &&
	grep -x "$HB: gear-install -p 8080:0 --port-range 41650-41699 -- $IMAGE t16mweb-4" out &&
	grep -x "$HA: gear-start -- t16mweb-3" out &&
	grep -x "$HA: done" out &&
	grep "^gear-deploy: $HB: failed: gear-install .*t16mweb-4: exit 255" err &&
	grep "^gear-deploy: 1 of 2 hosts failed" err &&
	test "$(on a systemctl --user is-active ctr-t16mweb-3.service)" = active &&
	FILE2=$(tail -n 1 out) &&
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert [x[\"Id\"] for x in d[\"Instances\"]] == [\"t16mweb-1\", \"t16mweb-2\", \"t16mweb-3\"], d
" "$FILE2"
'

test_expect_success 'cleanup' '
	on a gear-delete t16mweb-1 t16mweb-3 &&
	on b gear-delete t16mweb-2
'

test_done
