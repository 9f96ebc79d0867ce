
# Copyright (c) 2026, The pgjobs developers
#
# 008_concurrency_limit.pl: with pgjobs preloaded, a concurrency limit holds
# across consumers without making them wait for each other's commits.
#
# Preloaded, the claims of a concurrency-limited topic are reserved in shared
# memory until the claiming transaction ends, under a lock held only while
# the running jobs are counted and the claims made; without the preload (the
# isolation spec concurrency_limit) the topic's row stays locked until the
# claimer commits.  Here two sessions claim at once: the second sees the
# first's uncommitted claims through their reservation, neither waits, the
# limit is never exceeded, and a rollback or an ack frees room.  A
# transaction holding reservations cannot be prepared.

use strict;
use warnings;

use File::Basename;
use lib dirname(__FILE__);
use PgjobsSession;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('limit');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgjobs'
max_prepared_transactions = 2
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pgjobs;
	SELECT count(*) FROM jobs.publish_bulk(ARRAY(
	    SELECT ROW('thumb.make', NULL, NULL, 3600, NULL, NULL)::jobs.bulk_job
	      FROM generate_series(1, 6)));
	SELECT jobs.publish('mail.send', NULL, NULL, 3600);
	SELECT jobs.set_limit('thumb.%', 2);
});

my $running = q{SELECT count(*) FROM jobs.job_queue WHERE task = 'thumb.make' AND status = 'running'};

my $a = PgjobsSession::open_session($node);
my $b = PgjobsSession::open_session($node);

# a claims the two slots and does not commit yet; b does not wait for it and
# gets only what the limit leaves: the mail job
$a->query_safe('BEGIN');
is($a->query_safe(q{SELECT count(*) FROM jobs.consume(2) WHERE task = 'thumb.make'}), '2',
	'the first consumer claims the two slots');
$b->query_safe("SET statement_timeout = '5s'");
is($b->query_safe(q{SELECT string_agg(task, ',') FROM jobs.consume(10)}), 'mail.send',
	'the second consumer, at the same time, gets no thumb job and does not wait for the first');
$a->query_safe('COMMIT');
is($node->safe_psql('postgres', $running), '2', 'two thumb jobs run, no more');
is($b->query_safe(q{SELECT count(*) FROM jobs.consume(10)}), '0',
	'after the commit, still no room');

# an ack frees a slot
my $done = $node->safe_psql('postgres',
	q{SELECT min(job_id) FROM jobs.job_queue WHERE task = 'thumb.make' AND status = 'running'});
$node->safe_psql('postgres', "SELECT jobs.ack($done)");
is($b->query_safe(q{SELECT count(*) FROM jobs.consume(10)}), '1', 'an ack frees one slot');
is($node->safe_psql('postgres', $running), '2', 'two thumb jobs run again');

# a rolled-back claim gives its room back at once
$node->safe_psql('postgres', q{SELECT jobs.ack(job_id) FROM jobs.job_queue WHERE status = 'running'});
$a->query_safe('BEGIN');
is($a->query_safe(q{SELECT count(*) FROM jobs.consume(10)}), '2', 'a claims both slots again');
is($b->query_safe(q{SELECT count(*) FROM jobs.consume(10)}), '0', 'b gets none meanwhile');
$a->query_safe('ROLLBACK');
is($b->query_safe(q{SELECT count(*) FROM jobs.consume(10)}), '2',
	'after the rollback b gets the two slots');
is($node->safe_psql('postgres', $running), '2', 'never more than two');

# many concurrent claimers never exceed the limit
$node->safe_psql('postgres', q{
	SELECT jobs.ack(job_id) FROM jobs.job_queue WHERE status = 'running';
	SELECT count(*) FROM jobs.publish_bulk(ARRAY(
	    SELECT ROW('thumb.make', NULL, NULL, 3600, NULL, NULL)::jobs.bulk_job
	      FROM generate_series(1, 40)));
	SELECT jobs.set_limit('thumb.%', 5);
});
my @s = map { PgjobsSession::open_session($node) } 1 .. 4;
$_->query_safe('BEGIN') for @s;
my $claimed = 0;
$claimed += $_->query_safe('SELECT count(*) FROM jobs.consume(3)') for @s;
is($claimed, 5, 'four consumers claiming 3 each in open transactions take 5 jobs between them');
$_->query_safe('COMMIT') for @s;
is($node->safe_psql('postgres', $running), '5', 'five run');
$_->quit for @s;

# reservations and two-phase commit do not mix
$node->safe_psql('postgres', q{SELECT jobs.ack(job_id) FROM jobs.job_queue WHERE status = 'running'});
$a->query_safe('BEGIN');
$a->query_safe('SELECT count(*) FROM jobs.consume(1)');
my ($ret, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	SELECT count(*) FROM jobs.consume(1);
	PREPARE TRANSACTION 'pgjobs_limit';});
like($err, qr/cannot prepare a transaction that claimed jobs of a concurrency-limited topic/,
	'a transaction with reservations cannot be prepared');
$a->query_safe('ROLLBACK');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_prepared_xacts}), '0', 'nothing prepared');

# claiming limited topics needs READ COMMITTED
($ret, $out, $err) = $node->psql('postgres', q{
	BEGIN ISOLATION LEVEL REPEATABLE READ;
	SELECT count(*) FROM jobs.consume(1);});
like($err, qr/cannot be claimed in a REPEATABLE READ or SERIALIZABLE transaction/,
	'a REPEATABLE READ claim of a limited topic is refused');

$a->quit;
$b->quit;
ok(!$node->log_contains(qr/PANIC|TRAP:|terminated by signal/), 'no crash');
$node->stop;
done_testing();
