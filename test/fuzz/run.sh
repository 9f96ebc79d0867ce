#!/usr/bin/env bash
# test/fuzz/run.sh: SQL-level fuzz test of the pgjobs API.
#
#   bash test/fuzz/run.sh        # against the server PGHOST/PGPORT/PGUSER name
#
# Thousands of seeded random statements calling every function of the
# installed extension (publish, publish_bulk, consume, consume_topic, ack,
# nack, expire, retry_delay; 1.1's ack_batch, nack_batch, touch, progress,
# release, cancel, retry, retry_topic, pause, resume, set_limit,
# check_topic_pattern, wake_consumers, cron_next, schedule, unschedule,
# run_schedules; and any function added later) with random,
# NULL, extreme and malformed arguments, in every calling context (FROM,
# target list, LATERAL, CTE, cursor, prepared statement, PL/pgSQL, trigger,
# transaction blocks and savepoints), from several concurrent sessions.
# Each statement must end in success or a clean error.  Then it checks that
# no backend crashed (the sessions ran to the end, the server is up, no
# crash-and-restart reset the statistics, the server log has no crash or
# resource-leak lines), that no "can't happen" error (SQLSTATE class XX) was
# raised (but for the catalog races PostgreSQL itself has with a concurrent
# DROP EXTENSION, listed apart), that the queue tables are consistent, and
# that the API still works.
#
# The caller starts the cluster; the user must be a superuser (the fuzz
# creates its own database, PGJOBS_FUZZ_DB, and the extension in it).
# The last line is "N passed, N failed"; the exit status is 0 only if no
# check failed.
#
# Settings (environment):
#   PGJOBS_FUZZ_SEED         seed (default 20261125); session i uses SEED+i
#   PGJOBS_FUZZ_STATEMENTS   statements per session (default 5000)
#   PGJOBS_FUZZ_SESSIONS     concurrent sessions (default 2)
#   PGJOBS_FUZZ_DB           database to create and drop (default pgjobs_fuzz)
#   PGJOBS_FUZZ_STATEMENT_TIMEOUT  per statement (default 250ms; it also ends
#                            the calls that wait for jobs)
#   PGJOBS_FUZZ_SERVER_LOG   the server's log file (default: pg_current_logfile(),
#                            else $PGHOST/server.log as scripts/lib.sh writes it)
#   PGJOBS_FUZZ_OUT          where to keep the scripts and outputs (default: a
#                            temporary directory, removed when every check passes)
#   PGJOBS_FUZZ_KEEP=1       keep the database and the outputs
#
# To replay a failure: the same settings give the same statements (the
# outcomes of concurrent sessions can still differ with timing);
# PGJOBS_FUZZ_SESSIONS=1 makes a run reproducible up to clock readings.
set -u
cd "$(dirname "$0")/../.." || exit 2

SEED=${PGJOBS_FUZZ_SEED:-20261125}
STATEMENTS=${PGJOBS_FUZZ_STATEMENTS:-5000}
SESSIONS=${PGJOBS_FUZZ_SESSIONS:-2}
DB=${PGJOBS_FUZZ_DB:-pgjobs_fuzz}
STATEMENT_TIMEOUT=${PGJOBS_FUZZ_STATEMENT_TIMEOUT:-250ms}
ADMIN_DB=${PGDATABASE:-postgres}
[ "$ADMIN_DB" = "$DB" ] && ADMIN_DB=postgres
if [ -n "${PGJOBS_FUZZ_OUT:-}" ]; then
    OUT=$PGJOBS_FUZZ_OUT
    mkdir -p "$OUT"
    KEEP_OUT=1
else
    OUT=$(mktemp -d /tmp/pgjobs-fuzz.XXXXXX)
    KEEP_OUT=${PGJOBS_FUZZ_KEEP:-}
fi
export PGCLIENTENCODING=UTF8 PGAPPNAME=pgjobs_fuzz

passed=0
failed=0
skipped=0

# check NAME STATUS [DETAIL] counts one check: STATUS 0 passes, "skip" skips.
check() {
    if [ "$2" = skip ]; then
        echo "check $1 ... skipped${3:+ ($3)}"
        skipped=$((skipped + 1))
    elif [ "$2" = 0 ]; then
        echo "check $1 ... ok"
        passed=$((passed + 1))
    else
        echo "check $1 ... FAILED${3:+: $3}"
        failed=$((failed + 1))
    fi
}

finish() {
    echo "fuzz: seed $SEED, $SESSIONS sessions x $STATEMENTS statements; outputs in $OUT"
    if [ "$failed" = 0 ] && [ -z "$KEEP_OUT" ]; then
        rm -rf "$OUT"
        echo "fuzz: all checks passed; outputs removed (PGJOBS_FUZZ_KEEP=1 keeps them)"
    fi
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit
}

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }       # one value out
qa() { q -d "$ADMIN_DB" "$@"; }
qf() { q -d "$DB" "$@"; }

# --- Before: the server's state, to compare with after -----------------------

if ! qa -c 'SELECT 1' >/dev/null 2>"$OUT/connect.err"; then
    cat "$OUT/connect.err"
    check "server reachable (PGHOST=${PGHOST:-} PGPORT=${PGPORT:-})" 1
    finish
fi
if [ "$(qa -c 'SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user')" != t ]; then
    check "connected as a superuser" 1 "the fuzz creates a database and the extension"
    finish
fi

# How the statistics look: a crash and restart discards them (PostgreSQL 15
# resets every cumulative statistic and stamps stats_reset anew).
STATS_SQL="SELECT pg_catalog.pg_postmaster_start_time(),
                  (SELECT stats_reset FROM pg_catalog.pg_stat_archiver),
                  (SELECT pg_catalog.sum(xact_commit + xact_rollback) FROM pg_catalog.pg_stat_database)"
# (A database a failed run kept goes first: dropping it drops its counts.)
qa -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
stats_before=$(qa -F '|' -c "$STATS_SQL")

SERVER_LOG=${PGJOBS_FUZZ_SERVER_LOG:-}
if [ -z "$SERVER_LOG" ]; then
    logfile=$(qa -c "SELECT pg_catalog.pg_current_logfile()" 2>/dev/null)
    if [ -n "$logfile" ]; then
        case $logfile in
            /*) SERVER_LOG=$logfile ;;
            *) SERVER_LOG="$(qa -c 'SHOW data_directory')/$logfile" ;;
        esac
    elif [ -n "${PGHOST:-}" ] && [ -f "${PGHOST}/server.log" ]; then
        SERVER_LOG="$PGHOST/server.log"
    fi
fi
log_offset=0
if [ -n "$SERVER_LOG" ] && [ -r "$SERVER_LOG" ]; then
    log_offset=$(stat -c %s "$SERVER_LOG")
else
    SERVER_LOG=
fi

# --- A database of our own, and the helpers the statements use ---------------

qa -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
if ! qa -c "CREATE DATABASE $DB" >"$OUT/setup.out" 2>&1 ||
   ! qf >>"$OUT/setup.out" 2>&1 <<SQL
ALTER DATABASE $DB SET statement_timeout = '$STATEMENT_TIMEOUT';
ALTER DATABASE $DB SET client_min_messages = warning;
ALTER DATABASE $DB SET max_parallel_workers_per_gather = 0;
CREATE EXTENSION pgjobs;

-- a table whose trigger publishes, as an application would
CREATE TABLE fuzz_publishing (task varchar, body jsonb);
CREATE FUNCTION fuzz_publish_trigger() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    PERFORM jobs.publish(NEW.task, NEW.body);
    RETURN NEW;
END \$\$;
CREATE TRIGGER fuzz_publish AFTER INSERT ON fuzz_publishing
    FOR EACH ROW EXECUTE FUNCTION fuzz_publish_trigger();

-- a PL/pgSQL worker: acks (mode 0), nacks (1), acks in a subtransaction it
-- rolls back and then nacks (2), or fails halfway (3); with 1.1, touches
-- and records progress, then acks them all in one batch (4), releases (5),
-- or nacks them all in one batch, every other one cancelled first (6)
CREATE FUNCTION fuzz_worker(n int, mode int) RETURNS int LANGUAGE plpgsql AS \$\$
DECLARE
    r record;
    k int := 0;
    ids bigint[] := '{}';
    attempts int[] := '{}';
BEGIN
    FOR r IN SELECT * FROM jobs.consume(n) LOOP
        k := k + 1;
        IF mode = 0 THEN
            PERFORM jobs.ack(r.job_id, to_jsonb(r), r.attempt);
        ELSIF mode = 1 THEN
            PERFORM jobs.nack(r.job_id, 'worker failed', NULL, r.attempt);
        ELSIF mode = 2 THEN
            BEGIN
                PERFORM jobs.ack(r.job_id);
                RAISE EXCEPTION 'undo';
            EXCEPTION WHEN raise_exception THEN
                NULL;
            END;
            PERFORM jobs.nack(r.job_id, 'after undo');
        ELSIF mode = 4 THEN
            PERFORM jobs.touch(r.job_id, NULL, r.attempt);
            PERFORM jobs.progress(r.job_id, 1.0 / k, 'step ' || k, r.attempt);
            ids := ids || r.job_id;
            attempts := attempts || r.attempt;
        ELSIF mode = 5 THEN
            PERFORM jobs.release(r.job_id, NULL, r.attempt);
        ELSIF mode = 6 THEN
            IF k % 2 = 0 THEN
                PERFORM jobs.cancel(r.job_id, 'worker cancelled');
            END IF;
            ids := ids || r.job_id;
            attempts := attempts || r.attempt;
        ELSIF k > 1 THEN
            RAISE EXCEPTION 'worker failed halfway';
        END IF;
    END LOOP;
    IF mode = 4 THEN
        PERFORM jobs.ack_batch(ids, NULL, attempts);
    ELSIF mode = 6 THEN
        PERFORM jobs.nack_batch(ids, 'batch failed', NULL, attempts);
    END IF;
    RETURN k;
END \$\$;

-- objects that would capture unqualified names in pgjobs' statements
CREATE SCHEMA fuzz_shadow;
CREATE FUNCTION fuzz_shadow.now() RETURNS timestamptz LANGUAGE sql AS \$\$ SELECT 'infinity'::timestamptz \$\$;
CREATE FUNCTION fuzz_shadow.never(bigint, bigint) RETURNS boolean LANGUAGE sql AS \$\$ SELECT false \$\$;
CREATE OPERATOR fuzz_shadow.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = fuzz_shadow.never);
CREATE FUNCTION fuzz_shadow.count(anyelement) RETURNS bigint LANGUAGE sql AS \$\$ SELECT -1::bigint \$\$;
GRANT USAGE ON SCHEMA fuzz_shadow TO PUBLIC;
SQL
then
    cat "$OUT/setup.out"
    check "fuzz database set up" 1
    finish
fi

# Every function of the extension, with its argument types, for generic calls.
qf -F $'\t' >"$OUT/signatures.txt" <<'SQL'
SET search_path = pg_catalog;
SELECT n.nspname || '.' || quote_ident(p.proname),
       array_to_string(ARRAY(SELECT format_type(t, NULL)
                               FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, i)
                              ORDER BY i), ','),
       p.pronargdefaults
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgjobs'
  JOIN pg_proc p ON p.oid = d.objid
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' AND p.prokind = 'f'
 ORDER BY 1, 2;
SQL
# Every pgjobs.* setting a session may SET, once the library is loaded.
qf -F $'\t' >"$OUT/settings.txt" <<'SQL'
SET search_path = pg_catalog;
SELECT count(*) FROM jobs.retry_delay(1);
SELECT name, vartype, coalesce(min_val, ''), coalesce(max_val, ''),
       coalesce(array_to_string(enumvals, ','), '')
  FROM pg_settings
 WHERE name LIKE 'pgjobs.%' AND context IN ('user', 'superuser')  -- what SET may change
 ORDER BY name;
SQL
sed -i '1d' "$OUT/settings.txt"
echo "fuzz: functions of the extension:"
sed 's/^/    /' "$OUT/signatures.txt"
echo "fuzz: settings:"
cut -f1 "$OUT/settings.txt" | sed 's/^/    /'

# --- The statements -----------------------------------------------------------

pids=()
for i in $(seq 1 "$SESSIONS"); do
    # session 1 also drops and creates the extension again, a few times
    perl test/fuzz/gen.pl $((SEED + i)) "$STATEMENTS" "$OUT/signatures.txt" "$OUT/settings.txt" \
        "$([ "$i" = 1 ] && echo 1)" \
        >"$OUT/session$i.sql" ||
        { check "statements generated" 1; finish; }
done
echo "fuzz: running $SESSIONS sessions x $STATEMENTS statements (seed $SEED)"
start=$(date +%s)
for i in $(seq 1 "$SESSIONS"); do
    timeout 900 psql -X -q -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -d "$DB" \
        -f "$OUT/session$i.sql" >/dev/null 2>"$OUT/session$i.err" &
    pids+=($!)
done
session_failures=""
for i in $(seq 1 "$SESSIONS"); do
    wait "${pids[$((i - 1))]}"
    status=$?
    if [ "$status" != 0 ]; then
        session_failures="$session_failures session$i:exit=$status"
    fi
    if grep -q -E 'connection to server was lost|server closed the connection unexpectedly|terminating connection because of crash' \
        "$OUT/session$i.err"; then
        # the statement the connection was lost in
        ln=$(grep -m1 -oE "^psql:[^:]*:[0-9]+: (server closed the connection|error: connection to server was lost)" \
            "$OUT/session$i.err" | cut -d: -f3)
        session_failures="$session_failures session$i:connection-lost${ln:+-at-line-$ln}"
        [ -n "$ln" ] && printf 'session%s.sql:%s: %s\n' "$i" "$ln" "$(sed -n "${ln}p" "$OUT/session$i.sql")" \
            >>"$OUT/lost-connections.txt"
    fi
done
if [ -s "$OUT/lost-connections.txt" ]; then
    echo "fuzz: connections lost in these statements (the crash may be another session's):"
    cut -c1-1000 "$OUT/lost-connections.txt"
fi
echo "fuzz: statements ran in $(( $(date +%s) - start )) s"

# --- What happened to each statement --------------------------------------------

# Outcomes by label: statements run, clean errors by SQLSTATE; internal
# errors and leak warnings listed with their statement and the LOCATION
# psql prints for them (VERBOSITY verbose), which tells PostgreSQL's own
# code from pgjobs'.
PGJOBS_SOURCES=$(cd src 2>/dev/null && ls *.c 2>/dev/null | tr '\n' ' ')
for i in $(seq 1 "$SESSIONS"); do
    awk -v sql="$OUT/session$i.sql" -v session="$i" '
        BEGIN {
            n = 0
            while ((getline line < sql) > 0) {
                n++
                if (line !~ /; -- fuzz:[^;]*$/) continue    # a psql \\if line
                label[n] = line; sub(/.*-- fuzz:/, "", label[n])
                stmt[n] = line; sub(/; -- fuzz:[^;]*$/, "", stmt[n])
            }
            lines = n
            pending = ""
        }
        # an internal error is printed once its LOCATION line has been seen
        function flush(where) {
            if (pending != "")
                printf "internal\t%s\t%s\t%s\n\t%s\n", session, where, pending, pending_stmt
            pending = ""
        }
        /^LOCATION:  / {
            if (pending != "") { where = $0; sub(/^LOCATION:  /, "", where); flush(where) }
            next
        }
        match($0, /^psql:[^:]*:[0-9]+: (ERROR|WARNING|FATAL|PANIC):  [0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]: /) {
            flush("?")
            rest = $0; sub(/^psql:[^:]*:/, "", rest)
            ln = rest; sub(/:.*/, "", ln)
            lvl = rest; sub(/^[0-9]+: /, "", lvl); sub(/:.*/, "", lvl)
            code = rest; sub(/^[0-9]+: [A-Z]+:  /, "", code); msg = code; code = substr(code, 1, 5)
            sub(/^[0-9A-Z]+: /, "", msg)
            if (lvl == "ERROR") { err[ln] = code }
            if (code ~ /^XX/ || lvl == "FATAL" || lvl == "PANIC") {
                pending = sprintf("%s:%s %s:  %s: %s", "session" session ".sql", ln, lvl, code, msg)
                pending_stmt = substr(stmt[ln], 1, 2000)
            }
            else if (lvl == "WARNING" && msg ~ /leak|not closed|still referenced|still pinned/)
                printf "leak\t%s\t%s:%s %s\n\t%s\n", session, "session" session ".sql", ln, msg, substr(stmt[ln], 1, 2000)
        }
        END {
            flush("?")
            for (ln = 1; ln <= lines; ln++) {
                if (!(ln in label)) continue
                l = label[ln]
                printf "outcome\t%s\t%s\n", l, (ln in err) ? err[ln] : "ok"
            }
        }
    ' "$OUT/session$i.err"
done >"$OUT/outcomes.tsv"

echo "fuzz: outcomes by statement kind (ok, then clean errors by SQLSTATE, most frequent first)"
awk -F'\t' '$1 == "outcome" { n[$2]++; c[$2 "\t" $3]++ }
    END {
        for (l in n) {
            line = sprintf("    %-28s %5d statements:", l, n[l])
            m = 0
            for (k in c) { split(k, a, "\t"); if (a[1] == l) { codes[++m] = a[2] } }
            # sort codes by count, descending (ok first)
            for (x = 1; x <= m; x++) for (y = x + 1; y <= m; y++)
                if (c[l "\t" codes[y]] > c[l "\t" codes[x]] || codes[y] == "ok") { t = codes[x]; codes[x] = codes[y]; codes[y] = t }
            for (x = 1; x <= m && x <= 8; x++) line = line sprintf(" %s %d", codes[x], c[l "\t" codes[x]])
            if (m > 8) line = line " ..."
            print line
        }
    }' "$OUT/outcomes.tsv" | sort
total_statements=$(grep -c '^outcome' "$OUT/outcomes.tsv")
ok_statements=$(awk -F'\t' '$1 == "outcome" && $3 == "ok"' "$OUT/outcomes.tsv" | wc -l)
echo "fuzz: $total_statements statements, $ok_statements succeeded, $((total_statements - ok_statements)) ended in a clean error"

# --- Checks -------------------------------------------------------------------

check "every session ran to its end, connection intact" "$([ -z "$session_failures" ]; echo $?)" "$session_failures"

up=1
q -d "$ADMIN_DB" -c 'SELECT 1' >/dev/null 2>&1 && up=0
check "server still accepts connections" "$up"
if [ "$up" != 0 ]; then
    # a crashed server restarts by itself: wait for it, for the other checks
    for _ in $(seq 1 60); do
        sleep 1
        q -d "$ADMIN_DB" -c 'SELECT 1' >/dev/null 2>&1 && { up=0; break; }
    done
    [ "$up" = 0 ] || finish
fi

stats_after=$(qa -F '|' -c "$STATS_SQL")
IFS='|' read -r start_before reset_before xacts_before <<<"$stats_before"
IFS='|' read -r start_after reset_after xacts_after <<<"$stats_after"
check "postmaster not restarted (pg_postmaster_start_time)" \
    "$([ "$start_before" = "$start_after" ]; echo $?)" "$start_before -> $start_after"
check "no crash-and-restart reset of the statistics (pg_stat_archiver.stats_reset, pg_stat_database)" \
    "$([ "$reset_before" = "$reset_after" ] && [ "${xacts_after:-0}" -ge "${xacts_before:-0}" ]; echo $?)" \
    "stats_reset $reset_before -> $reset_after, transactions $xacts_before -> $xacts_after"

if [ -n "$SERVER_LOG" ]; then
    tail -c +"$((log_offset + 1))" "$SERVER_LOG" >"$OUT/server.log"
    grep -n -E 'terminated by signal|server process .* (was terminated|exited with exit code)|all server processes terminated|PANIC|TRAP:|terminating connection because of crash|database system was interrupted|leak|was not closed' \
        "$OUT/server.log" >"$OUT/server-log-problems.txt"
    check "server log has no crash, assertion or leak lines" \
        "$([ ! -s "$OUT/server-log-problems.txt" ]; echo $?)" "$(head -n 3 "$OUT/server-log-problems.txt" | tr '\n' ' ')"
else
    check "server log has no crash, assertion or leak lines" skip "log not found: set PGJOBS_FUZZ_SERVER_LOG"
fi

# PostgreSQL does not lock types, nor composite types' relations, while a
# statement uses them: a statement of another session that resolved
# jobs.bulk_job (say) just before session 1's DROP EXTENSION committed can
# fail in PostgreSQL's own code with "could not open relation with OID" or
# "cache lookup failed for type", SQLSTATE XX000 (SELECT ROW(1)::t does the
# same against a concurrent DROP TYPE t, no pgjobs involved).  Those, and
# only those (that message, raised outside pgjobs' sources, in a session
# other than the one that dropped the extension, in a run that dropped it),
# are listed apart; every other internal error fails the check.
dropped=$(grep -c '^DROP EXTENSION' "$OUT/session1.sql" 2>/dev/null)
: >"$OUT/internal-errors.txt"
: >"$OUT/ddl-races.txt"
awk -F'\t' -v dropped="${dropped:-0}" -v sources=" $PGJOBS_SOURCES " \
    -v races="$OUT/ddl-races.txt" -v internal="$OUT/internal-errors.txt" '
    $1 == "internal" {
        session = $2; where = $3; what = $4
        getline stmt
        file = where; sub(/.*, /, "", file); sub(/:[0-9]+$/, "", file)
        msg = what; sub(/^[^:]*:[0-9]+ [A-Z]+:  [0-9A-Z]+: /, "", msg)
        race = dropped > 0 && session != 1 && what ~ / ERROR:  XX000: / &&
               msg ~ /^(could not open relation with OID [0-9]+|cache lookup failed for (type|relation|function|attribute [0-9]+ of relation) [0-9]+)$/ &&
               where != "?" && index(sources, " " file " ") == 0
        printf "%s (%s)\n%s\n", what, where, stmt >> (race ? races : internal)
    }' "$OUT/outcomes.tsv"
if [ -s "$OUT/ddl-races.txt" ]; then
    echo "fuzz: $(grep -c '^session' "$OUT/ddl-races.txt") internal error(s) of PostgreSQL's own catalog races with session 1's DROP EXTENSION (not pgjobs; in $OUT/ddl-races.txt):"
    grep '^session' "$OUT/ddl-races.txt" | sed 's/^/    /'
fi
check "no internal error (SQLSTATE XX..., FATAL, PANIC) from any statement" \
    "$([ ! -s "$OUT/internal-errors.txt" ]; echo $?)" "$(head -n 4 "$OUT/internal-errors.txt" | tr '\n\t' '  ')"
grep -A1 '^leak' "$OUT/outcomes.tsv" | cut -f3- >"$OUT/leak-warnings.txt"
check "no resource leak warnings" \
    "$([ ! -s "$OUT/leak-warnings.txt" ]; echo $?)" "$(head -n 2 "$OUT/leak-warnings.txt" | tr '\n\t' '  ')"

api="jobs.publish jobs.publish_bulk jobs.consume jobs.consume_topic jobs.ack jobs.nack jobs.expire jobs.retry_delay"
# 1.1's, when the installed extension has them
grep -q '^jobs\.ack_batch' "$OUT/signatures.txt" &&
    api="$api jobs.ack_batch jobs.nack_batch jobs.touch jobs.progress jobs.release jobs.cancel jobs.retry
         jobs.retry_topic jobs.pause jobs.resume jobs.set_limit jobs.check_topic_pattern
         jobs.wake_consumers jobs.cron_next jobs.schedule jobs.unschedule jobs.run_schedules"
# 1.2's
grep -q '^jobs\.ack_and_consume' "$OUT/signatures.txt" && api="$api jobs.ack_and_consume"
# A short run (valgrind's 500 statements a session) may by chance call a
# function only with arguments it refuses: coverage is checked from 2000 on.
for f in $api; do
    label=${f#jobs.}
    n=$(awk -F'\t' -v l="$label" '$1 == "outcome" && ($2 == l || $2 == "generic:jobs." l) && $3 == "ok"' "$OUT/outcomes.tsv" | wc -l)
    if [ "$STATEMENTS" -ge 2000 ]; then
        check "the fuzz called $f successfully ($n times)" "$([ "$n" -gt 0 ]; echo $?)"
    else
        echo "note: the fuzz called $f successfully $n times (not checked in a run of $STATEMENTS statements a session)"
    fi
done

# The queue's invariants, whatever the fuzz did.
consistency() {
    local name=$1 sql=$2 bad
    bad=$(qf -c "SET search_path = pg_catalog; $sql" 2>&1)
    check "consistent: $name" "$([ "$bad" = 0 ]; echo $?)" "$bad"
}
consistency "every queued job is pending or running" \
    "SELECT count(*) FROM jobs.job_queue WHERE status NOT IN ('pending', 'running')"
consistency "every running job has a lease (expires_at), a start and an attempt" \
    "SELECT count(*) FROM jobs.job_queue WHERE status = 'running' AND (expires_at IS NULL OR started_at IS NULL OR attempts < 1)"
consistency "no pending job has a lease" \
    "SELECT count(*) FROM jobs.job_queue WHERE status = 'pending' AND expires_at IS NOT NULL"
consistency "no job is both queued and finished" \
    "SELECT count(*) FROM jobs.job_queue q JOIN jobs.job j USING (job_id)"
consistency "every finished job succeeded, failed or was cancelled; those that succeeded or failed after at least one attempt" \
    "SELECT count(*) FROM jobs.job WHERE status NOT IN ('succeeded', 'failed', 'cancelled') OR finished_at IS NULL
        OR (status IN ('succeeded', 'failed') AND attempts < 1) OR attempts < 0"
consistency "every failed job ran out of retries" \
    "SELECT count(*) FROM jobs.job WHERE status = 'failed' AND attempts <= max_retries"
# (i_on_duplicate => 'replace' may lower the retries of a pending job that
# has used more: it runs once more, then fails; only keyed jobs can do that)
consistency "attempts never exceed 1 + max_retries (but for keyed jobs whose retries were replaced)" \
    "SELECT count(*) FROM jobs.all WHERE attempts > max_retries::bigint + 1 AND unique_key IS NULL"
consistency "every timeout is within 0.01 to 99999.99 s" \
    "SELECT count(*) FROM jobs.all WHERE timeout < 0.01 OR timeout > 99999.99"
consistency "only running jobs carry a cancellation request" \
    "SELECT count(*) FROM jobs.job_queue WHERE cancel_requested_at IS NOT NULL AND status <> 'running'"
consistency "every progress is within 0 and 1, and every note within 8192 bytes" \
    "SELECT count(*) FROM jobs.all WHERE NOT (progress BETWEEN 0 AND 1) OR octet_length(progress_note) > 8192"
consistency "no unique key is held twice (pending, or running with unique_while_running)" \
    "SELECT count(*) FROM (SELECT 1 FROM jobs.job_queue WHERE unique_key IS NOT NULL
        AND (status = 'pending' OR unique_while_running) GROUP BY task, unique_key HAVING count(*) > 1) d"
consistency "jobs.dead_letter shows exactly the failed jobs" \
    "SELECT count(*) FROM ((SELECT job_id FROM jobs.dead_letter EXCEPT ALL SELECT job_id FROM jobs.job WHERE status = 'failed')
        UNION ALL (SELECT job_id FROM jobs.job WHERE status = 'failed' EXCEPT ALL SELECT job_id FROM jobs.dead_letter)) d"
consistency "every topic control is paused or limited, with valid limits" \
    "SELECT count(*) FROM jobs.topic_control WHERE NOT (paused OR max_running IS NOT NULL OR rate IS NOT NULL)
        OR max_running < 1 OR NOT (rate > 0 AND rate <= 1000000) OR (rate IS NULL) <> (burst IS NULL) OR burst < 1
        OR pattern = '' OR length(pattern) > 1024"
consistency "every recurring job has a valid expression, zone and catch_up" \
    "SELECT count(*) FROM jobs.recurring WHERE jobs.cron_next(cron, now(), time_zone) IS NULL
        OR catch_up NOT IN ('once', 'skip') OR length(name) NOT BETWEEN 1 AND 200"
consistency "every job id came from the sequence" \
    "SELECT count(*) FROM jobs.all WHERE job_id < 1 OR job_id > (SELECT last_value FROM jobs.job_id_seq)"
consistency "no session is left waiting or in a transaction" \
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"

# The API still works on what the fuzz left behind.
# Whatever topic controls the fuzz left (paused patterns, limits, drained
# buckets), a claim may get nothing, but it must not fail.
if grep -q '^jobs\.set_limit' "$OUT/signatures.txt"; then
    controls=$(qf -c "SELECT count(*) FROM jobs.topic_control" 2>&1)
    claim=$(qf 2>&1 <<'SQL'
SET search_path = pg_catalog;
RESET ALL;
BEGIN;
SELECT count(*) >= 0 FROM jobs.consume(5);
SELECT count(*) >= 0 FROM jobs.consume_topic('%', 5);
ROLLBACK;
SQL
)
    check "consume and consume_topic still work under the $controls topic controls the fuzz left" \
        "$([ "$(echo "$claim" | tr -d '\n')" = tt ]; echo $?)" "$(echo "$claim" | tr '\n' ' ' | cut -c1-600)"
fi

# (The topic controls the fuzz left, a paused '%' say, go first: they
# hold jobs back by design.)
roundtrip=$(qf 2>&1 <<'SQL'
SET search_path = pg_catalog;
RESET ALL;
DO $$BEGIN IF pg_catalog.to_regclass('jobs.topic_control') IS NOT NULL THEN DELETE FROM jobs.topic_control; END IF; END$$;
SELECT count(*) >= 0 FROM (SELECT jobs.expire()) e;
SELECT jobs.publish('fuzz.final.check', '{"k": 1}') IS NOT NULL;
SELECT count(*) FROM (SELECT jobs.ack(job_id, '"done"', attempt) FROM jobs.consume_topic('fuzz.final.%', 1)) a;
SELECT count(*) FROM jobs.job WHERE task = 'fuzz.final.check' AND status = 'succeeded' AND result = '"done"';
SQL
)
check "publish, consume_topic and ack still work afterwards" \
    "$([ "$(echo "$roundtrip" | tail -n 1)" = 1 ]; echo $?)" "$(echo "$roundtrip" | tr '\n' ' ')"

if [ "$failed" = 0 ] && [ -z "${PGJOBS_FUZZ_KEEP:-}" ]; then
    qa -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
fi
finish
