#!/bin/sh
test_description='gear-link and gear-install -n: links from inside a container, with nftables in its namespace'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

A=t30a B=t30b C=t30c
test_atexit 'gear-test-systemd stop "$SD"'

# in ID CMD...: CMD in the network namespace of container ID
in_ns() {
	id=$1
	shift
	pid=$(g podman inspect --format "{{.State.Pid}}" ctr-$id) && nsenter -t "$pid" -n "$@"
}
# snap FILE: the container tree's paths, modes, sizes and links
snap() { (cd "$CTR" && find . -printf '%y %m %s %p %l\n' | sort) >"$1"; }
# fetch ID URL: what container ID gets from URL
fetch() { g podman exec ctr-$1 wget -qO- "$2"; }

test_expect_success 'setup: B publishes a port, A runs beside it' '
	test_gear_conf run-arg=--pull=never "gear-bin=$GEAR_BUILD/bin" &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	g gear-install -p 8080:0 --port-range 41700-41799 --start $IMAGE $B >ports &&
	P=$(cut -f3 ports) &&
	g gear-install --start $IMAGE $A &&
	GW=$(g podman inspect --format "{{.NetworkSettings.Gateway}}" ctr-$A) &&
	test -n "$GW" &&
	echo "P=$P GW=$GW" >vars &&
	fetch $A http://$GW:$P/index.html >body &&
	echo "gear test web" >expect &&
	test_cmp expect body &&
	test_must_fail fetch $A http://127.0.0.2:8081/index.html
'
test ! -f vars || . ./vars

test_expect_success 'a link on the running container works at once, without a restart' '
	pid=$(g podman inspect --format "{{.State.Pid}}" ctr-$A) &&
	g gear-link $A -n 127.0.0.2:8081:$GW:$P >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err &&
	test "$(g podman inspect --format "{{.State.Pid}}" ctr-$A)" = $pid &&
	fetch $A http://127.0.0.2:8081/index.html >body &&
	test_cmp expect body
'

test_expect_success 'the links file is as documented: LOCALIP LOCALPORT PORT HOST' '
	printf "127.0.0.2\t8081\t$P\t$GW\n" >expect.links &&
	test_cmp expect.links "$CTR/ports/links/t3/$A" &&
	printf "8081\t$GW\n" >expect.cut &&
	cut -f2,4 "$CTR/ports/links/t3/$A" >out &&
	test_cmp expect.cut out &&
	g gear-status $A >status &&
	grep -x "link:	127.0.0.2:8081:$GW:$P" status
'

test_expect_success 'the link is private to its container' '
	in_ns $A nft list table ip gear_links >/dev/null &&
	test_must_fail in_ns $B nft list table ip gear_links 2>err &&
	test_must_fail fetch $B http://127.0.0.2:8081/index.html &&
	test_must_fail nft list table ip gear_links 2>err
'

test_expect_success 'a link on an address outside 127.0.0.0/8 stands in for it, in the container only' '
	g gear-link $A -n 127.0.0.2:8081:$GW:$P,192.0.2.1:8081:$GW:$P &&
	fetch $A http://192.0.2.1:8081/index.html >body &&
	test_cmp expect body &&
	fetch $A http://127.0.0.2:8081/index.html >body &&
	test_cmp expect body &&
	printf "127.0.0.2\t8081\t$P\t$GW\n192.0.2.1\t8081\t$P\t$GW\n" >expect.two &&
	test_cmp expect.two "$CTR/ports/links/t3/$A" &&
	in_ns $A nft list table ip gear_links >rules &&
	grep "ip daddr 192.0.2.1 tcp dport 8081 dnat to $GW:$P" rules &&
	test_must_fail in_ns $B nft list table ip gear_links &&
	g gear-link $A -n 127.0.0.2:8081:$GW:$P &&
	test_cmp expect.links "$CTR/ports/links/t3/$A" &&
	in_ns $A nft list table ip gear_links >rules &&
	test_must_fail grep 192.0.2.1 rules
'

test_expect_success 'it survives a restart of the container' '
	g gear-restart $A &&
	fetch $A http://127.0.0.2:8081/index.html >body &&
	test_cmp expect body
'

test_expect_success 'and a reboot: gear-init on a fresh manager' '
	gear-test-systemd restart "$SD" &&
	g gear-init >/dev/null &&
	i=0 && until fetch $A http://127.0.0.2:8081/index.html >body 2>/dev/null; do
		i=$((i + 1)); test $i -lt 50 || break; sleep 0.2; done &&
	test_cmp expect body
'

test_expect_success 'bad links are refused, exit 100, nothing changes' '
	snap before &&
	for bad in 70000:$GW:$P 8081:$GW:0 0.0.0.0:8081:$GW:$P 0.1.2.3:8081:$GW:$P 224.0.0.1:8081:$GW:$P \
		255.255.255.255:8081:$GW:$P :8081:$GW:$P 8081::$P 8081:$GW: \
		a:b 8081:-x:$P 8081:a..b:$P "8081:$GW:$P," "8081:$GW:$P,8081:$GW:$P" 1:2:3:4:5 \
		"127.0.0.2:8081:h st:1"; do
		test_expect_code 100 g gear-link $A -n "$bad" 2>err || { echo "accepted: $bad"; return 1; }
		grep "^gear-link: invalid link\|^gear-link: link to .* given twice\|^gear-link: invalid links" err ||
			{ cat err; return 1; }
	done &&
	many=$(seq 1 65 | sed "s/.*/&:$GW:$P/" | paste -sd, -) &&
	test_expect_code 100 g gear-link $A -n "$many" 2>err &&
	grep "^gear-link: more than 64 links" err &&
	test_expect_code 100 g gear-link "../x" -n 8081:$GW:$P 2>err &&
	grep "^gear-link: invalid identifier" err &&
	test_expect_code 1 g gear-link t30none -n 8081:$GW:$P 2>err &&
	grep "no container .t30none." err &&
	snap after &&
	test_cmp before after
'

test_expect_success 'a host that does not resolve: exit 111, the old links stay' '
	test_expect_code 111 g gear-link $A -n 8082:no-such-host.invalid:80 2>err &&
	grep "cannot resolve .no-such-host.invalid." err &&
	test_cmp expect.links "$CTR/ports/links/t3/$A" &&
	fetch $A http://127.0.0.2:8081/index.html >body &&
	test_cmp expect body
'

test_expect_success 'gear-install -n links a new container from its start' '
	g gear-install -n 127.0.0.3:9000:$GW:$P,9001:$GW:$P --start $IMAGE $C &&
	printf "127.0.0.3\t9000\t$P\t$GW\n127.0.0.1\t9001\t$P\t$GW\n" >expect.c &&
	test_cmp expect.c "$CTR/ports/links/t3/$C" &&
	fetch $C http://127.0.0.3:9000/index.html >body &&
	test_cmp expect body &&
	fetch $C http://127.0.0.1:9001/index.html >body &&
	test_cmp expect body &&
	test_expect_code 100 g gear-install -n 99999:$GW:$P $IMAGE t30d 2>err &&
	grep "^gear-install: invalid link" err &&
	test_must_fail test -e "$CTR/units/t3/ctr-t30d.service"
'

test_expect_success 'clearing removes the rule and the file' '
	g gear-link $A &&
	test_must_fail test -e "$CTR/ports/links/t3/$A" &&
	test_must_fail fetch $A http://127.0.0.2:8081/index.html &&
	in_ns $A nft list ruleset >rules &&
	test_must_fail grep gear_links rules
'

test_expect_success 'delete leaves no links file' '
	g gear-delete $C &&
	test_must_fail test -e "$CTR/ports/links/t3/$C"
'

test_done
