
# Copyright (c) 2026, The pgjobs developers
#
# 007_upgrade.pl: ALTER EXTENSION pgjobs UPDATE, step by step from the
# oldest release, gives exactly the schema of a fresh install, and loses no
# job.
#
# The released install scripts are kept, frozen, in sql/released/; the
# upgrade scripts are hand-written.  With the maintenance worker running, a
# database created at the oldest version is filled with jobs in every state
# (pending, scheduled, running, retried, succeeded, failed) and upgraded one
# version at a time; after each step every job must be unchanged and the
# jobs claimed before the step must still be acknowledgeable.  At the end,
# every object of the extension (functions with their settings and ACLs,
# tables, columns, indexes, views, types, triggers, comments, what pg_dump
# keeps) must be described identically in it and in a fresh install, and
# the upgraded database must survive a dump and restore.

use strict;
use warnings;

use File::Basename;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $describe = slurp_file(dirname(__FILE__) . '/schema_description.sql');

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgjobs'
pgjobs.database = 'upgraded'
pgjobs.maintenance_interval = 200
});
$node->start;

# The versions, oldest first: every pgjobs--X.sql install script and the
# current default.
my @versions = split /\n/, $node->safe_psql('postgres', q{
	SELECT version FROM pg_available_extension_versions
	 WHERE name = 'pgjobs' ORDER BY string_to_array(version, '.')::int[]});
my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'pgjobs'});
ok(@versions >= 2, "versions to upgrade through: @versions");
is($versions[-1], $current, "the newest version, $current, is the default");

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('fresh', 'CREATE EXTENSION pgjobs');
$node->safe_psql('upgraded', "CREATE EXTENSION pgjobs VERSION '$versions[0]'");

# Jobs in every state, made with the oldest version's API.
$node->safe_psql('upgraded', q{
	SELECT count(*) FROM jobs.publish_bulk(ARRAY(
	    SELECT ROW('up.' || (i % 5), jsonb_build_object('i', i), NULL, 3600,
	               i % 3, 2)::jobs.bulk_job
	      FROM generate_series(1, 500) i));
	SELECT jobs.publish('up.later', '{"later": true}', now() + interval '1 day');
	SELECT jobs.publish('up.fatal', '{}', i_max_retries => 0, i_priority => 99);
});
my $fatal = $node->safe_psql('upgraded', 'SELECT job_id FROM jobs.consume(1)');
$node->safe_psql('upgraded', "SELECT jobs.nack($fatal, 'fatal')");
my @claimed = split /\n/, $node->safe_psql('upgraded',
	'SELECT job_id FROM jobs.consume(60) ORDER BY job_id');
is(scalar @claimed, 60, 'claimed 60 jobs at the oldest version');
$node->safe_psql('upgraded', "SELECT jobs.ack($_, '{\"ok\": true}')")
  for @claimed[ 0 .. 9 ];
$node->safe_psql('upgraded', "SELECT jobs.nack($_, 'again')")
  for @claimed[ 10 .. 19 ];

my $snapshot = q{
	SELECT string_agg(format('%s %s %s %s %s %s %s', job_id, task, body, status,
	                         attempts, last_error, result), E'\n' ORDER BY job_id)
	  FROM jobs.all};
my $before = $node->safe_psql('upgraded', $snapshot);
my $counts = q{SELECT string_agg(status || '=' || n, ' ' ORDER BY status)
	FROM (SELECT status::text, count(*) AS n FROM jobs.all GROUP BY 1) s};
is($node->safe_psql('upgraded', $counts),
	'failed=1 pending=451 running=40 succeeded=10',
	'jobs in every state before the upgrade');

# One version at a time, with the worker running (and expiring nothing: the
# leases are an hour long).
my @left = @claimed[ 20 .. 59 ];
for my $i (1 .. $#versions)
{
	my $to = $versions[$i];
	$node->safe_psql('upgraded', "ALTER EXTENSION pgjobs UPDATE TO '$to'");
	is($node->safe_psql('upgraded',
		q{SELECT extversion FROM pg_extension WHERE extname = 'pgjobs'}),
		$to, "updated to $to");
	is($node->safe_psql('upgraded', $snapshot), $before,
		"every job is unchanged after the update to $to");
	# a job claimed before the step can still be acknowledged after it
	my $job = shift @left;
	$node->safe_psql('upgraded', "SELECT jobs.ack($job, '{\"ok\": true}', 1)");
	is($node->safe_psql('upgraded',
		"SELECT status FROM jobs.job WHERE job_id = $job"),
		'succeeded', "a job claimed before the update to $to is acked after it");
	$before = $node->safe_psql('upgraded', $snapshot);
}

# The upgraded schema is the fresh one, object for object.
my $fresh_schema = $node->safe_psql('fresh', $describe);
my $upgraded_schema = $node->safe_psql('upgraded', $describe);
ok(length($fresh_schema) > 1000, 'the schema description is not empty');
is($upgraded_schema, $fresh_schema,
	'the upgraded schema is described exactly as a fresh install');

# The upgraded database works: the rest of the claims end, the backlog
# drains with the current API, and the worker publishes a recurring job.
$node->safe_psql('upgraded',
	'SELECT count(*) FROM jobs.ack_batch(ARRAY[' . join(',', @left) . ']::bigint[])');
# (A yearly schedule made due now: its next run is months away, so a drain
# that crosses a minute boundary does not see a second one.)
$node->safe_psql('upgraded', q{
	SELECT jobs.schedule('yearly', '0 0 1 1 *', 'up.cron');
	UPDATE jobs.recurring SET next_run_at = now() WHERE name = 'yearly';
});
ok($node->poll_query_until('upgraded',
	q{SELECT count(*) = 1 FROM jobs.job_queue WHERE task = 'up.cron'}),
	'the maintenance worker publishes the due recurring job');
my $drained = 0;
for (1 .. 100)
{
	my $n = $node->safe_psql('upgraded', q{
		SELECT count(*) FROM jobs.ack_batch(ARRAY(SELECT job_id FROM jobs.consume(100, 3)))});
	last if $n == 0;
	$drained += $n;
}
# 500 published in bulk, less 10 acked and 40 claimed before, plus the
# recurring job (the one scheduled a day ahead stays)
is($drained, 451, 'the pending backlog and the recurring job drain after the upgrades');
is($node->safe_psql('upgraded', q{SELECT count(*) FROM jobs.job_queue
	WHERE scheduled_at <= now()}), 0, 'nothing ready is left');

# ... and survives a dump and restore.
my $dump = $node->basedir . '/upgraded.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('upgraded'), '-f', $dump ],
	'pg_dump of the upgraded database');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ],
	'pg_restore of the upgraded database');
is($node->safe_psql('restored', $snapshot), $node->safe_psql('upgraded', $snapshot),
	'the restored jobs are the upgraded ones');
is($node->safe_psql('restored', $describe), $fresh_schema,
	'the restored schema is the fresh one');

$node->stop;
done_testing();
