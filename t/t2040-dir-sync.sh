#!/bin/sh
test_description='every directory the image commands make is synced into its parent'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/fs-lib.sh"

# Whether a directory entry reaches the disk before a crash cannot be seen
# from a running system: a test would need to cut the power between the
# mkdir and the next journal commit. What can be seen is the order of the
# system calls that make it durable, so strace records them: every mkdir
# that made a directory must be followed, in the same thread, by an fsync of
# the directory holding it (or a syncfs, which flushes the whole file system
# before a build's staged objects move).

# traced NAME CMD...: CMD and its threads under strace, the calls in tr/NAME
traced() {
	name=$1
	shift
	mkdir -p tr &&
	strace -f -qq -y -o "tr/$name" -e trace=mkdir,mkdirat,fsync,syncfs "$@"
}

# unsynced: the directories (below this test's directory) made by a traced
# command and not synced into their parent afterwards; all of them in made
unsynced() {
	python3 - "$TRASH_DIRECTORY" tr/* >made <<-\EOF
	import os, re, sys
	top, files = sys.argv[1], sys.argv[2:]
	mk = re.compile(r'^mkdir(?:at)?\((?:(?:AT_FDCWD|\d+)<([^>]*)>, )?"([^"]*)", 0\d+\) = 0$')
	sync = re.compile(r'^(fsync|syncfs)\(\d+<([^>]*)>\) = 0$')
	call = re.compile(r'^(\d+) +(.*)$')
	resumed = re.compile(r'^<\.\.\. \w+ resumed>(.*)$')
	def calls(f):
	    """the calls of every thread, whole, in the order they returned"""
	    started = {}
	    for line in open(f):
	        tid, rest = call.match(line.rstrip("\n")).groups()
	        if rest.endswith(" <unfinished ...>"):
	            started[tid] = rest[:-len(" <unfinished ...>")]
	            continue
	        r = resumed.match(rest)
	        yield re.sub(r"\)\s+= ", ") = ", started.pop(tid, "") + r.group(1) if r else rest)
	bad = []
	for f in files:
	    pending = []
	    for line in calls(f):
	        m = mk.match(line)
	        if m:
	            path = os.path.normpath(os.path.join(m.group(1) or os.getcwd(), m.group(2)))
	            if path.startswith(top + "/"):
	                print(path[len(top) + 1:])
	                pending.append(path)
	            continue
	        s = sync.match(line)
	        if s and s.group(1) == "syncfs":
	            pending = []
	        elif s:
	            pending = [p for p in pending if os.path.dirname(p) != s.group(2)]
	    bad += pending
	for p in bad:
	    print("not synced: " + p[len(top) + 1:], file=sys.stderr)
	EOF
}

test_expect_success 'setup' '
	fs_ready &&
	mkdir -p src/d/e &&
	for i in 1 2 3 4 5 6 7 8; do echo "file $i" >src/f$i; echo "deep $i" >src/d/e/g$i; done &&
	mkdir store
'

test_expect_success 'gear-build, gear-push, gear-pull, gear-fs, gear-fsck --repair sync what they make' '
	traced build gear-build -q dir:src app/one >/dev/null &&
	traced push gear-push app/one store >/dev/null &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/fresh" traced pull gear-pull store app/one >/dev/null &&
	mkdir mnt &&
	strace -f -qq -y -o tr/fs -e trace=mkdir,mkdirat,fsync,syncfs gear-fs -f app/one mnt 2>fs.err &
	i=0 &&
	until grep -q " $PWD/mnt fuse.gear " /proc/mounts; do
		i=$((i + 1)) && test $i -lt 200 && sleep 0.05 || return 1
	done &&
	cat mnt/f1 mnt/d/e/g2 >got &&
	printf "file 1\ndeep 2\n" >expect &&
	test_cmp expect got &&
	fusermount3 -u mnt &&
	wait &&
	obj=$(find "$IMG/objects" -path "*/objects/??/*" -type f | head -n 1) &&
	chmod u+w "$obj" && echo junk >>"$obj" &&
	test_expect_code 1 traced fsck gear-fsck -q --repair >/dev/null &&
	unsynced 2>bad &&
	test_cmp /dev/null bad
'

test_expect_success 'the trace saw each kind of directory made' '
	g="root/var/lib/gear" t="\.gear-tmp\.[^/]*" h="[0-9a-f][0-9a-f]" &&
	for p in "$g/images/app/one" "$g/images/app/one/$t" "$g/images/app/one/$t/blobs/sha256" "$g/objects" \
		"$g/objects/$h" "$g/build" "$g/build/\.gear-tmp\.[0-9a-f]*" "$g/public" "$g/public/$h" \
		"$g/objects/\.corrupt" "store/images/app/one/$t" "store/objects/$h" "fresh/var/lib/gear" \
		"fresh/var/lib/gear/images/app/one/$t"; do
		grep -qx "$p" made || { echo "no mkdir of $p"; return 1; }
	done
'

test_done
