
# Copyright (c) 2026, The pgjobs developers
#
# 004_maintenance_worker.pl: the maintenance background worker.
#
# With pgjobs in shared_preload_libraries and pgjobs.database naming a
# database, a "pgjobs maintenance" worker runs there and, every
# pgjobs.maintenance_interval, reclaims lapsed leases, deletes finished jobs
# older than pgjobs.retention and vacuums jobs.job_queue once it holds
# pgjobs.queue_vacuum_threshold dead rows.  On a preloaded node (autovacuum
# off, so that any VACUUM of the queue is the worker's) this checks that:
#
#	- the worker shows in pg_stat_activity, in the right database, and idles
#	  without error until the extension is created;
#	- with no consumer running, a lapsed lease is reclaimed (retried with
#	  backoff, or failed when out of retries) with the expiry error;
#	- finished jobs stay while retention is 0, and a retention set by
#	  ALTER SYSTEM and SIGHUP deletes them, but never one younger than it;
#	- a maintenance_interval set by SIGHUP takes effect, both ways;
#	- the queue is vacuumed past the threshold, and not with a threshold 0;
#	- a worker killed with SIGKILL makes the postmaster reset and recover,
#	  after which every committed job is intact and a new worker works;
#	- a worker ended with pg_terminate_backend is started again after its
#	  bgw_restart_time (5 s).
# On a second node without the preload there is no worker, and
# jobs.maintain() reclaims and prunes on demand.  Neither server log may
# show a crash other than the deliberate SIGKILL.
#
# Things that must happen are polled for, with a bound of $prompt seconds
# (the worker runs every 200 ms, so each takes well under a second);
# things that must not happen are watched for a second or two.  To prove
# that the worker did the work, nothing calls jobs.consume while a lease
# is lapsed (consume reclaims lapsed leases by itself).

use strict;
use warnings;

use File::Basename;
use lib dirname(__FILE__);
use PgjobsSession;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

# What must happen must happen within this many seconds.
my $prompt = 10;

my $node = PostgreSQL::Test::Cluster->new('maintenance');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# Cluster.pm turns restart_after_crash off; the SIGKILL case needs it on.
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pgjobs'
pgjobs.database = 'postgres'
pgjobs.maintenance_interval = 200
pgjobs.queue_vacuum_threshold = 500
autovacuum = off
restart_after_crash = on
});
$node->start;

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# sql SQL runs SQL on $node in its own session and transaction.
sub sql
{
	return $node->safe_psql('postgres', $_[0]);
}

# worker_pid returns the pid of the maintenance worker, or '' if none runs.
sub worker_pid
{
	return sql(
		q{SELECT string_agg(pid::text, ',') FROM pg_stat_activity
		   WHERE backend_type = 'pgjobs maintenance'});
}

# poll_until NODE, SQL polls SQL on NODE every 50 ms until it returns 't';
# returns the seconds that took, or undef if it did not within $prompt s.
sub poll_until
{
	my ($n, $query) = @_;
	my $start = time;
	while (time - $start < $prompt)
	{
		my ($ret, $out) = $n->psql('postgres', $query);
		return time - $start if $ret == 0 && $out eq 't';
		sleep 0.05;
	}
	diag("still not true after $prompt s: $query");
	return undef;
}

# promptly NAME, SECONDS checks that a poll_until succeeded.
sub promptly
{
	my ($name, $elapsed) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	ok(defined $elapsed, "$name, within $prompt s");
	note sprintf('%s: after %.2f s', $name, $elapsed) if defined $elapsed;
}

# set_conf NODE, NAME, VALUE, SETTING sets a setting with ALTER SYSTEM
# (RESET when VALUE is undef) and reloads the configuration; returns once
# new sessions see it as SETTING (pg_settings.setting), and the worker has
# had time to take the SIGHUP (it does so as soon as it gets it).
sub set_conf
{
	my ($n, $name, $value, $setting) = @_;
	# On PostgreSQL 15 ALTER SYSTEM knows only loaded settings.
	$n->safe_psql('postgres',
		"LOAD 'pgjobs'; "
		  . (defined $value
			? "ALTER SYSTEM SET $name = '$value'"
			: "ALTER SYSTEM RESET $name"));
	$n->safe_psql('postgres', 'SELECT pg_reload_conf()');
	poll_until($n,
		"LOAD 'pgjobs'; SELECT setting = '$setting' FROM pg_settings WHERE name = '$name'")
	  or die "$name was never reloaded";
	sleep 0.5;
}

# contents returns every row of both tables, all columns, ordered by id.
sub contents
{
	return sql('SELECT q::text FROM jobs.job_queue q ORDER BY job_id') . "\n--\n"
	  . sql('SELECT j::text FROM jobs.job j ORDER BY job_id');
}

# claim_lapsing TASK, ARGS publishes a job with a 0.2 s lease and claims it
# in the same session (by its task, TASK being unique); returns its id.
sub claim_lapsing
{
	my ($task, $args) = @_;
	$args = defined $args ? ", $args" : '';
	my ($id, $claimed) = split /\n/, sql(
		"SELECT jobs.publish('$task', i_timeout => 0.2, i_priority => 1000$args);
		 SELECT job_id FROM jobs.consume_topic('$task', 1)");
	die "claimed job $claimed, not the new job $id" unless $claimed eq $id;
	return $id;
}

# ---------------------------------------------------------------------------
# The worker starts, and idles until the extension is created
# ---------------------------------------------------------------------------

ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgjobs maintenance'}),
	'the maintenance worker runs');
is( sql(q{SELECT datname || '|' || application_name FROM pg_stat_activity
		   WHERE backend_type = 'pgjobs maintenance'}),
	'postgres|pgjobs maintenance',
	'the worker is connected to pgjobs.database, with its application_name');
ok($node->log_contains(qr/pgjobs maintenance worker started in database "postgres"/),
	'the worker logged its start');
is(sql(q{SELECT count(*) FROM pg_extension WHERE extname = 'pgjobs'}),
	'0', 'the extension is not created yet');

my $pid = worker_pid();
sleep 1.5;    # seven passes
is(worker_pid(), $pid, 'without the extension, the worker idles: same pid 1.5 s later');
ok(!$node->log_contains(qr/ERROR|FATAL|PANIC|terminated by signal|exited with exit code/),
	'without the extension, the worker logs no error');

sql('CREATE EXTENSION pgjobs');

# ---------------------------------------------------------------------------
# Expiry with no consumer
# ---------------------------------------------------------------------------

my $retry = claim_lapsing('exp.retry');
my $fatal = claim_lapsing('exp.fatal', 'i_max_retries => 0');
is( sql("SELECT string_agg(status || ':' || attempts, ' ' ORDER BY job_id)
		   FROM jobs.job_queue WHERE job_id IN ($retry, $fatal)"),
	'running:1 running:1', 'expiry: both jobs claimed, with a 0.2 s lease');

promptly('expiry: the lapsed lease with retries left is reclaimed as pending',
	poll_until($node,
		"SELECT status = 'pending' FROM jobs.job_queue WHERE job_id = $retry"));
is( sql("SELECT attempts || '|' || last_error || '|' || (expires_at IS NULL)
		        || '|' || (scheduled_at > started_at)
		   FROM jobs.job_queue WHERE job_id = $retry"),
	'1|job timed out after 0.20 seconds|true|true',
	'expiry: one attempt, the timeout error, no lease, retried after a backoff');

promptly('expiry: the lapsed lease with no retries left ends the job',
	poll_until($node, "SELECT count(*) = 1 FROM jobs.job WHERE job_id = $fatal"));
is( sql("SELECT status || '|' || attempts || '|' || last_error
		   FROM jobs.job WHERE job_id = $fatal"),
	'failed|1|job timed out after 0.20 seconds',
	'expiry: the job without retries failed, with the timeout error');
is(sql("SELECT count(*) FROM jobs.job_queue WHERE job_id = $fatal"),
	'0', 'expiry: the failed job left the queue');
is(sql('SELECT count(*) FROM jobs.expired'), '0', 'expiry: jobs.expired is empty');

# jobs.maintain() runs beside the worker; nothing is left for it to do.
is(sql(q{SELECT expired || '|' || pruned FROM jobs.maintain()}),
	'0|0', 'jobs.maintain() beside the worker: nothing to expire, nothing pruned');

# ---------------------------------------------------------------------------
# Retention, and its SIGHUP
# ---------------------------------------------------------------------------

# finish_jobs N publishes N jobs and acks them; returns their ids.
sub finish_jobs
{
	my ($n, $task) = @_;
	my @ids = split /\n/, sql(
		"SELECT job_id FROM jobs.publish_bulk(ARRAY(
		    SELECT ROW('$task', NULL, NULL, NULL, -1000, NULL)::jobs.bulk_job
		      FROM generate_series(1, $n)))");
	my $list = join(',', @ids);
	sql("DO \$\$ DECLARE r record; BEGIN
	       FOR r IN SELECT job_id FROM jobs.consume_topic('$task', $n) LOOP
	           PERFORM jobs.ack(r.job_id);
	       END LOOP; END \$\$");
	die "not all of $task succeeded"
	  unless sql("SELECT count(*) FROM jobs.job WHERE job_id IN ($list)
	               AND status = 'succeeded'") == $n;
	return @ids;
}

my @old = finish_jobs(3, 'ret.old');
my $old = join(',', @old);
sleep 1.5;
is(sql("SELECT count(*) FROM jobs.job WHERE job_id IN ($old)"),
	'3', 'retention 0: finished jobs are kept (1.5 s and seven passes later)');
is(sql("SELECT count(*) FROM jobs.job WHERE job_id = $fatal"),
	'1', 'retention 0: the failed job is kept');

set_conf($node, 'pgjobs.retention', '1', '1');
promptly('retention 1 s after SIGHUP: the old finished jobs are deleted',
	poll_until($node,
		"SELECT count(*) = 0 FROM jobs.job WHERE job_id IN ($old, $fatal)"));
is(sql("SELECT count(*) FROM jobs.job_queue WHERE job_id = $retry"),
	'1', 'retention: the queued job is untouched');

# Fresh jobs: at every look, each is still there or finished over 1 s ago,
# and each is eventually deleted.
my @fresh = finish_jobs(3, 'ret.fresh');
my $finished = join(',',
	split /\n/, sql(
		"SELECT format('(%s, %L::timestamptz)', job_id, finished_at)
		   FROM jobs.job WHERE job_id IN (" . join(',', @fresh) . ')'));
my ($seen_young, $early, $gone) = (0, 0, 0);
my $start = time;
while (time - $start < $prompt)
{
	# "young" is decided after the snapshot, from the job's finished_at
	# recorded while it still existed: a deletion committed before the
	# snapshot used a cutoff no later than clock_timestamp().
	my $out = sql(
		"SELECT count(*) FILTER (WHERE j.job_id IS NULL
		                           AND clock_timestamp() < f.finished_at + interval '1 s'),
		        count(*) FILTER (WHERE j.job_id IS NOT NULL
		                           AND clock_timestamp() < f.finished_at + interval '1 s'),
		        count(*) FILTER (WHERE j.job_id IS NULL)
		   FROM (VALUES $finished) f(job_id, finished_at)
		        LEFT JOIN jobs.job j USING (job_id)");
	my ($e, $y, $g) = split /\|/, $out;
	$early += $e;
	$seen_young += $y;
	$gone = $g;
	last if $gone == 3;
	sleep 0.1;
}
is($early, 0, 'retention: no finished job was deleted before it was 1 s old');
cmp_ok($seen_young, '>', 0, 'retention: the fresh jobs were seen while younger than 1 s');
is($gone, 3, "retention: the fresh jobs were deleted once 1 s old, within $prompt s");

set_conf($node, 'pgjobs.retention', undef, '0');

# ---------------------------------------------------------------------------
# maintenance_interval, and its SIGHUP
# ---------------------------------------------------------------------------

# The worker's query_start is when its latest pass began.
my $since_pass = q{(SELECT clock_timestamp() - query_start FROM pg_stat_activity
                     WHERE backend_type = 'pgjobs maintenance')};
promptly('interval 200 ms: the worker makes a pass every 200 ms',
	poll_until($node, "SELECT $since_pass < interval '0.4 s'"));

set_conf($node, 'pgjobs.maintenance_interval', '60000', '60000');
$pid = worker_pid();
promptly('interval 60 s after SIGHUP: the worker stops making passes',
	poll_until($node, "SELECT $since_pass > interval '1 s'"));
my $slow = claim_lapsing('interval.slow');
sleep 2;
is( sql("SELECT status || ':' || attempts || ':' || (expires_at < now())
		   FROM jobs.job_queue WHERE job_id = $slow"),
	'running:1:true',
	'interval 60 s: a lease lapsed 1.8 s ago is not reclaimed');
is(sql("SELECT count(*) FROM jobs.expired WHERE job_id = $slow"),
	'1', 'interval 60 s: the job shows in jobs.expired');

set_conf($node, 'pgjobs.maintenance_interval', undef, '200');
promptly('interval back to 200 ms after SIGHUP: the lapsed lease is reclaimed',
	poll_until($node,
		"SELECT status = 'pending' AND attempts = 1 FROM jobs.job_queue WHERE job_id = $slow"));
is(worker_pid(), $pid, 'the reloads did not restart the worker');

# ---------------------------------------------------------------------------
# Queue vacuum
# ---------------------------------------------------------------------------

# vacuums returns "vacuum_count|autovacuum_count" of jobs.job_queue.
sub vacuums
{
	return sql(
		q{SELECT vacuum_count || '|' || autovacuum_count FROM pg_stat_user_tables
		   WHERE relid = 'jobs.job_queue'::regclass});
}

set_conf($node, 'pgjobs.queue_vacuum_threshold', '0', '0');
my ($vac0, $autovac0) = split /\|/, vacuums();
is($autovac0, '0', 'vacuum: autovacuum never vacuumed the queue (it is off)');

sql(q{SELECT count(*) FROM jobs.publish_bulk(ARRAY(
	     SELECT ROW('vac.bulk', NULL, NULL, 3600, 500, NULL)::jobs.bulk_job
	       FROM generate_series(1, 2000)))});
is(sql(q{SELECT count(*) FROM jobs.consume_topic('vac.bulk', 2000)}),
	'2000', 'vacuum: 2000 jobs published and claimed');
sql(q{DO $$ DECLARE r record; BEGIN
	    FOR r IN SELECT job_id FROM jobs.job_queue WHERE task = 'vac.bulk' LOOP
	        PERFORM jobs.ack(r.job_id);
	    END LOOP; END $$});
is(sql(q{SELECT count(*) FROM jobs.job WHERE task = 'vac.bulk' AND status = 'succeeded'}),
	'2000', 'vacuum: and all acked');
promptly('vacuum: the statistics count the dead rows',
	poll_until($node,
		q{SELECT n_dead_tup >= 4000 FROM pg_stat_user_tables
		   WHERE relid = 'jobs.job_queue'::regclass}));
sleep 1;
is(vacuums(), "$vac0|0", 'vacuum: threshold 0: the queue is not vacuumed (1 s later)');

set_conf($node, 'pgjobs.queue_vacuum_threshold', undef, '500');
promptly('vacuum: threshold 500 after SIGHUP: the worker vacuums the queue',
	poll_until($node,
		qq{SELECT vacuum_count > $vac0 FROM pg_stat_user_tables
		    WHERE relid = 'jobs.job_queue'::regclass}));
is( sql(q{SELECT autovacuum_count || '|' || (n_dead_tup < 500) || '|' || (last_vacuum IS NOT NULL)
		   FROM pg_stat_user_tables WHERE relid = 'jobs.job_queue'::regclass}),
	'0|true|true', 'vacuum: a manual-style VACUUM, not autovacuum, removed the dead rows');
sleep 1;
my ($vac1) = split /\|/, vacuums();
cmp_ok($vac1, '<=', $vac0 + 1, 'vacuum: once below the threshold, not vacuumed again and again');

# While a snapshot holds back what VACUUM could remove, the worker does not
# vacuum the queue again and again for nothing: once at most, then not
# until the snapshot is gone.
# make_dead N publishes, claims and acks N jobs (2 N dead rows).
sub make_dead
{
	my ($n) = @_;
	sql(qq{SELECT count(*) FROM jobs.publish_bulk(ARRAY(
	         SELECT ROW('vac.held', NULL, NULL, 3600, 500, NULL)::jobs.bulk_job
	           FROM generate_series(1, $n)))});
	sql(q{SELECT count(*) FROM jobs.ack_batch(ARRAY(
	         SELECT job_id FROM jobs.consume_topic('vac.held', 100000)))});
}
my $holder = PgjobsSession::open_session($node);
$holder->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$holder->query_safe('SELECT count(*) FROM jobs.job_queue');
my ($vac2) = split /\|/, vacuums();
make_dead(600);
sleep 1.5;
my ($vac3) = split /\|/, vacuums();
cmp_ok($vac3, '<=', $vac2 + 1, 'vacuum: a held snapshot: at most one VACUUM for the first 1200 dead rows');
make_dead(600);
make_dead(600);
sleep 1.5;
is((split /\|/, vacuums())[0], $vac3,
	'vacuum: none for 2400 more while the snapshot that held the last one back is still held');
$holder->query_safe('COMMIT');
promptly('vacuum: once the snapshot is gone the worker vacuums again',
	poll_until($node,
		qq{SELECT vacuum_count > $vac3 FROM pg_stat_user_tables
		    WHERE relid = 'jobs.job_queue'::regclass}));
$holder->quit;

# ---------------------------------------------------------------------------
# SIGKILL of the worker: crash recovery, jobs intact, the worker back
# ---------------------------------------------------------------------------

# Jobs that no maintenance will touch: running with a long lease, pending,
# scheduled, finished (retention is 0 again).
sql(q{SELECT jobs.publish('crash.pending', '{"n": 1}')});
sql(q{SELECT jobs.publish('crash.later', NULL, now() + interval '1 day')});
sql(q{SELECT jobs.publish('crash.running', i_timeout => 3600);
      SELECT count(*) FROM jobs.consume_topic('crash.running', 1)});
finish_jobs(2, 'crash.done');
is(sql('SELECT count(*) FROM jobs.expired'), '0', 'before the crash: no lapsed lease');
sql('CHECKPOINT');
sql(q{SELECT jobs.publish('crash.after_checkpoint', '{"wal": true}')});

my $committed = contents();
my $counts = sql(q{SELECT status || ':' || count(*) FROM jobs.all GROUP BY status ORDER BY status});
my $killed = worker_pid();
like($killed, qr/^\d+$/, 'one worker to kill');

my $log_offset = -s $node->logfile;
ok(kill('KILL', $killed), 'SIGKILL the maintenance worker');
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
$node->poll_query_until('postgres', 'SELECT true')
  or die 'the server did not come back after the worker was killed';

ok( $node->log_contains(
		qr/background worker "pgjobs maintenance" \(PID $killed\) was terminated by signal 9/,
		$log_offset),
	'the postmaster saw the worker killed');
ok($node->log_contains(qr/database system was (?:interrupted|not properly shut down)/, $log_offset),
	'the server ran crash recovery');
is(contents(), $committed, 'after the crash: every committed job intact, every column');
is(sql(q{SELECT status || ':' || count(*) FROM jobs.all GROUP BY status ORDER BY status}),
	$counts, 'after the crash: the same jobs in each state');

ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity
		    WHERE backend_type = 'pgjobs maintenance' AND datname = 'postgres'
		      AND pid <> $killed}),
	'after the crash: the worker is back, with a new pid');
my $lapsed = claim_lapsing('crash.lapse');
promptly('after the crash: the new worker reclaims a lapsed lease',
	poll_until($node,
		"SELECT status = 'pending' AND attempts = 1 FROM jobs.job_queue WHERE job_id = $lapsed"));

# ---------------------------------------------------------------------------
# SIGTERM of the worker: it exits, and the postmaster starts it again
# ---------------------------------------------------------------------------

$pid = worker_pid();
$log_offset = -s $node->logfile;
$start = time;
is(sql("SELECT pg_terminate_backend($pid)"), 't', 'SIGTERM the worker (pg_terminate_backend)');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid"),
	'the terminated worker exits');
promptly('the postmaster starts the worker again',
	poll_until($node,
		qq{SELECT count(*) = 1 FROM pg_stat_activity
		    WHERE backend_type = 'pgjobs maintenance' AND datname = 'postgres'}));
my $restart = time - $start;
cmp_ok($restart, '>=', 4, 'the restart waited for bgw_restart_time (5 s)');
note sprintf('worker restarted %.2f s after pg_terminate_backend', $restart);
isnt(worker_pid(), $pid, 'the restarted worker has a new pid');
ok(!$node->log_contains(qr/all server processes terminated; reinitializing/, $log_offset),
	'SIGTERM of the worker did not reset the server');

$lapsed = claim_lapsing('term.lapse');
promptly('the restarted worker reclaims a lapsed lease',
	poll_until($node,
		"SELECT status = 'pending' AND attempts = 1 FROM jobs.job_queue WHERE job_id = $lapsed"));

# ---------------------------------------------------------------------------
# The preloaded node's log: no crash but the deliberate one
# ---------------------------------------------------------------------------

my @signalled = grep { /terminated by signal/ } split /\n/, slurp_file($node->logfile);
is_deeply(\@signalled,
	[ grep { /\(PID $killed\) was terminated by signal 9/ } @signalled ],
	'preloaded node: no process terminated by a signal but the killed worker')
  or diag(join("\n", @signalled));
ok(!$node->log_contains(qr/PANIC|segmentation|TRAP:|\bERROR:/i),
	'preloaded node: no PANIC, segmentation fault, assertion failure or ERROR in the log');

$node->stop;

# ---------------------------------------------------------------------------
# A node without the preload: no worker; jobs.maintain() on demand
# ---------------------------------------------------------------------------

$node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;
sql('CREATE EXTENSION pgjobs');

is(sql('SHOW shared_preload_libraries'), '', 'no preload: nothing is preloaded');
sleep 1;
is(worker_pid(), '', 'no preload: no maintenance worker');

$lapsed = claim_lapsing('manual.lapse');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM jobs.expired WHERE job_id = $lapsed"),
	'no preload: the lease lapses');
sleep 1;
is(sql("SELECT status FROM jobs.job_queue WHERE job_id = $lapsed"),
	'running', 'no preload: nobody reclaims the lapsed lease');
is(sql(q{SELECT expired || '|' || pruned FROM jobs.maintain()}),
	'1|0', 'no preload: jobs.maintain() reclaims the lapsed lease, prunes nothing at retention 0');
is( sql("SELECT status || '|' || attempts || '|' || last_error
		   FROM jobs.job_queue WHERE job_id = $lapsed"),
	'pending|1|job timed out after 0.20 seconds',
	'no preload: the job is pending again, as expiry leaves it');

@old = finish_jobs(4, 'manual.done');
$old = join(',', @old);
my ($ret, $out, $err) = $node->psql('postgres', "LOAD 'pgjobs'; SET pgjobs.retention = 1");
isnt($ret, 0, 'no preload: pgjobs.retention cannot be SET in a session');
like($err, qr/parameter "pgjobs.retention" cannot be changed now/,
	'no preload: the SET fails with "cannot be changed now"');

set_conf($node, 'pgjobs.retention', '1', '1');
ok($node->poll_query_until('postgres',
		"SELECT bool_and(clock_timestamp() > finished_at + interval '1.1 s')
		   FROM jobs.job WHERE job_id IN ($old)"),
	'no preload: the finished jobs are over 1 s old');
is(sql("SELECT count(*) FROM jobs.job WHERE job_id IN ($old)"),
	'4', 'no preload: nobody prunes them');
is(sql(q{SELECT expired || '|' || pruned FROM jobs.maintain()}),
	'0|4', 'no preload: jobs.maintain() prunes the old finished jobs');
is(sql("SELECT count(*) FROM jobs.job WHERE job_id IN ($old)"),
	'0', 'no preload: they are gone');

# (should maintain() run over 1 s after the acks, they may go: the check
# then passes, as it cannot tell)
my $fresh = join(',', finish_jobs(2, 'manual.fresh'));
my $acked = sql("SELECT min(finished_at) FROM jobs.job WHERE job_id IN ($fresh)");
is( sql(qq{SELECT expired = 0 AND (pruned = 0 OR clock_timestamp() >= '$acked'::timestamptz + interval '1 s')
		     FROM jobs.maintain()}),
	't', 'no preload: jobs.maintain() keeps finished jobs younger than the retention');

ok(!$node->log_contains(qr/PANIC|segmentation|TRAP:|terminated by signal/i),
	'no preload: no crash in the log');

$node->stop;
done_testing();
