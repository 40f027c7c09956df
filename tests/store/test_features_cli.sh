#!/bin/sh
# `mlship features load/get` end to end: on SQLite always, on PostgreSQL and Redis when
# MLSHIP_TEST_PG_URL / MLSHIP_TEST_REDIS_URL are set (`. build/services.env` after
# `scripts/services.sh start`). Usage: tests/store/test_features_cli.sh [build/mlship]
M=${1:-build/mlship}
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
dir=$(mktemp -d /tmp/mlship-features-XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 2
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
expect() { # name expected-exit-code command...  (stderr kept in err.txt)
  name=$1; want=$2; shift 2
  "$@" >out.txt 2>err.txt; got=$?
  if [ "$got" -eq "$want" ]; then ok; else bad "$name: exit $got, expected $want"; cat err.txt; fi
}
has() { # name pattern file
  if grep -q -- "$2" "$3"; then ok; else bad "$1: no '$2' in $3:"; cat "$3"; fi
}

printf 'id,f0,f1,"f2"\r\nc_1,1.5,2,3\r\n"c,2",,"4",5e1\r\n\r\n"c ""3""",7,8,9\n' > good.csv
printf 'id,f0,f1,f2\nc_1,100,100,100\nc_new,1,2\n' > short.csv
printf 'id,f0,f1,f2\nc_1,100,100,100\nc_new,1,"2\n3,4\n' > unterminated.csv
printf 'id,f0,f1,f2\nc_1,100,100,100\nc_new,1,abc,2\n' > nonnum.csv
printf 'id,f0,f0\nc_1,1,2\n' > dup.csv
printf 'id,f 0\nc_1,1\n' > badname.csv

run() { # backend-name url table
  name=$1; url=$2; t=$3
  expect "$name load" 0 "$M" features load --store "$url" --table "$t" --key id -q good.csv
  expect "$name get" 0 "$M" features get --store "$url" --table "$t" --key id --columns f0,f1,f2 \
    c_1 'c,2' 'c "3"' nope
  has "$name c_1" '{"key": "c_1", "found": true, "features": \[1.5, 2, 3\]}' out.txt
  has "$name c,2" '{"key": "c,2", "found": true, "features": \[null, 4, 50\]}' out.txt
  has "$name quotes" '"c \\"3\\"", "found": true, "features": \[7, 8, 9\]' out.txt
  has "$name nope" '{"key": "nope", "found": false' out.txt
  expect "$name short row" 2 "$M" features load --store "$url" --table "$t" --key id short.csv
  has "$name short row message" 'short.csv:3: 3 fields, the header has 4' err.txt
  expect "$name unterminated" 2 "$M" features load --store "$url" --table "$t" --key id unterminated.csv
  has "$name unterminated message" 'unterminated quoted field (the quote opens on line 3)' err.txt
  expect "$name non-number" 2 "$M" features load --store "$url" --table "$t" --key id nonnum.csv
  has "$name non-number message" "nonnum.csv:3: column 'f1': 'abc' is not a number" err.txt
  expect "$name dup column" 2 "$M" features load --store "$url" --table "$t" --key id dup.csv
  expect "$name bad column" 2 "$M" features load --store "$url" --table "$t" --key id badname.csv
  expect "$name missing key column" 2 "$M" features load --store "$url" --table "$t" --key cid good.csv
  # every failed load left the rows as they were: c_1 unchanged, c_new absent
  expect "$name get after failures" 0 "$M" features get --store "$url" --table "$t" --key id \
    --columns f0,f1,f2 c_1 c_new
  has "$name c_1 intact" '{"key": "c_1", "found": true, "features": \[1.5, 2, 3\]}' out.txt
  has "$name c_new absent" '{"key": "c_new", "found": false' out.txt
}

expect "usage" 2 "$M" features
expect "help" 0 "$M" features --help
expect "bad url" 2 "$M" features load --store mysql://x --table t --key id good.csv
expect "bad table" 2 "$M" features load --store sqlite://x.db --table 'a;b' --key id good.csv
expect "missing file" 2 "$M" features load --store sqlite://x.db --table t --key id nofile.csv
mkdir -p adir
expect "directory" 2 "$M" features load --store sqlite://x.db --table t --key id adir
has "directory message" "is a directory" err.txt
# bytes of a junk CSV are quoted escaped (\xNN), never raw, and cut with "..."
printf 'id,a\377\001b\n' > junkhead.csv
expect "junk header" 2 "$M" features load --store sqlite://x.db --table t --key id junkhead.csv
has "junk header escaped" "invalid column name 'a\\\\xff\\\\x01b'" err.txt
printf 'id,a\nk1,1\033[2J\303\251%s\n' "$(printf '%070d' 0)" > junkcell.csv
expect "junk cell" 2 "$M" features load --store sqlite://x.db --table t --key id junkcell.csv
has "junk cell escaped" "'1\\\\x1b\[2J\\\\xc3\\\\xa9000" err.txt
has "junk cell cut" "000\.\.\.' is not a number" err.txt
if LC_ALL=C grep -q "$(printf '\033')" err.txt; then bad "junk cell: raw escape byte in the message"; else ok; fi
run sqlite "sqlite://$dir/f.db" feats
tbl="feats_$$"
if [ -n "$MLSHIP_TEST_PG_URL" ]; then run postgresql "$MLSHIP_TEST_PG_URL" "$tbl"
else echo "skip postgresql: MLSHIP_TEST_PG_URL not set"; skip=$((skip + 1)); fi
if [ -n "$MLSHIP_TEST_REDIS_URL" ]; then run redis "$MLSHIP_TEST_REDIS_URL" "$tbl"
else echo "skip redis: MLSHIP_TEST_REDIS_URL not set"; skip=$((skip + 1)); fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
