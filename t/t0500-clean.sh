#!/bin/sh
test_description='gear-clean: access of gone containers, unreferenced keys, dead port links, stale temp files'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success 'setup: two keys, ports, temp files' '
	ssh-keygen -q -t ed25519 -N "" -C one -f k1 &&
	ssh-keygen -q -t ed25519 -N "" -C two -f k2 &&
	test_fake_unit web1 80:4000 &&
	test_fake_unit web2 &&
	gear-keys add --key-file k1.pub web1 web2 &&
	gear-keys add --key-file k2.pub web1 &&
	test $(find "$CTR/keys" -type f | wc -l) = 2 &&
	gear-ports alloc web1 80:4000 >/dev/null &&
	gear-ports alloc gone 80:4001 >/dev/null &&
	mkdir -p "$CTR/env/contents/ab" "$CTR/storage/x" "$IMG/objects/ab" &&
	echo stale >"$CTR/env/contents/ab/.gear-tmp.abcd.0123456789abcdef" &&
	echo stale >"$IMG/objects/ab/.gear-tmp.cdef.0123456789abcdef" &&
	echo fresh >"$CTR/env/contents/ab/.gear-tmp.abce.0123456789abcdef" &&
	echo engine >"$CTR/storage/x/.gear-tmp.engine.0123456789abcdef" &&
	touch -d "-2 hours" "$CTR/env/contents/ab/.gear-tmp.abcd.0123456789abcdef" \
		"$IMG/objects/ab/.gear-tmp.cdef.0123456789abcdef" \
		"$CTR/storage/x/.gear-tmp.engine.0123456789abcdef"
'

test_expect_success 'nothing to remove while every key is linked' '
	gear-clean >out &&
	printf "port\t%s\n" "$CTR/ports/interfaces/1/40/4001" >expect &&
	printf "temp\t%s\n" "$CTR/env/contents/ab/.gear-tmp.abcd.0123456789abcdef" >>expect &&
	printf "temp\t%s\n" "$IMG/objects/ab/.gear-tmp.cdef.0123456789abcdef" >>expect &&
	sort out >sorted && sort expect >expect.sorted &&
	test_cmp expect.sorted sorted &&
	test $(find "$CTR/keys" -type f | wc -l) = 2 &&
	test -L "$CTR/ports/interfaces/1/40/4000" &&
	test_must_fail test -L "$CTR/ports/interfaces/1/40/4001" &&
	test -f "$CTR/env/contents/ab/.gear-tmp.abce.0123456789abcdef" &&
	test -f "$CTR/storage/x/.gear-tmp.engine.0123456789abcdef"
'

test_expect_success 'a key still linked once is kept' '
	gear-keys remove --key-file k1.pub web1 &&
	gear-clean >out &&
	test_must_fail test -s out &&
	test $(find "$CTR/keys" -type f | wc -l) = 2
'

test_expect_success 'a key with no links left is removed; --dry-run first' '
	gear-keys remove --key-file k1.pub web2 &&
	fp=$(ssh-keygen -lf k1.pub | cut -d" " -f2 | sed "s/^SHA256://" | tr "+/" "-_") &&
	key="$CTR/keys/$(printf %.2s "$fp")/$fp" &&
	test -f "$key" &&
	test_tree_snapshot before &&
	gear-clean --dry-run >out &&
	printf "key\t%s\n" "$key" >expect &&
	test_cmp expect out &&
	test_tree_snapshot after &&
	test_cmp before after &&
	gear-clean >out &&
	test_cmp expect out &&
	test_must_fail test -f "$key" &&
	test $(find "$CTR/keys" -type f | wc -l) = 1
'

# keyfile PUB: the stored key of a .pub file
keyfile() {
	fp=$(ssh-keygen -lf "$1" | cut -d" " -f2 | sed "s/^SHA256://" | tr "+/" "-_") &&
	echo "$CTR/keys/$(printf %.2s "$fp")/$fp"
}

test_expect_success 'the access of a container that is gone goes, and the key only it linked; --dry-run first' '
	ssh-keygen -q -t ed25519 -N "" -C three -f k3 &&
	test_fake_unit gone1 &&
	gear-keys add --key-file k3.pub gone1 >/dev/null &&
	gear-keys add --key-file k2.pub gone1 >/dev/null &&
	rm "$CTR/units/go/ctr-gone1.service" &&
	key3=$(keyfile k3.pub) &&
	test -f "$key3" &&
	printf "access\t%s\n" "$CTR/access/containers/go/gone1" >expect &&
	printf "key\t%s\n" "$key3" >>expect &&
	test_tree_snapshot before &&
	gear-clean --dry-run >out &&
	test_cmp expect out &&
	test_tree_snapshot after &&
	test_cmp before after &&
	gear-clean >out &&
	test_cmp expect out &&
	test_must_fail test -e "$CTR/access/containers/go/gone1" &&
	test_must_fail test -e "$key3" &&
	test -f "$(keyfile k2.pub)" &&
	test -h "$CTR/access/containers/we/web1/$(basename "$(keyfile k2.pub)")" &&
	ls -a "$CTR/access/containers/go" >ls.out &&
	printf ".\n..\n" >expect &&
	test_cmp expect ls.out &&
	gear-clean >out &&
	test_must_fail test -s out
'

test_expect_success 'what an interrupted delete renamed away is removed' '
	d="$CTR/access/containers/we/.gear-tmp.web3.0123456789abcdef" &&
	mkdir "$d" &&
	ln -s "../../../../keys/xx/$(printf "%043d" 0)" "$d/$(printf "%043d" 0)" &&
	gear-clean --dry-run >out &&
	printf "access\t%s\n" "$d" >expect &&
	test_cmp expect out &&
	test -d "$d" &&
	gear-clean >out &&
	test_cmp expect out &&
	test_must_fail test -e "$d" &&
	test -d "$CTR/access/containers/we/web1"
'

test_expect_success 'a temp file held by a writer is kept' '
	tmp="$CTR/env/contents/ab/.gear-tmp.held.0123456789abcdef" &&
	echo x >"$tmp" && touch -d "-2 hours" "$tmp" &&
	flock "$tmp" sh -c "gear-clean >out" &&
	test_must_fail test -s out &&
	test -f "$tmp" &&
	gear-clean >out &&
	printf "temp\t%s\n" "$tmp" >expect &&
	test_cmp expect out
'

test_expect_success 'what an interrupted delete left of a container that does not exist goes: versions, idle flag, dangling links' '
	test_fake_unit clkept &&
	v=20260101T000000.000000000Z-00000001 &&
	mkdir -p "$CTR/units/cl/clkept" "$CTR/units/cl/clgone" "$CTR/units/cl/clempty" \
		"$UNITDIR/container-active.target.wants" "$CTR/data/cl/clgone/vol" "$CTR/env/contents/cl" &&
	echo unit >"$CTR/units/cl/clkept/$v" &&
	echo unit >"$CTR/units/cl/clgone/$v" &&
	: >"$CTR/units/cl/ctr-clgone.idle" &&
	: >"$CTR/units/cl/ctr-clidle.idle" &&
	: >"$CTR/units/cl/ctr-clkept.idle" &&
	echo A=1 >"$CTR/env/contents/cl/clgone" &&
	ln -s ../../../var/lib/containers/units/cl/ctr-clgone.service "$UNITDIR/ctr-clgone.service" &&
	ln -s ../ctr-clgone.service "$UNITDIR/container-active.target.wants/ctr-clgone.service" &&
	ln -s ../../../var/lib/containers/units/cl/ctr-clkept.service "$UNITDIR/ctr-clkept.service" &&
	ln -s ../ctr-clkept.service "$UNITDIR/container-active.target.wants/ctr-clkept.service" &&
	ln -s ../../../var/lib/containers/units/zz/ctr-zzothr.service "$UNITDIR/ctr-zzothr.service" &&
	echo admin >"$UNITDIR/ctr-cladmn.service" &&
	echo admin >"$UNITDIR/admin.service" &&
	ln -s admin.service "$UNITDIR/ctr-cllink.service" &&
	{
		printf "unit\t%s\n" "$CTR/units/cl/clempty" \
			"$UNITDIR/container-active.target.wants/ctr-clgone.service" "$UNITDIR/ctr-clgone.service" \
			"$CTR/units/cl/ctr-clgone.idle" "$CTR/units/cl/clgone" \
			"$CTR/units/cl/ctr-clidle.idle" \
			"$UNITDIR/ctr-zzothr.service"
	} >expect &&
	grep -e zzothr expect >expect.zz &&
	grep -v -e zzothr expect >expect.cl &&
	test_tree_snapshot before &&
	gear-clean --dry-run >out &&
	test_cmp expect out &&
	flock "$CTR/units/cl" gear-clean --dry-run >out &&
	test_cmp expect.zz out &&
	test_tree_snapshot after &&
	test_cmp before after &&
	flock "$CTR/units/cl" gear-clean >out &&
	test_cmp expect.zz out &&
	test -f "$CTR/units/cl/clgone/$v" &&
	gear-clean >out &&
	test_cmp expect.cl out &&
	for p in $(cut -f 2 expect); do
		{ test ! -e "$p" && test ! -L "$p"; } || return 1
	done &&
	test -f "$CTR/units/cl/clkept/$v" &&
	test -f "$CTR/units/cl/ctr-clkept.idle" &&
	test -L "$UNITDIR/ctr-clkept.service" &&
	test -L "$UNITDIR/container-active.target.wants/ctr-clkept.service" &&
	test -f "$UNITDIR/ctr-cladmn.service" &&
	test -L "$UNITDIR/ctr-cllink.service" &&
	test -d "$CTR/data/cl/clgone/vol" &&
	echo A=1 >expect &&
	test_cmp expect "$CTR/env/contents/cl/clgone" &&
	gear-clean >out &&
	test_must_fail test -s out &&
	rm -r "$CTR/units/cl" "$CTR/units/zz" "$CTR/data/cl" "$CTR/env/contents/cl" "$UNITDIR"/ctr-cl* \
		"$UNITDIR/admin.service" "$UNITDIR"/container-active.target.wants/ctr-cl*
'

test_expect_success 'a temporary directory goes whole: gear-clean leaves its files to gear-fsck' '
	d="$IMG/images/test/img/.gear-tmp.i.0123456789abcdef" &&
	mkdir -p "$d/blobs/sha256" &&
	echo "{}" >"$d/index.json" &&
	echo "{" >"$d/.gear-tmp.index.json.0123456789abcdef" &&
	touch -d "-2 hours" "$d/index.json" "$d/.gear-tmp.index.json.0123456789abcdef" "$d" &&
	gear-clean >out &&
	test_must_fail test -s out &&
	test -f "$d/.gear-tmp.index.json.0123456789abcdef" &&
	gear-fsck --repair >out 2>/dev/null &&
	printf "stale\t%s\n" images/test/img/.gear-tmp.i.0123456789abcdef >expect &&
	test_cmp expect out &&
	test_must_fail test -e "$d"
'

test_expect_success 'an empty or missing tree is fine' '
	GEAR_SYSROOT=$TRASH_DIRECTORY/none gear-clean >out &&
	test_must_fail test -s out &&
	test_must_fail test -e "$TRASH_DIRECTORY/none"
'

test_expect_success 'usage' '
	test_expect_code 100 gear-clean extra 2>err &&
	grep "unexpected argument '\''extra'\''" err &&
	gear-clean --help >out &&
	grep "^usage: gear-clean" out
'

test_done
