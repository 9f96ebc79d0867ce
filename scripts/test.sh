#!/usr/bin/env bash
# Runs every pgjobs test: builds and installs the extension, starts a
# throwaway cluster, then runs the pg_regress suite (test/sql), the
# isolation specs (test/specs; claim_cursor again on a second cluster that
# preloads pgjobs), a seeded SQL fuzz (test/fuzz), the pgTAP
# API-contract tests (test/pgtap),
# the TAP tests (test/t, which start clusters of their own) and the
# Python layer's pytest suite (python/tests).
# The last line is "N passed, N failed"; the exit status is 0 only if
# nothing failed.
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_deps || exit 1
build_install || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
cluster_start || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
LOG=$(mktemp -d /tmp/pgjobs-test.XXXXXX)
chmod 777 "$LOG"

# tally FILE adds the "... ok" and "... FAILED" lines of pg_regress output.
tally() {
    local ok bad
    ok=$(grep -cE '\.\.\. ok' "$1")
    bad=$(grep -cE '\.\.\. (FAILED|failed)' "$1")
    passed=$((passed + ok))
    failed=$((failed + bad))
}

# report NAME STATUS counts one test that is not run by pg_regress.
report() {
    if [ "$2" = 0 ]; then
        echo "test $1 ... ok"
        passed=$((passed + 1))
    else
        echo "test $1 ... FAILED"
        failed=$((failed + 1))
    fi
}

echo "== pg_regress: test/sql"
make -s installcheck PG_CONFIG="$PG_CONFIG" ISOLATION= 2>&1 | tee "$LOG/regress.out"
tally "$LOG/regress.out"
[ -f regression.diffs ] && { echo "== regression.diffs"; cat regression.diffs; }

echo "== isolation: test/specs"
make -s installcheck PG_CONFIG="$PG_CONFIG" REGRESS= 2>&1 | tee "$LOG/isolation.out"
tally "$LOG/isolation.out"
[ -f output_iso/regression.diffs ] && { echo "== output_iso/regression.diffs"; cat output_iso/regression.diffs; }

# The claim cursor exists only where pgjobs is preloaded: its spec runs
# again on a cluster of its own that preloads it, with the cursor's
# periodic check off, so that only the lowerings and resets can make it pass.
echo "== isolation, pgjobs preloaded: test/specs/claim_cursor.spec"
(
    PGJOBS_PORT=$((PGPORT + 1))
    cluster_start "shared_preload_libraries = 'pgjobs'" \
        "pgjobs.claim_cursor_check_interval = 0" || exit 1
    make -s installcheck PG_CONFIG="$PG_CONFIG" REGRESS= ISOLATION=claim_cursor 2>&1
    [ -f output_iso/regression.diffs ] && { echo "== output_iso/regression.diffs"; cat output_iso/regression.diffs; }
) | tee "$LOG/isolation_preloaded.out"
tally "$LOG/isolation_preloaded.out"
grep -qE '\.\.\. (ok|FAILED|failed)' "$LOG/isolation_preloaded.out" || failed=$((failed + 1))

echo "== fuzz: test/fuzz/run.sh (thousands of random API calls: clean errors, no crash)"
PGJOBS_FUZZ_SERVER_LOG="$CLUSTER_DIR/server.log" bash test/fuzz/run.sh >"$LOG/fuzz.out" 2>&1
status=$?
cat "$LOG/fuzz.out"
tally "$LOG/fuzz.out"          # its "check ... ok" / "... FAILED" lines count like pg_regress's
[ "$status" = 0 ] || grep -q 'FAILED' "$LOG/fuzz.out" || failed=$((failed + 1))

echo "== pgTAP: test/pgtap"
psql -X -q -c "CREATE DATABASE pgtap_check" >/dev/null
psql -X -q -d pgtap_check -c "CREATE EXTENSION pgtap; CREATE EXTENSION pgjobs" >/dev/null
for t in test/pgtap/*.sql; do
    [ -e "$t" ] || continue
    pg_prove -d pgtap_check "$t" >"$LOG/pgtap.out" 2>&1
    status=$?
    [ "$status" = 0 ] || cat "$LOG/pgtap.out"
    report "$t" "$status"
done

echo "== TAP: test/t"
# The postgres OS user runs these and may not be able to read the checkout
# (a clone under /root, say): give it a copy.
cp -r test/t "$LOG/t" && chmod -R a+rX "$LOG/t"
# 005_postgres_exporter.pl reads the exporter's queries file from beside itself.
cp monitoring/postgres_exporter/queries.yaml "$LOG/t/" && chmod a+r "$LOG/t/queries.yaml"
for t in test/t/*.pl; do
    [ -e "$t" ] || continue
    tdir="$LOG/tap-$(basename "$t" .pl)"
    mkdir -p "$tdir" && chmod 777 "$tdir"
    (cd "$LOG" && as_pg env PATH="$PGBIN:$PATH" TESTDIR="$tdir" \
        PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
        prove -I "$PGXS_DIR/src/test/perl" -I t "t/$(basename "$t")") >"$LOG/tap.out" 2>&1
    status=$?
    cat "$LOG/tap.out"
    [ "$status" = 0 ] || find "$tdir" -name '*.log' -exec tail -n 40 {} \;
    report "$t" "$status"
done

echo "== pytest: python/tests"
# The Python layer against the same cluster, in its own database; the
# fixture creates the extension there with jobs-migrate.  CLUSTER_DIR and
# PGBIN let a test restart the server (pg_ctl restart, as postgres).
psql -X -q -c "CREATE DATABASE pgjobs_python" >/dev/null
(export CLUSTER_DIR PGBIN PGJOBS_TEST_DB=pgjobs_python PYTHONPATH=python PYTHONDONTWRITEBYTECODE=1
 /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests) >"$LOG/pytest.out" 2>&1
status=$?
cat "$LOG/pytest.out"
# the summary line: "N passed, N failed, N errors in S s" (any part may be absent)
summary=$(grep -E '^=*.*[0-9]+ (passed|failed|errors?)' "$LOG/pytest.out" | tail -n 1)
ok=$(echo "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
bad=$(echo "$summary" | grep -oE '[0-9]+ (failed|errors?)' | awk '{ n += $1 } END { print n + 0 }')
ok=${ok:-0}
bad=${bad:-0}
# pytest failed without saying what: count the suite as one failure
[ "$status" != 0 ] && [ "$bad" = 0 ] && bad=1
passed=$((passed + ok))
failed=$((failed + bad))

cluster_stop

echo "== bench: bash bench/run.sh --quick (the suite runs end to end; its figures mean nothing)"
PGJOBS_PORT= bash bench/run.sh --quick >"$LOG/bench.out" 2>&1
status=$?
[ "$status" = 0 ] || cat "$LOG/bench.out"
report "bench/run.sh --quick" "$status"

echo "== bench: bash bench/scale.sh --quick (the same for the scale and endurance workloads)"
PGJOBS_PORT= bash bench/scale.sh --quick >"$LOG/scale.out" 2>&1
status=$?
[ "$status" = 0 ] || cat "$LOG/scale.out"
report "bench/scale.sh --quick" "$status"

echo "== bench: bash bench/instructions.sh --quick (the instruction counts, under valgrind)"
PGJOBS_PORT= bash bench/instructions.sh --quick >"$LOG/instructions.out" 2>&1
status=$?
[ "$status" = 0 ] || cat "$LOG/instructions.out"
report "bench/instructions.sh --quick" "$status"

rm -rf "$LOG"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
