#!/bin/sh
test_description='gear-env and gear-set-env: environment files'
. "$(dirname "$0")/lib/test-lib.sh"

ENVDIR="$CTR/env/contents"

# refused CODE MESSAGE CMD...: exits CODE, prints MESSAGE on stderr and
# nothing on stdout, and leaves the tree as it was
refused() {
	want_code=$1 want_msg=$2 &&
	shift 2 &&
	test_snap before &&
	test_expect_code "$want_code" "$@" >out 2>err &&
	printf "%s\n" "$want_msg" >expect &&
	test_cmp expect err &&
	test_must_fail test -s out &&
	test_snap after &&
	test_cmp before after
}

test_expect_success '--help prints usage on stdout and exits 0' '
	gear-env --help >out 2>err &&
	echo "usage: gear-env ID" >expect &&
	test_cmp expect out &&
	test_must_fail test -s err &&
	gear-set-env --help >out 2>err &&
	echo "usage: gear-set-env ID [--reset] [--env-file FILE]... [NAME[=VALUE]]..." >expect &&
	test_cmp expect out &&
	test_must_fail test -s err
'

test_expect_success 'a bad option, a missing ID or missing variables exit 100 with usage' '
	echo "usage: gear-set-env ID [--reset] [--env-file FILE]... [NAME[=VALUE]]..." >usage &&
	test_expect_code 100 gear-set-env abcd --bogus >out 2>err &&
	{ echo "gear-set-env: unknown option '\''--bogus'\''" && cat usage; } >expect &&
	test_cmp expect err &&
	test_must_fail test -s out &&
	test_expect_code 100 gear-set-env abcd A=1 --bogus >out 2>err &&
	{ echo "gear-set-env: unknown option '\''--bogus'\''" && cat usage; } >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-set-env abcd --env-file >out 2>err &&
	{ echo "gear-set-env: option '\''--env-file'\'' needs an argument" && cat usage; } >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-set-env >out 2>err &&
	{ echo "gear-set-env: missing ID" && cat usage; } >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-set-env abcd >out 2>err &&
	{ echo "gear-set-env: no variables given" && cat usage; } >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-env >out 2>err &&
	{ echo "gear-env: missing ID" && echo "usage: gear-env ID"; } >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-env abcd efgh >out 2>err &&
	{ echo "gear-env: too many arguments" && echo "usage: gear-env ID"; } >expect &&
	test_cmp expect err &&
	test_expect_code 100 gear-env -x abcd >out 2>err &&
	{ echo "gear-env: unknown option '\''-x'\''" && echo "usage: gear-env ID"; } >expect &&
	test_cmp expect err &&
	test_must_fail test -e "$GEAR_SYSROOT"
'

test_expect_success 'gear-env of a missing environment exits 1' '
	refused 1 "gear-env: no environment '\''abcd'\''" gear-env abcd &&
	mkdir -p "$ENVDIR/ab" &&
	refused 1 "gear-env: no environment '\''abcd'\''" gear-env localhost/abcd
'

test_expect_success 'set writes NAME=VALUE lines, mode 0600 under a root-only env/' '
	gear-set-env abcd A=1 B=two >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err &&
	printf "A=1\nB=two\n" >expect &&
	test_cmp expect "$ENVDIR/ab/abcd" &&
	test "$(stat -c %a "$ENVDIR/ab/abcd")" = 600 &&
	test "$(stat -c %a "$CTR/env")" = 700
'

test_expect_success 'gear-env prints the file verbatim' '
	gear-env abcd >out 2>err &&
	test_cmp "$ENVDIR/ab/abcd" out &&
	test_must_fail test -s err
'

test_expect_success 'patch keeps order, replaces in place and appends' '
	gear-set-env abcd C=3 A=one &&
	printf "A=one\nB=two\nC=3\n" >expect &&
	test_cmp expect "$ENVDIR/ab/abcd" &&
	gear-set-env abcd B= D=4 &&
	printf "A=one\nB=\nC=3\nD=4\n" >expect &&
	test_cmp expect "$ENVDIR/ab/abcd"
'

test_expect_success 'a variable given twice keeps its first place and its last value' '
	gear-set-env abcd E=1 A=x E=2 A=y &&
	printf "A=y\nB=\nC=3\nD=4\nE=2\n" >expect &&
	test_cmp expect "$ENVDIR/ab/abcd"
'

test_expect_success '--reset replaces the whole file' '
	gear-set-env abcd --reset Z=26 Y=25 &&
	printf "Z=26\nY=25\n" >expect &&
	test_cmp expect "$ENVDIR/ab/abcd"
'

test_expect_success '--reset alone truncates to an empty file' '
	gear-set-env --reset abcd &&
	test -f "$ENVDIR/ab/abcd" &&
	test_must_fail test -s "$ENVDIR/ab/abcd" &&
	gear-env abcd >out &&
	test_must_fail test -s out &&
	gear-set-env --reset newid &&
	test -f "$ENVDIR/ne/newid" &&
	test_must_fail test -s "$ENVDIR/ne/newid"
'

test_expect_success 'the localhost/ID and local/ID forms name the same file' '
	gear-set-env localhost/abcd A=1 &&
	gear-set-env local/abcd B=2 &&
	printf "A=1\nB=2\n" >expect &&
	test_cmp expect "$ENVDIR/ab/abcd" &&
	gear-env local/abcd >out &&
	test_cmp expect out &&
	test_must_fail test -e "$ENVDIR/lo"
'

test_expect_success 'env file: comments, blank lines, quotes, spaces, CRLF' '
	printf "%s\r\n" "# a comment" "" "   # indented comment" "  SPACED  =  a value  " \
		"DQ=\"double quoted\"" "SQ='\''single quoted'\''" "PAD=\"  kept  \"" \
		"HALF=\"unmatched" "MIX=\"mixed'\''" "EQ=a=b=c" "HASH=x # not a comment" \
		"EMPTY=" "QEMPTY=\"\"" "	TAB	=	tab	" >in.env &&
	printf "LAST=no newline" >>in.env &&
	gear-set-env --reset ef01 --env-file in.env &&
	cat >expect <<-\EOF &&
	SPACED=a value
	DQ=double quoted
	SQ=single quoted
	PAD=  kept  
	HALF="unmatched
	MIX="mixed'\''
	EQ=a=b=c
	HASH=x # not a comment
	EMPTY=
	QEMPTY=
	TAB=tab
	LAST=no newline
	EOF
	test_cmp expect "$ENVDIR/ef/ef01"
'

test_expect_success 'arguments follow the same rules' '
	gear-set-env --reset ef02 " A = 1 " "B=\"q\"" "C='\''s p'\''" &&
	printf "A=1\nB=q\nC=s p\n" >expect &&
	test_cmp expect "$ENVDIR/ef/ef02"
'

test_expect_success 'env files apply in order, then arguments, which win' '
	printf "A=file1\nB=file1\n" >one.env &&
	printf "B=file2\nC=file2\n" >two.env &&
	gear-set-env --reset ef03 A=arg --env-file one.env --env-file two.env &&
	printf "A=arg\nB=file2\nC=file2\n" >expect &&
	test_cmp expect "$ENVDIR/ef/ef03"
'

test_expect_success '--env-file - reads stdin' '
	printf "S=from stdin\n" | gear-set-env ef03 --env-file - T=arg &&
	printf "A=arg\nB=file2\nC=file2\nS=from stdin\nT=arg\n" >expect &&
	test_cmp expect "$ENVDIR/ef/ef03"
'

test_expect_success 'a bare NAME takes its value from the environment, or is skipped' '
	printf "FROMENV\nUNSET_VAR\n" >bare.env &&
	unset UNSET_VAR &&
	FROMENV="file value" ARGENV=" spaced  " \
		gear-set-env --reset ef04 --env-file bare.env ARGENV UNSET_VAR &&
	printf "FROMENV=file value\nARGENV= spaced  \n" >expect &&
	test_cmp expect "$ENVDIR/ef/ef04"
'

test_expect_success 'names: 255 bytes and underscores are fine' '
	name=$(printf "%0255d" 0 | tr 0 N) &&
	gear-set-env --reset nm01 "$name=long" _x=1 a_B9=2 &&
	printf "%s=long\n_x=1\na_B9=2\n" "$name" >expect &&
	test_cmp expect "$ENVDIR/nm/nm01"
'

test_expect_success 'values: a NAME=VALUE of 65535 bytes is fine (the longest line podman --env-file reads)' '
	value=$(printf "%065533d" 0) &&
	gear-set-env --reset val1 "V=$value" &&
	printf "V=%s\n" "$value" >expect &&
	test_cmp expect "$ENVDIR/va/val1"
'

test_expect_success 'a bad line in an env file is refused with its line number' '
	printf "A=1\n# ok\n1ABC=2\n" >bad.env &&
	refused 100 "gear-set-env: bad.env:3: invalid variable name '\''1ABC'\''" \
		gear-set-env abcd --env-file bad.env &&
	printf "A=1\nA B=2\n" >bad.env &&
	refused 100 "gear-set-env: bad.env:2: invalid variable name '\''A B'\''" \
		gear-set-env abcd --env-file bad.env &&
	printf "=x\n" >bad.env &&
	refused 100 "gear-set-env: bad.env:1: invalid variable name '\'''\''" \
		gear-set-env abcd --env-file bad.env &&
	printf "A-B=1\r\n" >bad.env &&
	refused 100 "gear-set-env: bad.env:1: invalid variable name '\''A-B'\''" \
		gear-set-env nothere --env-file bad.env &&
	printf "A=x\0y\n" >bad.env &&
	refused 100 "gear-set-env: bad.env:1: value of '\''A'\'' contains a NUL byte" \
		gear-set-env abcd --env-file bad.env &&
	printf "A=1\nB=x\ry\n" >bad.env &&
	refused 100 "gear-set-env: bad.env:2: value of '\''B'\'' contains a carriage return" \
		gear-set-env abcd --env-file bad.env &&
	printf "OK=1\n\tB\001C=1\n" >bad.env &&
	refused 100 "gear-set-env: bad.env:2: invalid variable name '\''B\\x01C'\''" \
		gear-set-env abcd --env-file bad.env &&
	printf "A=1\n1ABC=2\n" | refused 100 "gear-set-env: stdin:2: invalid variable name '\''1ABC'\''" \
		gear-set-env abcd --env-file -
'

test_expect_success 'a bad argument is refused with its position' '
	refused 100 "gear-set-env: argument 2: invalid variable name '\''1ABC'\''" \
		gear-set-env abcd A=1 1ABC=2 &&
	refused 100 "gear-set-env: argument 2: invalid variable name '\'''\''" \
		gear-set-env abcd A=1 "" &&
	refused 100 "gear-set-env: argument 1: invalid variable name '\''#A'\''" \
		gear-set-env abcd "#A=1" &&
	refused 100 "gear-set-env: argument 1: value of '\''A'\'' contains a newline" \
		gear-set-env abcd "A=x
y" &&
	NL="a
b" &&
	export NL &&
	refused 100 "gear-set-env: argument 1: environment variable '\''NL'\'' contains a newline" \
		gear-set-env abcd NL
'

test_expect_success 'names over 255 bytes and a NAME=VALUE over 65535 bytes are refused' '
	name=$(printf "%0256d" 0 | tr 0 N) &&
	refused 100 "gear-set-env: argument 1: variable name '\''NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN...'\'' is longer than 255 bytes" \
		gear-set-env abcd "$name=1" &&
	value=$(printf "%065534d" 0) &&
	refused 100 "gear-set-env: argument 2: value of '\''V'\'' is longer than 65533 bytes (NAME=VALUE at most 65535)" \
		gear-set-env abcd A=1 "V=$value" &&
	printf "VV=\"%s\"\n" "$(printf "%065533d" 0)" >big.env &&
	refused 100 "gear-set-env: big.env:1: value of '\''VV'\'' is longer than 65532 bytes (NAME=VALUE at most 65535)" \
		gear-set-env abcd --env-file big.env
'

test_expect_success 'an env file over 1 MiB or over 4096 variables is refused' '
	awk "BEGIN { for (i = 0; i < 17; i++) printf \"V%d=%064000d\n\", i, 0 }" >huge.env &&
	refused 100 "gear-set-env: huge.env: larger than 1048576 bytes" \
		gear-set-env abcd --env-file huge.env &&
	awk "BEGIN { for (i = 1; i <= 4097; i++) printf \"V%d=%d\n\", i, i }" >many.env &&
	refused 100 "gear-set-env: many.env:4097: more than 4096 variables" \
		gear-set-env abcd --env-file many.env &&
	head -n 4096 many.env >max.env &&
	gear-set-env --reset many --env-file max.env &&
	test_cmp max.env "$ENVDIR/ma/many"
'

test_expect_success 'a patch that would pass the limits is refused' '
	refused 100 "gear-set-env: cannot set environment '\''many'\'': more than 4096 variables" \
		gear-set-env many V1=x NEW=1 &&
	awk "BEGIN { for (i = 0; i < 16; i++) printf \"V%d=%064000d\n\", i, 0 }" >big1.env &&
	gear-set-env --reset bigs --env-file big1.env &&
	awk "BEGIN { printf \"W=%064000d\n\", 0 }" >big2.env &&
	refused 100 "gear-set-env: cannot set environment '\''bigs'\'': the environment would be larger than 1048576 bytes" \
		gear-set-env bigs --env-file big2.env &&
	gear-set-env bigs V1=small &&
	grep -x V1=small "$ENVDIR/bi/bigs"
'

test_expect_success 'a missing env file is refused' '
	refused 100 "gear-set-env: cannot open '\''no.env'\'': No such file or directory" \
		gear-set-env abcd --env-file no.env A=1
'

test_expect_success 'a damaged stored file is reported, not overwritten' '
	mkdir -p "$ENVDIR/da" &&
	printf "A=1\nnot a variable\n" >"$ENVDIR/da/damaged" &&
	refused 100 "gear-set-env: cannot set environment '\''damaged'\'': $ENVDIR/da/damaged:2: invalid variable name '\''not a variable'\''" \
		gear-set-env damaged B=2 &&
	gear-env damaged >out &&
	test_cmp "$ENVDIR/da/damaged" out &&
	gear-set-env --reset damaged B=2 &&
	echo B=2 >expect &&
	test_cmp expect "$ENVDIR/da/damaged"
'

test_expect_success 'comments and blank lines an administrator adds are dropped by a patch' '
	printf "# set by hand\nA=1\n\nB= x \n" >"$ENVDIR/da/damaged" &&
	gear-set-env damaged C=3 &&
	printf "A=1\nB= x \nC=3\n" >expect &&
	test_cmp expect "$ENVDIR/da/damaged"
'

test_expect_success 'invalid identifiers are refused and nothing is created' '
	long=abcdefghijklmnopqrstuvwxy &&
	for id in "" abc "$long" "ab cd" "ab/cd" "abc!" ../x ..ab -abc .abc localhost/../x \
		localhost/ local/ab "abcd/" "ab\\cd"; do
		msg="invalid identifier '\''$id'\'': want 4 to 24 characters of [A-Za-z0-9_.-], not starting with '\''.'\'' or '\''-'\''" &&
		refused 100 "gear-set-env: $msg" gear-set-env -- "$id" A=1 &&
		refused 100 "gear-set-env: $msg" gear-set-env --reset -- "$id" &&
		refused 100 "gear-env: $msg" gear-env -- "$id" || return 1
	done &&
	rm -rf "$GEAR_SYSROOT" &&
	refused 100 "gear-set-env: invalid identifier '\''../x'\'': want 4 to 24 characters of [A-Za-z0-9_.-], not starting with '\''.'\'' or '\''-'\''" \
		gear-set-env ../x A=1 &&
	test_must_fail test -e "$GEAR_SYSROOT"
'

test_expect_success 'input is checked before anything is created' '
	refused 100 "gear-set-env: argument 1: invalid variable name '\''1A'\''" gear-set-env abcd 1A=1 &&
	test_must_fail test -e "$GEAR_SYSROOT"
'

test_expect_success '20 concurrent patches of one environment all land' '
	gear-set-env conc BASE=0 &&
	for i in $(seq 1 20); do
		{ gear-set-env conc "V$i=$i" 2>err.$i; echo $? >rc.$i; } &
	done &&
	wait &&
	for i in $(seq 1 20); do
		test "$(cat rc.$i)" = 0 && test_must_fail test -s err.$i || return 1
	done &&
	{ echo BASE=0 && for i in $(seq 1 20); do echo "V$i=$i"; done; } | sort >expect &&
	sort "$ENVDIR/co/conc" >actual &&
	test_cmp expect actual &&
	head -n 1 "$ENVDIR/co/conc" >first &&
	echo BASE=0 >expect &&
	test_cmp expect first &&
	ls -A "$ENVDIR/co" >files &&
	echo conc >expect &&
	test_cmp expect files
'

test_done
