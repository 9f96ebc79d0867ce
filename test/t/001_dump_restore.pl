
# Copyright (c) 2026, The pgjobs developers
#
# 001_dump_restore.pl: jobs survive pg_dump and restore.
#
# jobs.job_queue, jobs.job and jobs.job_id_seq are registered with
# pg_extension_config_dump, so a dump carries the jobs themselves, not just
# the extension.  A database holding jobs in every state (pending, scheduled
# in the future, with priorities, running, retried after a nack, succeeded,
# failed) is dumped in custom and in plain format and restored into fresh
# databases.  In each, the tables must match row for row, a second dump must
# match the first, the id sequence must continue past every restored id, and
# the API must work on the restored jobs, the restored running one included.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump_restore');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION pgjobs');

# ---------------------------------------------------------------------------
# Jobs in every state
# ---------------------------------------------------------------------------

# publish TASK, ARGS publishes a job in its own transaction; returns its id.
sub publish
{
	my ($db, $task, $args) = @_;
	$args = defined $args ? ", $args" : '';
	return $node->safe_psql($db, "SELECT jobs.publish('$task'$args)");
}

my %id;
$id{fatal} = publish('src', 'dr.fatal', q{'{"n": 0}', i_priority => 50, i_max_retries => 0});
$id{a} = publish('src', 'dr.a', q{'{"n": 1}', i_priority => 5, i_timeout => 3600});
$id{b} = publish('src', 'dr.b',
	q{'{"n": 2}', i_priority => 4, i_timeout => 3600, i_max_retries => 2});
$id{c} = publish('src', 'dr.c', q{'{"n": 3}', i_priority => 3, i_timeout => 3600});
$id{d} = publish('src', 'dr.d', q{NULL, i_priority => 2});
$id{e} = publish('src', 'dr.e',
	q{'{"s": "it''s \"quoted\", tab\tand é", "a": [1, 2.50, null]}', i_priority => 1});
$id{f} = publish('src', 'dr.f');
$id{future} = publish('src', 'dr.future',
	q{'{"later": true}', now() + interval '1 day', i_priority => 100});
($id{bulk2}, $id{bulk1}) = split /\n/, $node->safe_psql(
	'src', q{
	SELECT job_id FROM jobs.publish_bulk(ARRAY[
	    ROW('dr.bulk.2', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job,
	    ROW('dr.bulk.1', '[1, 2]', NULL, 10, -1, 1)::jobs.bulk_job])});

# The failing job goes first (highest ready priority) and fails for good.
is($node->safe_psql('src', 'SELECT job_id FROM jobs.consume(1)'),
	$id{fatal}, 'fixture: the max_retries 0 job is claimed first');
$node->safe_psql('src', "SELECT jobs.nack($id{fatal}, 'fatal error')");

# a is acked, b nacked to retry in an hour, c stays running.
is( $node->safe_psql('src', 'SELECT string_agg(job_id::text, \',\') FROM jobs.consume(3)'),
	"$id{a},$id{b},$id{c}",
	'fixture: a, b and c are claimed in priority order');
$node->safe_psql('src', qq{SELECT jobs.ack($id{a}, '{"ok": true}')});
$node->safe_psql('src',
	"SELECT jobs.nack($id{b}, 'boom', now() + interval '1 hour')");

is( $node->safe_psql(
		'src', q{
	SELECT string_agg(status || ':' || n, ' ' ORDER BY status::text) FROM
	  (SELECT status, count(*) AS n FROM jobs.all GROUP BY status) s}),
	'failed:1 pending:7 running:1 succeeded:1',
	'fixture: jobs in every state');

# ---------------------------------------------------------------------------
# What must survive
# ---------------------------------------------------------------------------

# contents DB returns every row of both tables, all columns, ordered by id,
# and the sequence state.
sub contents
{
	my ($db) = @_;
	return {
		queue => $node->safe_psql($db,
			'SELECT q::text FROM jobs.job_queue q ORDER BY job_id'),
		job =>
		  $node->safe_psql($db, 'SELECT j::text FROM jobs.job j ORDER BY job_id'),
		seq => $node->safe_psql($db,
			'SELECT last_value, is_called FROM jobs.job_id_seq'),
		# what administrators set (pgjobs 1.1)
		settings => $node->safe_psql($db, q{
			SELECT (SELECT string_agg(c::text, ' ' ORDER BY pattern) FROM jobs.topic_control c),
			       (SELECT string_agg(r::text, ' ' ORDER BY name) FROM jobs.recurring r),
			       (SELECT string_agg(g::text, ' ' ORDER BY role::text, pattern) FROM jobs.topic_grant g)}),
	};
}

# plain_dump DB returns a plain-format dump of DB, without the random
# \restrict key lines newer minor releases write.
sub plain_dump
{
	my ($db) = @_;
	my ($out, $err) =
	  run_command([ 'pg_dump', '-Fp', '--no-sync', '-d', $node->connstr($db) ]);
	die "pg_dump $db failed: $err" if $err ne '';
	$out =~ s/^\\(?:un)?restrict .*\n//mg;
	return $out;
}

# Topic controls, a recurring job and a topic grant are user data too.
$node->safe_psql('src', q{
	CREATE ROLE dr_web NOLOGIN;
	SELECT jobs.pause('dr.paused.%');
	SELECT jobs.set_limit('dr.limited.%', 3, 10, 20);
	SELECT jobs.schedule('dr-nightly', '30 2 * * *', 'dr.nightly', '{"n": 9}', 'Europe/Berlin');
	SELECT jobs.grant_topic('dr_web', 'dr.%', i_consume => false);
});
my $before = contents('src');
ok($before->{settings} =~ /dr\.paused.*dr-nightly.*dr_web/s,
	'the source holds topic controls, a recurring job and a topic grant');
my $src_dump = plain_dump('src');
my $max_id = $node->safe_psql('src', 'SELECT max(job_id) FROM jobs.all');

like($src_dump, qr/^COPY jobs\.job_queue /m, 'the dump carries jobs.job_queue rows');
like($src_dump, qr/^COPY jobs\.job /m, 'the dump carries jobs.job rows');
like($src_dump, qr/^SELECT pg_catalog\.setval\('jobs\.job_id_seq', $max_id, true\);$/m,
	'the dump carries the id sequence position');

# ---------------------------------------------------------------------------
# Dump and restore, custom and plain format
# ---------------------------------------------------------------------------

my $tmp = PostgreSQL::Test::Utils::tempdir;

$node->command_ok(
	[ 'pg_dump', '-Fc', '--no-sync', '-f', "$tmp/src.dump", '-d', $node->connstr('src') ],
	'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE dst_custom');
$node->command_ok(
	[
		'pg_restore', '--exit-on-error', '-d', $node->connstr('dst_custom'),
		"$tmp/src.dump"
	],
	'pg_restore of the custom-format dump');

$node->command_ok(
	[ 'pg_dump', '-Fp', '--no-sync', '-f', "$tmp/src.sql", '-d', $node->connstr('src') ],
	'pg_dump -Fp');
$node->safe_psql('postgres', 'CREATE DATABASE dst_plain');
my ($rc, $stdout, $stderr) = $node->psql(
	'dst_plain', '',
	extra_params => [ '-v', 'ON_ERROR_STOP=1', '-f', "$tmp/src.sql" ]);
is($rc, 0, 'psql restores the plain-format dump');
is($stderr, '', 'the plain-format restore prints no error or warning');

foreach my $db ('dst_custom', 'dst_plain')
{
	my $after = contents($db);
	is($after->{queue}, $before->{queue}, "$db: jobs.job_queue identical, every column");
	is($after->{job}, $before->{job}, "$db: jobs.job identical, every column");
	is($after->{seq}, $before->{seq}, "$db: jobs.job_id_seq at the same position");
	is($after->{settings}, $before->{settings},
		"$db: topic controls, recurring jobs and topic grants identical");
	is(plain_dump($db), $src_dump, "$db: a dump of the restored database equals the original dump");
	is( $node->safe_psql(
			$db, q{
		SELECT array_agg(c::regclass::text ORDER BY c::regclass::text)
		  FROM pg_extension, unnest(extconfig) c WHERE extname = 'pgjobs'}),
		'{jobs.job,jobs.job_id_seq,jobs.job_queue,jobs.recurring,jobs.topic_control,jobs.topic_grant}',
		"$db: the tables and sequence are still extension config");

	# Ids continue upward.
	my $new = publish($db, 'dr.new', 'i_priority => -5');
	cmp_ok($new, '>', $max_id, "$db: a new job gets an id greater than every restored id");

	# The restored queue hands out ready jobs in order: not the one scheduled
	# in a day, not b (retry in an hour), not the running c.
	is( $node->safe_psql($db,
			q{SELECT string_agg(job_id::text, ',') FROM jobs.consume(10)}),
		join(',', @id{qw(d e f bulk2 bulk1)}, $new),
		"$db: consume claims the restored ready jobs by priority, then age");

	# The running job restored with its lease can be acked.
	$node->safe_psql($db, qq{SELECT jobs.ack($id{c}, '{"after": "restore"}')});
	$node->safe_psql($db, "SELECT jobs.ack($id{d})");
	$node->safe_psql($db, "SELECT jobs.nack($id{e}, 'again')");
	is( $node->safe_psql(
			$db, qq{
		SELECT string_agg(job_id || ':' || status || ':' || attempts, ' ' ORDER BY job_id)
		  FROM jobs.all WHERE job_id IN ($id{c}, $id{d}, $id{e})}),
		"$id{c}:succeeded:1 $id{d}:succeeded:1 $id{e}:pending:1",
		"$db: ack and nack work on restored jobs, the restored running one included");
	is( $node->safe_psql($db,
			"SELECT result FROM jobs.job WHERE job_id = $id{c}"),
		'{"after": "restore"}',
		"$db: the restored running job's ack stored its result");
}

# The source was not disturbed by any of this.
is_deeply(contents('src'), $before, 'the source database is unchanged');

$node->stop;
done_testing();
