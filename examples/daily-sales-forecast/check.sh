#!/bin/sh
# examples/daily-sales-forecast/check.sh: runs the README's "Run it" block (the batch run into
# SQLite and into PostgreSQL, twice, and the lookups), compares every stored prediction with
# XGBoost's own (reference.csv, from make_model.py), and checks the systemd units: the README
# shows them as committed, `systemd-analyze verify` accepts them, and their ExecStart is the
# block's PostgreSQL command. No PostgreSQL test server (MLSHIP_TEST_PG_URL): its lines are
# left out and counted as skipped; no systemd-analyze: its check is skipped.
# Usage: sh examples/daily-sales-forecast/check.sh [path/to/mlship]
. "$(dirname "$0")/../lib.sh"
ex_setup daily-sales-forecast "$@"
PG_README=postgresql://mlship@db.example.com/shop
if [ -n "${MLSHIP_TEST_PG_URL:-}" ]; then subst="s#$PG_README#$MLSHIP_TEST_PG_URL#g"
else subst="\\#$PG_README#d"; skip "PostgreSQL lines of the README: no test server (MLSHIP_TEST_PG_URL; scripts/services.sh start)"; fi
if run_readme "$subst"; then ok "the README's commands ran"; else bad "the README's commands failed"; show_failure; finish; fi

tail -n +2 "$EX/reference.csv" | cut -d, -f2 >"$T/want"
# compare_store NAME URL: every published prediction in the store against XGBoost's
compare_store() {
  if ! mlship lookup --store "$2" --model sales --all >"$T/all" 2>"$T/lerr"; then bad "$1: lookup --all: $(cat "$T/lerr")"; return; fi
  sed -n 's/.*"outputs":{"predictions":\[\([^]]*\)\]}}$/\1/p' "$T/all" >"$T/got"
  cut -d'"' -f4 "$T/all" >"$T/keys"
  if tail -n +2 "$EX/reference.csv" | cut -d, -f1 | cmp -s - "$T/keys"; then ok "$1: one published prediction per store, s_01..s_40"
  else bad "$1: the stored keys are not the 40 stores"; fi
  if r=$(close_all "$T/got" "$T/want" 1e-5); then ok "$1: every store's prediction is XGBoost's ($r)"
  else bad "$1: predictions vs XGBoost: $r"; fi
}
# lookup_two NAME PATTERN: the README's lookup of s_07 and s_21
lookup_two() {
  section "$2" | sed -n 's/.*"outputs":{"predictions":\[\([^]]*\)\]}}$/\1/p' >"$T/got2"
  grep -E '^s_(07|21),' "$EX/reference.csv" | cut -d, -f2 >"$T/want2"
  if r=$(close_all "$T/got2" "$T/want2" 1e-5); then ok "$1: the README's lookup of s_07, s_21 answers XGBoost's ($r)"
  else bad "$1: lookup s_07 s_21: $r: $(section "$2")"; fi
}

case "$(section 'sqlite://forecast.db$')" in
  *"40 rows scored, 0 rejected"*published*) ok "sqlite: the run scored 40 rows and was published" ;;
  *) bad "sqlite: batch said: $(section 'sqlite://forecast.db$')" ;;
esac
compare_store sqlite "sqlite://$W/forecast.db"
lookup_two sqlite 'lookup --store sqlite'

if [ -n "${MLSHIP_TEST_PG_URL:-}" ]; then
  runs=$(grep -c "^>>> mlship batch .*$MLSHIP_TEST_PG_URL" "$T/out")
  second=$(awk -v u="$MLSHIP_TEST_PG_URL" 'index($0, ">>> mlship batch") == 1 && index($0, u) { n++; next }
    index($0, ">>> ") == 1 { n = (n == 2) ? 3 : n } n == 2 && $0 != "" { print }' "$T/out")
  case "$runs $second" in
    "2 "*"already published"*"nothing to do"*) ok "postgresql: the second start on the same file does nothing: $second" ;;
    *) bad "postgresql: the second start said: '$second'" ;;
  esac
  compare_store postgresql "$MLSHIP_TEST_PG_URL"
  lookup_two postgresql 'lookup --store postgresql'
fi

# the README's sample lookup line shows XGBoost's number for s_07
shown=$(sed -n '/^## Run it/,/^## Every/p' "$EX/README.md" | sed -n 's/^{"key":"s_07".*"predictions":\[\([^]]*\)\]}}$/\1/p')
echo "$shown" >"$T/shown"; grep '^s_07,' "$EX/reference.csv" | cut -d, -f2 >"$T/want3"
if r=$(close_all "$T/shown" "$T/want3" 1e-5); then ok "the README's sample lookup shows XGBoost's s_07 ($r)"; else bad "README sample lookup: $r"; fi

# ---- the systemd units ------------------------------------------------------------------------
for u in service timer; do
  f=mlship-sales-forecast.$u
  sed -n '/^## Every night/,/^## /p' "$EX/README.md" | sed -n '/^```ini/,/^```/p' |
    awk -v f="/etc/systemd/system/$f" '/^```/ { on = 0; next } $0 == "# " f { on = 1 } on' >"$T/readme.$u"
  if cmp -s "$T/readme.$u" "$EX/$f"; then ok "the README shows $f as committed"; else bad "the README's $f differs from the committed file"; diff "$T/readme.$u" "$EX/$f" | head -n 5; fi
done
exec_line=$(sed -n 's/^ExecStart=//p' "$EX/mlship-sales-forecast.service")
as_run=$(echo "$exec_line" | sed 's#^/usr/local/bin/mlship #mlship #; s#/srv/forecast/##g')
if readme_block | grep -qxF "$as_run"; then ok "ExecStart is the README's PostgreSQL batch command (paths under /srv/forecast/)"
else bad "ExecStart ($as_run) is not a command of the README's block"; fi
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$T/units"
  # verify needs the ExecStart binary to exist: the mlship under test stands in for /usr/local/bin/mlship
  sed "s#^ExecStart=/usr/local/bin/mlship #ExecStart=$M #" "$EX/mlship-sales-forecast.service" >"$T/units/mlship-sales-forecast.service"
  cp "$EX/mlship-sales-forecast.timer" "$T/units/"
  if (cd "$T/units" && systemd-analyze verify mlship-sales-forecast.service mlship-sales-forecast.timer) >"$T/verify" 2>&1
  then ok "systemd-analyze verify accepts the service and the timer"
  else bad "systemd-analyze verify: $(cat "$T/verify")"; fi
  next=$(systemd-analyze calendar "$(sed -n 's/^OnCalendar=//p' "$EX/mlship-sales-forecast.timer")" 2>&1 | sed -n 's/^ *Next elapse: //p')
  case "$next" in *" 01:30:00 "*) ok "the timer fires at 01:30 ($next)" ;; *) bad "the timer's next elapse: '$next'" ;; esac
else
  skip "systemd-analyze verify: systemd-analyze is not installed"
fi
finish
