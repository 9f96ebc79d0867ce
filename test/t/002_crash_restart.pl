
# Copyright (c) 2026, The pgjobs developers
#
# 002_crash_restart.pl: committed jobs survive a crash, uncommitted ones don't.
#
# A job exists exactly when the transaction that published it commits, and a
# claim, ack or nack counts exactly when its transaction commits.  Two crashes
# check this against WAL replay: an immediate shutdown (no shutdown
# checkpoint, crash recovery at the next start), and a backend killed with
# SIGKILL (the postmaster resets every backend and recovers).  Each time a
# session holds an open transaction that published a job, claimed one and
# acked one; after recovery the committed state must be exactly what it
# was, the open transaction's work gone, ids still increasing, and the queue
# working.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgjobsSession;

my $node = PostgreSQL::Test::Cluster->new('crash_restart');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# Cluster.pm turns this off; the SIGKILL case needs the postmaster to recover.
$node->append_conf('postgresql.conf', "restart_after_crash = on\n");
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION pgjobs');

# sql SQL runs SQL in its own session and transaction.
sub sql
{
	return $node->safe_psql('postgres', $_[0]);
}

# contents returns every row of both tables, all columns, ordered by id.
sub contents
{
	return sql('SELECT q::text FROM jobs.job_queue q ORDER BY job_id') . "\n--\n"
	  . sql('SELECT j::text FROM jobs.job j ORDER BY job_id');
}

# states IDS returns "id:status:attempts" for each job in IDS.
sub states
{
	my $ids = join(',', @_);
	return sql(
		"SELECT string_agg(job_id || ':' || status || ':' || attempts, ' ' ORDER BY job_id)
		   FROM jobs.all WHERE job_id IN ($ids)");
}

# open_session returns a psql session on the current node kept open in the
# background (PgjobsSession::open_session).
sub open_session
{
	return PgjobsSession::open_session($node);
}

# ---------------------------------------------------------------------------
# Crash 1: immediate shutdown
# ---------------------------------------------------------------------------

my %id;
foreach my $n (1 .. 5)
{
	$id{$n} = sql("SELECT jobs.publish('cr.$n', '{\"n\": $n}', i_priority => "
		  . (10 - $n) . ', i_timeout => 3600)');
}

# Half the committed work is only in WAL after this checkpoint, including
# 300 jobs of one publish_bulk, written directly (MULTI_INSERT records) and
# scheduled out of the way of the claims below.
sql('CHECKPOINT');
sql(q{SELECT count(*) FROM jobs.publish_bulk((
        SELECT array_agg(ROW('cr.bulk.' || i, jsonb_build_object('i', i), '2100-01-01',
                             i % 7 + 1, 5, NULL)::jobs.bulk_job ORDER BY i)
          FROM generate_series(1, 300) i))});
is(sql(q{SELECT string_agg(job_id::text, ',') FROM jobs.consume(2)}),
	"$id{1},$id{2}", 'jobs 1 and 2 claimed and committed');
sql(qq{SELECT jobs.ack($id{1}, '{"done": 1}')});
$id{6} = sql(q{SELECT jobs.publish('cr.6', i_priority => 1, i_timeout => 3600)});
is(states(@id{ 1 .. 6 }),
	"$id{1}:succeeded:1 $id{2}:running:1 $id{3}:pending:0 $id{4}:pending:0 "
	  . "$id{5}:pending:0 $id{6}:pending:0",
	'before the crash: one succeeded, one running, four pending');

# An open transaction publishes a job, claims job 3 and acks job 2.
my $session = open_session();
$session->query_safe('BEGIN');
my $uncommitted = $session->query_safe(
	q{SELECT jobs.publish('cr.uncommitted', i_priority => -1000)});
$session->query_safe(
	q{SELECT count(*) FROM jobs.publish_bulk((
        SELECT array_agg(ROW('cr.uncommitted.' || i, NULL, NULL, NULL, -1000, NULL)::jobs.bulk_job)
          FROM generate_series(1, 300) i))});
is($session->query_safe('SELECT job_id FROM jobs.consume(1)'),
	$id{3}, 'the open transaction claims job 3');
$session->query_safe("SELECT jobs.ack($id{2})");
is($session->query_safe(
		"SELECT count(*) FROM jobs.job_queue WHERE job_id = $uncommitted"),
	'1', 'the open transaction sees its own job');

# Write the open transaction's rows to disk, so that recovery finds them and
# must rely on the transaction never having committed.
sql('CHECKPOINT');
is(sql("SELECT count(*) FROM jobs.all WHERE job_id = $uncommitted"),
	'0', 'other sessions do not see the uncommitted job');

my $committed = contents();
my $max_committed = sql('SELECT max(job_id) FROM jobs.all');

my $log_offset = -s $node->logfile;
$node->stop('immediate');
$session->quit;
$node->start;

ok( $node->log_contains(
		qr/database system was (?:interrupted|not properly shut down)/, $log_offset),
	'the restart ran crash recovery');
is(contents(), $committed, 'after the crash: every committed job intact, every column');
is(sql("SELECT count(*) FROM jobs.all WHERE job_id = $uncommitted OR task LIKE 'cr.uncommitted%'"),
	'0', 'after the crash: the jobs published by the open transaction do not exist');
is(sql(q{SELECT count(*) || ':' || bool_and(body->>'i' = i::text AND timeout = i % 7 + 1)
           FROM jobs.job_queue, LATERAL (SELECT substr(task, 9)::int AS i) e
          WHERE task LIKE 'cr.bulk.%'}),
	'300:true', 'after the crash: the 300 jobs of the committed publish_bulk are intact');
is(states(@id{ 2, 3 }),
	"$id{2}:running:1 $id{3}:pending:0",
	'after the crash: the open claim and the open ack never happened');

my $after1 = sql(q{SELECT jobs.publish('cr.after1', i_priority => -1)});
cmp_ok($after1, '>', $max_committed, 'after the crash: ids continue above every committed id');
cmp_ok($after1, '>', $uncommitted,
	'after the crash: the id drawn by the lost transaction is not handed out again');

is(sql(q{SELECT string_agg(job_id::text, ',') FROM jobs.consume(3)}),
	"$id{3},$id{4},$id{5}", 'after the crash: consume claims the pending jobs in order');
sql("SELECT jobs.ack($id{2}, '{\"late\": true}')");
sql("SELECT jobs.ack($id{3})");
sql("SELECT jobs.nack($id{4}, 'retry me', now() + interval '1 hour')");
is(states(@id{ 2, 3, 4 }),
	"$id{2}:succeeded:1 $id{3}:succeeded:1 $id{4}:pending:1",
	'after the crash: ack and nack work, on the job running since before the crash too');

# ---------------------------------------------------------------------------
# Crash 2: a backend killed with SIGKILL
# ---------------------------------------------------------------------------

$session = open_session();
my $pid = $session->query_safe('SELECT pg_backend_pid()');
$session->query_safe('BEGIN');
my $killed = $session->query_safe(q{SELECT jobs.publish('cr.killed')});
$session->query_safe(
	qq{SELECT jobs.publish_bulk(ARRAY[ROW('cr.killed.bulk', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job])});
$session->query_safe(
	q{SELECT count(*) FROM jobs.publish_bulk((
        SELECT array_agg(ROW('cr.killed.bulk.' || i, NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job)
          FROM generate_series(1, 300) i))});
$session->query_safe("SELECT jobs.ack($id{5})");

$committed = contents();
$max_committed = sql('SELECT max(job_id) FROM jobs.all');

$log_offset = -s $node->logfile;
ok(kill('KILL', $pid), 'SIGKILL the backend holding the open transaction');
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
$node->poll_query_until('postgres', 'SELECT true')
  or die 'the server did not come back after the backend crash';
$session->quit;

ok( $node->log_contains(qr/terminated by signal 9/, $log_offset)
	  && $node->log_contains(qr/all server processes terminated; reinitializing/, $log_offset),
	'the postmaster reset every backend and recovered');
is(contents(), $committed, 'after the backend crash: every committed job intact, every column');
is(sql("SELECT count(*) FROM jobs.all WHERE job_id = $killed OR task LIKE 'cr.killed%'"),
	'0', 'after the backend crash: the jobs published by the killed transaction do not exist');
is(states($id{5}), "$id{5}:running:1", 'after the backend crash: the killed ack never happened');

my $after2 = sql(q{SELECT jobs.publish('cr.after2', i_priority => -2)});
cmp_ok($after2, '>', $max_committed,
	'after the backend crash: ids continue above every committed id');
sql("SELECT jobs.ack($id{5})");
is(sql(q{SELECT string_agg(task, ',') FROM jobs.consume(10)}),
	'cr.6,cr.after1,cr.after2',
	'after the backend crash: consume claims the ready jobs in order');
is( sql(q{SELECT string_agg(status || ':' || n, ' ' ORDER BY status::text)
	        FROM (SELECT status, count(*) AS n FROM jobs.all GROUP BY status) s}),
	'pending:301 running:3 succeeded:4',
	'final state: everything accounted for');

$node->stop;
done_testing();
