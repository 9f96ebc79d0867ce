
# Copyright (c) 2026, The pgjobs developers
#
# 005_postgres_exporter.pl: the shipped queries file works with Debian's
# prometheus-postgres-exporter.
#
# A cluster gets jobs in known states (ready, scheduled, running with a
# lapsed lease, succeeded, failed) and a monitoring role with only what the
# README tells to grant (pg_monitor, USAGE on schema jobs, SELECT on
# jobs.stats and jobs.health).  The real exporter, /usr/bin/
# prometheus-postgres-exporter, is started as that role with
# monitoring/postgres_exporter/queries.yaml on a loopback port; /metrics is
# scraped with curl and the pgjobs series must carry the values of those
# jobs, per task and per topic, and the health checks their statuses.  A
# second scrape after jobs.expire() sees the expired_jobs check clear
# (jobs.health is not cached).
#
# The queries file is read from beside this script (scripts/test.sh copies
# it there) or from the checkout's monitoring/postgres_exporter/.

use strict;
use warnings;

use FindBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

my $exporter = '/usr/bin/prometheus-postgres-exporter';
plan skip_all => "$exporter is not installed (apt-get install prometheus-postgres-exporter)"
  unless -x $exporter;
plan skip_all => 'curl is not installed' unless -x '/usr/bin/curl';

my ($queries) = grep { -r $_ } (
	"$FindBin::RealBin/queries.yaml",
	"$FindBin::RealBin/../../monitoring/postgres_exporter/queries.yaml");
BAIL_OUT('monitoring/postgres_exporter/queries.yaml not found') unless $queries;

my $node = PostgreSQL::Test::Cluster->new('exporter');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION pgjobs');

# The monitoring role of the README: no access to the tables themselves.
$node->safe_psql(
	'app', q{
	CREATE ROLE prometheus LOGIN;
	GRANT pg_monitor TO prometheus;
	GRANT USAGE ON SCHEMA jobs TO prometheus;
	GRANT SELECT ON jobs.stats, jobs.health TO prometheus;
});

# ---------------------------------------------------------------------------
# Jobs in known states
# ---------------------------------------------------------------------------

# shop.mail.send: 3 published, 1 claimed and acked -> 2 ready, 1 succeeded
# shop.mail.bounce: 1 scheduled an hour ahead
# shop.report: claimed and nacked without retries -> 1 failed
# cleanup: claimed, its lease lapsed 2 minutes ago -> 1 running, expired
$node->safe_psql(
	'app', q{
	SELECT jobs.publish('shop.mail.send') FROM generate_series(1, 3);
	SELECT jobs.publish('shop.mail.bounce', i_scheduled_at => now() + interval '1 hour');
	SELECT jobs.publish('shop.report', i_max_retries => 0);
	SELECT jobs.publish('cleanup', i_timeout => 600);
});
$node->safe_psql('app',
	q{SELECT jobs.ack(job_id) FROM jobs.consume_topic('shop.mail.send', 1)});
$node->safe_psql('app',
	q{SELECT jobs.nack(job_id, 'boom') FROM jobs.consume_topic('shop.report', 1)});
$node->safe_psql('app', q{SELECT job_id FROM jobs.consume_topic('cleanup', 1)});
$node->safe_psql('app',
	q{UPDATE jobs.job_queue SET expires_at = now() - interval '2 minutes' WHERE task = 'cleanup'});

# ---------------------------------------------------------------------------
# The exporter
# ---------------------------------------------------------------------------

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $log = "$PostgreSQL::Test::Utils::tmp_check/postgres_exporter.log";
my $dsn = sprintf('host=%s port=%d user=prometheus dbname=app sslmode=disable',
	$node->host, $node->port);
my $handle;
{
	local $ENV{DATA_SOURCE_NAME} = $dsn;
	$handle = IPC::Run::start(
		[
			$exporter, "--extend.query-path=$queries",
			"--web.listen-address=127.0.0.1:$port"
		],
		'<', \undef, '>', $log, '2>', $log);
}

# scrape returns the body of /metrics, retrying while the exporter starts.
sub scrape
{
	my $body;
	for (1 .. 100)
	{
		$body = `curl -sf --max-time 20 http://127.0.0.1:$port/metrics`;
		return $body if $? == 0 && $body =~ /^pgjobs_/m;
		sleep 0.2;
	}
	diag("no pgjobs series from the exporter; its log:\n" . slurp_file($log));
	return $body // '';
}

# metric BODY, NAME, LABEL => VALUE ... returns the value of the series NAME
# whose labels include the given ones (others, such as server, may be
# present), or undef when there is none.
sub metric
{
	my ($body, $name, %want) = @_;
	foreach my $line (split /\n/, $body)
	{
		next unless $line =~ /^\Q$name\E\{(.*)\} (\S+)$/;
		my ($labels, $value) = ($1, $2);
		my %have = $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
		next if grep { !defined $have{$_} || $have{$_} ne $want{$_} } keys %want;
		return $value;
	}
	return undef;
}

my $body = scrape();
is(metric($body, 'pg_up') // ($body =~ /^pg_up (\S+)$/m ? $1 : undef),
	1, 'the exporter reaches the database as the monitoring role');

my %task = (level => 'task');
my %topic = (level => 'topic');

# per task
is(metric($body, 'pgjobs_stats_ready', %task, name => 'shop.mail.send', topic => 'shop.mail'),
	2, 'shop.mail.send: 2 ready');
is(metric($body, 'pgjobs_stats_claims_15m', %task, name => 'shop.mail.send'),
	1, 'shop.mail.send: 1 claim');
is(metric($body, 'pgjobs_stats_succeeded_15m', %task, name => 'shop.mail.send'),
	1, 'shop.mail.send: 1 succeeded');
is(metric($body, 'pgjobs_stats_completions_1m', %task, name => 'shop.mail.send'),
	1, 'shop.mail.send: 1 completion in the last minute');
my $lag = metric($body, 'pgjobs_stats_lag_seconds', %task, name => 'shop.mail.send');
ok(defined $lag && $lag >= 0 && $lag < 600, 'shop.mail.send: lag in seconds')
  or diag("lag: " . ($lag // 'none'));
my $run = metric($body, 'pgjobs_stats_run_p50_seconds', %task, name => 'shop.mail.send');
ok(defined $run && $run >= 0 && $run < 600, 'shop.mail.send: median run time in seconds')
  or diag("run_p50: " . ($run // 'none'));
is(metric($body, 'pgjobs_stats_scheduled', %task, name => 'shop.mail.bounce'),
	1, 'shop.mail.bounce: 1 scheduled');
is(metric($body, 'pgjobs_stats_ready', %task, name => 'shop.mail.bounce'),
	0, 'shop.mail.bounce: none ready');
is(metric($body, 'pgjobs_stats_failed_15m', %task, name => 'shop.report', topic => 'shop'),
	1, 'shop.report: 1 failed');
is(metric($body, 'pgjobs_stats_running', %task, name => 'cleanup', topic => ''),
	1, 'cleanup (no dot, empty topic): 1 running');

# per topic
is(metric($body, 'pgjobs_stats_ready', %topic, name => 'shop.mail'),
	2, 'topic shop.mail: 2 ready');
is(metric($body, 'pgjobs_stats_scheduled', %topic, name => 'shop.mail'),
	1, 'topic shop.mail: 1 scheduled');
is(metric($body, 'pgjobs_stats_failed_15m', %topic, name => 'shop'),
	1, 'topic shop: 1 failed');

# health
foreach my $check (
	qw(job_queue_dead_tuples job_queue_last_vacuum job_dead_tuples job_last_vacuum
	oldest_xmin expired_jobs oldest_ready_lag workers_silent))
{
	like(metric($body, 'pgjobs_health_status', check => $check) // 'none',
		qr/^[012]$/, "health check $check is exported");
}
is(metric($body, 'pgjobs_health_status', check => 'expired_jobs'),
	1, 'expired_jobs: warning (a lease lapsed 2 minutes ago)');
is(metric($body, 'pgjobs_health_value', check => 'expired_jobs'),
	1, 'expired_jobs: 1 job');
is(metric($body, 'pgjobs_health_status', check => 'oldest_ready_lag'),
	0, 'oldest_ready_lag: ok');

# jobs.health is read afresh at every scrape
$node->safe_psql('app', 'SELECT jobs.expire()');
$body = scrape();
is(metric($body, 'pgjobs_health_status', check => 'expired_jobs'),
	0, 'after jobs.expire(): expired_jobs ok');
is(metric($body, 'pgjobs_health_value', check => 'expired_jobs'),
	0, 'after jobs.expire(): no expired job');

$handle->signal('TERM');
$handle->finish;
$node->stop;

done_testing();
