
# Copyright (c) 2026, The pgjobs developers
#
# 003_blocking_consume.pl: a waiting consume wakes for work from other
# sessions, and only for that.
#
# jobs.consume(num, i_wait) and jobs.consume_topic(pattern, num, i_wait)
# wait inside the backend, up to i_wait seconds, when no job is ready.  Two
# nodes run the same checks: one with pgjobs in shared_preload_libraries,
# where a commit that readies jobs wakes the waiters through shared memory,
# and one without, where waiters poll every pgjobs.wait_poll_interval.  On
# each: a committed publish, publish_bulk or nack wakes a waiter, and so
# does the rollback of another session's claim, whole or to a savepoint;
# the waiter returns long before its wait would end.  A consume_topic
# waiter is not satisfied by another topic's job.  A lease that ends, or a
# scheduled job that becomes due, within the wait is claimed then, not
# before.  A rolled-back publish gives a waiter nothing; a wait that runs
# out returns no rows; query cancel, statement_timeout and
# pg_terminate_backend end a wait at once; two waiters never share a job.
# The outcome of a prepared transaction need not wake anyone (README), but
# its jobs are found at the next look.  On the preloaded node a waiter is
# also shown not to poll: a job inserted behind pgjobs' back (which wakes
# nobody) stays unclaimed while a rolled-back publish comes and goes, until
# a committed publish wakes it.
#
# Waits are 30 or 60 s where a wake-up is expected, and the bound is 15 s,
# so a loaded machine cannot make the test fail; a waiter still waiting at
# 15 s is cancelled, so a missing wake-up costs 15 s, not the whole wait.
# Waits that must run out are short (1 to 3 s).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgjobsSession;
use Time::HiRes qw(time sleep);

# A wake-up must come well before this many seconds (waits are 30 or 60 s).
my $prompt = 15;

my $preloaded = PostgreSQL::Test::Cluster->new('preloaded');
$preloaded->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$preloaded->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pgjobs'\nmax_prepared_transactions = 2\n");
$preloaded->start;

my $polling = PostgreSQL::Test::Cluster->new('polling');
$polling->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$polling->append_conf('postgresql.conf', "max_prepared_transactions = 2\n");
$polling->start;

foreach my $node ($preloaded, $polling)
{
	$node->safe_psql('postgres', 'CREATE EXTENSION pgjobs');
}
is($preloaded->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'pgjobs', 'preloaded node: pgjobs is in shared_preload_libraries');
is($polling->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'', 'polling node: nothing is preloaded');

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# The node and its label the checks below run on.
my ($node, $label, $is_preloaded);

# sql SQL runs SQL in its own session and transaction.
sub sql
{
	return $node->safe_psql('postgres', $_[0]);
}

# reset_queue empties both tables.
sub reset_queue
{
	sql('TRUNCATE jobs.job_queue, jobs.job');
}

# waiter NAME, SQL starts SQL in a new psql session named NAME (its
# application_name) and returns at once; see the Waiter package below.
sub waiter
{
	my ($name, $query) = @_;
	return Waiter->new(
		$node->connstr('postgres') . " application_name=$name",
		$query,
		sub {
			sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
				  . " WHERE application_name = '$name'");
		});
}

# wait_until_waiting NAME returns once session NAME is inside a consume: its
# query is active and, on the preloaded node, it sleeps on pgjobs' wait
# event.  Returns its backend pid.
sub wait_until_waiting
{
	my ($name) = @_;
	my $cond = "application_name = '$name' AND state = 'active'"
	  . " AND query LIKE '%jobs.consume%'";
	$cond .= " AND wait_event_type = 'Extension' AND wait_event = 'Extension'"
	  if $is_preloaded;
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE $cond")
	  or die "$label: session $name was never seen waiting";
	return sql("SELECT pid FROM pg_stat_activity WHERE application_name = '$name'");
}

# still_waiting NAME tells whether session NAME is, right now, waiting as
# wait_until_waiting requires.
sub still_waiting
{
	my ($name) = @_;
	my $cond = "application_name = '$name' AND state = 'active'"
	  . " AND query LIKE '%jobs.consume%'";
	$cond .= " AND wait_event_type = 'Extension' AND wait_event = 'Extension'"
	  if $is_preloaded;
	return sql("SELECT count(*) = 1 FROM pg_stat_activity WHERE $cond") eq 't';
}

# returned_promptly WAITER, NAME checks that WAITER ended without error
# well before its wait ran out.
sub returned_promptly
{
	my ($w, $name) = @_;
	is($w->{rc}, 0, "$label: $name: the consume succeeded")
	  or diag("stderr: $w->{stderr}");
	cmp_ok($w->{elapsed}, '<', $prompt,
		"$label: $name: returned in under $prompt s, not at the end of its wait");
	note sprintf('%s: %s: returned after %.2f s', $label, $name, $w->{elapsed});
}

# open_session returns a psql session on the current node kept open in the
# background (PgjobsSession::open_session).
sub open_session
{
	return PgjobsSession::open_session($node);
}

# ---------------------------------------------------------------------------
# The checks, run on each node
# ---------------------------------------------------------------------------

# check_wake_on_commit checks that a committed publish wakes a waiter.
sub check_wake_on_commit
{
	my ($what) = @_;
	reset_queue();
	my $w = waiter('a', 'SELECT job_id, task FROM jobs.consume(1, 30)');
	wait_until_waiting('a');
	my $id = sql(q{SELECT jobs.publish('wake.commit')});
	$w->finish;
	returned_promptly($w, "$what: wake on a committed publish");
	is($w->{stdout}, "$id|wake.commit",
		"$label: $what: the waiter got the job published after it began waiting");
}

# check_wake_sources checks that publish_bulk, nack and an expiry wake a
# waiter too, and that consume_topic waits only for its own tasks.
sub check_wake_sources
{
	# consume_topic: a commit of another topic's job does not end the wait
	reset_queue();
	my $w = waiter('a', q{SELECT task FROM jobs.consume_topic('t.%', 1, 30)});
	wait_until_waiting('a');
	sql(q{SELECT jobs.publish('u.other')});
	sleep 0.3;
	wait_until_waiting('a');
	is(sql(q{SELECT status FROM jobs.job_queue WHERE task = 'u.other'}),
		'pending', "$label: consume_topic: a job of another topic is left alone");
	sql(q{SELECT jobs.publish_bulk(ARRAY[
		ROW('t.bulk', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job])});
	$w->finish;
	returned_promptly($w, 'consume_topic, wake on publish_bulk');
	is($w->{stdout}, 't.bulk',
		"$label: consume_topic: the waiter got the bulk-published job of its topic");

	# nack: the job is ready again at once
	reset_queue();
	my $id = sql(q{SELECT jobs.publish('wake.nack')});
	sql('SELECT count(*) FROM jobs.consume(1)');
	$w = waiter('a', 'SELECT job_id, attempt FROM jobs.consume(1, 30)');
	wait_until_waiting('a');
	sql("SELECT jobs.nack($id, 'failed', now())");
	$w->finish;
	returned_promptly($w, 'wake on a nack');
	is($w->{stdout}, "$id|2", "$label: the nacked job was claimed again, attempt 2");

	# expiry: a lease that ends within the wait; with no backoff the
	# reclaimed job is ready at once
	reset_queue();
	$id = sql(q{SELECT jobs.publish('wake.lease', i_timeout => 1)});
	sql('SELECT count(*) FROM jobs.consume(1)');
	$w = waiter('a',
		'SET pgjobs.retry_backoff_base = 0; '
		  . 'SELECT job_id, attempt FROM jobs.consume(1, 30)');
	wait_until_waiting('a');
	$w->finish;
	returned_promptly($w, 'wake when a lease ends');
	is($w->{stdout}, "$id|2",
		"$label: the job whose lease ended was reclaimed and claimed again, attempt 2");
}

# check_no_wake_on_rollback checks that a rolled-back publish gives a
# waiter nothing and, on the preloaded node, does not even wake it.
sub check_no_wake_on_rollback
{
	reset_queue();
	my $t0 = time;
	my $w = waiter('a', 'SELECT job_id, task FROM jobs.consume(1, 2)');
	wait_until_waiting('a');
	sql(q{BEGIN; SELECT jobs.publish('rolled.back'); ROLLBACK});
	$w->finish;
	is($w->{rc}, 0, "$label: rollback: the consume succeeded")
	  or diag("stderr: $w->{stderr}");
	is($w->{stdout}, '', "$label: rollback: the waiter got nothing");
	cmp_ok($w->{elapsed}, '>=', 1.5, "$label: rollback: the waiter sat out its 2 s wait");
	is(sql('SELECT count(*) FROM jobs.all'), '0',
		"$label: rollback: the rolled-back job does not exist");

	return unless $is_preloaded;

	# A job inserted directly into jobs.job_queue is ready but wakes nobody.
	# A woken waiter would claim it at once; a waiter that polled would
	# find it within a poll interval.
	reset_queue();
	$w = waiter('a', 'SELECT task FROM jobs.consume(1, 30)');
	wait_until_waiting('a');
	my $silent = sql(q{INSERT INTO jobs.job_queue (task) VALUES ('silent') RETURNING job_id});
	sql(q{BEGIN; SELECT jobs.publish('rolled.back'); ROLLBACK});
	sleep 1;
	is(sql("SELECT status FROM jobs.job_queue WHERE job_id = $silent"),
		'pending',
		"$label: rollback: 1 s after a rolled-back publish, a ready job the waiter "
		  . 'would claim if it woke is still unclaimed');
	ok(still_waiting('a'), "$label: rollback: the waiter still sleeps");
	my $id = sql(q{SELECT jobs.publish('wake.commit')});
	$w->finish;
	returned_promptly($w, 'a committed publish after the rollback');
	is($w->{stdout}, 'silent',
		"$label: rollback: woken by the next commit, the waiter claims the oldest ready job");
}

# check_scheduled checks that a job scheduled in the near future is claimed
# when it is due, not before.
sub check_scheduled
{
	# published before the consume began
	reset_queue();
	my $id = sql(
		q{SELECT jobs.publish('sched.before', i_scheduled_at => clock_timestamp() + interval '1 second')});
	my $w = waiter('a', 'SELECT job_id, task FROM jobs.consume(1, 30)');
	$w->finish;
	returned_promptly($w, 'a scheduled job published before the wait');
	is($w->{stdout}, "$id|sched.before", "$label: the scheduled job was claimed");
	is(sql("SELECT started_at >= scheduled_at FROM jobs.job_queue WHERE job_id = $id"),
		't', "$label: the scheduled job was not claimed before it was due");

	# published while the consume waits: the commit wakes the waiter, which
	# finds nothing ready and sleeps until the job is due (a job of a higher
	# priority due later does not hide it)
	reset_queue();
	$w = waiter('a', 'SELECT job_id, task FROM jobs.consume(1, 30)');
	wait_until_waiting('a');
	(undef, $id) = split /\n/, sql(
		q{SELECT jobs.publish('sched.later', i_scheduled_at => now() + interval '1 hour', i_priority => 10);
		  SELECT jobs.publish('sched.during', i_scheduled_at => clock_timestamp() + interval '1 second')});
	$w->finish;
	returned_promptly($w, 'a scheduled job published during the wait');
	is($w->{stdout}, "$id|sched.during",
		"$label: the job scheduled during the wait was claimed");
	is(sql("SELECT started_at >= scheduled_at FROM jobs.job_queue WHERE job_id = $id"),
		't', "$label: the job scheduled during the wait was not claimed before it was due");
}

# check_wait_runs_out checks that a wait with nothing to wake it returns no
# rows when it ends.
sub check_wait_runs_out
{
	reset_queue();
	sql(q{SELECT jobs.publish('later', i_scheduled_at => now() + interval '1 hour')});
	my $w = waiter('a', 'SELECT job_id, task FROM jobs.consume(1, 1)');
	$w->finish;
	is($w->{rc}, 0, "$label: wait runs out: the consume succeeded")
	  or diag("stderr: $w->{stderr}");
	is($w->{stdout}, '', "$label: wait runs out: no rows");
	cmp_ok($w->{elapsed}, '>=', 0.9, "$label: wait runs out: after its 1 s wait");
	cmp_ok($w->{elapsed}, '<', $prompt, "$label: wait runs out: not much later");
}

# check_interrupts checks that query cancel, statement_timeout and
# pg_terminate_backend end a long wait at once.
sub check_interrupts
{
	reset_queue();

	my $w = waiter('a', 'SELECT job_id FROM jobs.consume(1, 60)');
	my $pid = wait_until_waiting('a');
	is(sql("SELECT pg_cancel_backend($pid)"), 't', "$label: cancel: signalled");
	$w->finish;
	isnt($w->{rc}, 0, "$label: cancel: the consume failed");
	like($w->{stderr}, qr/canceling statement due to user request/,
		"$label: cancel: with the query-cancel error");
	cmp_ok($w->{elapsed}, '<', $prompt, "$label: cancel: at once, not at the end of the wait");

	$w = waiter('a',
		q{SET statement_timeout = '1s'; SELECT job_id FROM jobs.consume(1, 60)});
	$w->finish;
	isnt($w->{rc}, 0, "$label: statement_timeout: the consume failed");
	like($w->{stderr}, qr/canceling statement due to statement timeout/,
		"$label: statement_timeout: with the statement-timeout error");
	cmp_ok($w->{elapsed}, '<', $prompt,
		"$label: statement_timeout: when the timeout struck, not at the end of the wait");

	$w = waiter('a', 'SELECT job_id FROM jobs.consume(1, 60)');
	$pid = wait_until_waiting('a');
	is(sql("SELECT pg_terminate_backend($pid)"), 't', "$label: terminate: signalled");
	$w->finish;
	isnt($w->{rc}, 0, "$label: terminate: psql failed");
	like($w->{stderr}, qr/terminating connection due to administrator command/,
		"$label: terminate: the backend was terminated");
	cmp_ok($w->{elapsed}, '<', $prompt, "$label: terminate: at once, not at the end of the wait");
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid"),
		"$label: terminate: the session is gone");

	# The interrupted waiters left nothing behind that stops the next one
	# from being woken.
	check_wake_on_commit('after the interrupts');
}

# check_rolled_back_claim checks that the rollback of a claim wakes a
# waiter, which gets the job.
sub check_rolled_back_claim
{
	reset_queue();
	my $id = sql(q{SELECT jobs.publish('claim.rollback')});
	my $s = open_session();
	$s->query_safe('BEGIN');
	is($s->query_safe('SELECT job_id FROM jobs.consume(1)'),
		$id, "$label: claim rollback: the open transaction claims the only job");
	my $c = waiter('c', 'SELECT job_id, attempt FROM jobs.consume(1, 30)');
	wait_until_waiting('c');
	$s->query_safe('ROLLBACK');
	$c->finish;
	$s->quit;
	returned_promptly($c, 'wake on the rollback of a claim');
	is($c->{stdout}, "$id|1",
		"$label: claim rollback: the waiter got the job, and the rolled-back claim did not count");

	# The same with a claim rolled back to a savepoint: the job is pending
	# again from the ROLLBACK TO, and the transaction then commits.
	reset_queue();
	$id = sql(q{SELECT jobs.publish('claim.savepoint')});
	$s = open_session();
	$s->query_safe('BEGIN');
	$s->query_safe('SAVEPOINT before_claim');
	is($s->query_safe('SELECT job_id FROM jobs.consume(1)'),
		$id, "$label: savepoint: the open transaction claims the only job");
	$c = waiter('c', 'SELECT job_id, attempt FROM jobs.consume(1, 30)');
	wait_until_waiting('c');
	$s->query_safe('ROLLBACK TO SAVEPOINT before_claim');
	$s->query_safe('COMMIT');
	$c->finish;
	$s->quit;
	returned_promptly($c, 'wake on a claim rolled back to a savepoint');
	is($c->{stdout}, "$id|1",
		"$label: savepoint: the waiter got the job freed by ROLLBACK TO SAVEPOINT");
}

# check_two_phase checks what the README promises for two-phase commit: a
# prepared transaction's outcome (COMMIT PREPARED of a publish, ROLLBACK
# PREPARED of a claim) need not wake waiters, but they find its jobs at
# their next look, here the next ordinary commit of a publish.
sub check_two_phase
{
	reset_queue();
	my $w = waiter('a', 'SELECT task FROM jobs.consume(1, 30)');
	wait_until_waiting('a');
	sql(q{BEGIN; SELECT jobs.publish('twophase.publish'); PREPARE TRANSACTION 'pgjobs_publish'});
	sql(q{COMMIT PREPARED 'pgjobs_publish'});
	sql(q{SELECT jobs.publish('twophase.next', i_priority => -1)});
	$w->finish;
	returned_promptly($w, 'COMMIT PREPARED of a publish, then a commit');
	is($w->{stdout}, 'twophase.publish',
		"$label: two-phase: the waiter got the job published by the prepared transaction");

	reset_queue();
	my $id = sql(q{SELECT jobs.publish('twophase.claim')});
	sql(q{BEGIN; SELECT count(*) FROM jobs.consume(1); PREPARE TRANSACTION 'pgjobs_claim'});
	$w = waiter('a', 'SELECT job_id, attempt FROM jobs.consume(1, 30)');
	wait_until_waiting('a');
	sql(q{ROLLBACK PREPARED 'pgjobs_claim'});
	sql(q{SELECT jobs.publish('twophase.next', i_priority => -1)});
	$w->finish;
	returned_promptly($w, 'ROLLBACK PREPARED of a claim, then a commit');
	is($w->{stdout}, "$id|1",
		"$label: two-phase: the waiter got the job whose prepared claim was rolled back");
}

# check_two_waiters checks that two waiters woken by one job do not share
# it: one gets it, the other waits on and gets nothing.
sub check_two_waiters
{
	reset_queue();
	my $w1 = waiter('w1', 'SELECT job_id FROM jobs.consume(1, 3)');
	my $w2 = waiter('w2', 'SELECT job_id FROM jobs.consume(1, 3)');
	wait_until_waiting('w1');
	wait_until_waiting('w2');
	my $id = sql(q{SELECT jobs.publish('two.waiters')});
	$w1->finish;
	$w2->finish;
	is("$w1->{rc} $w2->{rc}", '0 0', "$label: two waiters: both consumes succeeded")
	  or diag("stderr: $w1->{stderr} $w2->{stderr}");
	is(join(',', sort { $a cmp $b } $w1->{stdout}, $w2->{stdout}), ",$id",
		"$label: two waiters: exactly one got the job");
	my ($loser) = grep { $_->{stdout} eq '' } ($w1, $w2);
	cmp_ok($loser ? $loser->{elapsed} : 0, '>=', 2.5,
		"$label: two waiters: the other one waited to the end of its 3 s wait");
	is(sql("SELECT status || ':' || attempts FROM jobs.job_queue WHERE job_id = $id"),
		'running:1', "$label: two waiters: the job was claimed once");
}

foreach my $n ($preloaded, $polling)
{
	$node = $n;
	$is_preloaded = $node == $preloaded;
	$label = $is_preloaded ? 'preloaded' : 'polling';

	check_wake_on_commit('consume');
	check_wake_sources();
	check_no_wake_on_rollback();
	check_scheduled();
	check_wait_runs_out();
	check_interrupts();
	check_rolled_back_claim();
	check_two_phase();
	check_two_waiters();

	# The server took all that in its stride.
	is(sql('SELECT 1'), '1', "$label: the server still answers");
	ok(!$node->log_contains(qr/PANIC|server process .* terminated by signal|TRAP:/),
		"$label: no crash or assertion failure in the server log");
}

$preloaded->stop;
$polling->stop;
done_testing();

# ---------------------------------------------------------------------------
# Waiter: one SQL string run by psql in the background.  new starts it and
# returns at once; finish waits for psql to exit and sets stdout, stderr,
# rc (psql's exit status) and elapsed (seconds since new).  So that a
# wake-up that never comes costs little, finish waits $prompt seconds at
# most: past that it cancels the query with the cancel callback given to
# new (elapsed is then at least $prompt, and the statement fails).
# ---------------------------------------------------------------------------

package Waiter;

use IPC::Run;
use Time::HiRes qw(time sleep);

sub new
{
	my ($class, $connstr, $sql, $cancel) = @_;
	my $self = {
		stdin => '',
		stdout => '',
		stderr => '',
		start => time,
		cancel => $cancel
	};
	$self->{run} = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-c', $sql ],
		'<', \$self->{stdin}, '>', \$self->{stdout}, '2>', \$self->{stderr},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return bless $self, $class;
}

sub finish
{
	my ($self) = @_;
	my $deadline = $self->{start} + $prompt;

	while ($self->{run}->pumpable && time < $deadline)
	{
		$self->{run}->pump_nb;
		sleep 0.02;
	}
	$self->{elapsed} = time - $self->{start};
	$self->{cancel}->() if $self->{run}->pumpable;
	$self->{run}->finish;
	$self->{rc} = $self->{run}->result(0);
	chomp $self->{stdout};
	return $self;
}
