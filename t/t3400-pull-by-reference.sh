#!/bin/sh
test_description='gear-pull by a registry reference alone, and a default store in gear.conf'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success 'build the test images, start a registry' '
	build-test-images imgs >/dev/null 2>&1 &&
	gear-build -q oci:imgs/oci:multi test/multi >/dev/null &&
	gear-index test/multi >want.idx &&
	gear-test-registry start reg >addr
'
test_atexit 'gear-test-registry stop "$TRASH_DIRECTORY/reg" 2>/dev/null'
A=$(cat addr 2>/dev/null)

test_expect_success 'gear-pull docker://HOST/TEAM/REPO:TAG names the image REPO:TAG' '
	gear-push --tls-verify=false test/multi docker://$A/team/web:1 >/dev/null &&
	gear-pull --tls-verify=false docker://$A/team/web:1 >out &&
	grep -q "^bytes fetched [1-9]" out &&
	gear-index web:1 >got.idx &&
	test_cmp want.idx got.idx &&
	echo "docker+http://$A/team/web:1" >expect &&
	test_cmp expect "$IMG/images/web/1/origin"
'

test_expect_success 'without a tag the image is REPO:latest' '
	gear-push test/multi docker+http://$A/team/app >/dev/null &&
	gear-pull docker+http://$A/team/app >/dev/null &&
	gear-index app >got.idx &&
	test_cmp want.idx got.idx
'

test_expect_success 'gear-pull STORE NAME keeps working' '
	gear-pull --tls-verify=false docker://$A/team/web:1 other:2 >/dev/null &&
	gear-index other:2 >got.idx &&
	test_cmp want.idx got.idx
'

test_expect_success 'a reference by digest alone names no image' '
	test_expect_code 100 gear-pull docker+http://$A/team/web@sha256:0000000000000000000000000000000000000000000000000000000000000000 2>err &&
	echo "gear-pull: '\''docker+http://$A/team/web@sha256:0000000000000000000000000000000000000000000000000000000000000000'\'' names no tag: give NAME[:TAG] too" >expect &&
	test_cmp expect err
'

test_expect_success 'without store= in gear.conf, NAME alone is a usage error' '
	test_expect_code 100 gear-push test/multi 2>err &&
	echo "gear-push: no STORE given and no store= in '\''$GEAR_SYSROOT/etc/gear/gear.conf'\''" >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-pull test/multi 2>err &&
	echo "gear-pull: no STORE given and no store= in '\''$GEAR_SYSROOT/etc/gear/gear.conf'\''" >expect &&
	test_cmp expect err
'

test_expect_success 'store= of a registry with a prefix: gear-push NAME and gear-pull NAME' '
	mkdir -p "$GEAR_SYSROOT/etc/gear" &&
	echo "store=docker+http://$A/site/" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	gear-build -q oci:imgs/oci:multi test/def:3 >/dev/null &&
	gear-push test/def:3 >out &&
	grep -q "^objects sent " out &&
	curl -fsS -o /dev/null -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$A/v2/site/test/def/manifests/3" &&
	rm -rf "$IMG/images/test/def" &&
	gear-pull test/def:3 >/dev/null &&
	gear-index test/def:3 >got.idx &&
	test_cmp want.idx got.idx &&
	echo "docker+http://$A/site/test/def:3" >expect &&
	test_cmp expect "$IMG/images/test/def/3/origin"
'

test_expect_success 'store= of a registry host alone: the repository is NAME' '
	echo "store=docker+http://$A" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	gear-push test/def:3 >/dev/null &&
	curl -fsS -o /dev/null -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$A/v2/test/def/manifests/3"
'

test_expect_success 'store= of a directory' '
	mkdir store &&
	echo "store=dir:$TRASH_DIRECTORY/store" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	gear-push test/def:3 >/dev/null &&
	test -d store/images/test/def/3 &&
	rm -rf "$IMG/images/test/def" &&
	gear-pull test/def:3 >/dev/null &&
	gear-index test/def:3 >got.idx &&
	test_cmp want.idx got.idx
'

test_expect_success 'a store= with a space is refused' '
	echo "store=a b" >"$GEAR_SYSROOT/etc/gear/gear.conf" &&
	test_expect_code 100 gear-push test/def:3 2>err &&
	echo "gear-push: $GEAR_SYSROOT/etc/gear/gear.conf:1: invalid store '\''a b'\''" >expect &&
	test_cmp expect err
'

test_done
