#!/bin/sh
test_description='gear-install: unit versions, links, ports, environment and updates on a real systemd and podman'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=41100-41199
test_atexit 'gear-test-systemd stop "$SD"'

test_expect_success 'setup: a private systemd user manager and the test image' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	g gear-list-units --all >out &&
	test_must_fail test -s out
'

test_expect_success 'an invalid ID changes nothing' '
	test_tree_snapshot before &&
	test_expect_code 100 g gear-install $IMAGE t11a ../x 2>err &&
	echo "gear-install: invalid identifier '\''../x'\'': want 4 to 24 characters of [A-Za-z0-9_.-], not starting with '\''.'\'' or '\''-'\''" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'an image equal to the id is refused' '
	test_tree_snapshot before &&
	test_expect_code 100 g gear-install t11self localhost/t11self 2>err &&
	echo "gear-install: the image '\''t11self'\'' is the same as the id" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'usage errors exit 100 and change nothing' '
	test_tree_snapshot before &&
	test_expect_code 100 g gear-install $IMAGE 2>err &&
	grep "^gear-install: missing ID$" err &&
	test_expect_code 100 g gear-install -p 8080:x $IMAGE t11a 2>err &&
	grep "^gear-install: invalid port mapping '\''8080:x'\''" err &&
	test_expect_code 100 g gear-install -v relative/path:/data $IMAGE t11a 2>err &&
	grep "^gear-install: invalid volume '\''relative/path:/data'\''" err &&
	test_expect_code 100 g gear-install $IMAGE t11a 1BAD=x 2>err &&
	grep "^gear-install: argument 1: invalid variable name '\''1BAD'\''" err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_expect_success 'install without --start: version 0664, hardlink, unit link, loaded and inactive' '
	g gear-install --port-range $RANGE -p 8080:0 $IMAGE t11a GREETING=one >out &&
	printf "t11a\t8080\t41100\n" >expect &&
	test_cmp expect out &&
	ls "$CTR/units/t1/t11a" >versions &&
	test $(wc -l <versions) = 1 &&
	v=$(cat versions) &&
	test "$(stat -c %a "$CTR/units/t1/t11a/$v")" = 664 &&
	test "$(stat -c %i "$CTR/units/t1/t11a/$v")" = "$(stat -c %i "$CTR/units/t1/ctr-t11a.service")" &&
	grep -x "X-ContainerId=t11a" "$CTR/units/t1/ctr-t11a.service" &&
	grep -x "X-ContainerImage=$IMAGE" "$CTR/units/t1/ctr-t11a.service" &&
	grep -x "X-ContainerRequestId=$v" "$CTR/units/t1/ctr-t11a.service" &&
	grep -x "X-PortMapping=8080:41100" "$CTR/units/t1/ctr-t11a.service" &&
	grep -x "WantedBy=container.target" "$CTR/units/t1/ctr-t11a.service" &&
	test "$(readlink "$UNITDIR/ctr-t11a.service")" = ../../../var/lib/containers/units/t1/ctr-t11a.service &&
	test "$(readlink "$CTR/ports/interfaces/1/411/41100")" = ../../../../units/t1/ctr-t11a.service &&
	echo GREETING=one >expect &&
	test_cmp expect "$CTR/env/contents/t1/t11a" &&
	test_must_fail test -e "$UNITDIR/container-active.target.wants/ctr-t11a.service" &&
	test "$(sdctl show -p LoadState --value ctr-t11a.service)" = loaded &&
	test "$(sdctl show -p ActiveState --value ctr-t11a.service)" = inactive &&
	test_must_fail curl -sf --max-time 2 http://127.0.0.1:41100/
'

test_expect_success 'the targets and slices are in the tree and linked' '
	for u in container.target container-active.target; do
		test -f "$CTR/targets/$u" &&
		test "$(readlink "$UNITDIR/$u")" = ../../../var/lib/containers/targets/$u || return 1
	done &&
	for u in container.slice container-small.slice; do
		test -f "$CTR/slices/$u" &&
		test "$(readlink "$UNITDIR/$u")" = ../../../var/lib/containers/slices/$u || return 1
	done &&
	test "$(readlink "$UNITDIR/default.target.wants/container-active.target")" = ../container-active.target
'

test_expect_success 'install --start: the page answers on the allocated port, boot link present' '
	g gear-install --port-range $RANGE -p 8080:0 --start $IMAGE t11b GREETING=two >out &&
	printf "t11b\t8080\t41101\n" >expect &&
	test_cmp expect out &&
	http_get 41101 env.txt >body &&
	echo two >expect &&
	test_cmp expect body &&
	test "$(readlink "$UNITDIR/container-active.target.wants/ctr-t11b.service")" = ../ctr-t11b.service &&
	grep -x "WantedBy=container-active.target" "$CTR/units/t1/ctr-t11b.service" &&
	test "$(sdctl is-active ctr-t11b.service)" = active &&
	g gear-ports check
'

test_expect_success 'a second install asking for a taken port exits 1 and leaves nothing' '
	g gear-install --start -p 8080:41150 $IMAGE t11c >out &&
	http_get 41150 index.html >body &&
	echo "gear test web" >expect &&
	test_cmp expect body &&
	test_tree_snapshot before &&
	test_expect_code 1 g gear-install --start -p 8080:41150 $IMAGE t11d GREETING=x 2>err &&
	echo "gear-install: cannot install '\''t11d'\'': port 41150 is taken by '\''t11c'\''" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after &&
	test_must_fail test -e "$CTR/units/t1/ctr-t11d.service" &&
	test_must_fail test -e "$UNITDIR/ctr-t11d.service" &&
	test "$(sdctl is-active ctr-t11c.service)" = active &&
	http_get 41150 index.html >body &&
	echo "gear test web" >expect &&
	test_cmp expect body
'

test_expect_success 'update: new version, old one kept, same port; the new value after restart' '
	old=$(ls "$CTR/units/t1/t11b") &&
	pid=$(sdctl show -p MainPID --value ctr-t11b.service) &&
	g gear-install --port-range $RANGE -p 8080:0 $IMAGE t11b GREETING=three >out &&
	printf "t11b\t8080\t41101\n" >expect &&
	test_cmp expect out &&
	ls "$CTR/units/t1/t11b" >versions &&
	test $(wc -l <versions) = 2 &&
	test -f "$CTR/units/t1/t11b/$old" &&
	new=$(grep -vx "$old" versions) &&
	test "$(stat -c %i "$CTR/units/t1/t11b/$new")" = "$(stat -c %i "$CTR/units/t1/ctr-t11b.service")" &&
	grep -x "X-ContainerRequestId=$new" "$CTR/units/t1/ctr-t11b.service" &&
	echo GREETING=three >expect &&
	test_cmp expect "$CTR/env/contents/t1/t11b" &&
	grep -x "WantedBy=container-active.target" "$CTR/units/t1/ctr-t11b.service" &&
	test -L "$UNITDIR/container-active.target.wants/ctr-t11b.service" &&
	test "$(sdctl show -p NeedDaemonReload --value ctr-t11b.service)" = no &&
	test "$(sdctl show -p MainPID --value ctr-t11b.service)" = "$pid" &&
	http_get 41101 env.txt >body &&
	echo two >expect &&
	test_cmp expect body &&
	g gear-restart t11b &&
	http_get 41101 env.txt >body &&
	echo three >expect &&
	test_cmp expect body
'

test_expect_success 'update: unchanged mappings keep their port, dropped ones are released' '
	g gear-install --port-range $RANGE -p 8080:0,9090:0 $IMAGE t11a >out &&
	printf "t11a\t8080\t41100\n" >expect &&
	printf "t11a\t9090\t41102\n" >>expect &&
	test_cmp expect out &&
	g gear-install --port-range $RANGE -p 9090:0 $IMAGE t11a >out &&
	printf "t11a\t9090\t41102\n" >expect &&
	test_cmp expect out &&
	test_must_fail test -L "$CTR/ports/interfaces/1/411/41100" &&
	test -L "$CTR/ports/interfaces/1/411/41102" &&
	grep "^X-PortMapping=" "$CTR/units/t1/ctr-t11a.service" >maps &&
	echo X-PortMapping=9090:41102 >expect &&
	test_cmp expect maps &&
	test $(ls "$CTR/units/t1/t11a" | wc -l) = 3 &&
	g gear-ports check
'

test_expect_success 'an update without environment arguments keeps the environment' '
	echo GREETING=one >expect &&
	test_cmp expect "$CTR/env/contents/t1/t11a"
'

test_expect_success '--env-file and --env-id: a shared environment' '
	printf "# shared\nGREETING=shared\nOTHER=1\n" >shared.env &&
	g gear-install --env-id t11env --env-file shared.env $IMAGE t11e >out &&
	test_must_fail test -s out &&
	printf "GREETING=shared\nOTHER=1\n" >expect &&
	test_cmp expect "$CTR/env/contents/t1/t11env" &&
	grep -x "	--env-file=$CTR/env/contents/t1/t11env \\\\" "$CTR/units/t1/ctr-t11e.service" &&
	test_must_fail test -e "$CTR/env/contents/t1/t11e" &&
	g gear-install --env-id t11env $IMAGE t11f &&
	grep -x "	--env-file=$CTR/env/contents/t1/t11env \\\\" "$CTR/units/t1/ctr-t11f.service" &&
	test_expect_code 1 g gear-install --env-id t11none $IMAGE t11g 2>err &&
	echo "gear-install: cannot install '\''t11g'\'': no environment '\''t11none'\''" >expect &&
	test_cmp expect err &&
	test_must_fail test -e "$CTR/units/t1/ctr-t11g.service"
'

test_expect_success 'volumes: a named volume under data/, a host path read-only; the slice' '
	mkdir -p hostdir &&
	g gear-install -v cache:/var/cache -v "$TRASH_DIRECTORY/hostdir:/srv:ro" --slice container $IMAGE t11h &&
	test -d "$CTR/data/t1/t11h/cache" &&
	grep -x "	--volume=$CTR/data/t1/t11h/cache:/var/cache \\\\" "$CTR/units/t1/ctr-t11h.service" &&
	grep -x "	--volume=$TRASH_DIRECTORY/hostdir:/srv:ro \\\\" "$CTR/units/t1/ctr-t11h.service" &&
	grep -x "Slice=container.slice" "$CTR/units/t1/ctr-t11h.service"
'

test_expect_success 'several IDs at once, each with its own ports' '
	g gear-install --port-range $RANGE -p 8080:0 $IMAGE t11m t11n A=1 >out &&
	printf "t11m\t8080\t41100\nt11n\t8080\t41103\n" >expect &&
	test_cmp expect out &&
	echo A=1 >expect &&
	test_cmp expect "$CTR/env/contents/t1/t11m" &&
	test_cmp expect "$CTR/env/contents/t1/t11n"
'

test_done
