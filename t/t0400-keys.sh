#!/bin/sh
test_description='gear-keys: storing SSH keys and linking them to containers and repositories'
. "$(dirname "$0")/lib/test-lib.sh"

USAGE='usage: gear-keys add [--key-file FILE] [--write] TARGET...
       gear-keys remove [--key-file FILE] [--write] TARGET...
       gear-keys list TARGET'

# the SHA256 fingerprint ssh-keygen prints, in base64url
sshfp() {
	ssh-keygen -lf "$1" >"$1.fp" &&
	sed -n "s/^[0-9]* SHA256:\([A-Za-z0-9+\/]*\) .*/\1/p" "$1.fp" | tr "+/" "-_"
}

# "TYPE BASE64" of a .pub file
keytext() { cut -d" " -f1-2 "$1" | tr -d "\n"; }

# the key file and link paths of a fingerprint
keyfile() { echo "$CTR/keys/$(echo "$1" | cut -c1-2)/$1"; }

test_expect_success 'setup: real keys from ssh-keygen' '
	ssh-keygen -q -t ed25519 -N "" -C "alice@example" -f ed1 &&
	ssh-keygen -q -t ed25519 -N "" -C "bob@example" -f ed2 &&
	ssh-keygen -q -t rsa -b 2048 -N "" -C "carol" -f rsa &&
	ssh-keygen -q -t ecdsa -b 256 -N "" -f ec256 &&
	ssh-keygen -q -t ecdsa -b 384 -N "" -f ec384 &&
	ssh-keygen -q -t ecdsa -b 521 -N "" -f ec521 &&
	FP1=$(sshfp ed1.pub) && FP2=$(sshfp ed2.pub) && FPR=$(sshfp rsa.pub) &&
	test ${#FP1} = 43 && test ${#FP2} = 43 &&
	{ echo "FP1=$FP1" && echo "FP2=$FP2" && echo "FPR=$FPR"; } >fps &&
	for id in abcd fpcheck optsctr frominput frominput2 crlfctr efgh \
		forms1 forms2 forms3 forms4 broken; do
		test_fake_unit $id || return 1
	done &&
	for id in myrepo forms5 web9repo; do
		test_fake_repo $id || return 1
	done
'
. ./fps 2>/dev/null

test_expect_success '--help prints usage on stdout' '
	gear-keys --help >out 2>err &&
	echo "$USAGE" >expect &&
	test_cmp expect out &&
	test_must_fail test -s err &&
	gear-keys add --help >out &&
	test_cmp expect out
'

test_expect_success 'add stores the key as "TYPE BASE64" named by its fingerprint' '
	gear-keys add --key-file ed1.pub abcd >out 2>err &&
	echo "$FP1" >expect &&
	test_cmp expect out &&
	test_must_fail test -s err &&
	f=$(keyfile "$FP1") &&
	keytext ed1.pub >expect &&
	test_cmp expect "$f" &&
	test "$(stat -c %a "$f")" = 644 &&
	test "$(find "$CTR/keys" -type f | wc -l)" = 1
'

test_expect_success 'the container link is relative and resolves to the key' '
	l="$CTR/access/containers/ab/abcd/$FP1" &&
	test -h "$l" &&
	echo "../../../../keys/$(echo $FP1 | cut -c1-2)/$FP1" >expect &&
	readlink "$l" >actual &&
	test_cmp expect actual &&
	keytext ed1.pub >expect &&
	test_cmp expect "$l"
'

test_expect_success 'fingerprints agree with ssh-keygen for rsa, ecdsa and ed25519' '
	for k in rsa ec256 ec384 ec521 ed2; do
		gear-keys add --key-file $k.pub fpcheck >out &&
		sshfp $k.pub >expect &&
		test_cmp expect out &&
		keytext $k.pub >expect &&
		test_cmp expect "$(keyfile "$(cat out)")" || return 1
	done
'

test_expect_success 'options and comments are dropped' '
	{
		printf "%s\n" "# a comment" "" &&
		printf "no-pty,command=\"echo \\\\\"a, b\\\\\"\",from=\"10.0.0.1\" %s trailing comment\n" "$(keytext ed2.pub)"
	} >opts &&
	gear-keys add --key-file opts optsctr >out &&
	echo "$FP2" >expect &&
	test_cmp expect out &&
	keytext ed2.pub >expect &&
	test_cmp expect "$(keyfile "$FP2")"
'

test_expect_success 'keys come from stdin without --key-file or with -' '
	gear-keys add frominput <ed2.pub >out &&
	echo "$FP2" >expect &&
	test_cmp expect out &&
	gear-keys add --key-file - frominput2 <ed2.pub >out &&
	test_cmp expect out &&
	test -h "$CTR/access/containers/fr/frominput/$FP2" &&
	test -h "$CTR/access/containers/fr/frominput2/$FP2"
'

test_expect_success 'CRLF line ends and a duplicate key are accepted; the key is printed once' '
	{ sed "s/\$/\r/" ed1.pub && cat ed2.pub ed1.pub; } >crlf &&
	gear-keys add --key-file crlf crlfctr >out &&
	printf "%s\n" "$FP1" "$FP2" >expect &&
	test_cmp expect out
'

test_expect_success 'a shared key is stored once with a link per target' '
	gear-keys add --key-file ed1.pub efgh repo://myrepo >out &&
	echo "$FP1" >expect &&
	test_cmp expect out &&
	test "$(find "$CTR/keys" -name "$FP1" | wc -l)" = 1 &&
	readlink "$CTR/access/containers/ef/efgh/$FP1" >actual &&
	echo "../../../../keys/$(echo $FP1 | cut -c1-2)/$FP1" >expect &&
	test_cmp expect actual &&
	readlink "$CTR/access/git/read/my/myrepo/$FP1" >actual &&
	echo "../../../../../keys/$(echo $FP1 | cut -c1-2)/$FP1" >expect &&
	test_cmp expect actual &&
	test_cmp "$(keyfile "$FP1")" "$CTR/access/git/read/my/myrepo/$FP1" &&
	test_must_fail test -e "$CTR/access/git/write/my/myrepo/$FP1"
'

test_expect_success 'adding again changes nothing' '
	test_snap before &&
	gear-keys add --key-file ed1.pub abcd efgh repo://myrepo >out &&
	test_snap after &&
	test_cmp before after
'

test_expect_success 'target forms: ctr://, localhost/ and local/' '
	gear-keys add --key-file ed2.pub ctr://forms1 localhost/forms2 local/forms3 \
		ctr://localhost/forms4 repo://local/forms5 >out &&
	for id in forms1 forms2 forms3 forms4; do
		test -h "$CTR/access/containers/fo/$id/$FP2" || return 1
	done &&
	test -h "$CTR/access/git/read/fo/forms5/$FP2"
'

test_expect_success '--write links into access/git/write' '
	gear-keys add --write --key-file ed2.pub repo://myrepo >out &&
	readlink "$CTR/access/git/write/my/myrepo/$FP2" >actual &&
	echo "../../../../../keys/$(echo $FP2 | cut -c1-2)/$FP2" >expect &&
	test_cmp expect actual &&
	test_must_fail test -e "$CTR/access/git/read/my/myrepo/$FP2"
'

test_expect_success 'a repository that does not exist gets no keys; the tree is unchanged' '
	test_refused 1 "gear-keys: cannot add keys: no repository '\''norepo'\''" \
		gear-keys add --key-file ed1.pub repo://norepo &&
	test_refused 1 "gear-keys: cannot add keys: no repository '\''norepo'\''" \
		gear-keys add --write --key-file ed1.pub repo://myrepo repo://norepo &&
	test_must_fail test -e "$CTR/access/git/read/no" &&
	test_must_fail test -e "$CTR/git/no"
'

test_expect_success 'a container that does not exist gets no keys; the tree is unchanged' '
	test_refused 1 "gear-keys: cannot add keys: no container '\''web9'\''" \
		gear-keys add --key-file ed1.pub web9 &&
	test_refused 1 "gear-keys: cannot add keys: no container '\''web9'\''" \
		gear-keys add --key-file ed1.pub repo://web9repo abcd ctr://web9 &&
	test_must_fail test -e "$CTR/access/containers/we" &&
	test_must_fail test -e "$CTR/units/we" &&
	test_refused 1 "gear-keys: cannot add keys: no container '\''web9'\''" \
		env GEAR_SYSROOT="$TRASH_DIRECTORY/none" gear-keys add --key-file ed1.pub web9 &&
	test_must_fail test -e "$TRASH_DIRECTORY/none"
'

test_expect_success 'a unit makes the container exist; removing it ends that' '
	test_fake_unit web9 &&
	gear-keys add --key-file ed1.pub web9 >out &&
	test -h "$CTR/access/containers/we/web9/$FP1" &&
	rm "$CTR/units/we/ctr-web9.service" &&
	test_refused 1 "gear-keys: cannot add keys: no container '\''web9'\''" \
		gear-keys add --key-file ed2.pub web9
'

test_expect_success 'list prints fingerprint, access and key, sorted by fingerprint' '
	gear-keys add --key-file rsa.pub abcd >/dev/null &&
	gear-keys list abcd >out 2>err &&
	{
		printf "%s\tssh\t%s\n" "$FP1" "$(keytext ed1.pub)" &&
		printf "%s\tssh\t%s\n" "$FPR" "$(keytext rsa.pub)"
	} | sort >expect &&
	test_cmp expect out &&
	test_must_fail test -s err &&
	gear-keys list ctr://abcd >out2 &&
	test_cmp expect out2
'

test_expect_success 'list of a repository: read and write; a key in both is write once' '
	gear-keys add --key-file ed2.pub repo://myrepo >/dev/null &&
	test -h "$CTR/access/git/read/my/myrepo/$FP2" &&
	gear-keys list repo://myrepo >out &&
	{
		printf "%s\tread\t%s\n" "$FP1" "$(keytext ed1.pub)" &&
		printf "%s\twrite\t%s\n" "$FP2" "$(keytext ed2.pub)"
	} | sort >expect &&
	test_cmp expect out
'

test_expect_success 'list of a target without keys, or without a tree, prints nothing' '
	gear-keys list nokeys >out &&
	test_must_fail test -s out &&
	gear-keys list repo://nokeys >out &&
	test_must_fail test -s out &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/empty" gear-keys list abcd >out &&
	test_must_fail test -s out &&
	test_must_fail test -e "$TRASH_DIRECTORY/empty"
'

test_expect_success 'list reports a key file that is missing or corrupt' '
	gear-keys add --key-file ed2.pub broken >/dev/null &&
	mkdir -p "$CTR/keys/zz" &&
	zfp=$(printf "%042dw" 0 | tr 0 z) &&
	ln -s "../../../../keys/zz/$zfp" "$CTR/access/containers/br/broken/$zfp" &&
	test_expect_code 111 gear-keys list broken >out 2>err &&
	printf "%s\tssh\t%s\n" "$FP2" "$(keytext ed2.pub)" >expect &&
	test_cmp expect out &&
	echo "gear-keys: key '\''$zfp'\'' is missing or invalid" >expect &&
	test_cmp expect err &&
	printf "ssh-ed25519 %s" "$(cut -d" " -f2 ed1.pub)" >"$CTR/keys/zz/$zfp" &&
	test_expect_code 111 gear-keys list broken >out 2>err &&
	test_cmp expect err &&
	rm "$CTR/access/containers/br/broken/$zfp" "$CTR/keys/zz/$zfp"
'

test_expect_success 'remove drops the container link; the key stays' '
	gear-keys remove --key-file ed1.pub abcd >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err &&
	test_must_fail test -h "$CTR/access/containers/ab/abcd/$FP1" &&
	test -h "$CTR/access/containers/ab/abcd/$FPR" &&
	test -f "$(keyfile "$FP1")" &&
	gear-keys list abcd >out &&
	printf "%s\tssh\t%s\n" "$FPR" "$(keytext rsa.pub)" >expect &&
	test_cmp expect out
'

test_expect_success 'removing a key that has no link changes nothing' '
	test_snap before &&
	gear-keys remove --key-file ed1.pub abcd repo://neverseen >out &&
	test_snap after &&
	test_cmp before after &&
	test_must_fail test -s out
'

test_expect_success 'remove --write drops only write access to a repository' '
	gear-keys remove --write --key-file ed2.pub repo://myrepo &&
	test_must_fail test -h "$CTR/access/git/write/my/myrepo/$FP2" &&
	test -h "$CTR/access/git/read/my/myrepo/$FP2" &&
	gear-keys add --write --key-file ed2.pub repo://myrepo >/dev/null &&
	gear-keys remove --key-file ed2.pub repo://myrepo &&
	test_must_fail test -h "$CTR/access/git/write/my/myrepo/$FP2" &&
	test_must_fail test -h "$CTR/access/git/read/my/myrepo/$FP2" &&
	test -f "$(keyfile "$FP2")"
'

test_expect_success 'add replaces a link that points elsewhere' '
	l="$CTR/access/containers/ab/abcd/$FP2" &&
	ln -s ../../../../keys/xx/wrong "$l" &&
	gear-keys add --key-file ed2.pub abcd >out &&
	echo "../../../../keys/$(echo $FP2 | cut -c1-2)/$FP2" >expect &&
	readlink "$l" >actual &&
	test_cmp expect actual &&
	ls -a "$CTR/access/containers/ab/abcd/" >ls.out &&
	test_must_fail grep "^\.gear-tmp" ls.out
'

B1=$(cut -d" " -f2 ed1.pub 2>/dev/null)
BR=$(cut -d" " -f2 rsa.pub 2>/dev/null)

test_expect_success 'bad base64 is test_refused with its line number' '
	printf "%s\n" "# keys" "ssh-ed25519 ${B1}x" >bad &&
	test_refused 100 "gear-keys: bad:2: invalid base64 in key data" gear-keys add --key-file bad newctr &&
	printf "%s\n" "ssh-ed25519 AAAA!AAA" >bad &&
	test_refused 100 "gear-keys: bad:1: invalid base64 in key data" gear-keys add --key-file bad newctr &&
	printf "%s\n" "ssh-ed25519 AAAAC3Nz-C1lZDI1NTE5AAAAI" >bad &&
	test_refused 100 "gear-keys: bad:1: invalid base64 in key data" gear-keys add --key-file bad newctr
'

test_expect_success 'an unknown key type is refused' '
	printf "%s\n" "ssh-foo $B1" >bad &&
	test_refused 100 "gear-keys: bad:1: unknown key type '\''ssh-foo'\''" gear-keys add --key-file bad newctr &&
	printf "%s\n" "no-pty ssh-foo $B1" >bad &&
	test_refused 100 "gear-keys: bad:1: unknown key type '\''ssh-foo'\''" gear-keys add --key-file bad newctr &&
	printf "%s\n" "ssh-ed25519-cert-v01@openssh.com $B1" >bad &&
	test_refused 100 "gear-keys: bad:1: certificates are not supported ('\''ssh-ed25519-cert-v01@openssh.com'\'')" \
		gear-keys add --key-file bad newctr
'

test_expect_success 'a truncated key blob is refused' '
	printf "%s\n" "ssh-ed25519 $(echo "$B1" | cut -c1-64)" >bad &&
	test_refused 100 "gear-keys: bad:1: truncated key data" gear-keys add --key-file bad newctr &&
	printf "%s\n" "ssh-rsa $(echo "$BR" | cut -c1-200)" >bad &&
	test_refused 100 "gear-keys: bad:1: truncated key data" gear-keys add --key-file bad newctr
'

test_expect_success 'a blob of another type than the line says is refused' '
	printf "%s\n" "ssh-rsa $B1" >bad &&
	test_refused 100 "gear-keys: bad:1: key data is of type '\''ssh-ed25519'\'', not '\''ssh-rsa'\''" \
		gear-keys add --key-file bad newctr &&
	printf "%s\n" "ecdsa-sha2-nistp256 $(cut -d" " -f2 ec384.pub)" >bad &&
	test_refused 100 "gear-keys: bad:1: key data is of type '\''ecdsa-sha2-nistp384'\'', not '\''ecdsa-sha2-nistp256'\''" \
		gear-keys add --key-file bad newctr
'

test_expect_success 'garbage, a missing blob and unbalanced quotes are refused' '
	printf "%s\n" "garbage" >bad &&
	test_refused 100 "gear-keys: bad:1: unknown key type '\''garbage'\''" gear-keys add --key-file bad newctr &&
	printf "%s\n" "ssh-ed25519" >bad &&
	test_refused 100 "gear-keys: bad:1: missing key data after '\''ssh-ed25519'\''" gear-keys add --key-file bad newctr &&
	printf "%s\n" "command=\"x $B1" >bad &&
	test_refused 100 "gear-keys: bad:1: unterminated quoted string in options" gear-keys add --key-file bad newctr &&
	printf "ssh-ed25519 \000%s\n" "$B1" >bad &&
	test_refused 100 "gear-keys: bad:1: line contains a NUL byte" gear-keys add --key-file bad newctr
'

test_expect_success 'one bad line among good ones writes nothing' '
	{ cat ed1.pub ec256.pub && echo "ssh-ed25519 AAAA" && cat ed2.pub; } >bad &&
	test_refused 100 "gear-keys: stdin:3: truncated key data" gear-keys add newctr <bad &&
	test_must_fail test -e "$CTR/access/containers/ne"
'

test_expect_success 'an overlong line is refused' '
	{ printf "ssh-ed25519 %s " "$B1" && head -c 17000 /dev/zero | tr "\0" x && echo; } >bad &&
	test_refused 100 "gear-keys: bad:1: line longer than 16384 bytes" gear-keys add --key-file bad newctr
'

test_expect_success 'an input without keys, or a missing file, is refused' '
	printf "%s\n" "# nothing" "" >bad &&
	test_refused 100 "gear-keys: no keys in '\''bad'\''" gear-keys add --key-file bad newctr &&
	test_refused 100 "gear-keys: no keys in '\''stdin'\''" gear-keys remove abcd </dev/null &&
	test_refused 100 "gear-keys: cannot open '\''nosuch'\'': No such file or directory" \
		gear-keys add --key-file nosuch newctr
'

test_expect_success 'invalid targets are test_refused before anything is written' '
	for t in "" ab ".." "../../etc" "a/b/c" ctr://.. "repo://../x" repo://ab \
		abcdefghijklmnopqrstuvwxy "-abc" ".abc" "ab cd" "localhost/../../x"; do
		test_refused 100 "gear-keys: invalid identifier '\''${t#*//}'\'': want 4 to 24 characters of [A-Za-z0-9_.-], not starting with '\''.'\'' or '\''-'\''" \
			gear-keys add --key-file ed1.pub newctr -- "$t" || return 1
	done
'

test_expect_success 'usage errors exit 100' '
	test_refused 100 "gear-keys: missing command" gear-keys &&
	test_refused 100 "gear-keys: unknown command '\''frob'\''" gear-keys frob abcd &&
	test_refused 100 "gear-keys: missing TARGET" gear-keys add --key-file ed1.pub &&
	test_refused 100 "gear-keys: unknown option '\''--frob'\''" gear-keys add --frob abcd &&
	test_refused 100 "gear-keys: unknown option '\''-x'\''" gear-keys add -wx abcd &&
	test_refused 100 "gear-keys: option '\''--key-file'\'' needs an argument" gear-keys add abcd --key-file &&
	test_refused 100 "gear-keys: '\''list'\'' takes one TARGET and no options" gear-keys list abcd efgh &&
	test_refused 100 "gear-keys: '\''--write'\'' applies to repositories, not '\''abcd'\''" \
		gear-keys add --write --key-file ed1.pub repo://myrepo abcd &&
	test_expect_code 100 gear-keys add --frob abcd 2>err &&
	echo "$USAGE" >expect &&
	tail -n 3 err >actual &&
	test_cmp expect actual
'

test_expect_success 'a directory as --key-file is invalid input' '
	mkdir -p adir &&
	test_tree_snapshot before &&
	test_expect_code 100 gear-keys add --key-file adir abcd 2>err &&
	echo "gear-keys: cannot read '\''adir'\'': is a directory" >expect &&
	test_cmp expect err &&
	test_tree_snapshot after &&
	test_cmp before after
'

test_done
