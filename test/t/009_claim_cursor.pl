
# Copyright (c) 2026, The pgjobs developers
#
# 009_claim_cursor.pl: with pgjobs preloaded, claims that start at the
# claim cursor hand out exactly what claims from the head of the claim index
# would.
#
# A seeded random mix of publishes (some of them unique publishes that
# replace a pending job's priority and time in place; mostly priorities 0 to
# 3, some up to 19,
# more than a database keeps cursors for; due at random times in the past,
# so often below a cursor), plain and topic claims, claims
# rolled back, nacks and releases to random past times, acks, a pause and a
# resume runs one statement at a time, with the cursor's periodic check
# off: once with claims reading every priority from its own cursor
# (pgjobs.claim_costly_pages = 0), then with the default, where claims read
# only the lowest priority's cursor until one of them is costly; then with
# the periodic check every millisecond, which probes the priority bounds
# anew at nearly every claim (claims read no priority outside them).
# After every claim the jobs it got must be the first ones, in claim order
# (priority DESC, scheduled_at, job_id), of the model's pending jobs it may
# take.  Any missing lowering or reset strands a job behind the
# cursor, and a later claim gets a job after it instead.

use strict;
use warnings;

use File::Basename;
use lib dirname(__FILE__);
use PgjobsSession;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cursor');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgjobs'
pgjobs.claim_cursor_check_interval = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgjobs');

my $s = PgjobsSession::open_session($node);
my $other = PgjobsSession::open_session($node);

srand(20261125);

# the model: job id => { prio, at (seconds after 2000-01-01), task, state }
my %job;

sub ts { return "timestamptz '2000-01-01 00:00:00+00' + interval '$_[0] seconds'" }

sub before
{
	my ($a, $b) = @_;
	return $job{$b}{prio} <=> $job{$a}{prio}
	  || $job{$a}{at} <=> $job{$b}{at}
	  || $a <=> $b;
}

my $paused_a = 0;

# the pending jobs a claim of topic (undef: any) may take, in claim order
sub expected
{
	my ($n, $topic) = @_;
	my @ids = sort { before($a, $b) } grep {
		$job{$_}{state} eq 'pending'
		  && (!defined $topic || $job{$_}{task} =~ /^\Q$topic\E\./)
		  && !($paused_a && $job{$_}{task} =~ /^a\./)
	} keys %job;
	return join(',', @ids[ 0 .. ($n < @ids ? $n : scalar(@ids)) - 1 ]);
}

sub claim
{
	my ($session, $n, $topic, $what) = @_;
	my $want = expected($n, $topic);
	my $fn = defined $topic ? "jobs.consume_topic('$topic.*', $n)" : "jobs.consume($n)";
	my $got = $session->query_safe(
		"SELECT coalesce(string_agg(job_id::text, ',' ORDER BY n), '')"
		  . " FROM (SELECT job_id, row_number() OVER () AS n FROM $fn) c");
	return ($got, $want);
}

my $mismatches = 0;
my $claims = 0;
for my $step (1 .. 4500)
{
	if ($step == 1 || $step == 1501)
	{
		my $set = $step == 1 ? 'SET pgjobs.claim_costly_pages = 0' : 'RESET pgjobs.claim_costly_pages';
		$s->query_safe($set);
		$other->query_safe($set);
	}
	if ($step == 3001)
	{
		# the periodic check at (nearly) every claim: it narrows the
		# priority bounds to what is pending, again and again
		$node->safe_psql('postgres',
			'ALTER SYSTEM SET pgjobs.claim_cursor_check_interval = 1');
		$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	}
	my $r = rand();
	my @running = sort { $a <=> $b } grep { $job{$_}{state} eq 'running' } keys %job;

	if ($r < 0.30)
	{
		my $prio = rand() < 0.7 ? int(rand(4)) : int(rand(20));
		my $at = int(rand(100000));
		my $task = (rand() < 0.5 ? 'a' : 'b') . '.job';
		if (rand() < 0.2)
		{
			# a unique publish that replaces: a pending holder of the key
			# gets the new priority and time in place, else a new job
			my $key = 'k' . int(rand(5));
			my $id = $s->query_safe(
				"SELECT jobs.publish('$task', NULL, " . ts($at) . ", 3600, $prio, 1000,"
				  . " i_unique_key => '$key', i_on_duplicate => 'replace')");
			if (exists $job{$id})
			{
				die "step $step: replaced job $id is $job{$id}{state}"
				  unless $job{$id}{state} eq 'pending';
				$job{$id}{prio} = $prio;
				$job{$id}{at} = $at;
			}
			else
			{
				$job{$id} = { prio => $prio, at => $at, task => $task, state => 'pending' };
			}
			next;
		}
		my $id = $s->query_safe(
			"SELECT jobs.publish('$task', NULL, " . ts($at) . ", 3600, $prio, 1000)");
		$job{$id} = { prio => $prio, at => $at, task => $task, state => 'pending' };
	}
	elsif ($r < 0.55)
	{
		my $n = 1 + int(rand(3));
		my $topic = rand() < 0.3 ? (rand() < 0.5 ? 'a' : 'b') : undef;
		my ($got, $want) = claim($s, $n, $topic);
		$claims++;
		if ($got ne $want)
		{
			$mismatches++;
			diag("step $step: claim of $n" . (defined $topic ? " ($topic)" : '')
				  . " got [$got], the head order gives [$want]");
		}
		$job{$_}{state} = 'running' for grep { $_ ne '' } split /,/, $got;
	}
	elsif ($r < 0.62)
	{
		# a claim rolled back, while another session claims past its jobs
		$other->query_safe('BEGIN');
		my ($held, $want_held) = claim($other, 2, undef);
		$claims++;
		if ($held ne $want_held)
		{
			$mismatches++;
			diag("step $step: claim to roll back got [$held], expected [$want_held]");
		}
		$job{$_}{state} = 'held' for grep { $_ ne '' } split /,/, $held;
		my ($got, $want) = claim($s, 1, undef);
		$claims++;
		if ($got ne $want)
		{
			$mismatches++;
			diag("step $step: claim beside an open claim got [$got], expected [$want]");
		}
		$job{$_}{state} = 'running' for grep { $_ ne '' } split /,/, $got;
		$other->query_safe('ROLLBACK');
		$job{$_}{state} = 'pending' for grep { $_ ne '' } split /,/, $held;
	}
	elsif ($r < 0.74 && @running)
	{
		my $id = $running[ int(rand(@running)) ];
		my $at = int(rand(100000));
		if (rand() < 0.5)
		{
			$s->query_safe("SELECT jobs.nack($id, 'boom', " . ts($at) . ")");
		}
		else
		{
			$s->query_safe("SELECT jobs.release($id, " . ts($at) . ")");
		}
		$job{$id}{at} = $at;
		$job{$id}{state} = 'pending';
	}
	elsif ($r < 0.95 && @running)
	{
		my $id = $running[ int(rand(@running)) ];
		$s->query_safe("SELECT jobs.ack($id)");
		$job{$id}{state} = 'done';
	}
	elsif ($r >= 0.95)
	{
		$paused_a = !$paused_a;
		$s->query_safe($paused_a ? "SELECT jobs.pause('a.*')" : "SELECT jobs.resume('a.*')");
	}
}

cmp_ok($claims, '>', 100, 'the mix ran enough claims');
is($mismatches, 0, 'every claim from the cursor got what a claim from the head gets');

# the queue drains completely
$s->query_safe("SELECT jobs.resume('a.*')");
$paused_a = 0;
my ($got, $want) = claim($s, 100000, undef);
is($got, $want, 'a final claim takes every pending job, in claim order');
is($node->safe_psql('postgres', "SELECT count(*) FROM jobs.job_queue WHERE status = 'pending'"),
	'0', 'no job is left pending');

$s->quit;
$other->quit;
$node->stop;
done_testing();
