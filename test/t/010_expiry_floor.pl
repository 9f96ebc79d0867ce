
# Copyright (c) 2026, The pgjobs developers
#
# 010_expiry_floor.pl: with pgjobs preloaded, lease expiry passes start at
# the expiry floor and skip reading while it is in the future, yet no lapsed
# lease is ever passed over: claims and touches lower the floor at commit, a
# rolled-back or prepared pass resets it, a row another session holds keeps
# it down, jobs.wake_consumers() and the periodic check catch writes made
# behind pgjobs' back, and a waiting consume wakes at the floor.
#
# Every consume runs an expiry pass (pgjobs.consume_expire_interval = 0), a
# reclaimed job can be claimed again at once (no retry backoff), and the
# periodic check is off until its own case, so each case fails if the
# lowering or reset it is about is missing.

use strict;
use warnings;

use File::Basename;
use lib dirname(__FILE__);
use PgjobsSession;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('floor');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgjobs'
pgjobs.consume_expire_interval = 0
pgjobs.claim_cursor_check_interval = 0
pgjobs.retry_backoff_base = 0
max_prepared_transactions = 2
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgjobs');

my $s = PgjobsSession::open_session($node);
my $other = PgjobsSession::open_session($node);

# publish TIMEOUT: a new job's id
sub publish
{
	my ($timeout) = @_;
	return $s->query_safe("SELECT jobs.publish('t', i_timeout => $timeout)");
}

# claim SESSION: "id/attempt" of the job one consume claims, '' for none
sub claim
{
	my ($session) = @_;
	$session //= $s;
	return $session->query_safe(
		"SELECT coalesce((SELECT job_id || '/' || attempt FROM jobs.consume(1)), '')");
}

sub state
{
	my ($id) = @_;
	return $s->query_safe(
		"SELECT status || '/' || attempts FROM jobs.job_queue WHERE job_id = $id");
}

# start each case from an empty queue and no floor
sub clean
{
	$s->query_safe('DELETE FROM jobs.job_queue');
	$s->query_safe('SELECT jobs.wake_consumers()');
}

sub lapse { $s->query_safe('SELECT pg_sleep(0.5)') }

# lapsed_behind_back: from an empty queue, claims a 60 s job, lets an empty
# claim's pass set the floor at its lease end, then ends the lease by hand
# (behind pgjobs' back); returns its id
sub lapsed_behind_back
{
	clean();
	my $id = publish(60);
	is(claim(), "$id/1", 'claimed a 60 s job');
	is(claim(), '', 'an empty claim: its pass sets the floor at the lease end');
	$s->query_safe(
		"UPDATE jobs.job_queue SET expires_at = now() - interval '1 second' WHERE job_id = $id");
	return $id;
}

# claim_lapsed T1 T2: from an empty queue, claims a job with timeout T1,
# then one with T2, each in its own transaction, and waits for the shorter
# lease to lapse; returns their ids
sub claim_lapsed
{
	my ($t1, $t2) = @_;
	clean();
	my $first = publish($t1);
	is(claim(), "$first/1", "claimed a $t1 s job");
	my $second = publish($t2);
	is(claim(), "$second/1", "claimed a $t2 s job");
	lapse();
	return ($first, $second);
}

# --- the floor is used: a lease moved behind pgjobs' back is not seen
my $a = lapsed_behind_back();
is(claim(), '', 'a lease ended behind pgjobs\' back is not read while the floor is ahead');
is(state($a), 'running/1', 'the job is still running');
is($s->query_safe('SELECT jobs.expire()'), '1', 'jobs.expire() reads from the head and reclaims it');
is(state($a), 'pending/1', 'the job is pending again');

# --- jobs.wake_consumers() resets the floor
$a = lapsed_behind_back();
$s->query_safe('SELECT jobs.wake_consumers()');
is(claim(), "$a/2", 'after jobs.wake_consumers() the next pass reads from the head');

# --- a claim lowers the floor at its commit
clean();
$a = publish(60);
is(claim(), "$a/1", 'claimed a 60 s job');
is(claim(), '', 'the floor is at its lease end');
my $b = publish(0.2);
is(claim(), "$b/1", 'claimed a 0.2 s job');
lapse();
is(claim(), "$b/2", 'its lease lapsed below the old floor: reclaimed and claimed again');
is(state($a), 'running/1', 'the 60 s job still runs');

# --- a touch lowers the floor at its commit
clean();
$a = publish(60);
is(claim(), "$a/1", 'claimed a 60 s job');
is(claim(), '', 'the floor is at its lease end');
$s->query_safe("SELECT jobs.touch($a, 0.2)");
lapse();
is(claim(), "$a/2", 'a touch that shortened the lease: reclaimed once it lapsed');

# --- a pass undone resets the floor: another session expires a lapsed job
# (between the "before" and "after" statements of each case), then undoes it
my @undone = (
	[ 'a rollback', [], ['ROLLBACK'] ],
	[ 'ROLLBACK PREPARED', [],
		[ "PREPARE TRANSACTION 'pass'", "ROLLBACK PREPARED 'pass'" ] ],
	[ 'a savepoint rollback', ['SAVEPOINT p'], [ 'ROLLBACK TO SAVEPOINT p', 'COMMIT' ] ],
	[ 'rolling back a savepoint around a released one',
		[ 'SAVEPOINT outer_sp', 'SAVEPOINT inner_sp' ],
		[ 'RELEASE SAVEPOINT inner_sp', 'ROLLBACK TO SAVEPOINT outer_sp', 'COMMIT' ] ],
);
foreach my $case (@undone)
{
	my ($what, $before, $after) = @$case;

	clean();
	$a = publish(0.2);
	$b = publish(60);
	is($s->query_safe('SELECT count(*) FROM jobs.consume(2)'), '2',
		"$what: claimed a 0.2 s and a 60 s job");
	lapse();
	$other->query_safe($_) foreach ('BEGIN', @$before);
	is(claim($other), "$a/2", "$what: another session expires the lapsed job");
	$other->query_safe($_) foreach @$after;
	is(state($a), 'running/1', "$what: leaves it running with its lapsed lease");
	is(claim(), "$a/2", "$what: the next pass finds it");
}

# --- a savepoint rolled back after a pass, that did not hold it, keeps the floor
($a, $b) = claim_lapsed(60, 0.2);
$other->query_safe('BEGIN');
is(claim($other), "$b/2", 'another session expires the lapsed job and claims it again');
$other->query_safe('SAVEPOINT later');
$other->query_safe('SELECT 1');
$other->query_safe('ROLLBACK TO SAVEPOINT later');
$s->query_safe(
	"UPDATE jobs.job_queue SET expires_at = now() - interval '1 second' WHERE job_id = $a");
is(claim(), '', 'the floor stayed: a lease ended behind pgjobs\' back is not read');
$other->query_safe('COMMIT');
is($s->query_safe('SELECT jobs.expire()'), '1', 'jobs.expire() reads from the head and reclaims it');

# --- a lapsed job another session holds keeps the floor below it
($a, $b) = claim_lapsed(0.2, 60);
$other->query_safe('BEGIN');
$other->query_safe("SELECT FROM jobs.job_queue WHERE job_id = $a FOR UPDATE");
is(claim(), '', 'a pass skips the lapsed job another session holds');
$other->query_safe('COMMIT');
is(claim(), "$a/2", 'once released, the next pass finds it');

# --- a repeatable read pass does not move the floor up
clean();
$a = publish(60);
is(claim(), "$a/1", 'claimed a 60 s job');
$b = publish(0.2);
$other->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$other->query_safe('SELECT count(*) FROM jobs.job_queue');
is(claim(), "$b/1", 'claimed a 0.2 s job after the snapshot');
lapse();
$other->query_safe('SELECT count(*) FROM jobs.consume_topic(\'none\', 1)');
$other->query_safe('COMMIT');
is(claim(), "$b/2", 'a pass with an older snapshot did not move the floor past the job');

# --- the periodic check finds leases set behind pgjobs' back
$a = lapsed_behind_back();
$node->append_conf('postgresql.conf', 'pgjobs.claim_cursor_check_interval = 200ms');
$node->reload;
$s->query_safe('SELECT pg_sleep(0.5)');
my $got = '';
for (my $i = 0; $i < 50 && $got eq ''; $i++)
{
	$got = claim();
	$s->query_safe('SELECT pg_sleep(0.1)') if $got eq '';
}
is($got, "$a/2", 'the periodic check lowered the floor to the lease ended behind pgjobs\' back');
$node->append_conf('postgresql.conf', 'pgjobs.claim_cursor_check_interval = 0');
$node->reload;

# --- a waiting consume wakes up at the floor
clean();
$a = publish(60);
is(claim(), "$a/1", 'claimed a 60 s job');
is(claim(), '', 'the floor is at its lease end');
$b = publish(1);
is(claim(), "$b/1", 'claimed a 1 s job');
my $t0 = time();
is($s->query_safe(
	"SELECT coalesce((SELECT job_id || '/' || attempt FROM jobs.consume(1, i_wait => 10)), '')"),
	"$b/2", 'a waiting consume reclaims the job whose lease ends meanwhile');
cmp_ok(time() - $t0, '<', 5, 'it woke when the lease ended, not at the end of its wait');

# --- races: four clients claim jobs with leases of 0.05 to 0.5 s, ack, touch
# or abandon them, some claims and acks rolled back in a savepoint, while
# every consume runs a pass.  Once every lease has ended, the passes from
# the floor (jobs.maintain(), as the worker's) must leave no job running: a
# lowering lost to a race with a pass strands a running job below the floor.
clean();
$s->query_safe(q{
CREATE FUNCTION stress_claim() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    id bigint;
BEGIN
    PERFORM jobs.publish('s', i_timeout => round((0.05 + random() * 0.45)::numeric, 2));
    IF random() < 0.1 THEN
        BEGIN
            PERFORM jobs.consume(1);
            RAISE EXCEPTION 'undo';
        EXCEPTION WHEN raise_exception THEN
            NULL;
        END;
    END IF;
    SELECT c.job_id INTO id FROM jobs.consume(1) c;
    RETURN coalesce(id, 0);
END $$;
CREATE FUNCTION stress_finish(id bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r float8 := random();
BEGIN
    IF id = 0 OR r < 0.2 THEN
        RETURN;                 -- abandoned: its lease lapses
    END IF;
    BEGIN
        IF r < 0.5 THEN
            PERFORM jobs.touch(id, round((0.05 + random() * 0.45)::numeric, 2));
        ELSIF r < 0.6 THEN
            PERFORM jobs.ack(id);
            RAISE EXCEPTION 'undo';
        ELSE
            PERFORM jobs.ack(id);
        END IF;
    EXCEPTION WHEN raise_exception OR SQLSTATE 'PJ001' OR SQLSTATE 'PJ002'
                   OR SQLSTATE 'PJ003' THEN
        NULL;                   -- undone, or the lease lapsed meanwhile
    END;
END $$;
});
my $script = $node->basedir . '/stress.sql';
PostgreSQL::Test::Utils::append_to_file($script, <<'EOS');
SELECT stress_claim() AS id \gset
SELECT stress_finish(:id);
EOS
$node->command_ok(
	[ 'pgbench', '-n', '-T', '6', '-c', '4', '-j', '2', '-f', $script, 'postgres' ],
	'four clients claimed, touched, acked and abandoned short leases');
cmp_ok($s->query_safe("SELECT count(*) FROM jobs.job_queue WHERE status = 'running'"),
	'>', 0, 'some jobs were left running');
$s->query_safe('SELECT pg_sleep(0.6)');
$s->query_safe('SELECT jobs.maintain()');
is($s->query_safe(
		"SELECT count(*) FROM jobs.job_queue WHERE status = 'running'"),
	'0', 'passes from the floor reclaimed every lapsed lease');
is($s->query_safe('SELECT jobs.expire()'), '0', 'a pass from the head finds none left');

$s->quit;
$other->quit;
$node->stop;
done_testing();
