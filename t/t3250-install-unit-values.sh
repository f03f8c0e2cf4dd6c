#!/bin/sh
test_description='gear-install: units systemd loads whatever the image config, name and sysroot hold, or a failure rolled back'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

ACCENT=localhost/gear-t3250-accent:latest
NONCHAR=localhost/gear-t3250-nonchar:latest
# an image name of 244 bytes whose escaped unit name would be 725 bytes long
LONG=long$(printf -- '-x%.0s' $(seq 120))
test_atexit 'podman rmi -f $NONCHAR $ACCENT'
test_atexit 'gear-test-systemd stop "$SD"'

# load_state UNIT: what the manager makes of it
load_state() { sdctl show -p LoadState --value "$1"; }

test_expect_success 'setup: a manager, and Gear images of the test image and of ones with UTF-8 in their config' '
	test_gear_conf "gear-bin=$GEAR_BUILD/bin" run-arg=--pull=never &&
	build-test-image &&
	printf "FROM %s\nENV GREETING=caf\303\251\n" "$IMAGE" >Containerfile.accent &&
	podman build --pull=never -q -f Containerfile.accent -t $ACCENT . >/dev/null &&
	# U+FDD0: a noncharacter, UTF-8 that JSON carries but systemd refuses
	printf "FROM %s\nENV GREETING=caf\357\267\220\n" "$ACCENT" >Containerfile.nonchar &&
	podman build --pull=never -q -f Containerfile.nonchar -t $NONCHAR . >/dev/null &&
	for i in web:$IMAGE accent:$ACCENT nonchar:$NONCHAR; do
		rm -f "${i%%:*}.tar" &&
		podman save --format docker-archive -o "${i%%:*}.tar" "${i#*:}" >/dev/null &&
		gear-build -q "docker-archive:${i%%:*}.tar" "${i%%:*}" >/dev/null || return 1
	done &&
	gear-build -q docker-archive:web.tar "$LONG" >/dev/null &&
	gear-build -q docker-archive:web.tar "$LONG:two" >/dev/null &&
	gear-test-systemd start "$SD"
'

test_expect_success 'UTF-8 in the image config goes into the unit as it is, which loads and runs' '
	g gear-install -p 8080:41900 gear:accent t35u >out &&
	printf "t35u\t8080\t41900\n" >expect &&
	test_cmp expect out &&
	test "$(load_state ctr-t35u.service)" = loaded &&
	grep -x "	--env=GREETING=caf$(printf "\303\251") \\\\" "$UNITDIR/ctr-t35u.service" &&
	g gear-start t35u &&
	http_get 41900 env.txt >body &&
	printf "caf\303\251\n" >expect &&
	test_cmp expect body &&
	g gear-delete t35u
'

test_expect_success 'a noncharacter in the image config is refused before anything is written' '
	test_tree_snapshot before &&
	test_expect_code 100 g gear-install -p 8080:41900 gear:nonchar t35v >out 2>err &&
	test_must_fail test -s out &&
	printf "%s\n" "gear-install: cannot install '\''t35v'\'': invalid environment in the image config '\''GREETING=caf\\xef\\xb7\\x90'\'': not UTF-8 as systemd takes it" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'an image name that is not UTF-8 is refused and changes nothing' '
	test_tree_snapshot before &&
	test_expect_code 100 g gear-install "$(printf "localhost/caf\351")" t35n 2>err &&
	printf "%s\n" "gear-install: cannot install '\''t35n'\'': invalid image '\''localhost/caf\\xe9'\'': not UTF-8 as systemd takes it" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'a new unit the manager does not load fails the install and is rolled back' '
	g gear-install $IMAGE t35a >/dev/null &&
	mkdir -p "$UNITDIR/ctr-t35b.service.d" &&
	printf "[Service]\nExecStart=\n" >"$UNITDIR/ctr-t35b.service.d/broken.conf" &&
	test_tree_snapshot before &&
	test_expect_code 111 g gear-install -p 8080:41901 $IMAGE t35b GREETING=x >out 2>err &&
	test_must_fail test -s out &&
	echo "gear-install: cannot install '\''t35b'\'': the service manager cannot load '\''ctr-t35b.service'\'': bad-setting (systemd-analyze verify tells why)" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after &&
	test "$(load_state ctr-t35b.service)" = not-found
'

test_expect_success 'an update the manager does not load leaves the previous version current' '
	rm -r "$UNITDIR/ctr-t35b.service.d" &&
	g gear-install -p 8080:41902 $IMAGE t35b GREETING=one >/dev/null &&
	test "$(load_state ctr-t35b.service)" = loaded &&
	mkdir -p "$UNITDIR/ctr-t35b.service.d" &&
	printf "[Service]\nExecStart=\n" >"$UNITDIR/ctr-t35b.service.d/broken.conf" &&
	test_tree_snapshot before &&
	cp "$CTR/units/t3/ctr-t35b.service" unit.before &&
	test_expect_code 111 g gear-install -p 8080:41902,9090:41903 $IMAGE t35b GREETING=two 2>err &&
	grep "cannot load '\''ctr-t35b.service'\'': bad-setting" err &&
	test_tree_snapshot after &&
	test_cmp before after &&
	test_cmp unit.before "$CTR/units/t3/ctr-t35b.service" &&
	echo GREETING=one >expect &&
	test_cmp expect "$CTR/env/contents/t3/t35b" &&
	rm -r "$UNITDIR/ctr-t35b.service.d" &&
	g gear-install -p 8080:41902 $IMAGE t35b GREETING=two >/dev/null &&
	test "$(load_state ctr-t35b.service)" = loaded &&
	g gear-delete t35b
'

test_expect_success 'a long image name gets a gear-fs unit name systemd takes, one per reference' '
	g gear-install -p 8080:41910 --start "gear:$LONG" t35l1 >/dev/null &&
	http_get 41910 >page &&
	echo "gear test web" >expect &&
	test_cmp expect page &&
	u1=$(sed -n "s/^Requires=//p" "$UNITDIR/ctr-t35l1.service") &&
	test ${#u1} -le 255 &&
	case $u1 in gear-fs-long\\x2dx\\x2dx*_*.service) ;; *) false ;; esac &&
	test "$(load_state "$u1")" = loaded &&
	test "$(sdctl is-active "$u1")" = active &&
	g gear-install "gear:$LONG:two" t35l2 >/dev/null &&
	u2=$(sed -n "s/^Requires=//p" "$UNITDIR/ctr-t35l2.service") &&
	test ${#u2} -le 255 &&
	test "$u1" != "$u2" &&
	test "$(load_state "$u2")" = loaded &&
	g gear-install "gear:$LONG" t35l3 >/dev/null &&
	test "$(sed -n "s/^Requires=//p" "$UNITDIR/ctr-t35l3.service")" = "$u1" &&
	g gear-delete t35l1 t35l2 t35l3
'

test_expect_success 'a short name keeps its plain escaped unit name' '
	g gear-install gear:web t35w >/dev/null &&
	grep -x "Requires=gear-fs-web:latest.service" "$UNITDIR/ctr-t35w.service" &&
	g gear-delete t35w
'

test_expect_success 'a relative GEAR_SYSROOT is taken from the working directory, and units get it absolute' '
	test "$(pwd)/root" = "$GEAR_SYSROOT" &&
	g env GEAR_SYSROOT=root gear-install -p 8080:41920 --start gear:web t35r >out &&
	printf "t35r\t8080\t41920\n" >expect &&
	test_cmp expect out &&
	http_get 41920 >page &&
	echo "gear test web" >expect &&
	test_cmp expect page &&
	grep -x "Environment=GEAR_SYSROOT=$GEAR_SYSROOT" "$UNITDIR/gear-fs-web:latest.service" &&
	grep -x "	--rootfs $IMG/containers/t35r/merged \\\\" "$UNITDIR/ctr-t35r.service" &&
	test_must_fail grep -l "[= ]root/" "$UNITDIR/gear-fs-web:latest.service" "$UNITDIR/ctr-t35r.service" &&
	g env GEAR_SYSROOT=./root/ gear-list-units >out &&
	grep "^t35r	active	running	loaded$" out &&
	(cd root && g env GEAR_SYSROOT=. gear-images) >out &&
	grep "^web	latest	" out &&
	(cd root/var && g env GEAR_SYSROOT=.. gear-delete t35r) &&
	test_must_fail test -e "$CTR/units/t3/ctr-t35r.service"
'

test_done
