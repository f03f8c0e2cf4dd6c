#!/bin/sh
test_description='gear-build containers-storage:NAME: an image in podman'\''s storage, through podman'
. "$(dirname "$0")/lib/test-lib.sh"

same_tree() {
	rsync -n -aHAXc --modify-window=-1 --delete --itemize-changes "$1/" "$2/" >tree-diff &&
	: >tree-empty &&
	test_cmp tree-empty tree-diff
}
NAME=localhost/gear-t3420-web:v1

test_expect_success 'an image in podman, and umoci unpack of the same image' '
	build-test-image --force $NAME >/dev/null 2>&1 &&
	ID=$(podman image inspect --format "{{.Id}}" $NAME) &&
	echo $ID >id &&
	skopeo copy --quiet containers-storage:$NAME oci:lay:web &&
	umoci unpack --image lay:web ref >/dev/null 2>&1
'
test_atexit 'podman rmi -f localhost/gear-t3420-web:v1 >/dev/null 2>&1'

test_expect_success 'gear-build containers-storage:NAME gives the tree umoci unpacks' '
	gear-build containers-storage:$NAME test/web >out &&
	grep -x "image	test/web:latest" out &&
	gear-export test/web exp &&
	same_tree ref/rootfs exp
'

test_expect_success 'the image keeps the config podman has' '
	podman image inspect --format "{{json .Config.Cmd}}" $NAME >expect &&
	python3 -c "
import json, sys
d = sys.argv[1]
idx = json.load(open(d + \"/index.json\"))
blob = lambda dg: json.load(open(d + \"/blobs/sha256/\" + dg[7:]))
m = blob(idx[\"manifests\"][0][\"digest\"])
c = blob(m[\"config\"][\"digest\"])
print(json.dumps(c[\"config\"][\"Cmd\"]).replace(\" \", \"\"))
print(c[\"os\"], c[\"architecture\"])
" "$IMG/images/test/web/latest" >got &&
	echo "linux amd64" >>expect &&
	test_cmp expect got
'

test_expect_success 'by image id' '
	gear-build -q containers-storage:$(cat id) test/byid >/dev/null &&
	gear-index test/web >i1 && gear-index test/byid >i2 &&
	test_cmp i1 i2
'

test_expect_success 'a multi-layer image (whiteouts, hardlinks, xattrs, devices) copied into podman by skopeo' '
	build-test-images --big 3 imgs >/dev/null 2>&1 &&
	umoci unpack --image imgs/oci:multi ref-multi >/dev/null 2>&1 &&
	skopeo copy --quiet oci:imgs/oci:multi containers-storage:localhost/gear-t3420-multi:v1 &&
	gear-build -q containers-storage:localhost/gear-t3420-multi:v1 test/multi >/dev/null &&
	gear-export test/multi exp-multi &&
	same_tree ref-multi/rootfs exp-multi
'
test_atexit 'podman rmi -f localhost/gear-t3420-multi:v1 >/dev/null 2>&1'

test_expect_success 'an image podman does not have: exit 1, nothing built' '
	test_expect_code 1 gear-build containers-storage:localhost/gear-t3420-none:v1 x 2>err &&
	grep "^gear-build: cannot build '\''x:latest'\'': podman image save '\''localhost/gear-t3420-none:v1'\'': .*image not known" err &&
	test_must_fail test -d "$IMG/images/x"
'

test_expect_success 'a name that podman would take as an option is refused' '
	test_expect_code 100 gear-build containers-storage:--help x 2>err &&
	echo "gear-build: cannot build '\''x:latest'\'': invalid source '\''containers-storage:--help'\''" >expect &&
	test_cmp expect err
'

test_done
