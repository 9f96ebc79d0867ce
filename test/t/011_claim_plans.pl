
# Copyright (c) 2026, The pgjobs developers
#
# 011_claim_plans.pl: the claim cursor's checks are planned on the claim
# index.
#
# Two statements read one priority of the claim index between two keys: the
# check a filtered claim runs (what did it pass over?) and the periodic check
# below each cursor.  Their generic plans are made once per backend, from
# the statistics of that moment.  When the statistics say that all jobs share
# one scheduled_at (a queue filled by publish_bulk), an equality on the
# priority makes job_queue_pkey's order the claim order too, and a plan on
# the primary key walks up from the lowest job_id through the dead row of
# every job finished since the last VACUUM: 488 buffers a check where the
# claim index reads a few.  The priority is written as an ANY of one element
# (AT_PRIORITY in src/catalog.c) so that the planner does not take it for a
# constant of the sort order.  This test makes those statistics, runs both
# checks under auto_explain and requires each of their plans to read
# job_queue_pending_idx and never job_queue_pkey.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plans');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgjobs'
pgjobs.claim_cursor_check_interval = 100
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgjobs');

# 40 000 jobs of one publish_bulk (one scheduled_at), over four topic
# prefixes and priorities 0..9; half of them finished, then fresh
# statistics
$node->safe_psql('postgres', q{
SELECT count(*) FROM jobs.publish_bulk((
    SELECT array_agg(ROW('t.' || (i % 4) || '.' || (i % 250), NULL, NULL, NULL,
                         i % 10, NULL)::jobs.bulk_job ORDER BY i)
      FROM generate_series(1, 40000) i));
SELECT count(*) FROM jobs.ack_batch(ARRAY(SELECT job_id FROM jobs.consume(20000)));
ANALYZE jobs.job_queue;
});

# one session: topic claims (each runs the filtered check for every
# priority it claimed from), then, once the check interval has passed,
# claims that run the periodic check below every cursor; auto_explain sends
# every nested statement's plan as a NOTICE
my ($out, $err) = ('', '');
$node->psql('postgres', q{
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SELECT count(*) FROM jobs.consume_topic('t.1.%', 10);
SELECT count(*) FROM jobs.consume_topic('t.2.%', 10);
SELECT count(*) FROM jobs.consume(10);
SELECT pg_sleep(0.3);
SELECT count(*) FROM jobs.consume(10);
SELECT pg_sleep(0.3);
SELECT count(*) FROM jobs.consume_topic('t.3.%', 10);
},
	stdout => \$out,
	stderr => \$err,
	on_error_stop => 1);

# one plan per NOTICE
my @plans = split /NOTICE:\s+duration:/, $err;
my %seen = (filtered => 0, periodic => 0);
for my $plan (@plans)
{
	my $which;
	if ($plan =~ /IS NOT TRUE/ && $plan =~ /FROM jobs\.job_queue/)
	{
		$which = 'filtered';
	}
	elsif ($plan =~ /scheduled_at OPERATOR\(pg_catalog\.=\) \$2 AND job_id OPERATOR\(pg_catalog\.<\) \$3/)
	{
		$which = 'periodic';
	}
	next unless $which;
	$seen{$which}++;
	next if $seen{$which} > 1;
	like($plan, qr/job_queue_pending_idx/, "the $which check reads the claim index");
	unlike($plan, qr/job_queue_pkey/, "the $which check does not read the primary key");
}
ok($seen{filtered} > 0, "the filtered check ran ($seen{filtered} plans)");
ok($seen{periodic} > 0, "the periodic check ran ($seen{periodic} plans)");
# every plan of theirs, not only the first: a backend keeps one plan, but
# each session makes its own
my $bad = grep { (/IS NOT TRUE/ || /job_id OPERATOR\(pg_catalog\.<\) \$3/) && /job_queue_pkey/ } @plans;
is($bad, 0, 'no plan of either check reads the primary key');

$node->stop;
done_testing();
