#!/bin/sh
test_description='gear-deploy on this host: geard simple_deploy, a redeploy that removes an instance, bad files'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

test_atexit 'gear-test-systemd stop "$SD"'

# fetch ID URL: what container ID gets from URL
fetch() { g podman exec ctr-$1 wget -qO- "$2"; }
# snap FILE: the container tree's paths, modes, sizes and links
snap() { (cd "$CTR" && find . -path ./storage -prune -o -printf '%y %m %s %p %l\n' | sort) >"$1"; }

# refused NAME SED-SCRIPT MESSAGE: simple.json edited by SED-SCRIPT, as
# bad-NAME.json, is refused with exit 100 and "gear-deploy: ...MESSAGE"
refused() {
	sed "$2" simple.json >bad-$1.json &&
	! cmp -s simple.json bad-$1.json &&
	test_expect_code 100 g gear-deploy bad-$1.json >out 2>err &&
	grep -x "gear-deploy: .*$3" err &&
	test_must_fail test -s out
}

test_expect_success 'setup' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	cat >simple.json <<-EOJ &&
	{
	  "idprefix": "t16",
	  "containers": [
	    {
	      "name": "web",
	      "count": 2,
	      "image": "$IMAGE",
	      "publicports": [ { "internal": 8080, "external": 0 } ],
	      "links": [ { "to": "web" } ]
	    }
	  ]
	}
	EOJ
	echo "gear test web" >expect.page
'

test_expect_success 'simple_deploy: two web instances installed, linked and started' '
	g gear-deploy --port-range 47160-47199 simple.json >out 2>err &&
	cat out &&
	grep -x "localhost: gear-install -p 8080:0 --port-range 47160-47199 -- $IMAGE t16web-1" out &&
	grep -x "localhost: gear-install -p 8080:0 --port-range 47160-47199 -- $IMAGE t16web-2" out &&
	grep -x "localhost: gear-start -- t16web-2" out &&
	grep -x "localhost: done" out &&
	test_must_fail grep -v "^localhost: \|^simple\.json\.[0-9]\{8\}-[0-9]\{6\}$" out &&
	FILE1=$(tail -n 1 out) &&
	test -f "$FILE1" &&
	echo "FILE1=$FILE1" >vars &&
	test "$(sdctl is-active ctr-t16web-1.service)" = active &&
	test "$(sdctl is-active ctr-t16web-2.service)" = active
'
test ! -f vars || . ./vars

test_expect_success 'the written deployment records hosts, ports and links' '
	P1=$(g gear-ports list | awk "\$2 == \"t16web-1\" { print \$1 }") &&
	P2=$(g gear-ports list | awk "\$2 == \"t16web-2\" { print \$1 }") &&
	test -n "$P1" && test -n "$P2" &&
	echo "P1=$P1 P2=$P2" >>vars &&
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
i = {x[\"Id\"]: x for x in d[\"Instances\"]}
assert sorted(i) == [\"t16web-1\", \"t16web-2\"], i
assert all(x[\"On\"] == \"localhost\" for x in i.values())
assert i[\"t16web-1\"][\"Ports\"][0] == {\"Internal\": 8080, \"External\": $P1, \"Target\": {\"Host\": \"127.0.0.1\", \"Port\": 8080}}
assert i[\"t16web-2\"][\"Ports\"][0][\"Target\"] == {\"Host\": \"127.0.0.1\", \"Port\": 8081}
assert [(l[\"FromPort\"], l[\"ToPort\"]) for l in i[\"t16web-1\"][\"Links\"]] == [(8080, $P1), (8081, $P2)]
" "$FILE1"
'
test ! -f vars || . ./vars

test_expect_success 'inside web-1, 127.0.0.1:8081 is web-2' '
	cut -f1-3 "$CTR/ports/links/t1/t16web-1" >links &&
	printf "127.0.0.1\t8080\t$P1\n127.0.0.1\t8081\t$P2\n" >expect.links &&
	test_cmp expect.links links &&
	fetch t16web-1 http://127.0.0.1:8081/index.html >body &&
	test_cmp expect.page body &&
	g gear-stop t16web-2 &&
	test_must_fail fetch t16web-1 http://127.0.0.1:8081/index.html &&
	g gear-start t16web-2 &&
	wait_until fetch t16web-1 http://127.0.0.1:8081/index.html >body &&
	test_cmp expect.page body
'

test_expect_success 'the same deployment again changes nothing' '
	snap before &&
	g gear-deploy --port-range 47160-47199 "$FILE1" >out 2>err &&
	printf "localhost: done\n" >expect &&
	head -n 1 out >first &&
	test_cmp expect first &&
	snap after &&
	test_cmp before after
'

test_expect_success 'redeployed with Count 1: web-2 deleted, web-1 relinked' '
	sed "s/\"Count\": 2/\"Count\": 1/" "$FILE1" >one.json &&
	grep "\"Count\": 1" one.json &&
	g gear-deploy one.json >out 2>err &&
	cat out &&
	grep -x "localhost: gear-delete -- t16web-2" out &&
	grep -x "localhost: gear-link t16web-1 -n 127.0.0.1:8080:[0-9.]*:$P1" out &&
	test_must_fail grep "gear-install\|gear-start" out &&
	test_must_fail test -e "$CTR/units/t1/ctr-t16web-2.service" &&
	test "$(sdctl is-active ctr-t16web-1.service)" = active &&
	cut -f1-3 "$CTR/ports/links/t1/t16web-1" >links &&
	printf "127.0.0.1\t8080\t$P1\n" >expect.links &&
	test_cmp expect.links links &&
	test_must_fail fetch t16web-1 http://127.0.0.1:8081/index.html &&
	FILE2=$(tail -n 1 out) &&
	echo "FILE2=$FILE2" >>vars &&
	case $FILE2 in one.json.*) ;; *) false ;; esac &&
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert [x[\"Id\"] for x in d[\"Instances\"]] == [\"t16web-1\"], d
" "$FILE2"
'

test ! -f vars || . ./vars

test_expect_success 'invalid files: exit 100, geard messages, nothing changes' '
	snap before &&
	refused port "s/\"to\": \"web\"/\"to\": \"web\", \"ports\": [8081]/" \
		"cannot deploy .bad-port.json.: target port 8081 on web is not found, cannot link from web" &&
	refused target "s/\"to\": \"web\"/\"to\": \"db\"/" "target db not found for source web" &&
	refused field "s/\"idprefix\"/\"idprefx\"/" "unknown field .idprefx. in the deployment" &&
	refused name "s/\"name\": \"web\"/\"name\": \"..\/web\"/" "invalid Name .\.\./web. in container 1" &&
	refused image "s|\"image\": \"[^\"]*\"|\"image\": \"--privileged\"|" "invalid Image .--privileged. in container .web." &&
	test_expect_code 100 g gear-deploy simple.json "bad host" 2>err &&
	grep "invalid host" err &&
	test_expect_code 100 g gear-deploy simple.json localhost localhost 2>err &&
	grep "host .localhost. given twice" err &&
	test_expect_code 100 g gear-deploy simple.json localhost other 2>err &&
	grep "^gear-deploy: .localhost. cannot be given with other hosts" err &&
	test_expect_code 100 g gear-deploy 2>err &&
	test_expect_code 111 g gear-deploy no-such.json 2>err &&
	grep "cannot open .no-such.json." err &&
	snap after &&
	test_cmp before after &&
	ls >files &&
	test_must_fail grep "^bad-.*\.json\." files
'

test_expect_success 'an instance that cannot be installed fails the run, the rest is reported and recorded' '
	sed -e "s/\"Count\": 1/\"Count\": 2/" -e "s|\"Image\": \"[^\"]*\"|\"Image\": \"localhost/t16-no-such-image\"|" \
		"$FILE2" >two.json &&
	test_expect_code 111 g gear-deploy --port-range 47160-47199 two.json >out 2>err &&
	grep -x "localhost: gear-install -p 8080:0 --port-range 47160-47199 -- localhost/t16-no-such-image t16web-2" out &&
	grep -x "localhost: gear-start -- t16web-2" out &&
	grep "^localhost: .*image not known" out &&
	test_must_fail grep -x "localhost: done" out &&
	grep -x "gear-deploy: localhost: failed: gear-start -- t16web-2: exit 111" err &&
	FILE3=$(tail -n 1 out) &&
	grep -x "gear-deploy: 1 of 1 hosts failed; what was done is recorded in .$FILE3." err &&
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert [x[\"Id\"] for x in d[\"Instances\"]] == [\"t16web-1\", \"t16web-2\"], d
" "$FILE3"
'

test_expect_success 'a NonLocal link listens on 192.168.1.1 inside its source and reaches the target' '
	cat >nonlocal.json <<-EOJ &&
	{ "IdPrefix": "t16n", "Containers": [
	  { "Name": "db", "Count": 1, "Image": "$IMAGE", "PublicPorts": [ { "Internal": 8080 } ] },
	  { "Name": "web", "Count": 1, "Image": "$IMAGE", "Links": [ { "To": "db", "NonLocal": true } ] } ] }
	EOJ
	g gear-deploy --port-range 47160-47199 nonlocal.json >out 2>err &&
	grep -x "localhost: done" out &&
	g gear-status t16nweb-1 >status &&
	link=$(sed -n "s/^link:\t//p" status) &&
	case $link in 192.168.1.1:*) ;; *) echo "link: $link"; false ;; esac &&
	port=$(echo "$link" | cut -d: -f2) &&
	fetch t16nweb-1 "http://192.168.1.1:$port/index.html" >page &&
	test_cmp expect.page page &&
	test_must_fail fetch t16ndb-1 "http://192.168.1.1:$port/index.html"
'

test_expect_success 'cleanup' '
	g gear-delete t16web-1 t16web-2 t16ndb-1 t16nweb-1
'

test_done
