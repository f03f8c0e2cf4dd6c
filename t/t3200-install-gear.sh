#!/bin/sh
test_description='gear-install of a Gear image: a gear-fs unit, an overlay per container, served through systemd'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

FSUNIT='gear-fs-web:latest.service'
# stat_of KEY: a counter of the image's mount (rewritten 0.1 s after a change)
stat_of() {
	sleep 0.4 &&
	awk -v k="$1" '$1 == k { print $2 }' "$IMG/images/web/latest/fs.stats"
}
# mounted DIR: DIR is a mount point in the manager's namespace
mounted() {
	g awk -v d="$1" '$2 == d { found = 1 } END { exit !found }' /proc/self/mounts
}
test_atexit 'gear-test-systemd stop "$SD"'

test_expect_success 'setup: a private systemd user manager and a Gear image of the test image' '
	test_gear_conf "gear-bin=$GEAR_BUILD/bin" &&
	build-test-image &&
	rm -f web.tar &&
	podman save --format docker-archive -o web.tar localhost/gear-test-web:latest >/dev/null &&
	gear-build docker-archive:web.tar web >build.out &&
	awk "\$1 == \"bytes-in\" { print \$2 }" build.out >image-bytes &&
	test -s image-bytes &&
	gear-test-systemd start "$SD"
'

test_expect_success 'a missing Gear image is refused and changes nothing' '
	test_expect_code 1 g gear-install gear:nosuch t32none 2>err &&
	echo "gear-install: cannot install '\''t32none'\'': no image '\''nosuch:latest'\''" >expect &&
	test_cmp expect err &&
	test_must_fail test -e "$UNITDIR/ctr-t32none.service" &&
	test_must_fail test -e "$IMG/containers/t32none"
'

test_expect_success 'an invalid Gear image name is a usage error' '
	test_expect_code 100 g gear-install gear:BAD t32none 2>err &&
	grep "^gear-install: cannot install '\''t32none'\'': .*BAD" err
'

test_expect_success 'install --start runs the container from the mounted image' '
	g gear-install -p 8080:41600 --start gear:web t32web >out &&
	printf "t32web\t8080\t41600\n" >expect &&
	test_cmp expect out &&
	http_get 41600 >page &&
	echo "gear test web" >expect &&
	test_cmp expect page &&
	sdctl is-active ctr-t32web.service $FSUNIT >out &&
	printf "active\nactive\n" >expect &&
	test_cmp expect out &&
	test -d "$IMG/containers/t32web/upper" &&
	test -d "$IMG/containers/t32web/work" &&
	mounted "$IMG/containers/t32web/merged" &&
	mounted "$IMG/mnt/web/latest"
'

test_expect_success 'the units: the gear-fs unit, the overlay and the image config' '
	grep -x "Requires=$FSUNIT" "$UNITDIR/ctr-t32web.service" &&
	grep -x "After=$FSUNIT" "$UNITDIR/ctr-t32web.service" &&
	grep -x "X-ContainerImage=gear:web" "$UNITDIR/ctr-t32web.service" &&
	grep -x "ExecStartPre=$GEAR_BUILD/bin/gear-fs --overlay $IMG/mnt/web/latest $IMG/containers/t32web/upper $IMG/containers/t32web/work $IMG/containers/t32web/merged" \
		"$UNITDIR/ctr-t32web.service" &&
	grep -x "	--rootfs $IMG/containers/t32web/merged \\\\" "$UNITDIR/ctr-t32web.service" &&
	grep -x "	--env=PATH=/bin \\\\" "$UNITDIR/ctr-t32web.service" &&
	grep -x "	/bin/gear-web" "$UNITDIR/ctr-t32web.service" &&
	grep -x "ExecStart=$GEAR_BUILD/bin/gear-fs -f --prefetch --direct web:latest $IMG/mnt/web/latest" "$UNITDIR/$FSUNIT" &&
	grep -x "StopWhenUnneeded=yes" "$UNITDIR/$FSUNIT"
'

test_expect_success 'only the files the server read were fetched' '
	fetched=$(stat_of fetched_bytes) &&
	files=$(stat_of fetched_files) &&
	test "$files" -ge 2 &&
	test "$files" -lt 6 &&
	test "$fetched" -gt 0 &&
	test "$fetched" -lt "$(cat image-bytes)" &&
	test "$(stat_of errors)" = 0
'

test_expect_success 'a second container of the image shares the mount and fetches nothing' '
	before=$(stat_of fetched_files) &&
	g gear-install -p 8080:41601 --start gear:web t32web2 >out &&
	http_get 41601 >page &&
	echo "gear test web" >expect &&
	test_cmp expect page &&
	test "$(stat_of fetched_files)" = "$before" &&
	mounted "$IMG/containers/t32web2/merged"
'

test_expect_success 'a gear-fs unit install rewrites reaches the manager' '
	sed -i "s/^TimeoutStopSec=30$/TimeoutStopSec=31/" "$UNITDIR/$FSUNIT" &&
	sdctl daemon-reload &&
	g gear-install -p 8080:41603 gear:web t32web4 >/dev/null &&
	grep -x "TimeoutStopSec=30" "$UNITDIR/$FSUNIT" &&
	sdctl show -p NeedDaemonReload -p TimeoutStopUSec $FSUNIT >out &&
	printf "TimeoutStopUSec=30s\nNeedDaemonReload=no\n" >expect &&
	test_cmp expect out &&
	g gear-delete t32web4
'

test_expect_success 'a bare name present in the image tree runs as that Gear image' '
	g gear-install -p 8080:41602 --start web t32web3 >out &&
	grep -x "X-ContainerImage=gear:web" "$UNITDIR/ctr-t32web3.service" &&
	grep -x "Requires=$FSUNIT" "$UNITDIR/ctr-t32web3.service" &&
	http_get 41602 >page &&
	echo "gear test web" >expect &&
	test_cmp expect page &&
	g gear-delete t32web3 &&
	test_must_fail test -e "$IMG/containers/t32web3"
'

test_expect_success 'gear-status shows the counters of the image mount' '
	g gear-status -n 0 t32web2 >out &&
	grep -x "image:	gear:web" out &&
	grep -x "fs.fetched_files:	$(stat_of fetched_files)" out &&
	grep -x "fs.fetched_bytes:	$(stat_of fetched_bytes)" out &&
	grep -x "fs.errors:	0" out &&
	grep "^fs.cache_hits:	[0-9][0-9]*$" out
'

test_expect_success 'stop and start work; a write stays in the container upper layer' '
	g gear-stop t32web &&
	test_must_fail mounted "$IMG/containers/t32web/merged" &&
	test_expect_code 3 sdctl is-active ctr-t32web.service &&
	g gear-start t32web &&
	http_get 41600 >page &&
	test_cmp expect page &&
	g podman exec ctr-t32web sh -c "echo hello >/tmp/note" &&
	echo hello >expect &&
	test_cmp expect "$IMG/containers/t32web/upper/tmp/note" &&
	test_must_fail test -e "$IMG/containers/t32web2/upper/tmp/note"
'

test_expect_success 'delete removes the overlay; the mount stays for the other container' '
	g gear-delete t32web &&
	test_must_fail test -e "$IMG/containers/t32web" &&
	test_must_fail test -e "$UNITDIR/ctr-t32web.service" &&
	sdctl is-active $FSUNIT &&
	http_get 41601 >/dev/null
'

test_expect_success 'the mount unit stops when its last container is gone' '
	g gear-delete t32web2 &&
	test_must_fail test -e "$IMG/containers/t32web2" &&
	i=0 &&
	while sdctl is-active --quiet $FSUNIT; do
		i=$((i + 1)) && test $i -lt 50 && sleep 0.1 || break
	done &&
	test_expect_code 3 sdctl is-active $FSUNIT &&
	test_must_fail mounted "$IMG/mnt/web/latest" &&
	test_must_fail curl -sf --max-time 2 http://127.0.0.1:41601/
'

# old_style ID: rewrites the container's unit in place as units were before gear-fs --overlay
old_style() {
	u="$UNITDIR/ctr-$1.service" &&
	sed "s|^ExecStartPre=.*/gear-fs --overlay \([^ ]*\) \([^ ]*\) \([^ ]*\) \([^ ]*\)$|ExecStartPre=/bin/mount -t overlay overlay -o lowerdir=\1,upperdir=\2,workdir=\3 \4|" \
		"$u" >old.unit &&
	grep "^ExecStartPre=/bin/mount -t overlay overlay -o lowerdir=" old.unit &&
	cat old.unit >"$u"
}

test_expect_success 'while a container has a unit from before gear-fs --overlay, the mount is not --direct' '
	g gear-install -p 8080:41604 gear:web t32old >/dev/null &&
	old_style t32old &&
	g gear-install -p 8080:41605 gear:web t32new >/dev/null &&
	grep -x "ExecStart=$GEAR_BUILD/bin/gear-fs -f --prefetch web:latest $IMG/mnt/web/latest" "$UNITDIR/$FSUNIT" &&
	sdctl daemon-reload &&
	g gear-start t32new &&
	http_get 41605 >page &&
	echo "gear test web" >expect &&
	test_cmp expect page &&
	g gear-start t32old &&
	http_get 41604 >page &&
	test_cmp expect page &&
	g gear-delete t32old &&
	g gear-install -p 8080:41604 gear:web t32old >/dev/null &&
	grep -x "ExecStart=$GEAR_BUILD/bin/gear-fs -f --prefetch --direct web:latest $IMG/mnt/web/latest" "$UNITDIR/$FSUNIT" &&
	g gear-delete t32old &&
	g gear-delete t32new
'

test_done
