#!/bin/sh
test_description='gear-fs: stat on a mount as on the tree umoci unpacks (rsync, du)'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

test_atexit 'for m in m1 m2; do fusermount3 -u -q $m; done'

# the same metadata: rsync finds no difference, du counts the same blocks and bytes,
# and find prints the same type, mode, size, blocks, owner and link count
same_stat() {
	rsync -naHAXc -i --delete "$1/" "$2/" >diff &&
	test_cmp /dev/null diff &&
	du -s "$1" | cut -f 1 >du1 && du -s "$2" | cut -f 1 >du2 && test_cmp du1 du2 &&
	du -s --apparent-size "$1" | cut -f 1 >du1 && du -s --apparent-size "$2" | cut -f 1 >du2 &&
	test_cmp du1 du2 &&
	(cd "$1" && find . -printf "%p %y %m %s %b %U %G %n\n" | sort) >find1 &&
	(cd "$2" && find . -printf "%p %y %m %s %b %U %G %n\n" | sort) >find2 &&
	test_cmp find1 find2
}

test_expect_success 'the unpacked trees are on ext4, whose allocation gear-fs reports' '
	fs=$(stat -f -c %T .) &&
	{ test "$fs" = ext2/ext3 || { echo "the trash directory is on $fs, not ext4: du cannot agree"; false; }; }
'

test_expect_success 'setup: the test images and a layer whose symlinks say mode 0644' '
	fs_ready &&
	build-test-images imgs >/dev/null 2>&1 &&
	python3 - <<-\PY &&
	import io, tarfile
	t = tarfile.open("layer.tar", "w")
	def add(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link=""):
	    ti = tarfile.TarInfo(name)
	    ti.type, ti.mode, ti.linkname, ti.mtime = kind, mode, link, 1600000000
	    ti.size = len(data)
	    t.addfile(ti, io.BytesIO(data))
	add("d", tarfile.DIRTYPE, mode=0o755)
	add("d/empty"); add("d/one", data=b"x"); add("d/block", data=b"y" * 4096)
	add("d/more", data=b"z" * 4097); add("d/hard", tarfile.LNKTYPE, link="d/more")
	add("d/short", tarfile.SYMTYPE, link="one"); add("d/long", tarfile.SYMTYPE, link="a" * 80)
	add("many", tarfile.DIRTYPE, mode=0o755)
	for i in range(300):
	    add("many/file-with-a-long-name-%d" % i, tarfile.SYMTYPE, link="../d/one")
	t.close()
	PY
	umoci init --layout meta &&
	umoci new --image meta:m &&
	umoci raw add-layer --image meta:m layer.tar &&
	gear-build oci:meta:m t31/meta >/dev/null &&
	gear-build oci:imgs/oci:multi t31/multi >/dev/null &&
	umoci unpack --image meta:m ref-meta >/dev/null 2>&1 &&
	umoci unpack --image imgs/oci:multi ref-multi >/dev/null 2>&1
'

test_expect_success 'symlinks are 0777, small files take a block, a big directory several' '
	start_fs t31/meta m1 &&
	stat -c "%A %s %b" m1/d/short m1/d/long m1/d/one m1/d/more m1/d/empty m1/many >out &&
	cat >expect <<-EOF &&
	lrwxrwxrwx 3 0
	lrwxrwxrwx 80 8
	-rw-r--r-- 1 8
	-rw-r--r-- 4097 16
	-rw-r--r-- 0 0
	drwxr-xr-x 20480 40
	EOF
	test_cmp expect out
'

test_expect_success 'rsync, du and find see the mount as the unpacked tree' '
	same_stat ref-meta/rootfs m1 &&
	stop_fs m1
'

test_expect_success 'so for the test image: devices, hardlinks, xattrs, owners, a 70 MiB file' '
	start_fs t31/multi m2 &&
	same_stat ref-multi/rootfs m2 &&
	stop_fs m2
'

test_done
