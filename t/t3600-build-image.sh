#!/bin/sh
test_description='gear-build-image: a Git source built by a source-to-image builder, through podman'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=43600-43699
BUILDER=localhost/gear-t3600-builder:latest
BARE=localhost/gear-t3600-bare:latest
WEB=localhost/gear-t3600-web
GIT="git -c user.name=t -c user.email=t@example -c init.defaultBranch=main"
TMPDIR=$TRASH_DIRECTORY/tmp
export TMPDIR
test_atexit 'gear-test-systemd stop "$SD"'
test_atexit 'userdel git-t36r'
test_atexit 'podman rm -f $(podman ps -aq --filter name=^gear-build-image-) >/dev/null 2>&1'
test_atexit 'podman rmi -f $(podman images -aq --filter label=io.openshift.s2i.build.image=$BUILDER) $BUILDER $BARE >/dev/null 2>&1'

# build_builder NAME SCRIPTS-DIR [bare]: a busybox builder whose assemble
# copies /tmp/src to /opt/app-root/src, and whose run serves it on port 8080;
# as uid 1001. Its assemble says who runs it and with what GREETING, and on
# request sleeps (ASSEMBLE_SLEEP=SECONDS), talks on (ASSEMBLE_TICK), fails
# (ASSEMBLE_FAIL) after 7 lines, ends without a newline (ASSEMBLE_NONL) or
# sleeps after half a line (ASSEMBLE_PARTIAL). A bare one has run and no assemble.
build_builder() {
	rm -rf b && mkdir -p b/bin b/tmp b/etc b/proc b/sys b/dev b/run "b$2" b/opt/app-root/src &&
	cp /bin/busybox b/bin/busybox &&
	for a in sh cat cp env id ls mkdir sleep httpd kill printf echo; do
		ln -s busybox "b/bin/$a" || return 1
	done &&
	chmod 1777 b/tmp &&
	chown -R 1001:0 b/opt/app-root &&
	printf "root:x:0:0:root:/:/bin/sh\ndefault:x:1001:0:default:/opt/app-root:/bin/sh\n" >b/etc/passwd &&
	echo "root:x:0:" >b/etc/group &&
	cat >"b$2/run" <<-\EOF &&
	#!/bin/sh
	echo "run: serving /opt/app-root/src as uid $(id -u)"
	httpd -f -p 8080 -h /opt/app-root/src &
	pid=$!
	trap 'kill $pid; exit 0' TERM INT
	wait $pid
	EOF
	if test -z "$3"; then
		cat >"b$2/assemble" <<-\EOF
		#!/bin/sh
		echo "assemble: as uid $(id -u), GREETING=${GREETING:-}"
		if [ -n "${ASSEMBLE_PARTIAL:-}" ]; then printf "half a line"; sleep 3614; fi
		if [ -n "${ASSEMBLE_SLEEP:-}" ]; then echo "assemble: sleeping"; sleep "$ASSEMBLE_SLEEP"; fi
		if [ -n "${ASSEMBLE_TICK:-}" ]; then
			i=0
			while [ $i -lt 600 ]; do echo "assemble: tick $i"; i=$((i + 1)); sleep 0.1; done
		fi
		cp -R /tmp/src/. /opt/app-root/src/ || exit 2
		if [ -n "${ASSEMBLE_FAIL:-}" ]; then
			for i in 1 2 3 4 5 6 7; do echo "assemble: line $i"; done
			echo "assemble: failing on request" >&2
			exit 7
		fi
		echo "assemble: done"
		if [ -n "${ASSEMBLE_NONL:-}" ]; then printf "no newline at the end"; fi
		EOF
	fi &&
	chmod 0755 "b$2"/* &&
	tar -C b --numeric-owner -cf b.tar . &&
	podman import -q --change "USER 1001" --change "ENV PATH=/bin" --change "EXPOSE 8080" \
		--change "LABEL io.openshift.s2i.scripts-url=image://$2" b.tar "$1" >/dev/null
}

# what builds leave behind: their containers, the images made from the
# builder (tagged or not), their temporary images and directories
leftovers() {
	podman ps -a --format "{{.Names}}" | grep "^gear-build-image-" | sort
	podman images -a --filter label=io.openshift.s2i.build.image=$BUILDER --format "{{.ID}} {{.Repository}}:{{.Tag}}" | sort
	podman images -a --format "{{.Repository}}" | grep "gear-build-image-tmp"
	ls "$TMPDIR" | grep "gear-build-image"
	:
}
# ended PID: the process exited (it is a zombie, or gone)
ended() { ! test -e /proc/$1/stat || test "$(sed "s/.*) //" /proc/$1/stat | cut -d " " -f 1)" = Z; }
# stopped_by PID SIG NUMBER TAG: the build PID (its output in out and err) ends by SIG, says so, and leaves
# nothing more than leftovers wrote to before
stopped_by() {
	{ wait_until ended $1 || { kill -9 $1; false; }; } &&
	{ wait $1; code=$?; } &&
	cat out err &&
	test $code = $((128 + $3)) &&
	echo "gear-build-image: cannot build '$WEB:$4': stopped by SIG$2" >expect &&
	test_cmp expect err &&
	leftovers >after &&
	test_cmp before after
}
# podman run of the image: cat FILE
cat_in() { podman --runtime runc run --rm --pull=never --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 "$1" cat "$2"; }

test_expect_success 'setup: two builders, a source repository with two branches, a manager' '
	test_gear_conf run-arg=--pull=never &&
	mkdir -p "$TMPDIR" &&
	build_builder $BUILDER /usr/libexec/s2i &&
	build_builder $BARE /opt/s2i bare &&
	$GIT init -q src &&
	echo "hello from the source" >src/index.html &&
	mkdir src/sub && echo deep >src/sub/page.txt && ln -s index.html src/link.html &&
	$GIT -C src add . && $GIT -C src commit -qm one &&
	$GIT -C src checkout -qb other &&
	echo "from the other branch" >src/index.html &&
	$GIT -C src commit -qam two &&
	$GIT -C src checkout -q main &&
	gear-test-systemd start "$SD"
'

test_expect_success 'a build: assemble streamed, as the builder user, with --env; run is the command' '
	gear-build-image --env GREETING=hello src $BUILDER $WEB:1 >out 2>err &&
	cat out err &&
	grep -x "assemble: as uid 1001, GREETING=hello" out &&
	grep -x "assemble: done" out &&
	tail -n 3 out >records &&
	id=$(podman image inspect --format "{{.Id}}" $WEB:1) &&
	printf "image\t$WEB:1\nid\t$id\ncommit\t%s\n" "$($GIT -C src rev-parse main)" >expect &&
	test_cmp expect records &&
	test_must_fail test -s err &&
	podman image inspect --format "{{json .Config.Cmd}} {{.Config.User}} {{json .Config.Entrypoint}}" $WEB:1 >config &&
	echo "[\"/usr/libexec/s2i/run\"] 1001 null" >expect &&
	test_cmp expect config &&
	podman image inspect --format "{{index .Config.Labels \"io.openshift.s2i.build.commit.id\"}} {{index .Config.Labels \"io.openshift.s2i.build.image\"}}" $WEB:1 >labels &&
	echo "$($GIT -C src rev-parse main) $BUILDER" >expect &&
	test_cmp expect labels &&
	# podman keeps a container'\''s variables in a map: their order in the image varies
	podman image inspect --format "{{range .Config.Env}}{{println .}}{{end}}" $WEB:1 >env.raw &&
	sort env.raw | grep . >env &&
	printf "GREETING=hello\nPATH=/bin\n" >expect &&
	test_cmp expect env &&
	cat_in $WEB:1 /opt/app-root/src/sub/page.txt >page &&
	echo deep >expect &&
	test_cmp expect page &&
	podman --runtime runc run --rm --pull=never --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 $WEB:1 \
		ls -la /opt/app-root/src >ls &&
	cat ls &&
	grep "link.html -> index.html" ls &&
	test_must_fail grep "\.git" ls &&
	leftovers >left &&
	grep -c . left >n && echo 1 >expect && test_cmp expect n
'

test_expect_success 'gear-install --start with the image: it serves the source'\''s file' '
	g gear-install --port-range $RANGE -p 8080:0 --start $WEB:1 t36a >out &&
	printf "t36a\t8080\t43600\n" >expect &&
	test_cmp expect out &&
	http_get 43600 index.html >body &&
	echo "hello from the source" >expect &&
	test_cmp expect body &&
	g gear-status t36a >status &&
	grep "run: serving /opt/app-root/src as uid 1001" status
'

test_expect_success '--ref: a branch, and a full commit id' '
	gear-build-image --ref other src $BUILDER $WEB:2 >out &&
	grep -x "commit	$($GIT -C src rev-parse other)" out &&
	cat_in $WEB:2 /opt/app-root/src/index.html >body &&
	echo "from the other branch" >expect &&
	test_cmp expect body &&
	gear-build-image --ref "$($GIT -C src rev-parse main)" src $BUILDER $WEB:2 >out &&
	cat_in $WEB:2 /opt/app-root/src/index.html >body &&
	echo "hello from the source" >expect &&
	test_cmp expect body
'

test_expect_success 'repo://ID: a repository of gear-repo' '
	gear-repo create t36r --from "$PWD/src" &&
	gear-build-image --ref other repo://t36r $BUILDER $WEB:3 >out &&
	grep -x "commit	$($GIT -C src rev-parse other)" out &&
	cat_in $WEB:3 /opt/app-root/src/index.html >body &&
	echo "from the other branch" >expect &&
	test_cmp expect body &&
	test_expect_code 1 gear-build-image repo://t36none $BUILDER $WEB:3 2>err &&
	echo "gear-build-image: cannot build '\''$WEB:3'\'': no repository '\''t36none'\''" >expect &&
	test_cmp expect err
'

test_expect_success '--gear: a Gear image of the result, through containers-storage' '
	gear-build-image --gear src $BUILDER $WEB:4 >out &&
	grep "^manifest	sha256:[0-9a-f]\{64\}$" out &&
	gear-images -q >images &&
	grep -x "$WEB:4" images &&
	gear-export $WEB:4 exp &&
	echo "hello from the source" >expect &&
	test_cmp expect exp/opt/app-root/src/index.html &&
	test_must_fail test -e exp/opt/app-root/src/.git
'

test_expect_success 'a failing assemble: its status and last lines, exit 100, nothing left' '
	leftovers >before &&
	test_expect_code 100 gear-build-image --env ASSEMBLE_FAIL=1 src $BUILDER $WEB:5 >out 2>err &&
	cat err &&
	grep -x "assemble: line 7" out &&
	cat >expect <<-EOF &&
	gear-build-image: cannot build '\''$WEB:5'\'': '\''/usr/libexec/s2i/assemble'\'' failed with exit status 7; its last lines:
	  assemble: line 4
	  assemble: line 5
	  assemble: line 6
	  assemble: line 7
	  assemble: failing on request
	EOF
	test_cmp expect err &&
	test_must_fail podman image exists $WEB:5 &&
	leftovers >after &&
	test_cmp before after
'

# refused CODE MESSAGE ARGS...: gear-build-image ARGS exits CODE with MESSAGE, builds nothing, leaves nothing
refused() {
	code=$1 msg=$2 &&
	shift 2 &&
	leftovers >before &&
	test_expect_code "$code" gear-build-image "$@" >out 2>err &&
	cat err &&
	printf "%s\n" "$msg" >expect &&
	test_cmp expect err &&
	test_must_fail podman image exists $WEB:6 &&
	leftovers >after &&
	test_cmp before after
}

test_expect_success 'sources that cannot be fetched: 100 for what is not one, 111 for a host that does not answer' '
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': cannot clone '\''$PWD/nosuch'\'': No such file or directory" \
		nosuch $BUILDER $WEB:6 &&
	mkdir plain &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': cannot fetch '\''$PWD/plain'\'': not a Git repository" \
		plain $BUILDER $WEB:6 &&
	refused 111 "gear-build-image: cannot build '\''$WEB:6'\'': cannot clone '\''git://127.0.0.1:1/x'\'': failed to connect to 127.0.0.1: Connection refused" \
		git://127.0.0.1:1/x $BUILDER $WEB:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': unknown reference '\''nosuch'\'' in repository '\''src'\''" \
		--ref nosuch src $BUILDER $WEB:6
'

# a Git daemon that accepts and does not answer (for 30 seconds, which its connections then end)
STALL=43650
test_atexit 'test -f stall.pid && kill $(cat stall.pid)'
connected() { ss -tnH state established "( sport = :$STALL )" | grep -q .; }
listening() { ss -tlnH "( sport = :$1 )" | grep -q .; }

test_expect_success 'a fetch that stalls: SIGTERM and SIGINT end it at once, nothing left' '
	{ socat TCP-LISTEN:$STALL,bind=127.0.0.1,reuseaddr,fork SYSTEM:"sleep 30" & echo $! >stall.pid; } &&
	wait_until listening $STALL &&
	for sig in TERM:15 INT:2; do
		leftovers >before &&
		{ gear-build-image git://127.0.0.1:$STALL/x $BUILDER $WEB:6 >out 2>err & } &&
		pid=$! &&
		wait_until connected &&
		kill -${sig%:*} $pid &&
		stopped_by $pid ${sig%:*} ${sig#*:} 6 || return 1
	done
'

test_expect_success 'a fetch that stalls ends after build-fetch-timeout: 111, nothing left' '
	test_gear_conf run-arg=--pull=never build-fetch-timeout=2 &&
	refused 111 "gear-build-image: cannot build '\''$WEB:6'\'': cannot fetch '\''git://127.0.0.1:$STALL/x'\'': not done in 2 seconds (build-fetch-timeout)" \
		git://127.0.0.1:$STALL/x $BUILDER $WEB:6 &&
	kill $(cat stall.pid) && rm stall.pid &&
	test_gear_conf run-arg=--pull=never
'

GITD=43651
test_atexit 'test -f gitd.pid && kill $(cat gitd.pid)'

test_expect_success 'max-source-size: bytes received, a file of the tree, the files together; 100, nothing left' '
	test_gear_conf run-arg=--pull=never max-source-size=1M &&
	$GIT init -q big &&
	echo small >big/index.html &&
	$GIT -C big add . && $GIT -C big commit -qm small &&
	$GIT -C big checkout -qb zeros &&
	head -c 3M /dev/zero >big/zeros &&
	$GIT -C big add . && $GIT -C big commit -qm zeros &&
	$GIT -C big checkout -qb halves main &&
	head -c 600K /dev/zero >big/a && head -c 600K /dev/zero >big/b &&
	$GIT -C big add . && $GIT -C big commit -qm halves &&
	$GIT -C big checkout -qb noise main &&
	head -c 3M /dev/urandom >big/noise &&
	$GIT -C big add . && $GIT -C big commit -qm noise &&
	$GIT -C big checkout -q main &&
	git daemon --export-all --base-path="$PWD" --listen=127.0.0.1 --port=$GITD --reuseaddr \
		--detach --pid-file="$PWD/gitd.pid" &&
	wait_until listening $GITD &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': cannot clone '\''$PWD/big'\'': more than 1048576 bytes" \
		--ref noise big $BUILDER $WEB:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': cannot clone '\''git://127.0.0.1:$GITD/big'\'': more than 1048576 bytes" \
		--ref noise git://127.0.0.1:$GITD/big $BUILDER $WEB:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': the tree'\''s files are larger than 1048576 bytes (at '\''src/zeros'\'')" \
		--ref zeros git://127.0.0.1:$GITD/big $BUILDER $WEB:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': the tree'\''s files are larger than 1048576 bytes (at '\''src/b'\'')" \
		--ref halves git://127.0.0.1:$GITD/big $BUILDER $WEB:6 &&
	gear-build-image git://127.0.0.1:$GITD/big $BUILDER $WEB:6 >out 2>err &&
	grep -x "commit	$($GIT -C big rev-parse main)" out &&
	podman rmi $WEB:6 >/dev/null &&
	test_gear_conf run-arg=--pull=never
'

# raw_tree REPO MODE NAME ID...: a tree object of these entries as they are, in this order (what git mktree would sort or refuse)
raw_tree() {
	repo=$1 && shift &&
	while test $# -gt 0; do
		printf "%s %s\0" "$1" "$2" && printf "%s" "$3" | xxd -r -p && shift 3 || return 1
	done >tree.raw &&
	git -C "$repo" hash-object -t tree -w --literally --stdin <"$PWD/tree.raw"
}
# hostile BRANCH TREE: a commit of TREE as BRANCH of the repository hostile
hostile() { git -C hostile update-ref "refs/heads/$1" "$($GIT -C hostile commit-tree -m "$1" "$2")"; }

test_expect_success 'hostile trees: a name twice (a link, then a directory beneath it), out of order, ..; a bad link; 100, nothing left' '
	$GIT init -q --bare hostile &&
	link=$(printf /usr/libexec/s2i | git -C hostile hash-object -w --stdin) &&
	evil=$(echo evil | git -C hostile hash-object -w --stdin) &&
	nul=$(printf "a\0b" | git -C hostile hash-object -w --stdin) &&
	sub=$(printf "100755 blob $evil\tassemble\n" | git -C hostile mktree) &&
	hostile main $sub &&
	hostile twice $(raw_tree hostile 120000 x $link 40000 x $sub) &&
	hostile apart $(raw_tree hostile 120000 x $link 100644 x-1 $evil 40000 x $sub) &&
	hostile order $(raw_tree hostile 100644 b $evil 100644 a $evil) &&
	hostile dotdot $(raw_tree hostile 40000 .. $sub) &&
	hostile badlink $(raw_tree hostile 120000 l $nul) &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': invalid tree: '\''src/x/'\'' twice" \
		--ref twice hostile $BUILDER $WEB:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': invalid tree: '\''src/x/'\'' twice" \
		--ref apart hostile $BUILDER $WEB:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': invalid tree: '\''src/a'\'' out of order, after '\''src/b'\''" \
		--ref order hostile $BUILDER $WEB:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': invalid name '\''..'\'' in the tree at '\'''\''" \
		--ref dotdot hostile $BUILDER $WEB:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': invalid symbolic link '\''src/l'\''" \
		--ref badlink hostile $BUILDER $WEB:6
'

test_expect_success 'build-run-arg: to the build'\''s container; run-arg not' '
	test_gear_conf run-arg=--no-such-option build-run-arg=--env=GREETING=from-gear.conf &&
	gear-build-image src $BUILDER $WEB:6 >out 2>err &&
	cat out err &&
	grep -x "assemble: as uid 1001, GREETING=from-gear.conf" out &&
	podman rmi $WEB:6 >/dev/null &&
	test_gear_conf run-arg=--pull=never
'

test_expect_success 'a builder without assemble, one podman does not have: 100 and 1' '
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': builder '\''$BARE'\'' has no assemble script '\''/opt/s2i/assemble'\''" \
		src $BARE $WEB:6 &&
	refused 1 "gear-build-image: cannot build '\''$WEB:6'\'': no builder image '\''localhost/gear-t3600-none'\'' in podman'\''s storage" \
		src localhost/gear-t3600-none $WEB:6
'

test_expect_success 'invalid input: a tag, a reference, a variable, a builder name; usage' '
	refused 100 "gear-build-image: cannot build '\''Web:6'\'': invalid image name '\''Web'\'': want '\''/'\''-separated components of [a-z0-9] joined by '\''.'\'', '\''_'\'' or '\''-'\''" \
		src $BUILDER Web:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:-6'\'': invalid tag '\''-6'\'': want 1 to 128 characters of [A-Za-z0-9_.-], not starting with '\''.'\'' or '\''-'\''" \
		src $BUILDER $WEB:-6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': invalid reference '\''--upload-pack=x'\'': want HEAD, a branch or tag name or a full object id" \
		--ref=--upload-pack=x src $BUILDER $WEB:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': invalid variable '\''A B=1'\'': want NAME=VALUE" \
		--env "A B=1" src $BUILDER $WEB:6 &&
	refused 100 "gear-build-image: cannot build '\''$WEB:6'\'': invalid builder image '\''--rm'\''" \
		-- src --rm $WEB:6 &&
	test_expect_code 100 gear-build-image src $BUILDER 2>err &&
	grep "^gear-build-image: missing SOURCE, BUILDER or TAG" err &&
	grep "^usage: gear-build-image" err &&
	gear-build-image --help >out &&
	grep "^usage: gear-build-image \[--gear\] \[--env NAME=VALUE\]... \[--ref REF\] SOURCE BUILDER TAG" out
'

# stopped SIG NUMBER: a build stopped by SIG while its assemble sleeps ends by that signal and leaves nothing
stopped() {
	leftovers >before &&
	rm -f out err &&
	{ gear-build-image --env ASSEMBLE_SLEEP=3613 src $BUILDER $WEB:7 >out 2>err & } &&
	pid=$! &&
	wait_until grep -q "assemble: sleeping" out &&
	kill -$1 $pid &&
	stopped_by $pid $1 $2 7 &&
	test_must_fail podman image exists $WEB:7 &&
	test_must_fail pgrep -x -f "sleep 3613"
}

test_expect_success 'SIGTERM during assemble: the build ends by it, no container, image or directory left' '
	stopped TERM 15
'

test_expect_success 'SIGINT and SIGHUP too' '
	stopped INT 2 &&
	stopped HUP 1
'

# slow_rm: gear.conf's podman a podman whose rm notes itself in rm.log and first sleeps 2 seconds
slow_rm() {
	cat >podman-slowrm <<-EOF &&
	#!/bin/sh
	case " \$* " in *" rm "*) echo rm >>"$PWD/rm.log"; sleep 2;; esac
	exec /usr/bin/podman "\$@"
	EOF
	chmod +x podman-slowrm &&
	test_gear_conf run-arg=--pull=never podman=$PWD/podman-slowrm
}

test_expect_success 'SIGINT to the build'\''s group, SIGHUP while it cleans up: the cleanup ends, nothing left' '
	slow_rm &&
	leftovers >before &&
	rm -f out err rm.log &&
	{ setsid gear-build-image --env ASSEMBLE_SLEEP=3613 src $BUILDER $WEB:7 >out 2>err & } &&
	pid=$! &&
	wait_until grep -q "assemble: sleeping" out &&
	kill -INT -$pid &&
	wait_until test -s rm.log &&
	kill -HUP -$pid &&
	stopped_by $pid INT 2 7 &&
	test_gear_conf run-arg=--pull=never
'

test_expect_success 'SIGTERM while podman inspects the builder: stopped by SIGTERM, not a podman killed' '
	cat >podman-slowinspect <<-EOF &&
	#!/bin/sh
	case " \$* " in *" image inspect "*) echo inspect >>"$PWD/inspect.log"; exec sleep 30;; esac
	exec /usr/bin/podman "\$@"
	EOF
	chmod +x podman-slowinspect &&
	test_gear_conf run-arg=--pull=never podman=$PWD/podman-slowinspect &&
	leftovers >before &&
	rm -f inspect.log &&
	{ gear-build-image src $BUILDER $WEB:7 >out 2>err & } &&
	pid=$! &&
	wait_until test -s inspect.log &&
	kill -TERM $pid &&
	stopped_by $pid TERM 15 7 &&
	test_gear_conf run-arg=--pull=never
'

test_expect_success 'a cleanup that fails is said after the failure before it' '
	cat >podman-failrm <<-EOF &&
	#!/bin/sh
	case " \$* " in *" rm "*) echo "Error: no luck" >&2; exit 125;; esac
	exec /usr/bin/podman "\$@"
	EOF
	chmod +x podman-failrm &&
	test_gear_conf run-arg=--pull=never podman=$PWD/podman-failrm &&
	test_expect_code 100 gear-build-image --env ASSEMBLE_FAIL=1 src $BUILDER $WEB:6 >out 2>err &&
	cat err &&
	grep "^gear-build-image: cannot build '\''$WEB:6'\'': '\''/usr/libexec/s2i/assemble'\'' failed with exit status 7; its last lines:" err &&
	grep -x "  assemble: failing on request; and cannot remove the container '\''gear-build-image-[0-9a-f]*'\'': no luck" err &&
	test_gear_conf run-arg=--pull=never &&
	podman rm -f --time=0 $(podman ps -aq --filter name=^gear-build-image-) >/dev/null &&
	rm -rf "$TMPDIR"/gear-build-image.*
'

test_expect_success 'a build whose output nobody reads stops and leaves nothing' '
	leftovers >before &&
	{ gear-build-image --env ASSEMBLE_TICK=1 src $BUILDER $WEB:7 2>err | head -n 2 >out; } &&
	grep "assemble: tick 0" out &&
	echo "gear-build-image: cannot build '\''$WEB:7'\'': cannot write the output: Broken pipe" >expect &&
	test_cmp expect err &&
	leftovers >after &&
	test_cmp before after
'

# post BODY: POST /build-image to the daemon, the reply in out, its status on stdout
post() {
	curl -sN --max-time 120 --unix-socket "$PWD/d.sock" -o out -w "%{http_code}" -X POST --data-binary "$1" \
		http://gear/build-image
}

test_expect_success 'gear-daemon: POST /build-image with geard'\''s fields, the output streamed, its status last' '
	{ gear-daemon --listen "unix:$PWD/d.sock" & } &&
	echo $! >daemon.pid &&
	wait_until test -S d.sock &&
	test "$(post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"$PWD/src\",\"Tag\":\"$WEB:8\",\"Ref\":\"other\",\"Env\":{\"GREETING\":\"by the daemon\"}}")" = 202 &&
	cat out &&
	grep -x "assemble: as uid 1001, GREETING=by the daemon" out &&
	tail -n 5 out >records &&
	id=$(podman image inspect --format "{{.Id}}" $WEB:8) &&
	printf "assemble: done\nimage\t$WEB:8\nid\t$id\ncommit\t%s\nstatus\t0\n" "$($GIT -C src rev-parse other)" >expect &&
	test_cmp expect records &&
	cat_in $WEB:8 /opt/app-root/src/index.html >body &&
	echo "from the other branch" >expect &&
	test_cmp expect body
'
test_atexit '[ -f daemon.pid ] && kill $(cat daemon.pid); :'

test_expect_success 'POST /build-image: Env as a list, Gear, repo://ID' '
	test "$(post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"repo://t36r\",\"Tag\":\"$WEB:9\",\"Env\":[\"GREETING=listed\"],\"Gear\":true}")" = 202 &&
	grep -x "assemble: as uid 1001, GREETING=listed" out &&
	grep "^manifest	sha256:" out &&
	tail -n 1 out >last &&
	printf "status\t0\n" >expect &&
	test_cmp expect last &&
	gear-images -q >images &&
	grep -x "$WEB:9" images
'

test_expect_success 'POST /build-image refusals: 400 before anything runs, with the command'\''s message' '
	leftovers >before &&
	test "$(post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"src\"}")" = 400 &&
	echo "{\"message\":\"missing '\''Tag'\''\"}" >expect &&
	test_cmp expect out &&
	test "$(post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"src\",\"Tag\":\"Web\"}")" = 400 &&
	grep "invalid image name '\''Web'\''" out &&
	test "$(post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"src\",\"Tag\":\"$WEB:6\",\"Env\":{\"A B\":\"1\"}}")" = 400 &&
	grep "invalid variable '\''A B=1'\''" out &&
	test "$(post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"src\",\"Tag\":\"$WEB:6\",\"Env\":[1]}")" = 400 &&
	test "$(post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"src\",\"Tag\":\"$WEB:6\",\"Ref\":\"--x\"}")" = 400 &&
	test "$(post "{\"BaseImage\":\"--rm\",\"Source\":\"src\",\"Tag\":\"$WEB:6\"}")" = 400 &&
	test "$(post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"src\",\"Tag\":\"$WEB:6\",\"Extra\":1}")" = 400 &&
	grep "unknown field '\''Extra'\''" out &&
	test "$(post "")" = 400 &&
	test "$(curl -s --unix-socket "$PWD/d.sock" -o out -w "%{http_code}" http://gear/build-image)" = 405 &&
	leftovers >after &&
	test_cmp before after
'

test_expect_success 'POST /build-image: a failing build streams its failure and its exit status, leaves nothing' '
	leftovers >before &&
	test "$(post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"$PWD/src\",\"Tag\":\"$WEB:6\",\"Env\":{\"ASSEMBLE_FAIL\":\"1\"}}")" = 202 &&
	cat out &&
	grep -x "assemble: line 7" out &&
	grep "^gear-build-image: cannot build '\''$WEB:6'\'': '\''/usr/libexec/s2i/assemble'\'' failed with exit status 7; its last lines:" out &&
	tail -n 1 out >last &&
	printf "status\t100\n" >expect &&
	test_cmp expect last &&
	test "$(post "{\"BaseImage\":\"$BARE\",\"Source\":\"$PWD/src\",\"Tag\":\"$WEB:6\"}")" = 202 &&
	grep "has no assemble script" out &&
	tail -n 1 out >last &&
	printf "status\t100\n" >expect &&
	test_cmp expect last &&
	leftovers >after &&
	test_cmp before after
'

test_expect_success 'while a build streams, the daemon answers other requests at once' '
	rm -f out &&
	{ post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"$PWD/src\",\"Tag\":\"$WEB:10\",\"Env\":{\"ASSEMBLE_SLEEP\":\"6\"}}" >slow.code & } &&
	wait_until grep -q "assemble: sleeping" out &&
	start=$(date +%s) &&
	curl -s --max-time 5 --unix-socket "$PWD/d.sock" -o ports -w "%{http_code}" http://gear/container/t36a/ports >code &&
	test "$(cat code)" = 200 &&
	test $(($(date +%s) - start)) -le 2 &&
	echo "{\"Ports\":[{\"Internal\":8080,\"External\":43600}]}" >expect &&
	test_cmp expect ports &&
	wait &&
	test "$(cat slow.code)" = 202 &&
	tail -n 1 out >last &&
	printf "status\t0\n" >expect &&
	test_cmp expect last
'

test_expect_success 'output without a newline at its end: the records, and the daemon'\''s status, on lines of their own' '
	gear-build-image --env ASSEMBLE_NONL=1 src $BUILDER $WEB:6 >out 2>err &&
	cat out &&
	grep -x "no newline at the end" out &&
	grep -x "image	$WEB:6" out &&
	podman rmi $WEB:6 >/dev/null &&
	rm -f out &&
	{ post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"$PWD/src\",\"Tag\":\"$WEB:6\",\"Env\":{\"ASSEMBLE_PARTIAL\":\"1\"}}" >code & } &&
	wait_until grep -q "half a line" out &&
	kill -9 $(pgrep -f "build-image --stdin-args") &&
	wait &&
	cat out &&
	tail -n 2 out >last &&
	printf "half a line\nstatus\t137\n" >expect &&
	test_cmp expect last &&
	podman rm -f --time=0 $(podman ps -aq --filter name=^gear-build-image-) >/dev/null &&
	rm -rf "$TMPDIR"/gear-build-image.*
'

# in_cmdlines PATTERN: a process's command line matches PATTERN
in_cmdlines() { cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" " " | grep -q "$1"; }

test_expect_success 'no variable and no source on a command line: podman reads an env file, a build of the daemon its arguments' '
	cat >podman-log <<-EOF &&
	#!/bin/sh
	printf "%s\n" "\$*" >>"$PWD/podman.args"
	exec /usr/bin/podman "\$@"
	EOF
	chmod +x podman-log &&
	test_gear_conf run-arg=--pull=never podman=$PWD/podman-log &&
	gear-build-image --env GREETING=s3cr3t-1 src $BUILDER $WEB:6 >out 2>err &&
	grep -x "assemble: as uid 1001, GREETING=s3cr3t-1" out &&
	grep -q -- "--env-file=" podman.args &&
	! grep s3cr3t podman.args &&
	echo "{\"BaseImage\":\"$BUILDER\",\"Source\":\"$PWD/src\",\"Tag\":\"$WEB:6\",\"Env\":{\"GREETING\":\"s3cr3t-2\",\"ASSEMBLE_SLEEP\":\"2\"}}" >body.json &&
	rm -f out &&
	{ curl -sN --max-time 120 --unix-socket "$PWD/d.sock" -o out -X POST --data-binary @body.json http://gear/build-image & } &&
	wait_until grep -q "assemble: sleeping" out &&
	! in_cmdlines "s3cr3t[-]2" &&
	! in_cmdlines "build-image.*$PWD/s[r]c" &&
	wait &&
	cat out &&
	grep -x "assemble: as uid 1001, GREETING=s3cr3t-2" out &&
	tail -n 1 out >last &&
	printf "status\t0\n" >expect &&
	test_cmp expect last &&
	! grep s3cr3t podman.args &&
	podman rmi $WEB:6 >/dev/null &&
	test_gear_conf run-arg=--pull=never
'

# hung_up ENV: a client that hangs up while the build runs with ENV (talking or silent): the build stops, nothing left
hung_up() {
	leftovers >before &&
	curl -sN --max-time 3 --unix-socket "$PWD/d.sock" -o out -X POST \
		--data-binary "{\"BaseImage\":\"$BUILDER\",\"Source\":\"$PWD/src\",\"Tag\":\"$WEB:7\",\"Env\":{$1}}" \
		http://gear/build-image;
	grep "assemble: as uid 1001" out &&
	wait_until test_must_fail pgrep -f "build-image --stdin-args" &&
	test_must_fail pgrep -x -f "sleep 3613" &&
	test_must_fail podman image exists $WEB:7 &&
	leftovers >after &&
	test_cmp before after
}

test_expect_success 'a client that hangs up stops its build: nothing left, talking or silent' '
	hung_up "\"ASSEMBLE_TICK\":\"1\"" &&
	hung_up "\"ASSEMBLE_SLEEP\":\"3613\""
'

test_expect_success 'a daemon that stops ends its builds: nothing left' '
	leftovers >before &&
	rm -f out &&
	{ post "{\"BaseImage\":\"$BUILDER\",\"Source\":\"$PWD/src\",\"Tag\":\"$WEB:7\",\"Env\":{\"ASSEMBLE_SLEEP\":\"3613\"}}" >code & } &&
	wait_until grep -q "assemble: sleeping" out &&
	kill $(cat daemon.pid) && rm daemon.pid &&
	wait &&
	wait_until test_must_fail pgrep -f "build-image --stdin-args" &&
	wait_until test_must_fail test -e d.sock &&
	test_must_fail pgrep -x -f "sleep 3613" &&
	leftovers >after &&
	test_cmp before after
'

test_expect_success 'a daemon that stops takes no new request, and stops cleanly' '
	leftovers >before &&
	rm -f pause &&
	{ GEAR_TEST_PAUSE=daemon-stop GEAR_TEST_PAUSE_FILE="$PWD/pause" gear-daemon --listen "unix:$PWD/d.sock" & } &&
	pid=$! &&
	wait_until test -S d.sock &&
	kill $pid &&
	wait_until test -e pause &&
	late=$(curl -s --max-time 3 --unix-socket "$PWD/d.sock" -o late.out -w "%{http_code}" -X POST \
		--data-binary "{\"BaseImage\":\"$BUILDER\",\"Source\":\"$PWD/nosuch\",\"Tag\":\"$WEB:9\"}" http://gear/build-image || :) &&
	echo "late: $late" &&
	rm pause &&
	{ wait $pid; code=$?; } &&
	echo "daemon: $code" &&
	test "$late" != 202 &&
	test $code = 0 &&
	wait_until test_must_fail pgrep -f "build-image --stdin-args" &&
	leftovers >after &&
	test_cmp before after
'

test_expect_success 'cleanup: the container goes' '
	g gear-delete t36a
'

test_done
