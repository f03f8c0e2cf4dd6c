#!/bin/sh
test_description='gear-fs --overlay: a container overlay reads fetched files straight from public/, past FUSE'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

test_atexit 'umount -q ov/merged 2>/dev/null; umount -q pl/merged 2>/dev/null; umount -q oo/merged 2>/dev/null; fusermount3 -u -q mo; for m in m1 m2 m3; do fusermount3 -u -q $m; done'

# stats_after DIR KEY: a counter of test/ov's mount on DIR, read once it has ended
stats_after() {
	awk -v k="$2" '$1 == k { print $2 }' "$IMG/images/test/ov/latest/fs.stats"
}

test_expect_success 'FUSE and overlayfs are usable here' '
	fs_ready &&
	grep -qw overlay /proc/filesystems
'

test_expect_success 'an image with a large file, small ones, and overlay xattrs of its own' '
	mkdir -p src/etc &&
	head -c 3000000 /dev/urandom >src/big &&
	echo small >src/small &&
	echo later >src/later &&
	echo "not a secret" >src/evil &&
	echo "the secret of another image" >secret &&
	secret=$(sha256sum <secret | cut -c1-64) &&
	echo "/$(echo $secret | cut -c1-2)/$(echo $secret | cut -c3-)" >secret.redirect &&
	setfattr -n trusted.overlay.metacopy -v "" src/evil &&
	setfattr -n trusted.overlay.redirect -v "$(cat secret.redirect)" src/evil &&
	setfattr -n user.kept -v yes src/evil &&
	gear-build -q dir:src test/ov &&
	mkdir other && cp secret other/secret &&
	gear-build -q dir:other test/other
'

test_expect_success 'usage: four paths, no other option; a path an overlay cannot take is refused' '
	test_expect_code 100 gear-fs --overlay a b c 2>err &&
	grep -x "gear-fs: missing MOUNTPOINT, UPPER, WORK or MERGED" err &&
	test_expect_code 100 gear-fs --overlay -f /a /b /c /d 2>err &&
	grep -x "gear-fs: --overlay takes no other option" err &&
	test_expect_code 100 gear-fs --overlay "$PWD/m1" "$PWD/u,lowerdir=/" "$PWD/w" "$PWD/x" 2>err &&
	grep "^gear-fs: invalid upper directory " err &&
	test_expect_code 100 gear-fs --overlay m1 /u /w /x 2>err &&
	grep -x "gear-fs: invalid lower directory '\''m1'\''" err
'

test_expect_success 'the secret of the other image is in public/ (fetched by its own mount)' '
	start_fs test/other m2 &&
	test_cmp secret m2/secret &&
	stop_fs m2 &&
	test -f "$(pub $(sha256sum <secret | cut -c1-64))"
'

test_expect_success 'with --direct, a file of 64 KiB or more is a metacopy of its public/ copy once fetched, not before; not listed' '
	start_fs test/ov m1 --direct &&
	test_must_fail getfattr -n trusted.overlay.metacopy m1/big 2>err &&
	test_cmp src/big m1/big &&
	big=$(sha256sum <src/big | cut -c1-64) &&
	getfattr --only-values -n trusted.overlay.redirect m1/big >redirect &&
	printf "/%s/%s" $(echo $big | cut -c1-2) $(echo $big | cut -c3-) >expect &&
	test_cmp expect redirect &&
	getfattr --only-values -n trusted.overlay.metacopy m1/big >value &&
	test_must_fail test -s value &&
	test_must_fail getfattr -n trusted.overlay.redirect m1/small 2>err &&
	test_cmp src/small m1/small &&
	test_must_fail getfattr -n trusted.overlay.redirect m1/small 2>err &&
	test_must_fail getfattr -n trusted.overlay.metacopy m1/small 2>err &&
	getfattr -d -m - m1/big >list &&
	test_must_fail grep overlay list &&
	stop_fs m1
'

test_expect_success 'an image'\''s own trusted.overlay. xattrs are shown escaped, never as the overlay'\''s' '
	start_fs test/ov m1 &&
	getfattr -d -m - m1/evil >list &&
	grep -x "trusted.overlay.overlay.redirect=\"$(cat secret.redirect)\"" list &&
	grep -x "trusted.overlay.overlay.metacopy=\"\"" list &&
	grep -x "user.kept=\"yes\"" list &&
	test_must_fail getfattr -n trusted.overlay.redirect m1/evil 2>err &&
	getfattr --only-values -n trusted.overlay.overlay.redirect m1/evil >value &&
	printf "%s" "$(cat secret.redirect)" >expect &&
	test_cmp expect value &&
	stop_fs m1
'

test_expect_success 'through the overlay: a fetched file is read past FUSE, the others through it' '
	rm -f "$IMG/images/test/ov/latest/fs.stats" &&
	start_fs test/ov m1 --direct &&
	mkdir -p ov/upper ov/work ov/merged &&
	gear-fs --overlay "$PWD/m1" "$PWD/ov/upper" "$PWD/ov/work" "$PWD/ov/merged" 2>err &&
	test_must_fail test -s err &&
	grep " $PWD/ov/merged overlay .*lowerdir=$PWD/m1::$IMG/public," /proc/mounts &&
	test_must_fail grep " $PWD/ov/merged overlay .*metacopy=on" /proc/mounts &&
	test_cmp src/big ov/merged/big &&
	test_cmp src/small ov/merged/small &&
	echo "not a secret" >expect &&
	test_cmp expect ov/merged/evil &&
	getfattr --only-values -n trusted.overlay.redirect ov/merged/evil >value &&
	printf "%s" "$(cat secret.redirect)" >expect &&
	test_cmp expect value &&
	umount ov/merged &&
	stop_fs m1 &&
	# big was in public/: read past the mount, counted when the overlay looked it
	# up; small (cached, under 64 KiB) and evil (fetched now) opened through it
	echo 3 >expect &&
	stats_after m1 opened_files >out &&
	test_cmp expect out &&
	echo 1 >expect &&
	stats_after m1 fetched_files >out &&
	test_cmp expect out
'

test_expect_success 'the access list keeps what the mount found, and adds what it opened' '
	sort "$IMG/images/test/ov/latest/access.list" >list &&
	for f in big small evil; do sha256sum <src/$f | cut -c1-64; done | sort >expect &&
	test_cmp expect list
'

test_expect_success 'a copy-up of a file read past FUSE copies its data: the upper file stands alone' '
	start_fs test/ov m1 --direct &&
	gear-fs --overlay "$PWD/m1" "$PWD/ov/upper" "$PWD/ov/work" "$PWD/ov/merged" &&
	chmod 600 ov/merged/big &&
	test_cmp src/big ov/merged/big &&
	test_cmp src/big ov/upper/big &&
	test_must_fail getfattr -n trusted.overlay.metacopy ov/upper/big 2>err &&
	umount ov/merged &&
	rm -rf ov/upper/big &&
	stop_fs m1
'

test_expect_success 'an overlay reading past FUSE moves the cache file'\''s atime on (the overlay does not)' '
	big=$(sha256sum <src/big | cut -c1-64) &&
	touch -a -d 2020-01-01 "$(pub $big)" &&
	start_fs test/ov m1 --direct &&
	gear-fs --overlay "$PWD/m1" "$PWD/ov/upper" "$PWD/ov/work" "$PWD/ov/merged" &&
	test_cmp src/big ov/merged/big &&
	test "$(stat -c %X "$(pub $big)")" -gt "$(date -d 2021-01-01 +%s)" &&
	umount ov/merged &&
	stop_fs m1
'

test_expect_success 'the list a mount found loses what the image lacks, keeps its order, and gains what was read' '
	list="$IMG/images/test/ov/latest/access.list" &&
	big=$(sha256sum <src/big | cut -c1-64) &&
	small=$(sha256sum <src/small | cut -c1-64) &&
	later=$(sha256sum <src/later | cut -c1-64) &&
	printf "%s\n%064d\n%s\n" $small 7 $big >"$list" &&
	start_fs test/ov m1 --direct &&
	test_cmp src/later m1/later &&
	stop_fs m1 &&
	printf "%s\n%s\n%s\n" $small $big $later >expect &&
	test_cmp expect "$list"
'

test_expect_success 'a file a container changed stays readable when the image is rebuilt without another file' '
	# its upper copy names the lower file it came from by file handle: handles of one
	# generation never name a file of another (redirect_dir=on makes the overlay check)
	mkdir -p o1 oo/upper oo/work oo/merged &&
	echo aaa >o1/a && echo bbb >o1/b && echo ccc >o1/c &&
	gear-build -q dir:o1 test/o &&
	start_fs test/o mo &&
	mount -t overlay overlay -o "lowerdir=$PWD/mo,upperdir=$PWD/oo/upper,workdir=$PWD/oo/work,redirect_dir=on" oo/merged &&
	echo more >>oo/merged/b &&
	umount oo/merged &&
	stop_fs mo &&
	rm o1/a &&
	gear-build -q dir:o1 test/o &&
	start_fs test/o mo &&
	ls mo >/dev/null &&
	cat mo/* >/dev/null &&
	mount -t overlay overlay -o "lowerdir=$PWD/mo,upperdir=$PWD/oo/upper,workdir=$PWD/oo/work,redirect_dir=on" oo/merged &&
	ls -l oo/merged >/dev/null &&
	printf "bbb\nmore\n" >expect &&
	test_cmp expect oo/merged/b &&
	umount oo/merged &&
	stop_fs mo
'

test_expect_success 'a file fetched through the overlay is read past FUSE by the next container' '
	start_fs test/ov m1 --direct &&
	gear-fs --overlay "$PWD/m1" "$PWD/ov/upper" "$PWD/ov/work" "$PWD/ov/merged" &&
	test_cmp src/big ov/merged/big &&
	# with the mount gone, only the overlay reads: public/ still serves big
	kill -9 $(cat m1.pid) &&
	wait $(cat m1.pid) 2>/dev/null;
	test_cmp src/big ov/merged/big &&
	test_must_fail cat ov/merged/later 2>err &&
	umount ov/merged &&
	fusermount3 -u -z m1
'

test_expect_success 'without --direct no file is a metacopy: an overlay without public/ below reads every file' '
	start_fs test/ov m1 &&
	test_cmp src/big m1/big &&
	test_must_fail getfattr -n trusted.overlay.metacopy m1/big 2>err &&
	test_must_fail getfattr -n trusted.overlay.redirect m1/big 2>err &&
	mkdir -p pl/upper pl/work pl/merged &&
	mount -t overlay overlay -o "lowerdir=$PWD/m1,upperdir=$PWD/pl/upper,workdir=$PWD/pl/work" pl/merged &&
	test_cmp src/big pl/merged/big &&
	test_cmp src/small pl/merged/small &&
	umount pl/merged &&
	stop_fs m1
'

test_expect_success '--direct where no data-only overlay can be mounted: a warning, and no metacopy' '
	# the probe mount fails: its directory has a colon, which overlay options cannot carry
	mkdir -p "tmp:x" &&
	TMPDIR="$PWD/tmp:x" start_fs test/ov m1 --direct &&
	test_cmp src/big m1/big &&
	test_must_fail getfattr -n trusted.overlay.metacopy m1/big 2>err &&
	grep "gear-fs: --direct: no overlay can read past this mount here (.*): every read goes through FUSE" m1.err &&
	stop_fs m1 &&
	test_must_fail ls "tmp:x"/gear-probe.* 2>/dev/null
'

test_expect_success 'a container of a Gear image runs on the overlay with public/ as a data-only layer' '
	grep -x "ExecStartPre=@GEAR_BIN@/gear-fs --overlay @LOWER@ @UPPER@ @WORK@ @MERGED@" \
		"$TEST_DIRECTORY/../share/units/ctr-gear.service.in"
'

test_done
