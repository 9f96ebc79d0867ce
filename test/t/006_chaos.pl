
# Copyright (c) 2026, The pgjobs developers
#
# 006_chaos.pl: every job runs to its end exactly once through crashes,
# kills, cancels and restarts.
#
# Producers publish a known set of N jobs, each with a unique key in its body,
# while consumers claim, ack and nack them (test/t/chaos_worker.py, one OS
# process each).  Meanwhile the test, again and again:
#
#	- kills consumers with SIGKILL in the middle of a job (their leases lapse,
#	  the maintenance worker reclaims them, and the jobs run again), and
#	  starts new ones; now and then kills a producer too;
#	- cancels (pg_cancel_backend) and terminates (pg_terminate_backend)
#	  consumer backends that are waiting in jobs.consume(num, i_wait) or
#	  working on a job;
#	- crashes PostgreSQL with an immediate shutdown and starts it again
#	  (crash recovery), and restarts it cleanly.
#
# Jobs also fail on purpose (always, or on their first attempts), and some
# work past their lease.  A producer writes each job and its ledger row
# chaos.published(key, job_id) in one statement, and a consumer writes a
# chaos.execution(job_id, attempt) row in the statement that claims, and a
# chaos.outcome row in the transaction that acks or nacks; so the side tables
# hold exactly what committed.  Once every key is published and the queue is
# empty, this must hold:
#
#	- the ledger holds N keys and N job ids; jobs.job_queue is empty;
#	- jobs.job holds exactly those N jobs, each once, with its own key;
#	- each job's executions (committed claims) are attempts 1, 2, ..., its
#	  final attempts, once each: at least one, at most max_retries + 1;
#	- a failed job used all its attempts, every always-failing job failed,
#	  and no job succeeded at an attempt meant to fail or to overrun its lease;
#	- a succeeded job was acked exactly once, by its last attempt, with its
#	  own key as result; a failed job was never acked;
#	- the server log shows no crash other than the ones the test caused.
# The figures (N, succeeded, failed, executions, most executions of one
# job, kills, cancels, terminates, restarts, ...) are printed with diag.
#
# Environment:
#	PGJOBS_CHAOS_SEED=S	seeds the job mix and the chaos (default 1; printed).
#				Runs with the same seed do the same things, though
#				not at the same moments.  Odd seeds set
#				pgjobs.claim_costly_pages = 0 (claims read every
#				priority from its own claim cursor).
#	PGJOBS_CHAOS_LONG=1	the long version: 20 000 jobs, 6 consumers, 3
#				producers, 4 minutes of chaos with 3 crashes and 2
#				clean restarts (about 4 minutes in all).  Without
#				it: 2500 jobs, 4 consumers, 2 producers, 50 s of
#				chaos, two crashes and one clean restart (about 60 s).
#
# Needs /usr/bin/python3 with asyncpg (Debian's python3-asyncpg).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use POSIX qw(WNOHANG);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $python = '/usr/bin/python3';
plan skip_all => "$python with asyncpg (python3-asyncpg) is not installed"
  unless system("$python -c 'import asyncpg' >/dev/null 2>&1") == 0;
my $worker = abs_path(dirname(__FILE__)) . '/chaos_worker.py';

my $seed = $ENV{PGJOBS_CHAOS_SEED} // 1;
die "PGJOBS_CHAOS_SEED must be a non-negative integer, not '$seed'"
  unless $seed =~ /^\d+$/;
my $long = $ENV{PGJOBS_CHAOS_LONG} ? 1 : 0;

# The size of the run.  restarts: when (fraction of the chaos phase) to
# crash (immediate shutdown) or restart cleanly (fast shutdown).
my %cfg =
  $long
  ? (
	jobs => 20000,
	consumers => 6,
	producers => 3,
	chaos => 240,
	publish => 200,
	drain => 180,
	restarts => [
		[ 0.15, 'crash' ], [ 0.35, 'clean' ], [ 0.55, 'crash' ],
		[ 0.75, 'clean' ], [ 0.9, 'crash' ]
	])
  : (
	jobs => 2500,
	consumers => 4,
	producers => 2,
	chaos => 50,
	publish => 40,
	drain => 60,
	restarts => [ [ 0.25, 'crash' ], [ 0.5, 'clean' ], [ 0.75, 'crash' ] ]);
my $N = $cfg{jobs};

diag(sprintf(
		'chaos: seed %d (PGJOBS_CHAOS_SEED), %s run: %d jobs, %d consumers, '
		  . '%d producers, %d s of chaos',
		$seed, $long ? 'long' : 'short', $N, $cfg{consumers},
		$cfg{producers}, $cfg{chaos}));
srand($seed);

my $node = PostgreSQL::Test::Cluster->new('chaos');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# Short leases come back within a second: the maintenance worker runs every
# 100 ms, and consumers reclaim too.  Backoff is 0.05-0.1 s at first, at
# most 0.5 s.  restart_after_crash stays off (Cluster.pm's choice): a
# backend that crashes on its own stops the server, and the test fails.
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pgjobs'
pgjobs.database = 'postgres'
pgjobs.maintenance_interval = 100
pgjobs.retry_backoff_base = 0.1
pgjobs.retry_backoff_max = 0.5
pgjobs.consume_expire_interval = 200
max_connections = 40
log_min_messages = warning
});
# Odd seeds have every claim read each priority (k % 3) from its own claim
# cursor; even seeds the default, the lowest priority's cursor alone until
# claims get costly.
$node->append_conf('postgresql.conf', "pgjobs.claim_costly_pages = 0\n") if $seed % 2;
# Cluster.pm logs every statement; the long run would write gigabytes.
$node->append_conf('postgresql.conf', "log_statement = none\n") if $long;
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pgjobs;
CREATE SCHEMA chaos;
-- one row per published key, written with its job
CREATE TABLE chaos.published (
    key     integer PRIMARY KEY,
    job_id  bigint NOT NULL UNIQUE);
-- one row per committed claim: no unique key, so that a second claim of the
-- same attempt would show
CREATE TABLE chaos.execution (
    job_id      bigint NOT NULL,
    attempt     integer NOT NULL,
    backend_pid integer NOT NULL,
    worker      text NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp());
-- one row per committed ack or nack
CREATE TABLE chaos.outcome (
    job_id   bigint NOT NULL,
    attempt  integer NOT NULL,
    outcome  text NOT NULL,
    at       timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON chaos.execution (job_id);
CREATE INDEX ON chaos.outcome (job_id);
});

# ---------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------

# role => slot => { pid, gen, done }; pid is undef once the process is gone.
my %proc = (produce => {}, consume => {});
my %count = map { $_ => 0 } qw(
  kill_consumer kill_producer cancel_waiting cancel_working
  terminate_waiting terminate_working crash clean_restart respawn);

# Whatever happens, no worker outlives the test (they also exit by themselves
# when their parent is gone).
END
{
	foreach my $role (keys %proc)
	{
		foreach my $p (values %{ $proc{$role} })
		{
			kill 'KILL', $p->{pid} if $p->{pid};
		}
	}
}

# spawn ROLE, SLOT starts the worker process for ROLE in SLOT, appending its
# output to its log.
sub spawn
{
	my ($role, $slot) = @_;
	my $p = $proc{$role}{$slot} //= { gen => 0, done => 0 };
	my $gen = ++$p->{gen};
	my @args = (
		$python, $worker, $role,
		'--host' => $node->host,
		'--port' => $node->port,
		'--parent' => $$,
		'--seed' => $seed,
		'--slot' => $slot,
		'--gen' => $gen);
	push @args,
	  '--jobs' => $N,
	  '--of' => $cfg{producers},
	  '--seconds' => $cfg{publish}
	  if $role eq 'produce';
	my $log = "$PostgreSQL::Test::Utils::log_path/chaos_${role}_$slot.log";

	my $pid = fork;
	die "fork failed: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>>', $log) or POSIX::_exit(127);
		open(STDERR, '>&', \*STDOUT) or POSIX::_exit(127);
		exec(@args) or POSIX::_exit(127);
	}
	$p->{pid} = $pid;
	return $pid;
}

# reap collects the workers that ended and starts new consumers, and new
# producers for those that had not finished.
sub reap
{
	my ($respawn) = @_;
	foreach my $role ('produce', 'consume')
	{
		foreach my $slot (sort keys %{ $proc{$role} })
		{
			my $p = $proc{$role}{$slot};
			next unless $p->{pid};
			next if waitpid($p->{pid}, WNOHANG) <= 0;
			my $status = $?;
			$p->{pid} = undef;
			if ($role eq 'produce' && $status == 0)
			{
				$p->{done} = 1;
				next;
			}
			note("$role $slot ended with status $status");
			next unless $respawn;
			spawn($role, $slot);
			$count{respawn}++;
		}
	}
}

# live ROLE returns the pids of ROLE's running workers.
sub live
{
	my ($role) = @_;
	return grep { defined } map { $_->{pid} } values %{ $proc{$role} };
}

# ---------------------------------------------------------------------------
# Chaos
# ---------------------------------------------------------------------------

# query SQL runs SQL and returns its output, or undef if it failed (the
# server may be down, or restarting).
sub query
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	return $ret == 0 ? $out : undef;
}

# pick LIST returns a random element of LIST, or undef if it is empty.
sub pick
{
	return @_ ? $_[ int(rand(@_)) ] : undef;
}

# kill_consumer kills with SIGKILL a consumer that is working on a job.
sub kill_consumer
{
	my $out = query(
		q{SELECT application_name FROM pg_stat_activity
		   WHERE application_name LIKE 'chaos-c%' AND state = 'active'
		     AND query LIKE '%pg_sleep%' ORDER BY application_name});
	return unless defined $out;
	my %mine = map { $_ => 1 } live('consume');
	my @pids = grep { $mine{$_} } map { /-(\d+)$/ ? $1 : () } split /\n/, $out;
	my $pid = pick(@pids);
	return unless $pid && kill('KILL', $pid);
	$count{kill_consumer}++;
}

# kill_producer kills a producer with SIGKILL.
sub kill_producer
{
	my $pid = pick(sort { $a <=> $b } live('produce'));
	return unless $pid && kill('KILL', $pid);
	$count{kill_producer}++;
}

# signal_backend FUNCTION cancels or terminates (FUNCTION is
# pg_cancel_backend or pg_terminate_backend) a consumer backend that waits
# in consume or works on a job, choosing which at random.
sub signal_backend
{
	my ($function) = @_;
	my $out = query(
		q{SELECT pid, CASE WHEN query LIKE '%pg_sleep%' THEN 'working' ELSE 'waiting' END
		    FROM pg_stat_activity
		   WHERE application_name LIKE 'chaos-c%' AND state = 'active'
		     AND (query LIKE '%pg_sleep%'
		          OR (query LIKE '%jobs.consume%' AND wait_event_type = 'Extension'))
		   ORDER BY pid});
	return unless defined $out;
	my %by_kind;
	foreach (split /\n/, $out)
	{
		my ($pid, $kind) = split /\|/;
		push @{ $by_kind{$kind} }, $pid;
	}
	my $kind = pick('waiting', 'working');
	$kind = $kind eq 'waiting' ? 'working' : 'waiting' unless $by_kind{$kind};
	my $pid = pick(@{ $by_kind{$kind} // [] });
	return unless $pid;
	my $hit = query("SELECT $function($pid)");
	return unless defined $hit && $hit eq 't';
	my $what = $function eq 'pg_cancel_backend' ? 'cancel' : 'terminate';
	$count{"${what}_$kind"}++;
}

# restart MODE crashes the server (immediate shutdown, then crash recovery)
# or restarts it cleanly, while the workers run.
sub restart
{
	my ($mode) = @_;
	if ($mode eq 'crash')
	{
		my $offset = -s $node->logfile;
		$node->stop('immediate');
		sleep(0.5 + rand(1.5));
		$node->start;
		ok( $node->log_contains(
				qr/database system was (?:interrupted|not properly shut down)/,
				$offset),
			'the server ran crash recovery after the immediate shutdown');
		$count{crash}++;
	}
	else
	{
		$node->restart;
		$count{clean_restart}++;
	}
}

foreach my $slot (0 .. $cfg{producers} - 1)
{
	spawn('produce', $slot);
}
foreach my $slot (0 .. $cfg{consumers} - 1)
{
	spawn('consume', $slot);
}

my $start = time;
my @restarts = @{ $cfg{restarts} };
while (time - $start < $cfg{chaos})
{
	sleep(0.2 + rand(0.6));
	reap(1);
	if (@restarts && time - $start >= $restarts[0][0] * $cfg{chaos})
	{
		restart((shift @restarts)->[1]);
		next;
	}
	my $r = rand;
	if ($r < 0.35)
	{
		kill_consumer();
	}
	elsif ($r < 0.60)
	{
		signal_backend('pg_cancel_backend');
	}
	elsif ($r < 0.85)
	{
		signal_backend('pg_terminate_backend');
	}
	elsif ($r < 0.90)
	{
		kill_producer();
	}
}
restart($_->[1]) foreach @restarts;    # had the phase ended too soon
my $chaos_seconds = time - $start;

# ---------------------------------------------------------------------------
# Drain: the producers finish, the consumers empty the queue
# ---------------------------------------------------------------------------

my $drained;
my $deadline = time + $cfg{drain};
while (time < $deadline)
{
	reap(1);
	my $state = query(
		q{SELECT (SELECT count(*) FROM chaos.published) || ' '
		      || (SELECT count(*) FROM jobs.job_queue)});
	if (defined $state && !live('produce'))
	{
		my ($published, $queued) = split / /, $state;
		if ($published == $N && $queued == 0)
		{
			$drained = 1;
			last;
		}
	}
	sleep(0.25);
}
my $total_seconds = time - $start;
ok($drained,
	"every key was published and the queue emptied within $cfg{drain} s of the chaos");
diag('queue at the deadline: '
	  . (query('SELECT status || \': \' || count(*) FROM jobs.job_queue GROUP BY status') // '?'))
  unless $drained;

# Stop the consumers; none has anything left to do.
kill('TERM', live('consume'));
$deadline = time + 10;
while (live('consume') && time < $deadline)
{
	reap(0);
	sleep(0.1);
}
kill('KILL', live('consume'));
reap(0);

# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

# sql SQL runs SQL and returns its output; the server must be up.
sub sql
{
	return $node->safe_psql('postgres', $_[0]);
}

is(sql('SELECT count(*) || \' \' || count(DISTINCT job_id) FROM chaos.published'),
	"$N $N", "the ledger holds all $N keys, each with its own job");
is(sql('SELECT count(*) FROM jobs.job_queue'), '0', 'no job is left in the queue');
is(sql('SELECT count(*) FROM jobs.job'), $N, "jobs.job holds $N finished jobs");
is( sql(
		q{SELECT count(*) FROM jobs.job j JOIN chaos.published p USING (job_id)
		   WHERE j.task = 'chaos.job' AND (j.body->>'key')::int = p.key}),
	$N,
	'every finished job is a published one, with its own key');
is(sql(q{SELECT count(*) || ' ' || count(DISTINCT body->>'key') FROM jobs.job}),
	"$N $N", 'no key was finished twice: every key exactly once');

is( sql(
		q{SELECT count(*) FROM jobs.job j
		   WHERE (SELECT count(*) FROM chaos.execution e WHERE e.job_id = j.job_id)
		         IS DISTINCT FROM j.attempts}),
	'0',
	'each job ran as many times as its attempts count');
is( sql(
		q{SELECT count(*) FROM jobs.job j
		   WHERE NOT (j.attempts BETWEEN 1 AND j.max_retries + 1)
		      OR (SELECT count(DISTINCT attempt) || ' ' || min(attempt) || ' ' || max(attempt)
		            FROM chaos.execution e WHERE e.job_id = j.job_id)
		         IS DISTINCT FROM j.attempts || ' 1 ' || j.attempts}),
	'0',
	'each job ran at least once and at most max_retries + 1 times, attempts 1 to n once each');
is( sql(
		q{SELECT count(*) FROM chaos.execution e
		   WHERE NOT EXISTS (SELECT FROM jobs.job j WHERE j.job_id = e.job_id)}),
	'0',
	'no execution of a job that is not in jobs.job');

is( sql(
		q{SELECT count(*) FROM jobs.job
		   WHERE status = 'failed' AND attempts <> max_retries + 1}),
	'0',
	'a failed job used all its attempts');
is( sql(
		q{SELECT count(*) FROM jobs.job
		   WHERE body->>'mode' = 'poison' AND status <> 'failed'}),
	'0',
	'every job that always fails failed');
is( sql(
		q{SELECT count(*) FROM jobs.job
		   WHERE status = 'succeeded' AND attempts <= (body->>'fail_first')::int}),
	'0',
	'no job succeeded at an attempt that fails on purpose or overruns its lease');
is( sql(
		q{SELECT count(*) FROM jobs.job j
		   WHERE j.status = 'succeeded' AND (
		         (SELECT count(*) FROM chaos.outcome o
		           WHERE o.job_id = j.job_id AND o.outcome = 'ack') <> 1
		      OR NOT EXISTS (SELECT FROM chaos.outcome o
		                      WHERE o.job_id = j.job_id AND o.outcome = 'ack'
		                        AND o.attempt = j.attempts)
		      OR j.result->>'key' IS DISTINCT FROM j.body->>'key'
		      OR (j.result->>'attempt')::int IS DISTINCT FROM j.attempts)}),
	'0',
	'a succeeded job was acked once, by its last attempt, with its own key');
is( sql(
		q{SELECT count(*) FROM jobs.job j
		   WHERE j.status = 'failed'
		     AND EXISTS (SELECT FROM chaos.outcome o
		                  WHERE o.job_id = j.job_id AND o.outcome = 'ack')}),
	'0',
	'a failed job was never acked');
is( sql(
		q{SELECT count(*) FROM chaos.outcome o
		   WHERE (SELECT count(*) FROM chaos.execution e
		           WHERE e.job_id = o.job_id AND e.attempt = o.attempt) <> 1
		      OR (SELECT count(*) FROM chaos.outcome o2
		           WHERE o2.job_id = o.job_id AND o2.attempt = o.attempt) <> 1}),
	'0',
	'each ack or nack ended a claim that was made, and no claim was ended twice');

# The chaos happened.
cmp_ok($count{kill_consumer}, '>', 0, 'consumers were killed in the middle of a job');
cmp_ok($count{cancel_waiting} + $count{cancel_working},
	'>', 0, 'consumer backends were cancelled');
cmp_ok($count{terminate_waiting} + $count{terminate_working},
	'>', 0, 'consumer backends were terminated');
cmp_ok($count{crash}, '>=', 1, 'the server crashed at least once');
cmp_ok($count{clean_restart}, '>=', 1, 'the server restarted cleanly at least once');
is( sql(q{SELECT count(*) > 0 FROM jobs.job WHERE last_error LIKE 'job timed out%'}),
	't', 'lapsed leases were reclaimed and the jobs ran again');

# Only the crashes the test caused.
my $log = slurp_file($node->logfile);
my @crashes = grep { !/terminated by signal 9\b/ }
  ($log =~ /^.*(?:terminated by signal|PANIC:|TRAP:|was terminated by exception).*$/mg);
is(join("\n", @crashes), '', 'the server log shows no crash');

# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------

my ($succeeded, $failed, $failed_poison, $executions, $max_exec, $acks, $nacks,
	$nacks_cancelled, $lapsed)
  = split /\|/, sql(
	q{SELECT (SELECT count(*) FROM jobs.job WHERE status = 'succeeded'),
	         (SELECT count(*) FROM jobs.job WHERE status = 'failed'),
	         (SELECT count(*) FROM jobs.job WHERE status = 'failed' AND body->>'mode' = 'poison'),
	         (SELECT count(*) FROM chaos.execution),
	         (SELECT max(attempts) FROM jobs.job),
	         (SELECT count(*) FROM chaos.outcome WHERE outcome = 'ack'),
	         (SELECT count(*) FROM chaos.outcome WHERE outcome LIKE 'nack%'),
	         (SELECT count(*) FROM chaos.outcome WHERE outcome = 'nack-cancelled'),
	         (SELECT count(*) FROM chaos.execution e
	           WHERE NOT EXISTS (SELECT FROM chaos.outcome o
	                              WHERE o.job_id = e.job_id AND o.attempt = e.attempt))});
my $histogram = sql(
	q{SELECT string_agg(attempts || 'x:' || n, ' ' ORDER BY attempts)
	    FROM (SELECT attempts, count(*) AS n FROM jobs.job GROUP BY attempts) h});

# What the consumers saw (their logs; a killed consumer's last lines are lost).
my %seen = (lease_lost => 0, not_running => 0, disconnects => 0);
foreach my $file (glob("$PostgreSQL::Test::Utils::log_path/chaos_consume_*.log"))
{
	foreach (split /\n/, slurp_file($file))
	{
		$seen{lease_lost}++ if /\[PJ003\]/;
		$seen{not_running}++ if /\[PJ002\]/;
		$seen{disconnects}++ if /connect failed/;
	}
}

diag(sprintf('chaos: seed %d, %.0f s (%.0f s of chaos)', $seed, $total_seconds, $chaos_seconds));
diag(sprintf(
		'chaos: N %d: succeeded %d, failed %d (%d always-failing), in queue %s, duplicates %d',
		$N, $succeeded, $failed, $failed_poison,
		sql('SELECT count(*) FROM jobs.job_queue'),
		sql(q{SELECT count(*) - count(DISTINCT body->>'key') FROM jobs.job})));
diag(sprintf(
		'chaos: executions %d (max %d per job; per job %s), acks %d, nacks %d '
		  . '(%d after a cancel), claims that lapsed %d',
		$executions, $max_exec, $histogram, $acks, $nacks, $nacks_cancelled, $lapsed));
diag(sprintf(
		'chaos: kill -9 %d consumers mid-job and %d producers (%d respawned), '
		  . 'cancels %d waiting + %d working, terminates %d waiting + %d working, '
		  . 'crash restarts %d, clean restarts %d',
		@count{
			qw(kill_consumer kill_producer respawn cancel_waiting cancel_working
			  terminate_waiting terminate_working crash clean_restart)
		}));
diag(sprintf(
		'chaos: consumers saw %d acks/nacks refused as lease lapsed (PJ003), %d as not running (PJ002), '
		  . '%d failed connection attempts',
		@seen{qw(lease_lost not_running disconnects)}));

$node->stop;
done_testing();
