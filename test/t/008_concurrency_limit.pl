
# Copyright (c) 2026, The pgjobs developers
#
# 008_concurrency_limit.pl: with pgjobs preloaded, a concurrency limit holds
# across consumers without making them wait for each other's commits.
#
# Preloaded, the running jobs of a concurrency-limited topic are counted in
# shared memory, and a claim reserves its room there until the claiming
# transaction ends; without the preload (the isolation spec
# concurrency_limit) the topic's row stays locked until the claimer commits.
# Here two sessions claim at once: the second sees the first's uncommitted
# claims through their reservation, neither waits, the limit is never
# exceeded, and a rollback, an ack, a nack, a release, an expiry or a delete
# by hand frees room, while what a rolled-back savepoint did counts for
# nothing.  A transaction holding reservations cannot be prepared.

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

# every way a job stops running frees its room: nack, release, expiry, and
# a delete by hand (the full count is read again from the table)
$node->safe_psql('postgres', q{
	SELECT jobs.ack(job_id) FROM jobs.job_queue WHERE status = 'running';
	SELECT jobs.set_limit('thumb.%', 1);
});
my $one = q{SELECT coalesce((SELECT job_id FROM jobs.consume_topic('thumb.%', 1)), 0)};
my $id = $b->query_safe($one);
ok($id > 0, 'limit 1: one claim');
is($b->query_safe($one), '0', 'limit 1: no second claim');
$b->query_safe("SELECT jobs.nack($id, 'try again', now())");
$id = $b->query_safe($one);
ok($id > 0, 'a nack frees the room');
$b->query_safe("SELECT jobs.release($id)");
$id = $b->query_safe($one);
ok($id > 0, 'a release frees the room');
$node->safe_psql('postgres',
	"UPDATE jobs.job_queue SET expires_at = now() - interval '1 second' WHERE job_id = $id");
$node->safe_psql('postgres', 'SELECT jobs.expire()');
$id = $b->query_safe($one);
ok($id > 0, 'an expiry frees the room');
$node->safe_psql('postgres', "DELETE FROM jobs.job_queue WHERE job_id = $id");
$id = $b->query_safe($one);
ok($id > 0, 'a running job deleted by hand frees the room at once');

# savepoints: a claim rolled back to a savepoint frees its room, an ack
# rolled back does not; a claim after an ack in the same transaction reuses
# the room (ack the previous job and claim the next in one commit)
$a->query_safe('BEGIN');
$a->query_safe('SAVEPOINT s');
$a->query_safe("SELECT jobs.ack($id)");
$a->query_safe('ROLLBACK TO SAVEPOINT s');
is($a->query_safe($one), '0', 'an ack rolled back to a savepoint frees nothing');
$a->query_safe("SELECT jobs.ack($id)");
my $next = $a->query_safe($one);
ok($next > 0, 'after an ack, the same transaction claims the next job');
is($b->query_safe($one), '0', 'meanwhile nobody else gets room');
$a->query_safe('SAVEPOINT t');
$a->query_safe("SELECT jobs.ack($next)");
ok($a->query_safe($one) > 0, 'ack and claim inside a savepoint');
$a->query_safe('ROLLBACK TO SAVEPOINT t');
$a->query_safe('COMMIT');
is($node->safe_psql('postgres', $running), '1', 'one thumb job runs after the savepoint games');
is($b->query_safe($one), '0', 'and it fills the room');

# a limit set on jobs already running counts them
$node->safe_psql('postgres', q{
	SELECT jobs.ack(job_id) FROM jobs.job_queue WHERE status = 'running';
	SELECT jobs.publish_bulk(ARRAY(
	    SELECT ROW('late.job', NULL, NULL, 3600, NULL, NULL)::jobs.bulk_job
	      FROM generate_series(1, 5)));
	SELECT count(*) FROM jobs.consume_topic('late.%', 3);
	SELECT jobs.set_limit('late.%', 4);
});
is($b->query_safe(q{SELECT count(*) FROM jobs.consume_topic('late.%', 5)}), '1',
	'a new limit counts the jobs already running');

# many short transactions of four sessions at once: ack-and-claim loops,
# nacks and rollbacks; the shared count stays exact
$node->safe_psql('postgres', q{
	SELECT jobs.ack(job_id) FROM jobs.job_queue WHERE status = 'running';
	SELECT count(*) FROM jobs.publish_bulk(ARRAY(
	    SELECT ROW('burst.' || (i % 3), NULL, NULL, 3600, NULL, NULL)::jobs.bulk_job
	      FROM generate_series(1, 400) i));
	SELECT jobs.set_limit('burst.%', 3);
});
my @w = map { PgjobsSession::open_session($node) } 1 .. 4;
my %held;
my $over = 0;
for my $round (1 .. 60)
{
	for my $k (0 .. 3)
	{
		my $s = $w[$k];
		my $prev = $held{$k} // 0;
		my $kind = ($round + $k) % 4;
		$s->query_safe('BEGIN');
		if ($prev)
		{
			$s->query_safe($kind == 0 ? "SELECT jobs.nack($prev, NULL, now())"
				: "SELECT jobs.ack($prev)");
		}
		my $got = $s->query_safe(
			q{SELECT coalesce((SELECT job_id FROM jobs.consume_topic('burst.%', 1)), 0)});
		if ($kind == 1 && $round % 3 == 0)
		{
			$s->query_safe('ROLLBACK');
		}
		else
		{
			$s->query_safe('COMMIT');
			$held{$k} = $got;
		}
		my $n = $node->safe_psql('postgres',
			q{SELECT count(*) FROM jobs.job_queue WHERE status = 'running' AND task LIKE 'burst.%'});
		$over++ if $n > 3;
	}
}
is($over, 0, 'four sessions in 240 transactions never ran more than three');
my $now_running = $node->safe_psql('postgres',
	q{SELECT count(*) FROM jobs.job_queue WHERE status = 'running' AND task LIKE 'burst.%'});
is($b->query_safe(q{SELECT count(*) FROM jobs.consume_topic('burst.%', 10)}), 3 - $now_running,
	'afterwards the room left is exactly the limit less the running jobs');
$_->quit for @w;

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
