
# Copyright (c) 2026, The pgjobs developers
#
# 013_priority_bounds.pl: the priority bounds (src/cursor.c).  Shared memory
# keeps bounds of the priorities of pending jobs; a claim reads no priority
# outside them, and a claim of one range runs the plan of one range.
#
#  - with jobs of one priority, a claim runs the one-range plan, and it
#    reads the claim index;
#  - a job published at a higher priority widens the bounds at its commit:
#    the next claim takes it first, through the plan of two ranges (the
#    priorities above from their head, then the cursor);
#  - once it is claimed, the periodic check narrows the bounds again;
#  - a job published at a lower priority widens them too (the claim reads
#    the cursor, then the priorities below it): it is claimed once the
#    higher ones are gone;
#  - a job written into jobs.job_queue directly, behind pgjobs' back, at a
#    priority outside the bounds, is claimed within one periodic check, and
#    at once after jobs.wake_consumers();
#  - a claim rolled back leaves its jobs claimable at their priority, also
#    when its own transaction probed the bounds after it;
#  - a claim takes the jobs its own transaction made pending, before its
#    commit widens the bounds.

use strict;
use warnings;

use File::Basename;
use lib dirname(__FILE__);
use PgjobsSession;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('bounds');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgjobs'
pgjobs.claim_cursor_check_interval = 500
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgjobs');

# 200 jobs at priority 0, due in publish order
$node->safe_psql('postgres', q{
SELECT count(*) FROM jobs.publish_bulk((
    SELECT array_agg(ROW('b.x', NULL, '2000-01-01'::timestamp + i * interval '1 s',
                         NULL, NULL, NULL)::jobs.bulk_job ORDER BY i)
      FROM generate_series(1, 200) i));
ANALYZE jobs.job_queue;
});

my $s = PgjobsSession::open_session($node);
my $other = PgjobsSession::open_session($node);
$s->query_safe(q{
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = log;
});

# claim returns the claimed jobs as "id:priority", in claim order
sub claim
{
	my ($session, $n) = @_;
	return $session->query_safe(
		"SELECT coalesce(string_agg(job_id || ':' || priority, ',' ORDER BY n), '')"
		  . " FROM (SELECT job_id, priority, row_number() OVER () AS n"
		  . "         FROM jobs.consume($n)) c");
}

# the plan of the last claim in the server log since $offset: 'one range',
# 'two ranges' (the head above, then the cursor), 'cursor, then the head
# below', 'ranges', 'head' or undef
sub last_claim_plan
{
	my ($offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my $which;
	for my $plan (split /LOG:\s+duration:/, $log)
	{
		next unless $plan =~ /LockRows/;
		my $head = index($plan, 'Index Cond: ((priority >= $3) AND (priority <= $4)');
		my $cursor = index($plan, 'Index Cond: ((priority = $5)');
		$which =
		    $plan =~ /Function Scan/ ? 'ranges'
		  : $plan =~ /Index Cond: \(\(priority = \$3\)/ ? 'one range'
		  : $head >= 0 && $cursor >= 0 ? ($head < $cursor ? 'two ranges' : 'cursor, then the head below')
		  : 'head';
		$which .= ' on the primary key' if $plan =~ /Index Scan using job_queue_pkey on job_queue\b(?! q)/;
	}
	return $which;
}

# the first claims make a cursor, and the claim after them finds the bounds
claim($s, 1) for 1 .. 3;
my $offset = -s $node->logfile;
is(claim($s, 1), '4:0', 'the fourth job of priority 0');
is(last_claim_plan($offset), 'one range', 'a claim of one priority runs the one-range plan');

# a job at priority 5 widens the bounds at its commit
my $high = $node->safe_psql('postgres', "SELECT jobs.publish('b.high', NULL, i_priority => 5)");
$offset = -s $node->logfile;
is(claim($s, 2), "$high:5,5:0", 'a job of a higher priority is claimed first');
is(last_claim_plan($offset), 'two ranges',
	'with a priority pending above the cursor, the claim runs the two-range plan');

# the periodic check narrows them again
sleep(1);
claim($s, 1);
$offset = -s $node->logfile;
is(claim($s, 1), '7:0', 'claims go on in order');
is(last_claim_plan($offset), 'one range', 'the periodic check narrowed the bounds');

# a job below: claimed once the higher ones are gone
my $low = $node->safe_psql('postgres', "SELECT jobs.publish('b.low', NULL, i_priority => -3)");
$offset = -s $node->logfile;
is(claim($s, 1), '8:0', 'a job of a lower priority waits');
is(last_claim_plan($offset), 'cursor, then the head below',
	'with a priority pending below the cursor, the claim runs the two-range plan, cursor first');
is($node->safe_psql('postgres', "SELECT count(*) FROM jobs.consume(192) WHERE priority = 0"),
	'192', 'the rest of priority 0');
is(claim($s, 1), "$low:-3", 'then the job of the lower priority');

# behind pgjobs' back: a job at priority 9 inserted directly
$node->safe_psql('postgres', "SELECT jobs.publish('b.y', NULL, i_priority => 1)") for 1 .. 3;
sleep(1);
claim($s, 1);    # the periodic check: the bounds are [-3, 1]
my $direct = $node->safe_psql('postgres',
	"INSERT INTO jobs.job_queue (task, priority) VALUES ('b.direct', 9) RETURNING job_id");
my $got = claim($s, 1);
like($got, qr/^\d+:1$/, 'a job written directly outside the bounds is passed over at first');
sleep(1);
is(claim($s, 1), "$direct:9", 'and claimed after one periodic check');

# ... and at once after jobs.wake_consumers()
$direct = $node->safe_psql('postgres',
	"INSERT INTO jobs.job_queue (task, priority) VALUES ('b.direct', 12) RETURNING job_id;"
	  . " SELECT jobs.wake_consumers();");
$direct =~ s/\n.*//s;
is(claim($s, 1), "$direct:12", 'a job written directly is claimed at once after wake_consumers');

# a claim rolled back while the periodic check narrows the bounds: the
# check sees its job as pending, and the bounds keep its priority
$node->safe_psql('postgres', 'SELECT count(*) FROM jobs.consume(1000)');
my @one = map { $node->safe_psql('postgres', "SELECT jobs.publish('c.one', NULL, i_priority => 1)") }
  1 .. 3;
my $zero = $node->safe_psql('postgres', "SELECT jobs.publish('c.zero', NULL, i_priority => 0)");
$other->query_safe('BEGIN');
is($other->query_safe("SELECT job_id FROM jobs.consume_topic('c.zero', 1)"),
	$zero, 'an open claim holds the job of priority 0');
sleep(1);
is(claim($s, 1), "$one[0]:1", 'a claim beside it runs the periodic check');
$other->query_safe('ROLLBACK');
is(claim($s, 1), "$one[1]:1", 'after the rollback, claims go on at priority 1');
is(claim($s, 1), "$one[2]:1", 'to its last job');
is(claim($s, 1), "$zero:0", 'then take the job the rolled back claim held');

# a transaction that probes the bounds after its own claim sees that job
# running; if it rolls back, the job is pending again at its priority
my @zeros = map { $node->safe_psql('postgres', "SELECT jobs.publish('d.zero', NULL, i_priority => 0)") }
  1 .. 3;
my $seven = $node->safe_psql('postgres', "SELECT jobs.publish('d.seven', NULL, i_priority => 7)");
$other->query_safe('BEGIN');
is(claim($other, 1), "$seven:7", 'a transaction claims the job of priority 7');
sleep(1);
is(claim($other, 1), "$zeros[0]:0", 'and then, running the periodic check, one of priority 0');
$other->query_safe('ROLLBACK');
is($s->query_safe("SELECT job_id FROM jobs.consume_topic('d.zero', 1)"),
	$zeros[0], 'after its rollback a topic claim starts the cursor again');
is(claim($s, 1), "$seven:7", 'and the next claim takes the job of priority 7 first');
is(claim($s, 2), "$zeros[1]:0,$zeros[2]:0", 'then the rest');

# a claim sees the jobs its own transaction made pending, outside the
# bounds its commit has yet to widen
my @e = map { $node->safe_psql('postgres', "SELECT jobs.publish('e.zero', NULL, i_priority => 0)") }
  1 .. 3;
sleep(1);
is(claim($s, 1), "$e[0]:0", 'the periodic check: the bounds are priority 0');
$s->query_safe('BEGIN');
my $nine = $s->query_safe("SELECT jobs.publish('e.nine', NULL, i_priority => 9)");
is(claim($s, 1), "$nine:9", 'a claim takes the job of priority 9 its transaction published');
$s->query_safe('COMMIT');
is(claim($s, 2), "$e[1]:0,$e[2]:0", 'then the rest');

is($node->safe_psql('postgres', "SELECT count(*) FROM jobs.job_queue WHERE status = 'pending'"),
	'0', 'nothing is left pending');

$s->quit;
$other->quit;
$node->stop;
done_testing();
