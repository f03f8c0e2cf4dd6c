#!/bin/sh
test_description='gear-repo: bare repositories with libgit2, their users, archives equal to git archive'
. "$(dirname "$0")/lib/test-lib.sh"

USAGE='usage: gear-repo create ID [--from URL|DIR]
       gear-repo delete ID
       gear-repo list
       gear-repo archive [--format zip|tar|tar.gz] ID [REF]'
GIT="git -c user.name=t -c user.email=t@example -c init.defaultBranch=master"
test_atexit 'for u in git-t14a git-t14b git-t14c git-t14d git-t14e git-t14f git-t14g git-t14h git-t14i git-t14hand; do userdel $u; done'

# the tree, and the host users of this test
snap() {
	test_snap "$1" &&
	getent passwd | grep "^git-t14" >>"$1"
	:
}
TEST_SNAP=snap
# gitr ID ARGS...: real git on the repository, as root
gitr() {
	d="$CTR/git/$(printf %.2s "$1")/$1.git" && shift &&
	git -c safe.directory="*" --git-dir="$d" "$@"
}
# same_tree A B: the same paths, types, modes, link targets and contents
same_tree() {
	(cd "$1" && find . -mindepth 1 -printf "%y %m %p %l\n" | sort) >"$1.list" &&
	(cd "$2" && find . -mindepth 1 -printf "%y %m %p %l\n" | sort) >"$2.list" &&
	test_cmp "$1.list" "$2.list" &&
	diff -r --no-dereference "$1" "$2"
}
# archived FORMAT ID REF: gear-repo archive and git archive extracted, and equal
archived() {
	rm -rf ours theirs ours.* theirs.* &&
	gear-repo archive --format "$1" "$2" "$3" >ours.a &&
	gitr "$2" archive --format "$1" "$3" >theirs.a &&
	mkdir ours theirs &&
	case $1 in
	zip) LC_ALL=C.UTF-8 bsdtar -xpf ours.a -C ours && LC_ALL=C.UTF-8 bsdtar -xpf theirs.a -C theirs ;;
	*) tar -xpf ours.a -C ours && tar -xpf theirs.a -C theirs ;;
	esac &&
	same_tree ours theirs &&
	test -s ours.list
}

test_expect_success 'setup: a source repository with every kind of entry' '
	$GIT init -q src &&
	(
		cd src &&
		mkdir -p d/e ign keep &&
		echo hello >a &&
		: >empty &&
		printf "#!/bin/sh\necho run\n" >d/run.sh && chmod 755 d/run.sh &&
		echo deep >d/e/f &&
		ln -s a link && ln -s d/e dirlink && ln -s ../../nowhere dangling &&
		echo "sp" >"with space" && echo "u" >"ünï" && echo dash >./-dash &&
		head -c 100000 /dev/urandom >bin &&
		echo secret >keep/x.secret && echo kept >keep/y &&
		echo gone >ign/x &&
		printf "ign/ export-ignore\n*.secret export-ignore\n" >.gitattributes &&
		$GIT add -A &&
		$GIT update-index --add --cacheinfo 160000,$(printf %040d 1 | tr 0 a),sub &&
		$GIT commit -q -m one &&
		$GIT tag v1 &&
		$GIT tag -a -m annotated v1a &&
		$GIT checkout -q -b feature &&
		echo feature >feat && $GIT add feat && $GIT commit -q -m two &&
		$GIT checkout -q master
	)
'

test_expect_success '--help, and usage errors exit 100' '
	gear-repo --help >out &&
	echo "$USAGE" >expect &&
	test_cmp expect out &&
	test_refused 100 "gear-repo: missing command" gear-repo &&
	test_refused 100 "gear-repo: unknown command '\''frob'\''" gear-repo frob &&
	test_refused 100 "gear-repo: missing ID" gear-repo create &&
	test_refused 100 "gear-repo: too many arguments" gear-repo create t14a t14b &&
	test_refused 100 "gear-repo: too many arguments" gear-repo archive t14a HEAD x &&
	test_refused 100 "gear-repo: '\''list'\'' takes no arguments" gear-repo list x &&
	test_refused 100 "gear-repo: '\''--from'\'' applies to create only" gear-repo delete --from src t14a &&
	test_refused 100 "gear-repo: '\''--format'\'' applies to archive only" gear-repo create --format zip t14a &&
	test_refused 100 "gear-repo: option '\''--from'\'' needs an argument" gear-repo create t14a --from &&
	test_refused 100 "gear-repo: unknown option '\''--frob'\''" gear-repo create --frob t14a
'

test_expect_success 'invalid identifiers: exit 100, no directory, no user' '
	for id in "" ab "../x" "-t14x" ".t14x" "t14/x" "t1..4" "t14 x" abcdefghijklmnopqrstuvwxy; do
		snap before &&
		test_expect_code 100 gear-repo create -- "$id" >out 2>err &&
		grep "^gear-repo: invalid " err &&
		test_must_fail test -s out &&
		snap after &&
		test_cmp before after || { echo "id $id"; return 1; }
	done &&
	test_refused 100 "gear-repo: invalid repository identifier '\''t1..4'\'': it contains '\''..'\''" \
		gear-repo create t1..4
'

test_expect_success 'create: an empty bare repository, its user, its modes' '
	gear-repo create t14a >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err &&
	r="$CTR/git/t1/t14a.git" &&
	getent passwd git-t14a >pw &&
	grep "^git-t14a:x:[0-9]*:[0-9]*:gear repository t14a:/:/bin/sh$" pw &&
	test "$(getent shadow git-t14a | cut -d: -f2)" = "*" &&
	test "$(stat -c "%U %G %a" "$r")" = "git-t14a git-t14a 700" &&
	test "$(stat -c "%U %a" "$CTR/git")" = "root 755" &&
	test "$(stat -c "%U %a" "$CTR/git/t1")" = "root 755" &&
	find "$r" ! -user git-t14a >notown &&
	test_must_fail test -s notown &&
	test "$(gitr t14a rev-parse --is-bare-repository)" = true &&
	test_must_fail gitr t14a rev-parse --verify -q HEAD &&
	ls -a "$CTR/git/t1" >ls.out &&
	printf ".\n..\nt14a.git\n" >expect &&
	test_cmp expect ls.out
'

test_expect_success 'nobody but git-ID reaches it' '
	test_must_fail setpriv --reuid=nobody --regid=nogroup --clear-groups ls "$CTR/git/t1/t14a.git" &&
	setpriv --reuid=git-t14a --regid=git-t14a --clear-groups ls "$CTR/git/t1/t14a.git" >ls.out &&
	grep -x HEAD ls.out
'

test_expect_success 'an existing repository is refused, exit 1, nothing changed' '
	test_refused 1 "gear-repo: repository '\''t14a'\'' exists" gear-repo create t14a &&
	test_refused 1 "gear-repo: repository '\''t14a'\'' exists" gear-repo create --from src t14a
'

test_expect_success 'create --from a local directory (relative) and a file:// URL: a bare clone' '
	gear-repo create --from src t14b &&
	gear-repo create --from "file://$TRASH_DIRECTORY/src" t14c &&
	git -C src for-each-ref --format="%(objectname) %(refname)" refs/heads refs/tags >expect &&
	for id in t14b t14c; do
		gitr $id for-each-ref --format="%(objectname) %(refname)" refs/heads refs/tags >refs &&
		test_cmp expect refs &&
		test "$(gitr $id rev-parse HEAD)" = "$(git -C src rev-parse HEAD)" &&
		test "$(gitr $id rev-parse --is-bare-repository)" = true &&
		find "$CTR/git/t1/$id.git" ! -user git-$id >notown &&
		test_must_fail test -s notown || return 1
	done &&
	find src/.git -user git-t14b >moved &&
	test_must_fail test -s moved
'

test_expect_success 'a clone that fails leaves nothing: no directory, no temporary, no user' '
	snap before &&
	test_expect_code 100 gear-repo create --from nosuchdir t14d 2>err &&
	grep "^gear-repo: cannot clone '\''$TRASH_DIRECTORY/nosuchdir'\'': " err &&
	mkdir notrepo &&
	test_must_fail gear-repo create --from notrepo t14d 2>err &&
	grep "^gear-repo: cannot clone " err &&
	snap after &&
	test_cmp before after &&
	test_must_fail getent passwd git-t14d
'

test_expect_success 'list: ID and path, sorted; nothing for an empty tree' '
	gear-repo list >out &&
	printf "t14a\t%s\nt14b\t%s\nt14c\t%s\n" "$CTR/git/t1/t14a.git" "$CTR/git/t1/t14b.git" \
		"$CTR/git/t1/t14c.git" >expect &&
	test_cmp expect out &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/none" gear-repo list >out &&
	test_must_fail test -s out &&
	test_must_fail test -e "$TRASH_DIRECTORY/none"
'

for f in tar tar.gz zip; do
	test_expect_success "archive --format $f equals git archive: HEAD, branch, tags, full names, an id" '
		archived '$f' t14b HEAD &&
		test -x ours/d/run.sh && test -h ours/link && test -d ours/sub &&
		test_must_fail test -e ours/ign &&
		test_must_fail test -e ours/keep/x.secret &&
		test -f ours/keep/y &&
		archived '$f' t14b feature &&
		test -f ours/feat &&
		archived '$f' t14b v1 &&
		archived '$f' t14b v1a &&
		archived '$f' t14b refs/heads/feature &&
		archived '$f' t14b refs/tags/v1 &&
		archived '$f' t14b $(git -C src rev-parse feature)
	'
done

test_expect_success 'archive defaults to tar of HEAD, with git archive'\''s listing' '
	gear-repo archive t14b >ours.tar &&
	gitr t14b archive HEAD >theirs.tar &&
	tar -tvf ours.tar >ours.tv &&
	tar -tvf theirs.tar >theirs.tv &&
	test_cmp theirs.tv ours.tv &&
	gear-repo archive --format tar.gz t14b | gzip -dc | tar -tvf - >ours.tv &&
	test_cmp theirs.tv ours.tv
'

test_expect_success 'a reader that goes away ends it by SIGPIPE, as git archive, and nothing is left' '
	ls -d /tmp/gear-archive.* >before 2>/dev/null;
	{ gear-repo archive t14b 2>err; echo $? >rc; } | head -c 100 >/dev/null &&
	echo 141 >expect &&
	test_cmp expect rc &&
	test_must_fail test -s err &&
	ls -d /tmp/gear-archive.* >after 2>/dev/null;
	test_cmp before after
'

test_expect_success 'archive: bad references exit 100 with nothing on stdout' '
	for ref in -x "a..b" "HEAD~1" "master^" "@{-1}" "refs/heads/../x" "a b" "x:y" "a.lock" \
		"master/" "~master" "*" "HEAD@{0}" ""; do
		test_refused 100 "gear-repo: invalid reference '\''$ref'\'': want HEAD, a branch or tag name or a full object id" \
			gear-repo archive t14b -- "$ref" || { echo "ref $ref"; return 1; }
	done &&
	test_refused 100 "gear-repo: unknown reference '\''nosuch'\'' in repository '\''t14b'\''" \
		gear-repo archive t14b nosuch &&
	test_refused 100 "gear-repo: unknown reference '\''$(printf %040d 0)'\'' in repository '\''t14b'\''" \
		gear-repo archive t14b $(printf %040d 0) &&
	test_refused 100 "gear-repo: unknown reference '\''HEAD'\'' in repository '\''t14a'\''" \
		gear-repo archive t14a &&
	test_refused 100 "gear-repo: unknown archive format '\''rar'\'': want zip, tar or tar.gz" \
		gear-repo archive --format rar t14b &&
	test_refused 100 "gear-repo: invalid identifier '\''../x'\'': want 4 to 24 characters of [A-Za-z0-9_.-], not starting with '\''.'\'' or '\''-'\''" \
		gear-repo archive ../x &&
	test_refused 1 "gear-repo: no repository '\''t14z'\''" gear-repo archive t14z
'

test_expect_success 'archive loads libgit2 and libarchive; list and clean do not load libgit2' '
	LD_DEBUG=files gear-repo archive t14b 2>&1 >/dev/null | grep "generating link map" >libs &&
	grep -q libgit2 libs && grep -q libarchive libs &&
	LD_DEBUG=files gear-repo list 2>&1 >/dev/null | grep "generating link map" >libs &&
	test_must_fail grep libgit2 libs &&
	LD_DEBUG=files gear-clean --dry-run 2>&1 >/dev/null | grep "generating link map" >libs &&
	test_must_fail grep libgit2 libs
'

test_expect_success 'gear-keys: a repository that does not exist gets no keys' '
	ssh-keygen -q -t ed25519 -N "" -f key &&
	test_refused 1 "gear-keys: cannot add keys: no repository '\''t14z'\''" \
		gear-keys add --key-file key.pub repo://t14z &&
	test_refused 1 "gear-keys: cannot add keys: no repository '\''t14z'\''" \
		gear-keys add --write --key-file key.pub repo://t14b repo://t14z &&
	test_must_fail test -e "$CTR/git/t1/t14z.git" &&
	gear-keys add --key-file key.pub repo://t14b >/dev/null &&
	gear-keys add --write --key-file key.pub repo://t14b >/dev/null &&
	gear-keys list repo://t14b >out &&
	test $(wc -l <out) = 1
'

test_expect_success 'delete: access, repository and user go; a second delete is a negative answer' '
	gear-repo delete t14b >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err &&
	test_must_fail test -e "$CTR/git/t1/t14b.git" &&
	test_must_fail test -e "$CTR/access/git/read/t1/t14b" &&
	test_must_fail test -e "$CTR/access/git/write/t1/t14b" &&
	test_must_fail getent passwd git-t14b &&
	ls -a "$CTR/git/t1" >ls.out &&
	printf ".\n..\nt14a.git\nt14c.git\n" >expect &&
	test_cmp expect ls.out &&
	test_refused 1 "gear-repo: no repository '\''t14b'\''" gear-repo delete t14b &&
	gear-clean >out &&
	fp=$(ssh-keygen -lf key.pub | cut -d" " -f2 | sed "s/^SHA256://" | tr "+/" "-_") &&
	printf "key\t%s\n" "$CTR/keys/$(printf %.2s $fp)/$fp" >expect &&
	test_cmp expect out
'

test_expect_success 'create killed before its rename: gear-clean explains and removes what is left' '
	snap before &&
	test_expect_code 137 env GEAR_TEST_CRASH_AT=repo-built gear-repo create --from src t14e &&
	tmp=$(cd "$CTR" && ls -d git/t1/.gear-tmp.t14e.*) &&
	test_must_fail test -e "$CTR/git/t1/t14e.git" &&
	gear-repo list >out &&
	test_must_fail grep t14e out &&
	gear-clean --dry-run >out &&
	printf "temp\t%s\nuser\tgit-t14e\n" "$CTR/$tmp" >expect &&
	test_cmp expect out &&
	test -d "$CTR/$tmp" &&
	gear-clean >out &&
	test_cmp expect out &&
	snap after &&
	test_cmp before after &&
	gear-clean >out &&
	test_must_fail test -s out &&
	gear-repo create t14e &&
	gear-repo delete t14e
'

test_expect_success 'a clean while a create holds the lock leaves its temporary alone' '
	mkdir "$CTR/git/t1/.gear-tmp.t14f.0123456789abcdef" &&
	flock "$CTR/git/t1" gear-clean >out &&
	test_must_fail test -s out &&
	gear-clean >out &&
	printf "temp\t%s\n" "$CTR/git/t1/.gear-tmp.t14f.0123456789abcdef" >expect &&
	test_cmp expect out
'

for step in repo-access repo-renamed; do
	test_expect_success "delete killed at '$step': access gone first, gear-clean and a new delete finish" '
		gear-repo create t14g &&
		gear-keys add --write --key-file key.pub repo://t14g >/dev/null &&
		test_expect_code 137 env GEAR_TEST_CRASH_AT='$step' gear-repo delete t14g &&
		test_must_fail test -e "$CTR/access/git/write/t1/t14g" &&
		test_must_fail test -e "$CTR/access/git/read/t1/t14g" &&
		gear-auth-keys-command git-t14g >out &&
		test_must_fail test -s out &&
		if test '$step' = repo-access; then
			test -d "$CTR/git/t1/t14g.git" &&
			gear-repo delete t14g
		else
			test_must_fail test -e "$CTR/git/t1/t14g.git" &&
			gear-clean >out &&
			grep "^temp	$CTR/git/t1/\.gear-tmp\.t14g\." out &&
			grep -x "user	git-t14g" out
		fi &&
		test_must_fail getent passwd git-t14g &&
		ls -A "$CTR/git/t1" >ls.out &&
		printf "t14a.git\nt14c.git\n" >expect &&
		test_cmp expect ls.out
	'
done

test_expect_success 'gear-clean removes the access of a repository that is gone' '
	test_fake_repo t14h &&
	gear-keys add --key-file key.pub repo://t14h >/dev/null &&
	rmdir "$CTR/git/t1/t14h.git" &&
	gear-auth-keys-command git-t14h >out &&
	test_must_fail test -s out &&
	gear-clean --dry-run >out &&
	grep -x "access	$CTR/access/git/read/t1/t14h" out &&
	gear-clean >out &&
	grep -x "access	$CTR/access/git/read/t1/t14h" out &&
	test_must_fail test -e "$CTR/access/git/read/t1/t14h"
'

test_expect_success 'a user locked with "!" by an older gear gets "*"; a user gear did not make is refused' '
	useradd --system --no-create-home --home-dir / --shell /bin/sh -c "gear repository t14i" git-t14i &&
	test "$(getent shadow git-t14i | cut -d: -f2)" = "!" &&
	gear-repo create t14i &&
	test "$(getent shadow git-t14i | cut -d: -f2)" = "*" &&
	useradd --system --no-create-home -c "made by hand" git-t14hand &&
	test_refused 1 "gear-repo: user '\''git-t14hand'\'' exists and is not one gear made" gear-repo create t14hand &&
	gear-clean >out &&
	test_must_fail test -s out &&
	getent passwd git-t14hand
'

test_expect_success 'a tree whose top is 0700 (as podman leaves it) is opened for search only' '
	mkdir -p top/root/var/lib/containers && chmod 700 top/root/var/lib/containers &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/top/root" gear-repo create t14top &&
	test "$(stat -c %a top/root/var/lib/containers)" = 701 &&
	GEAR_SYSROOT="$TRASH_DIRECTORY/top/root" gear-repo delete t14top
'

test_expect_success 'a tree other users cannot reach is refused before any user is made' '
	mkdir closed && chmod 700 closed &&
	test_expect_code 111 env GEAR_SYSROOT="$TRASH_DIRECTORY/closed/root" gear-repo create t14d 2>err &&
	echo "gear-repo: '\''$TRASH_DIRECTORY/closed'\'' is not searchable by other users: no repository user could reach its repository" >expect &&
	test_cmp expect err &&
	test_must_fail getent passwd git-t14d
'

test_done
