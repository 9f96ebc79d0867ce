
# Copyright (c) 2026, The pgjobs developers
#
# 012_filter_cursor.pl: filter cursors.  Claims that filter jobs out (a
# topic, paused or full topics, grants) keep cursors of their own, which
# move past the jobs their filter excludes; the claim cursor itself stops
# at the first of those.  With a paused topic's backlog ahead of the other
# jobs, claims start past the backlog instead of reading it every time.
#
#  - the paused backlog is read once, not by every claim (buffers a claim);
#  - a job written into jobs.job_queue directly, behind pgjobs' back and
#    below the filter cursor, is claimed within one periodic check: the
#    check drops the filter cursors;
#  - after a resume the paused jobs are claimed, in claim order.

use strict;
use warnings;

use File::Basename;
use lib dirname(__FILE__);
use PgjobsSession;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('filter');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgjobs'
pgjobs.claim_cursor_check_interval = 500
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgjobs');

# 20 000 jobs of a paused topic, then 100 others, all due
$node->safe_psql('postgres', q{
SELECT jobs.pause('big.%');
SELECT count(*) FROM jobs.publish_bulk((
    SELECT array_agg(ROW('big.x', NULL, '2000-01-01'::timestamp + i * interval '1 s',
                         NULL, NULL, NULL)::jobs.bulk_job ORDER BY i)
      FROM generate_series(1, 20000) i));
SELECT count(*) FROM jobs.publish_bulk((
    SELECT array_agg(ROW('small.' || i, NULL, '2001-01-01'::timestamp + i * interval '1 s',
                         NULL, NULL, NULL)::jobs.bulk_job ORDER BY i)
      FROM generate_series(1, 100) i));
VACUUM ANALYZE jobs.job_queue;
});

# one consume(1) in a session kept open (a new session's first call reads
# the catalogs): the buffers it touched, its nested statements included,
# then its job's task; the job is acked
my $s = PgjobsSession::open_session($node);
$s->query_safe('SELECT count(*) FROM jobs.job_queue');

sub claim_one
{
	my $out = $s->query_safe(q{
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM jobs.consume(1);
SELECT jobs.ack(job_id), task FROM jobs.job_queue WHERE status = 'running';
});
	my ($hit) = $out =~ /Buffers: shared hit=(\d+)/;
	my ($task) = $out =~ /^\|(\S+)$/m;
	return ($task // '', ($hit // 0));
}

# the first claim reads the paused backlog; the later ones start past it
my (@tasks, @costs);
for my $k (1 .. 10)
{
	my ($task, $hit) = claim_one();
	push @tasks, $task;
	push @costs, $hit;
}
note("buffers per claim: @costs");
is_deeply(\@tasks, [ map { "small.$_" } 1 .. 10 ], 'the claims took the unpaused jobs in claim order');
ok($costs[0] > 1000, "the first claim read the paused backlog ($costs[0] buffers)");
my $late = (sort { $b <=> $a } @costs[ 2 .. 9 ])[0];
ok($late < 200, "the later claims started past it (at most $late buffers each)");

# a job written directly below the filter cursor, without wake_consumers:
# claimed once the periodic check has run
$node->safe_psql('postgres', q{
INSERT INTO jobs.job_queue (task, scheduled_at) VALUES ('small.direct', '2000-06-01');
});
my $got = 0;
my $start = time;
while (!$got && time - $start < 30)
{
	my ($task) = claim_one();
	$got = $task eq 'small.direct';
	select(undef, undef, undef, 0.2) unless $got;
}
ok($got, 'a job written behind pgjobs\' back below the filter cursor was claimed after a periodic check');

# after a resume, the paused jobs come first, in claim order
$node->safe_psql('postgres', q{SELECT jobs.resume('big.%')});
my $next = $node->safe_psql('postgres', q{SELECT string_agg(task || ' ' || scheduled_at::date, ',' ORDER BY scheduled_at) FROM jobs.consume(3)});
is($next, 'big.x 2000-01-01,big.x 2000-01-01,big.x 2000-01-01', 'after the resume the paused jobs come first');

$s->quit;
$node->stop;
done_testing();
