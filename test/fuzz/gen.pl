#!/usr/bin/perl
# test/fuzz/gen.pl: writes one session's SQL fuzz script for test/fuzz/run.sh.
#
#   perl test/fuzz/gen.pl SEED STATEMENTS SIGNATURES SETTINGS [DROP-EXTENSION] > session.sql
#
# Every line of the output is one complete SQL statement followed by a
# "-- fuzz:LABEL" comment naming what it exercises, so that psql's
# "psql:FILE:LINE:" error prefixes map back to the statement and its label
# (or a psql \if :ERROR / \endif line, which undoes a failed statement in a
# transaction block as a client would).  With DROP-EXTENSION set, the
# session also drops and creates the extension again, a few times.
# The same SEED and STATEMENTS give the same script (Perl's rand() is its
# own drand48 since 5.20, the same on every platform).
#
# SIGNATURES lists the functions of the installed extension, one per line:
# "name<TAB>argument types, comma-separated<TAB>number of defaults".  Each
# gets generic calls with random arguments of its argument types, so that a
# function added later is fuzzed without changes here; the functions known
# below also get calls written for their meaning (those of pgjobs 1.1 and
# 1.2 when the installed extension has them).  SETTINGS lists the
# pgjobs.* settings as pg_settings shows them: "name<TAB>vartype<TAB>min<TAB>
# max<TAB>enum values, comma-separated"; each gets SETs of valid, boundary
# and wrong values.
use strict;
use warnings;
use utf8;

binmode STDOUT, ':encoding(UTF-8)';

my ($seed, $count, $sigfile, $gucfile, $drop_extension) = @ARGV;
die "usage: gen.pl SEED STATEMENTS SIGNATURES SETTINGS [DROP-EXTENSION]\n" unless defined $gucfile;
srand($seed);

my @sigs;
open my $fh, '<:encoding(UTF-8)', $sigfile or die "$sigfile: $!\n";
while (<$fh>)
{
	chomp;
	next if $_ eq '';
	my ($name, $types, $ndefaults) = split /\t/;
	push @sigs, { name => $name, types => [ $types eq '' ? () : split /,/, $types ],
				  ndefaults => $ndefaults || 0 };
}
close $fh;
my @gucs;
open $fh, '<:encoding(UTF-8)', $gucfile or die "$gucfile: $!\n";
while (<$fh>)
{
	chomp;
	next if $_ eq '';
	my ($name, $vartype, $min, $max, $enumvals) = split /\t/, $_, -1;
	push @gucs, { name => $name, vartype => $vartype, min => $min, max => $max,
				  enumvals => [ split /,/, $enumvals // '' ] };
}
close $fh;
my %nargs;
$nargs{ $_->{name} } = scalar @{ $_->{types} } for @sigs;
# pgjobs 1.1's job control, if the installed extension has it
my $v11 = exists $nargs{'jobs.ack_batch'};
# pgjobs 1.2's ack_and_consume, if the installed extension has it
my $v12 = exists $nargs{'jobs.ack_and_consume'};

# ---------------------------------------------------------------------------
# Random choices
# ---------------------------------------------------------------------------

sub pick { return $_[ int(rand(scalar @_)) ]; }
sub chance { return rand() < $_[0]; }
sub between { my ($lo, $hi) = @_; return $lo + int(rand($hi - $lo + 1)); }

# weighted: pick([weight, value-or-sub], ...)
sub weighted
{
	my @choices = @_;
	my $total = 0;
	$total += $_->[0] for @choices;
	my $r = rand($total);
	for my $c (@choices)
	{
		$r -= $c->[0];
		if ($r < 0)
		{
			return ref $c->[1] eq 'CODE' ? $c->[1]->() : $c->[1];
		}
	}
	my $last = $choices[-1][1];
	return ref $last eq 'CODE' ? $last->() : $last;
}

# quote makes a SQL string literal of a Perl string (no newlines in it).
sub quote { my $s = shift; $s =~ s/'/''/g; return "'$s'"; }

# Characters that mean something to LIKE, to the topic grammar, to JSON or
# to SQL, plus multibyte ones.
my @pattern_chars = ('%', '*', '_', '\\', '.', 'a', 'b', 'x', 'é', '日', '😀',
					 ' ', "'", '"', '[', ']', '^', '$', '(', '|', '?', '+', '-');

sub random_chars
{
	my $n = shift;
	my $s = '';
	$s .= pick(@pattern_chars) for 1 .. $n;
	return $s;
}

# Task names the fuzz publishes, so that patterns and acks often hit real jobs.
my @tasks = ('a.b', 'a.c', 'a.b.c', 'mail.send', 'x_y', 'x%y', 'é.日', '100%',
			 'a\\b', 'report_daily', 'ab', 'a', '*', '%', 'sms.send');

# ---------------------------------------------------------------------------
# Value pools: SQL expressions of one type, valid, extreme and wrong
# ---------------------------------------------------------------------------

sub int4_value
{
	return weighted(
		[ 30, sub { between(-3, 5) } ],
		[ 10, 'NULL' ],
		[ 5, '2147483647' ], [ 5, '-2147483648' ], [ 3, '2147483646' ],
		[ 5, sub { between(-1000000, 1000000) } ],
		[ 3, sub { between(6, 100) } ]);
}

sub int8_value
{
	return weighted(
		[ 20, sub { between(-2, 50) } ],
		[ 10, 'NULL' ],
		[ 5, '9223372036854775807' ], [ 5, '(-9223372036854775807 - 1)' ],
		[ 3, '2147483648' ], [ 3, '-2147483649' ],
		[ 20, sub { job_id_expr() } ]);
}

sub numeric_value
{
	return weighted(
		[ 10, 'NULL' ],
		[ 15, sub { pick('0.01', '0.02', '0.05', '0.1', '1', '60', '600', '99999.99') } ],
		[ 10, sub { pick("'NaN'::numeric", "'Infinity'::numeric", "'-Infinity'::numeric") } ],
		[ 10, sub { pick('0', '-0', '-1', '0.009', '0.005', '0.0099999999999999999999',
						 '99999.995', '99999.9900000000001', '100000', '1e10',
						 "'1e1000'::numeric", "'-1e1000'::numeric", "'1e-1000'::numeric",
						 '123456789012345678901234567890.123456789',
						 '(2::numeric ^ 1000)', '3600', '3600.0000001', '3601') } ],
		[ 5, sub { sprintf('%.3f', rand(5)) } ]);
}

sub timestamptz_value
{
	return weighted(
		[ 30, 'NULL' ],
		[ 20, sub { sprintf("(pg_catalog.now() - interval '%d ms')", between(0, 5000)) } ],
		[ 10, sub { sprintf("(pg_catalog.clock_timestamp() + interval '%d ms')", between(1, 300)) } ],
		[ 5, sub { sprintf("(pg_catalog.now() + interval '%d days')", between(1, 100000)) } ],
		[ 10, sub { pick("'infinity'::timestamptz", "'-infinity'::timestamptz") } ],
		[ 10, sub { pick("'294276-12-31 23:59:59.999999+00'::timestamptz",
						 "'4714-11-24 00:00:00+00 BC'::timestamptz",
						 "'epoch'::timestamptz", "'2000-01-01'::timestamptz",
						 "'2000-01-01'::timestamp", "'infinity'::timestamp",
						 "'1999-12-31 23:59:59'", "'now'", "'not a time'") } ]);
}

sub interval_value
{
	return weighted(
		[ 20, 'NULL' ],
		[ 20, sub { sprintf("interval '%d ms'", between(0, 2000)) } ],
		[ 10, sub { pick("interval '-1 s'", "interval '178000000 years'",
						 "interval '-178000000 years'", "'infinity'::interval") } ]);
}

# JSON: valid, big, deep, and input that is not JSON at all (an error before
# the function is even called, which is fine: it must be a clean error).
sub jsonb_value
{
	return weighted(
		[ 20, 'NULL' ],
		[ 20, sub { pick("'{}'", "'[]'", "'null'", "'1'", "'\"s\"'", "'true'",
						 "'{\"args\": [1, 2], \"kwargs\": {}}'",
						 "'{\"a\": {\"b\": [1, {\"c\": null}]}}'") } ],
		[ 5, sub { sprintf("pg_catalog.jsonb_build_object('k', pg_catalog.repeat('x', %d))",
						   pick(1000, 100000, 2000000)) } ],
		[ 5, sub { my $n = pick(10, 1000, 5000, 100000);
				   "(pg_catalog.repeat('[', $n) || pg_catalog.repeat(']', $n))::jsonb" } ],
		[ 3, sub { my $n = pick(10, 1000, 5000);
				   "(pg_catalog.repeat('{\"a\":', $n) || '1' || pg_catalog.repeat('}', $n))::jsonb" } ],
		[ 3, sub { "(SELECT pg_catalog.jsonb_agg(g) FROM pg_catalog.generate_series(1, "
				   . pick(10, 10000, 200000) . ") g)" } ],
		[ 10, sub { pick("'{\"a\":'", "'{a:1}'", "'NaN'", "''", "'\"\\u0000\"'",
						 "'\"\\ud800\"'", "'1e1000000'", "'[1,]'", "'{\"a\" 1}'",
						 "'\\x00'", "'{\"a\":1}}'", "'[[[['",
						 "'\"é日😀\"'", "'{\"\":\"\"}'", "'-0'", "'1e308'",
						 "'123456789012345678901234567890e-400'") } ],
		[ 5, sub { quote('"' . random_chars(between(0, 20)) . '"') } ]);
}

sub text_value
{
	return weighted(
		[ 15, 'NULL' ],
		[ 20, sub { quote(pick(@tasks)) } ],
		[ 20, sub { quote(random_chars(between(0, 12))) } ],
		[ 10, sub { pick("''", "' '", "'   '", "chr(9)", "(chr(10) || chr(13) || ' ')",
						 "chr(1)", "chr(127)", "'a' || chr(10) || 'b'") } ],
		[ 10, sub { sprintf("pg_catalog.repeat(%s, %d)", quote(pick('x', '%', 'é', '😀', '_', '\\', '*', 'ab')),
							pick(1023, 1024, 1025, 2048, 100000)) } ],
		[ 3, sub { sprintf("pg_catalog.repeat('x', %d)", pick(1000000, 5000000)) } ]);
}

sub bool_value { return pick('NULL', 'true', 'false'); }

# A job id: running, pending or finished jobs of this database, or none.
sub job_id_expr
{
	my $k = between(0, 5);
	return weighted(
		[ 30, "(SELECT job_id FROM jobs.job_queue WHERE status = 'running' ORDER BY job_id LIMIT 1 OFFSET $k)" ],
		[ 10, "(SELECT job_id FROM jobs.job_queue WHERE status = 'running' ORDER BY job_id DESC LIMIT 1 OFFSET $k)" ],
		[ 10, "(SELECT job_id FROM jobs.job_queue WHERE status = 'pending' ORDER BY job_id LIMIT 1 OFFSET $k)" ],
		[ 10, "(SELECT job_id FROM jobs.job ORDER BY job_id DESC LIMIT 1 OFFSET $k)" ],
		[ 5, "(SELECT pg_catalog.max(job_id) + $k + 1 FROM jobs.job_queue)" ]);
}

# The attempt an ack or nack names: the current one, another, or nonsense.
sub attempt_expr
{
	my $id = shift;
	return weighted(
		[ 30, 'NULL' ],
		[ 20, "(SELECT attempts FROM jobs.job_queue WHERE job_id = $id)" ],
		[ 10, "(SELECT attempts - 1 FROM jobs.job_queue WHERE job_id = $id)" ],
		[ 20, sub { int4_value() } ]);
}

# ---------------------------------------------------------------------------
# Arguments by parameter: the known functions' meaning first, then the type
# ---------------------------------------------------------------------------

sub task_value
{
	return weighted([ 70, sub { quote(pick(@tasks)) } ], [ 30, sub { text_value() } ]);
}

sub timeout_value
{
	return weighted(
		[ 30, 'NULL' ],
		[ 30, sub { pick('0.01', '0.02', '0.05', '0.1') } ],
		[ 20, sub { pick('1', '60', '600') } ],
		[ 20, sub { numeric_value() } ]);
}

sub num_value
{
	return weighted(
		[ 60, sub { between(1, 5) } ],
		[ 5, sub { between(6, 200) } ],
		[ 20, sub { pick('0', '-1', 'NULL', '2147483647', '-2147483648') } ]);
}

sub wait_value
{
	return weighted(
		[ 60, sub { pick('NULL', '0', '0.0') } ],
		[ 6, sub { pick('0.001', '0.01', '0.03', "'1e-1000'::numeric") } ],
		[ 1, sub { pick('1', '3600') } ],    # ended by statement_timeout
		[ 20, sub { pick('-1', '-0.001', "'NaN'::numeric", "'Infinity'::numeric",
						 "'-Infinity'::numeric", '3600.001', '3601', '1e10',
						 "'1e1000'::numeric", '2147483648') } ]);
}

sub pattern_value
{
	return weighted(
		[ 25, sub { quote(pick('%', '*', 'a.%', 'a.*', '%.b', 'a.%.c', 'mail.%', '%_%',
							   'x_y', 'x%y', 'a\\b', '100%', 'é.%', '%😀%', '\\%', '\\', '_')) } ],
		[ 20, sub { quote(pick(@tasks)) } ],
		[ 25, sub { quote(random_chars(between(1, 30))) } ],
		[ 10, sub { pick('NULL', "''") } ],
		[ 10, sub { sprintf("pg_catalog.repeat(%s, %d)", quote(pick('%', '*', '_', '\\', 'é', '😀', '%a', 'x')),
							pick(512, 1023, 1024, 1025, 100000)) } ],
		[ 3, sub { "pg_catalog.repeat('%', 10000000)" } ]);
}

# value_of_type returns a random SQL expression of the given type name (as
# format_type spells it); the cast keeps overloaded calls unambiguous.
sub value_of_type
{
	my $t = shift;
	my $v;
	if ($t eq 'integer') { $v = int4_value(); }
	elsif ($t eq 'bigint') { $v = int8_value(); }
	elsif ($t eq 'numeric') { $v = numeric_value(); }
	elsif ($t =~ /^timestamp/) { $v = timestamptz_value(); }
	elsif ($t eq 'interval') { $v = interval_value(); }
	elsif ($t eq 'jsonb' || $t eq 'json') { $v = jsonb_value(); }
	elsif ($t eq 'text' || $t =~ /^character varying/) { $v = text_value(); }
	elsif ($t eq 'boolean') { $v = bool_value(); }
	elsif ($t eq 'jobs.bulk_job[]') { $v = bulk_array(); }
	elsif ($t eq 'bigint[]') { $v = ids_array(); }
	elsif ($t eq 'integer[]') { $v = attempts_array(); }
	elsif ($t eq 'jsonb[]') { $v = results_array(); }
	elsif ($t eq 'double precision' || $t eq 'real') { $v = float8_value(); }
	elsif ($t eq 'smallint') { $v = pick('NULL', '0', '-1', '32767', '-32768', '1'); }
	else { $v = 'NULL'; }
	return "($v)::$t";
}

sub float8_value
{
	return weighted(
		[ 20, 'NULL' ],
		[ 30, sub { pick('0', '1', '0.5', '0.25', '1e-6', '0.999999') } ],
		[ 30, sub { pick('-1', "'NaN'", "'Infinity'", "'-Infinity'", '1e308', '-0',
						 '1.0000000001', '-1e-300', '1e-300', '5e-324', '1e6', '1000000.0001',
						 '2147483647.5', '-2147483649') } ],
		[ 10, sub { sprintf('%.4f', rand(3) - 1) } ]);
}

# ---------------------------------------------------------------------------
# 1.1: arrays for the batch calls, keys, cron expressions, time zones
# ---------------------------------------------------------------------------

# The running jobs a batch names, as a subquery over the queue; the same
# $k and $n give parallel arrays of ids, attempts and results.
sub running_batch
{
	my ($column, $k, $n) = @_;
	return "(SELECT pg_catalog.array_agg($column ORDER BY job_id) FROM (SELECT * FROM jobs.job_queue"
		. " WHERE status = 'running' ORDER BY job_id LIMIT $n OFFSET $k) s)";
}

sub ids_array
{
	my ($k, $n) = (between(0, 3), pick(1, 2, 3, 5, 20));
	return weighted(
		[ 40, sub { running_batch('job_id', $k, $n) } ],
		[ 5, sub { "(SELECT pg_catalog.array_agg(job_id) FROM jobs.job_queue WHERE status = 'pending')" } ],
		[ 5, sub { "(SELECT pg_catalog.array_agg(job_id) FROM (SELECT job_id FROM jobs.job ORDER BY job_id DESC LIMIT 3) s)" } ],
		[ 5, sub { 'ARRAY[' . join(', ', map { int8_value() } 1 .. pick(1, 2, 3)) . ']::bigint[]' } ],
		[ 20, sub { pick("NULL::bigint[]", "'{}'::bigint[]", "ARRAY[NULL]::bigint[]", "'{1,NULL,2}'::bigint[]",
						 "'{{1,2},{3,4}}'::bigint[]", "'{{{1}}}'::bigint[]", "'[0:1]={1,2}'::bigint[]",
						 "'[-2147483648:-2147483647]={1,2}'::bigint[]", "'[2147483647:2147483647]={1}'::bigint[]",
						 "'{9223372036854775807,-9223372036854775808,0,-1}'::bigint[]",
						 "pg_catalog.array_fill(1::bigint, ARRAY[100000])",
						 "pg_catalog.array_fill(1::bigint, ARRAY[100001])",
						 "pg_catalog.array_fill(1::bigint, ARRAY[0])",
						 "(SELECT pg_catalog.array_agg(g) FROM pg_catalog.generate_series(1::bigint, 5000) g)",
						 "(ARRAY[1]::bigint[])[2:1]", "'not an array'::bigint[]", "ARRAY['x']::bigint[]") } ],
		[ 5, sub { my $b = running_batch('job_id', $k, $n); "($b || $b)" } ]);    # duplicates
}

sub attempts_array
{
	my ($k, $n) = @_;
	($k, $n) = (between(0, 3), pick(1, 2, 3, 5, 20)) unless defined $n;
	return weighted(
		[ 30, 'NULL' ],
		[ 30, sub { running_batch('attempts', $k, $n) } ],
		[ 10, sub { running_batch('attempts + ' . pick(1, -1, 1000), $k, $n) } ],
		[ 20, sub { pick("'{}'::integer[]", "ARRAY[NULL]::integer[]", "'{1,NULL}'::integer[]", "'{0}'::integer[]",
						 "'{-1,-2147483648}'::integer[]", "'{2147483647}'::integer[]", "'{{1},{1}}'::integer[]",
						 "'[5:6]={1,1}'::integer[]", "pg_catalog.array_fill(1, ARRAY[100001])",
						 "pg_catalog.array_fill(NULL::integer, ARRAY[3])") } ],
		[ 10, sub { 'ARRAY[' . join(', ', map { int4_value() } 1 .. pick(1, 2, 3)) . ']::integer[]' } ]);
}

sub results_array
{
	my ($k, $n) = @_;
	($k, $n) = (between(0, 3), pick(1, 2, 3, 5, 20)) unless defined $n;
	return weighted(
		[ 30, 'NULL' ],
		[ 30, sub { running_batch('pg_catalog.to_jsonb(task)', $k, $n) } ],
		[ 5, sub { running_batch('NULL::jsonb', $k, $n) } ],
		[ 20, sub { pick("'{}'::jsonb[]", "ARRAY[NULL]::jsonb[]", "ARRAY['{}', NULL]::jsonb[]",
						 "ARRAY[ARRAY['1'], ARRAY['2']]::jsonb[]", "'[3:3]={1}'::jsonb[]",
						 "ARRAY['{\"a\":']::jsonb[]",
						 "pg_catalog.array_fill('{}'::jsonb, ARRAY[100001])") } ],
		[ 10, sub { 'ARRAY[' . join(', ', map { jsonb_value() } 1 .. pick(1, 2, 3)) . ']::jsonb[]' } ]);
}

# A unique key: a few shared ones (so that publishes collide), and junk.
sub unique_key_value
{
	return weighted(
		[ 35, 'NULL' ],
		[ 40, sub { quote(pick('k1', 'k2', 'k3', 'k1', 'é', '%', 'user-42')) } ],
		[ 15, sub { pick("''", "' '", "pg_catalog.repeat('k', 1024)", "pg_catalog.repeat('k', 1025)",
						 "pg_catalog.repeat('é', 1024)", "pg_catalog.repeat('😀', 1025)",
						 "pg_catalog.repeat('k', 100000)", "chr(1)") } ],
		[ 10, sub { text_value() } ]);
}

sub on_duplicate_value
{
	return weighted(
		[ 50, sub { pick("'ignore'", "'replace'") } ],
		[ 20, 'NULL' ],
		[ 30, sub { pick("'IGNORE'", "'Replace'", "'replace '", "''", "'merge'", "'ignore' || chr(0 + 10)",
						 "pg_catalog.repeat('replace', 1000)") } ]);
}

# Topic patterns the controls act on: mostly ones that cover the fuzz's
# tasks, so that pauses and limits change what consumers get.
sub control_pattern_value
{
	return weighted(
		[ 60, sub { quote(pick('a.%', 'a.b', 'mail.%', '%.send', 'x_y', 'x%y', 'é.%', '100%', 'a\\b',
							   '*', 'sms.*', 'a.%.c', 'report_daily', 'ab', 'fuzz.%', 'nothing.%')) } ],
		[ 40, sub { pattern_value() } ]);
}

my @cron_valid = (
	'* * * * *', '*/15 * * * *', '0 * * * *', '30 2 * * *', '0 0 1 1 *', '0 0 29 2 *',
	'0 9 * * MON-FRI', '0 0 * * 7', '0 0 * * FRI-SUN', '5,10,15 1-3/2 1,15 jan-dec/3 sun-sat',
	'0 0 30 2 MON', '59 23 31 12 *', '@yearly', '@annually', '@monthly', '@weekly', '@daily',
	'@midnight', '@hourly', '@HOURLY', "\t0  0\t*  *  *\t", '0/5 * * * *', '7/7 * * * 7',
	'30 1 * * *', '0,30 0-3 * 3,10 SUN', '* * 31 * *');
my @cron_bad = (
	'0 0 31 2 *', '0 0 30,31 2 *', '60 * * * *', '* 24 * * *', '* * 0 * *', '* * 32 * *',
	'* * * 13 *', '* * * * 8', '*/0 * * * *', '*/61 * * * *', '5-3 * * * *', 'SAT-0 * * * *',
	'* * * * * *', '* * * *', '*', '', ' ', '@reboot', '@daily *', '@never', '@', 'a b c d e',
	'1,,2 * * * *', '1- * * * *', '-1 * * * *', '1/ * * * *', '*/ * * * *', '99999999999999999999 * * * *',
	'1/99999999999999999999 * * * *', '* * * JAN-FOO *', '* * * * MONDAY', '* * * FEB-JAN *',
	'日 * * * *', '* * * * *😀', '%', '\\', "'");

sub cron_value
{
	return weighted(
		[ 50, sub { quote(pick(@cron_valid)) } ],
		[ 25, sub { quote(pick(@cron_bad)) } ],
		[ 5, 'NULL' ],
		[ 10, sub { pick("pg_catalog.repeat('* ', 512)", "pg_catalog.repeat('1,', 511) || '1 * * * *'",
						 "pg_catalog.repeat('1,', 600) || '1 * * * *'", "pg_catalog.repeat('é', 2000)",
						 "pg_catalog.repeat('*', 1025)", "'* * * * *' || chr(10)",
						 "(pg_catalog.repeat('0', 5000) || '1 * * * *')") } ],
		[ 10, sub { quote(join(' ', map { pick('*', '0', '1-5', '*/2', random_chars(between(1, 4))) } 1 .. between(4, 6))) } ]);
}

my @zones_valid = ('UTC', 'Europe/Berlin', 'America/New_York', 'America/St_Johns',
				   'Australia/Lord_Howe', 'Pacific/Chatham', 'Asia/Kathmandu', 'Antarctica/Troll',
				   'Pacific/Kiritimati', 'America/Santiago', 'Africa/Casablanca', 'Etc/GMT-14',
				   'Etc/GMT+12', 'EST5EDT', 'posixrules', 'Europe/London', 'utc', '<+03>-3');

sub time_zone_value
{
	return weighted(
		[ 30, 'NULL' ],
		[ 45, sub { quote(pick(@zones_valid)) } ],
		[ 25, sub { pick("'Nowhere/Bogus'", "''", "' '", "'localtime'", "'XXX-99999'", "'UTC+24'",
						 "'../../etc/passwd'", "'/etc/passwd'", "'right/UTC'", "'Europe/'",
						 "pg_catalog.repeat('A', 255)", "pg_catalog.repeat('A', 256)",
						 "pg_catalog.repeat('é', 200)", "'UTC' || chr(10)", "'%'", "'Europe/Berlin '",
						 "pg_catalog.repeat('x', 100000)") } ]);
}

sub schedule_name_value
{
	return weighted(
		[ 70, sub { quote(pick('s1', 's2', 's3', 'nightly', 'é')) } ],
		[ 30, sub { pick('NULL', "''", "pg_catalog.repeat('n', 200)", "pg_catalog.repeat('n', 201)",
						 "pg_catalog.repeat('😀', 200)", "pg_catalog.repeat('n', 100000)", "' '") } ]);
}

sub catch_up_value
{
	return weighted([ 60, 'NULL' ], [ 25, sub { pick("'once'", "'skip'") } ],
					[ 15, sub { pick("'ONCE'", "''", "'always'", "'skip '") } ]);
}

# ---------------------------------------------------------------------------
# publish_bulk arrays
# ---------------------------------------------------------------------------

sub bulk_int
{
	return weighted([ 50, 'NULL' ], [ 50, sub { int4_value() } ]);
}

sub bulk_timestamp
{
	return weighted(
		[ 50, 'NULL' ],
		[ 30, sub { sprintf("(LOCALTIMESTAMP - interval '%d ms')", between(0, 5000)) } ],
		[ 20, sub { pick("'infinity'", "'-infinity'", "'294276-12-31 23:59:59'",
						 "'4714-11-24 00:00:00 BC'", "'2000-01-01'") } ]);
}

sub bulk_element
{
	return 'NULL' if chance(0.02);
	my $timeout = weighted([ 40, 'NULL' ], [ 30, sub { pick(1, 2, 60) } ],
						   [ 30, sub { pick(0, -1, 99999, 100000, 2147483647, -2147483648) } ]);
	return sprintf("ROW(%s, %s, %s, %s, %s, %s)::jobs.bulk_job",
				   chance(0.9) ? quote(pick(@tasks)) : text_value(),
				   chance(0.7) ? 'NULL' : jsonb_value(),
				   bulk_timestamp(), $timeout, bulk_int(),
				   weighted([ 60, 'NULL' ], [ 40, sub { between(-1, 5) } ]));
}

sub bulk_array
{
	return weighted(
		[ 40, sub { my $n = pick(1, 1, 2, 3, 5);
					'ARRAY[' . join(', ', map { bulk_element() } 1 .. $n) . ']::jobs.bulk_job[]' } ],
		[ 10, sub { sprintf("(SELECT pg_catalog.array_agg(ROW(%s || (g %% 3), NULL, NULL, NULL, g %% 5, NULL)::jobs.bulk_job) "
							. "FROM pg_catalog.generate_series(1, %d) g)",
							quote(pick('a.b', 'a.c', 'bulk')), pick(10, 100, 1000, 5000)) } ],
		[ 20, sub { pick("'{}'::jobs.bulk_job[]", "ARRAY[]::jobs.bulk_job[]", "NULL::jobs.bulk_job[]",
						 "'{NULL}'::jobs.bulk_job[]", "'{NULL,NULL}'::jobs.bulk_job[]",
						 "'{\"(,,,,,)\"}'::jobs.bulk_job[]",
						 "'{\"(a.b,,,,,)\",NULL}'::jobs.bulk_job[]",
						 "'{{\"(a.b,,,,,)\"},{\"(a.c,,,,,)\"}}'::jobs.bulk_job[]",
						 "'{{{\"(a.b,,,,,)\"}}}'::jobs.bulk_job[]",
						 "'[5:6]={\"(a.b,,,,,)\",\"(a.c,,,,,)\"}'::jobs.bulk_job[]",
						 "'[-2147483648:-2147483647]={\"(a.b,,,,,)\",\"(a.c,,,,,)\"}'::jobs.bulk_job[]",
						 "'[2147483647:2147483647]={\"(a.b,,,,,)\"}'::jobs.bulk_job[]",
						 "'{\"(a.b,\\\"{}\\\",2000-01-01,1,1,1)\"}'::jobs.bulk_job[]",
						 "'{\"(a.b,{bad json},,,,)\"}'::jobs.bulk_job[]",
						 "'{\"(a.b,,,,,,)\"}'::jobs.bulk_job[]",
						 "'{\"(a.b,,,)\"}'::jobs.bulk_job[]",
						 "'{\"(a.b,,not a date,,,)\"}'::jobs.bulk_job[]",
						 "pg_catalog.array_fill(ROW('a.b', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job, ARRAY[2, 2])",
						 "pg_catalog.array_fill(ROW('a.b', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job, ARRAY[0])",
						 "pg_catalog.array_fill(NULL::jobs.bulk_job, ARRAY[3])",
						 "(SELECT pg_catalog.array_agg(NULL::jobs.bulk_job) FROM pg_catalog.generate_series(1, 0))",
						 "(ARRAY[ROW('a.b', NULL, NULL, NULL, NULL, NULL)]::jobs.bulk_job[])[2:1]",
						 "pg_catalog.array_cat(ARRAY[ROW('a.b', NULL, NULL, NULL, NULL, NULL)]::jobs.bulk_job[], NULL::jobs.bulk_job[])",
						 "ARRAY[ROW('a.b', NULL, NULL, NULL, NULL, NULL), ROW(1, 2, 3, 4, 5, 6)]::jobs.bulk_job[]",
						 "ARRAY[ROW('a.b')]::jobs.bulk_job[]",
						 "'not an array'::jobs.bulk_job[]",
						 "ARRAY['(a.b,,,,,)']::text[]") } ]);
}

# ---------------------------------------------------------------------------
# Calls of the known functions
# ---------------------------------------------------------------------------

# call_args renders arguments positionally (a prefix of the parameters) or
# by name in a random order.
sub call_args
{
	my @params = @_;    # [name, value-sub, required]
	my @required = grep { $_->[2] } @params;
	if (chance(0.6))
	{
		my $n = between(scalar @required, scalar @params);
		return join(', ', map { $params[$_][1]->() } 0 .. $n - 1);
	}
	my @chosen = grep { $_->[2] || chance(0.5) } @params;
	@chosen = sort { rand() <=> 0.5 } @chosen;
	return join(', ', map { "$_->[0] => " . $_->[1]->() } @chosen);
}

sub in_context
{
	my ($call, $srf) = @_;
	if ($srf)
	{
		return weighted(
			[ 30, "SELECT * FROM $call" ],
			[ 20, "SELECT pg_catalog.count(*) FROM $call" ],
			[ 10, "SELECT $call" ],
			[ 5, "SELECT * FROM $call WITH ORDINALITY" ],
			[ 5, "SELECT * FROM pg_catalog.generate_series(1, 3) g, LATERAL $call" ],
			[ 5, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM $call" ],
			[ 5, "SELECT * FROM (SELECT * FROM $call) s ORDER BY 1 DESC" ]);
	}
	return weighted(
		[ 50, "SELECT $call" ],
		[ 20, "SELECT * FROM $call" ],
		[ 5, "SELECT pg_catalog.count(*) FROM (SELECT $call FROM pg_catalog.generate_series(1, 2)) s" ],
		# (a tag no generated value contains: random text may hold $$)
		[ 10, "DO \$fuzz\$BEGIN PERFORM $call; END\$fuzz\$" ]);
}

sub publish_call
{
	my @p = (
		[ 'i_task', \&task_value, 1 ],
		[ 'i_body', \&jsonb_value, 0 ],
		[ 'i_scheduled_at', \&timestamptz_value, 0 ],
		[ 'i_timeout', \&timeout_value, 0 ],
		[ 'i_priority', \&int4_value, 0 ],
		[ 'i_max_retries', sub { weighted([ 50, 'NULL' ], [ 50, sub { int4_value() } ]) }, 0 ]);
	# 1.1: unique jobs, in a third of the calls
	push @p, ([ 'i_unique_key', \&unique_key_value, 0 ],
			  [ 'i_on_duplicate', \&on_duplicate_value, 0 ],
			  [ 'i_unique_running', \&bool_value, 0 ])
	  if ($nargs{'jobs.publish'} || 6) >= 9 && chance(0.35);
	return 'jobs.publish(' . call_args(@p) . ')';
}

sub consume_call
{
	my @p = ([ 'num', \&num_value, 1 ]);
	push @p, [ 'i_wait', \&wait_value, 0 ] if ($nargs{'jobs.consume'} || 1) > 1;
	return 'jobs.consume(' . call_args(@p) . ')';
}

sub consume_topic_call
{
	my @p = ([ 'pattern', \&pattern_value, 1 ], [ 'num', \&num_value, 1 ]);
	push @p, [ 'i_wait', \&wait_value, 0 ] if ($nargs{'jobs.consume_topic'} || 2) > 2;
	return 'jobs.consume_topic(' . call_args(@p) . ')';
}

sub any_consume_call { return chance(0.5) ? consume_call() : consume_topic_call(); }

sub ack_call
{
	my $id = job_id_expr();
	return 'jobs.ack(' . call_args(
		[ 'i_job_id', sub { chance(0.85) ? $id : int8_value() }, 1 ],
		[ 'i_result', \&jsonb_value, 0 ],
		[ 'i_attempt', sub { attempt_expr($id) }, 0 ]) . ')';
}

sub nack_call
{
	my $id = job_id_expr();
	return 'jobs.nack(' . call_args(
		[ 'i_job_id', sub { chance(0.85) ? $id : int8_value() }, 1 ],
		[ 'i_traceback', \&text_value, 0 ],
		[ 'i_schedule_at', \&timestamptz_value, 0 ],
		[ 'i_attempt', sub { attempt_expr($id) }, 0 ]) . ')';
}

# A claim and its outcome in one statement, as a worker would write it.
sub claim_and_finish
{
	my $consume = any_consume_call();
	my $attempt = pick('c.attempt', 'NULL', 'c.attempt + 1', 'c.attempt - 1');
	return weighted(
		[ 3, "SELECT jobs.ack(c.job_id, pg_catalog.to_jsonb(c), $attempt) FROM $consume c" ],
		[ 2, "SELECT jobs.nack(c.job_id, 'failed: ' || c.task, NULL, $attempt) FROM $consume c" ],
		[ 1, "SELECT jobs.nack(c.job_id, NULL, " . timestamptz_value() . ", $attempt) FROM $consume c" ],
		[ 1, "WITH c AS (SELECT * FROM $consume) SELECT jobs.ack(job_id), jobs.ack(job_id) FROM c" ],
		[ 1, "WITH c AS (SELECT * FROM $consume) SELECT jobs.nack(job_id), jobs.ack(job_id) FROM c" ],
		[ 1, "WITH c AS MATERIALIZED (SELECT * FROM $consume) SELECT pg_catalog.count(jobs.ack(job_id, NULL, attempt)) FROM c" ],
		[ 1, "SELECT jobs.ack(c.job_id) FROM $consume c, LATERAL " . any_consume_call() . " d" ]);
}

# ---------------------------------------------------------------------------
# Calls of the 1.2 function: ack_and_consume
# ---------------------------------------------------------------------------

# An ack of a job (running, pending, finished, missing, or NULL: only a
# claim) and a claim of up to num jobs, of every task or of a pattern.
sub ack_and_consume_call
{
	my $id = job_id_expr();
	return 'jobs.ack_and_consume(' . call_args(
		[ 'i_job_id', sub { weighted([ 65, $id ], [ 20, 'NULL' ], [ 15, sub { int8_value() } ]) }, 1 ],
		[ 'num', \&num_value, 0 ],
		[ 'i_result', \&jsonb_value, 0 ],
		[ 'i_attempt', sub { attempt_expr($id) }, 0 ],
		[ 'i_pattern', sub { weighted([ 50, 'NULL' ], [ 50, sub { pattern_value() } ]) }, 0 ]) . ')';
}

# A worker's loop in one statement: claim, then ack each job while claiming
# the next; chained (each call acks what the one before claimed), acked
# twice, or with the wrong attempt.
sub claim_and_ack_and_consume
{
	my $consume = any_consume_call();
	my $attempt = pick('c.attempt', 'NULL', 'c.attempt + 1', 'c.attempt - 1');
	my $pattern = weighted([ 60, 'NULL' ], [ 40, sub { pattern_value() } ]);
	return weighted(
		[ 3, "SELECT a.* FROM $consume c, LATERAL jobs.ack_and_consume(c.job_id, " . num_value()
			 . ", pg_catalog.to_jsonb(c), $attempt, $pattern) a" ],
		[ 2, "SELECT jobs.ack_and_consume(c.job_id, 1, NULL, $attempt) FROM $consume c" ],
		[ 2, "WITH c AS MATERIALIZED (SELECT * FROM $consume) SELECT b.* FROM c, "
			 . "LATERAL jobs.ack_and_consume(c.job_id, 1, NULL, c.attempt, $pattern) a, "
			 . "LATERAL jobs.ack_and_consume(a.job_id, 1, pg_catalog.to_jsonb(a), a.attempt, $pattern) b" ],
		[ 1, "WITH c AS (SELECT * FROM $consume) SELECT jobs.ack(job_id), "
			 . "(SELECT pg_catalog.count(*) FROM jobs.ack_and_consume(c.job_id)) FROM c" ],
		[ 1, "WITH c AS MATERIALIZED (SELECT * FROM $consume) SELECT (SELECT pg_catalog.count(*) FROM jobs.ack_and_consume(c.job_id, 2)), "
			 . "(SELECT pg_catalog.count(*) FROM jobs.ack_and_consume(c.job_id, 2)) FROM c" ],
		[ 1, "SELECT jobs.nack(c.job_id), a.* FROM $consume c LEFT JOIN LATERAL jobs.ack_and_consume(c.job_id) a ON true" ]);
}

# The same loop in PL/pgSQL, as a worker would write it: claim one, then
# ack each job while claiming the next, until none is left or n are done.
sub ack_and_consume_loop
{
	my $pattern = weighted([ 60, 'NULL' ], [ 40, sub { pattern_value() } ]);
	my $attempt = pick('r.attempt', 'r.attempt', 'NULL', 'r.attempt + 1');
	my $n = pick(1, 2, 5, 20);
	return "DO \$fuzz\$DECLARE r record; BEGIN SELECT * INTO r FROM jobs.ack_and_consume(NULL, 1, NULL, NULL, $pattern); "
		. "FOR i IN 1 .. $n LOOP EXIT WHEN r.job_id IS NULL; "
		. "SELECT * INTO r FROM jobs.ack_and_consume(r.job_id, 1, pg_catalog.to_jsonb(i), $attempt, $pattern); "
		. "END LOOP; END\$fuzz\$";
}

# One 1.2 call with its label.
sub statement_12
{
	return weighted(
		[ 6, sub { (in_context(ack_and_consume_call(), 1), 'ack_and_consume') } ],
		[ 3, sub { (claim_and_ack_and_consume(), 'claim_and_ack_and_consume') } ],
		[ 1, sub { (ack_and_consume_loop(), 'ack_and_consume_loop') } ]);
}

# ---------------------------------------------------------------------------
# Calls of the 1.1 functions
# ---------------------------------------------------------------------------

sub ack_batch_call
{
	my ($k, $n) = (between(0, 3), pick(1, 2, 3, 5, 20));
	my $ids = chance(0.7) ? running_batch('job_id', $k, $n) : ids_array();
	return 'jobs.ack_batch(' . call_args(
		[ 'i_job_ids', sub { $ids }, 1 ],
		[ 'i_results', sub { results_array($k, $n) }, 0 ],
		[ 'i_attempts', sub { attempts_array($k, $n) }, 0 ]) . ')';
}

sub nack_batch_call
{
	my ($k, $n) = (between(0, 3), pick(1, 2, 3, 5, 20));
	my $ids = chance(0.7) ? running_batch('job_id', $k, $n) : ids_array();
	return 'jobs.nack_batch(' . call_args(
		[ 'i_job_ids', sub { $ids }, 1 ],
		[ 'i_traceback', \&text_value, 0 ],
		[ 'i_schedule_at', \&timestamptz_value, 0 ],
		[ 'i_attempts', sub { attempts_array($k, $n) }, 0 ]) . ')';
}

sub extend_value
{
	return weighted([ 30, 'NULL' ], [ 30, sub { pick('0.01', '0.05', '1', '30', '99999.99') } ],
					[ 40, sub { numeric_value() } ]);
}

sub touch_call
{
	my $id = job_id_expr();
	return 'jobs.touch(' . call_args(
		[ 'i_job_id', sub { chance(0.85) ? $id : int8_value() }, 1 ],
		[ 'i_extend', \&extend_value, 0 ],
		[ 'i_attempt', sub { attempt_expr($id) }, 0 ]) . ')';
}

sub note_value
{
	return weighted([ 60, sub { text_value() } ],
					[ 40, sub { pick("pg_catalog.repeat('n', 8192)", "pg_catalog.repeat('n', 8193)",
									 "pg_catalog.repeat('é', 4096)", "pg_catalog.repeat('é', 4097)",
									 "pg_catalog.repeat('😀', 2048)", "pg_catalog.repeat('😀', 2049)") } ]);
}

sub progress_call
{
	my $id = job_id_expr();
	return 'jobs.progress(' . call_args(
		[ 'i_job_id', sub { chance(0.85) ? $id : int8_value() }, 1 ],
		[ 'i_progress', \&float8_value, 1 ],
		[ 'i_note', \&note_value, 0 ],
		[ 'i_attempt', sub { attempt_expr($id) }, 0 ]) . ')';
}

sub release_call
{
	my $id = job_id_expr();
	return 'jobs.release(' . call_args(
		[ 'i_job_id', sub { chance(0.85) ? $id : int8_value() }, 1 ],
		[ 'i_schedule_at', \&timestamptz_value, 0 ],
		[ 'i_attempt', sub { attempt_expr($id) }, 0 ]) . ')';
}

sub cancel_call
{
	return 'jobs.cancel(' . call_args(
		[ 'i_job_id', sub { chance(0.85) ? job_id_expr() : int8_value() }, 1 ],
		[ 'i_reason', \&text_value, 0 ]) . ')';
}

# A finished job: failed, cancelled, succeeded, or none.
sub finished_id_expr
{
	my $k = pick(0, 0, 0, 1, 2);
	return weighted(
		[ 40, "(SELECT job_id FROM jobs.job WHERE status = 'failed' ORDER BY job_id DESC LIMIT 1 OFFSET $k)" ],
		[ 20, "(SELECT job_id FROM jobs.job WHERE status = 'cancelled' ORDER BY job_id DESC LIMIT 1 OFFSET $k)" ],
		[ 10, "(SELECT job_id FROM jobs.job WHERE status = 'succeeded' ORDER BY job_id DESC LIMIT 1 OFFSET $k)" ],
		[ 20, sub { job_id_expr() } ],
		[ 10, sub { int8_value() } ]);
}

sub retry_call { return 'jobs.retry(' . call_args([ 'i_job_id', \&finished_id_expr, 1 ]) . ')'; }

sub retry_topic_call
{
	return 'jobs.retry_topic(' . call_args(
		[ 'i_pattern', \&control_pattern_value, 1 ],
		[ 'i_include_cancelled', \&bool_value, 0 ]) . ')';
}

sub rate_value
{
	return weighted(
		[ 40, 'NULL' ],
		[ 35, sub { pick('1', '10', '1000', '0.5', '1000000', '0.001') } ],
		[ 25, sub { pick('0', '-1', '1e-300', '1e-13', '5e-324', "'NaN'", "'Infinity'", '1000000.0001',
						 '1e308', '2147483648') } ]);
}

sub set_limit_call
{
	return 'jobs.set_limit(' . call_args(
		[ 'i_pattern', \&control_pattern_value, 1 ],
		[ 'i_max_running', sub { weighted([ 40, 'NULL' ], [ 40, sub { between(1, 4) } ],
										  [ 20, sub { int4_value() } ]) }, 0 ],
		[ 'i_rate', \&rate_value, 0 ],
		[ 'i_burst', sub { weighted([ 50, 'NULL' ], [ 50, sub { int4_value() } ]) }, 0 ]) . ')';
}

sub cron_next_call
{
	return 'jobs.cron_next(' . call_args(
		[ 'i_expression', \&cron_value, 1 ],
		[ 'i_after', \&timestamptz_value, 0 ],
		[ 'i_time_zone', \&time_zone_value, 0 ]) . ')';
}

sub schedule_call
{
	# a schedule as an application would write it, often
	return sprintf("jobs.schedule(%s, %s, %s, %s, %s)", quote(pick('s1', 's2', 's3', 'nightly')),
				   quote(pick(@cron_valid)), quote(pick(@tasks)), pick('NULL', "'{}'"),
				   chance(0.5) ? 'NULL' : quote(pick(@zones_valid)))
	  if chance(0.4);
	return 'jobs.schedule(' . call_args(
		[ 'i_name', \&schedule_name_value, 1 ],
		[ 'i_cron', \&cron_value, 1 ],
		[ 'i_task', \&task_value, 1 ],
		[ 'i_body', \&jsonb_value, 0 ],
		[ 'i_time_zone', \&time_zone_value, 0 ],
		[ 'i_timeout', \&timeout_value, 0 ],
		[ 'i_priority', \&int4_value, 0 ],
		[ 'i_max_retries', sub { weighted([ 50, 'NULL' ], [ 50, sub { int4_value() } ]) }, 0 ],
		[ 'i_catch_up', \&catch_up_value, 0 ]) . ')';
}

# A unique publish as an application would write it: a few tasks and keys,
# short timeouts, so that keys are taken, freed and taken again while their
# holders run, retry and expire.
sub publish_unique_call
{
	return 'jobs.publish(' . call_args(
		[ 'i_task', sub { quote(pick('a.b', 'mail.send', 'x_y')) }, 1 ],
		[ 'i_body', sub { pick('NULL', "'{}'", "'[1]'") }, 0 ],
		[ 'i_scheduled_at', sub { pick('NULL', 'NULL', "(pg_catalog.now() + interval '50 ms')") }, 0 ],
		[ 'i_timeout', sub { pick('NULL', '0.01', '0.02', '0.05', '0.1', '1') }, 0 ],
		[ 'i_priority', sub { between(-2, 2) }, 0 ],
		[ 'i_max_retries', sub { pick('NULL', 0, 1, 2, 5) }, 0 ],
		[ 'i_unique_key', sub { quote(pick('k1', 'k2', 'k3')) }, 1 ],
		[ 'i_on_duplicate', sub { pick('NULL', "'ignore'", "'replace'") }, 0 ],
		[ 'i_unique_running', sub { pick('NULL', 'false', 'false', 'true') }, 0 ]) . ')';
}

# One 1.1 call with its label.
sub statement_11
{
	return weighted(
		[ 5, sub { (in_context(publish_unique_call(), 0), 'publish_unique') } ],
		[ 5, sub { (in_context(ack_batch_call(), 1), 'ack_batch') } ],
		[ 4, sub { (in_context(nack_batch_call(), 1), 'nack_batch') } ],
		[ 4, sub { (in_context(touch_call(), 0), 'touch') } ],
		[ 3, sub { (in_context(progress_call(), 0), 'progress') } ],
		[ 3, sub { (in_context(release_call(), 0), 'release') } ],
		[ 3, sub { (in_context(cancel_call(), 0), 'cancel') } ],
		[ 2, sub { (in_context(retry_call(), 0), 'retry') } ],
		[ 2, sub { (in_context(retry_topic_call(), 0), 'retry_topic') } ],
		[ 1, sub { (in_context('jobs.pause(' . call_args([ 'i_pattern', \&control_pattern_value, 1 ]) . ')', 0), 'pause') } ],
		[ 3, sub { (in_context('jobs.resume(' . call_args([ 'i_pattern', \&control_pattern_value, 1 ]) . ')', 0), 'resume') } ],
		[ 2, sub { (in_context(set_limit_call(), 0), 'set_limit') } ],
		[ 1, sub { (in_context('jobs.check_topic_pattern(' . pattern_value() . ')', 0), 'check_topic_pattern') } ],
		[ 1, sub { ('SELECT jobs.wake_consumers()', 'wake_consumers') } ],
		[ 4, sub { (in_context(cron_next_call(), 0), 'cron_next') } ],
		[ 3, sub { (in_context(schedule_call(), 0), 'schedule') } ],
		[ 1, sub { (in_context('jobs.unschedule(' . schedule_name_value() . ')', 0), 'unschedule') } ],
		[ 1, sub { ('SELECT jobs.run_schedules()', 'run_schedules') } ],
		[ 2, sub { (pick('SELECT * FROM jobs.dead_letter ORDER BY finished_at DESC LIMIT 5',
						 'SELECT pg_catalog.count(*) FROM jobs.dead_letter',
						 'SELECT * FROM jobs.running WHERE progress IS NOT NULL OR cancel_requested_at IS NOT NULL',
						 'SELECT * FROM jobs.topic_control',
						 'SELECT * FROM jobs.recurring'), 'views') } ],
		# a worker's loop in one statement: claim, heartbeat, progress, then
		# one of ack_batch, nack_batch, release or cancel
		[ 4, sub { (claim_and_control(), 'claim_and_control') } ]);
}

sub claim_and_control
{
	my $consume = any_consume_call();
	my $attempt = pick('c.attempt', 'NULL', 'c.attempt + 1');
	return weighted(
		[ 2, "SELECT jobs.touch(c.job_id, " . extend_value() . ", $attempt) FROM $consume c" ],
		[ 2, "SELECT jobs.progress(c.job_id, " . float8_value() . ", c.task, $attempt), jobs.ack(c.job_id) FROM $consume c" ],
		[ 1, "SELECT jobs.release(c.job_id, " . timestamptz_value() . ", $attempt) FROM $consume c" ],
		[ 1, "SELECT jobs.cancel(c.job_id), jobs.nack(c.job_id) FROM $consume c" ],
		[ 1, "SELECT jobs.cancel(c.job_id), jobs.touch(c.job_id) FROM $consume c" ],
		[ 2, "WITH c AS MATERIALIZED (SELECT * FROM $consume) SELECT * FROM jobs.ack_batch("
			 . "(SELECT pg_catalog.array_agg(job_id) FROM c), NULL, (SELECT pg_catalog.array_agg(attempt) FROM c))" ],
		[ 2, "WITH c AS MATERIALIZED (SELECT * FROM $consume) SELECT * FROM jobs.nack_batch("
			 . "(SELECT pg_catalog.array_agg(job_id ORDER BY job_id) FROM c), 'batch failed', "
			 . timestamptz_value() . ", (SELECT pg_catalog.array_agg(attempt ORDER BY job_id) FROM c))" ],
		[ 1, "WITH c AS MATERIALIZED (SELECT * FROM $consume) SELECT * FROM jobs.ack_batch("
			 . "(SELECT pg_catalog.array_agg(job_id) FROM c)) a, jobs.ack_batch((SELECT pg_catalog.array_agg(job_id) FROM c)) b" ]);
}

sub generic_call
{
	my $sig = pick(@sigs);
	return undef unless $sig;
	my @types = @{ $sig->{types} };
	my $nreq = @types - $sig->{ndefaults};
	my $n = between($nreq, scalar @types);
	my $args = join(', ', map { value_of_type($types[$_]) } 0 .. $n - 1);
	return ("SELECT * FROM $sig->{name}($args)", "generic:$sig->{name}");
}

# A pgjobs.* setting set to a value of its range, a bound, just past a
# bound, or something else; SET LOCAL too, which a transaction undoes.
sub setting
{
	return 'RESET ALL' if !@gucs || chance(0.02);
	my $g = pick(@gucs);
	return "RESET $g->{name}" if chance(0.25);
	my @v = ('0', '1', '-1', "'abc'", "''", "'NaN'", "'Infinity'", '2147483648');
	if ($g->{vartype} eq 'enum')
	{
		push @v, map { quote($_) } @{ $g->{enumvals} }, @{ $g->{enumvals} }, @{ $g->{enumvals} };
		push @v, "'ALL'", "'on'", "'true'";
	}
	elsif ($g->{vartype} eq 'integer' || $g->{vartype} eq 'real')
	{
		my ($min, $max) = ($g->{min}, $g->{max});
		push @v, $min, $max, $min, $max, "'$min'", "'1ms'", "'10ms'", "'1s'", "'1h'", "'1d'", "'-1s'";
		push @v, $min - 1, $max + 1 if $min =~ /^-?\d+$/ && $max =~ /^-?\d+$/;
		push @v, $max * 1.5, '0.001' if $max =~ /^[0-9.e+]+$/;
		push @v, int(rand(($max =~ /^[0-9.e+]+$/ && $max < 1e7) ? $max : 100000)) for 1 .. 3;
	}
	return (chance(0.2) ? 'SET LOCAL ' : 'SET ') . "$g->{name} = " . pick(@v);
}

# a few statements that change the state the calls run in, as users might
sub state_change
{
	my $k = between(0, 6);
	return weighted(
		[ 10, "UPDATE jobs.job_queue SET scheduled_at = pg_catalog.now() - interval '1 second' WHERE status = 'pending' AND job_id % 7 = $k" ],
		[ 10, "UPDATE jobs.job_queue SET expires_at = pg_catalog.now() - interval '1 second' WHERE status = 'running' AND job_id % 5 = " . ($k % 5) ],
		[ 3, "DELETE FROM jobs.job WHERE job_id % 3 = " . ($k % 3) ],
		[ 2, "SELECT pg_catalog.pg_sleep(0.0" . between(1, 3) . ")" ],
		[ 3, "DISCARD PLANS" ],
		[ 2, "DISCARD ALL" ],
		[ 3, "SET search_path = " . pick("''", 'pg_catalog', 'jobs', 'fuzz_shadow, pg_catalog', 'public', 'fuzz_shadow') ],
		[ 2, "RESET search_path" ],
		[ 2, "SET statement_timeout = '" . pick(1, 5, 50, 250) . "ms'" ],
		[ 2, "SET statement_timeout = '250ms'" ],
		[ 3, "INSERT INTO fuzz_publishing VALUES (" . task_value() . ", " . jsonb_value() . ")" ],
		[ 3, "SELECT fuzz_worker(" . num_value() . ", " . between(0, $v11 ? 6 : 3) . ")" ],
		[ 1, "VACUUM jobs.job_queue" ],
		[ 2, "LISTEN pgjobs" ],
		[ 1, "UNLISTEN *" ],
		[ 1, "ANALYZE jobs.job_queue" ],
		$v11 ? state_change_11() : ());
}

# state changes that 1.1's tables make possible: due schedules, a schedule
# whose zone or expression broke (published with a WARNING, tried again
# later; undone), the topic controls cleared or their token buckets drained,
# a claim under a pattern stored directly (undone).
sub state_change_11
{
	my $undo = "RAISE EXCEPTION 'undo'; EXCEPTION WHEN raise_exception THEN NULL; END\$\$";
	return (
		[ 4, "UPDATE jobs.recurring SET next_run_at = pg_catalog.now() - interval '" . pick(1, 30, 90, 3600) . " seconds'" ],
		[ 1, "DO \$\$BEGIN UPDATE jobs.recurring SET " . pick("time_zone = 'Nowhere/Bogus'", "cron = 'bad'", "cron = '0 0 31 2 *'", "task = ''")
			 . ", next_run_at = pg_catalog.now() - interval '1 minute'; PERFORM jobs.run_schedules(); $undo" ],
		[ 3, pick("DELETE FROM jobs.topic_control", "TRUNCATE jobs.topic_control",
				  "UPDATE jobs.topic_control SET tokens = 0, refilled_at = pg_catalog.now()",
				  "UPDATE jobs.topic_control SET refilled_at = pg_catalog.now() + interval '1 hour'",
				  "UPDATE jobs.topic_control SET paused = NOT paused WHERE max_running IS NOT NULL OR rate IS NOT NULL") ],
		[ 1, "DO \$\$BEGIN INSERT INTO jobs.topic_control (pattern, paused) VALUES ("
			 . pick("''", "pg_catalog.repeat('%', 1025)", "'%'", "'a\\'", "'_'") . ", true) ON CONFLICT DO NOTHING; "
			 . "PERFORM * FROM jobs.consume(1); $undo" ]);
}

# ---------------------------------------------------------------------------
# The script
# ---------------------------------------------------------------------------

my $line_count = 0;

sub emit
{
	my ($sql, $label) = @_;
	die "newline in statement: $sql\n" if $sql =~ /\n/;
	print "$sql; -- fuzz:$label\n";
	$line_count++;
}

# one statement: a call or a state change, with its label
sub statement
{
	return weighted(
		[ 16, sub { (in_context(publish_call(), 0), 'publish') } ],
		[ 6, sub { (in_context('jobs.publish_bulk(' . bulk_array() . ')', 1), 'publish_bulk') } ],
		[ 9, sub { (in_context(consume_call(), 1), 'consume') } ],
		[ 9, sub { (in_context(consume_topic_call(), 1), 'consume_topic') } ],
		[ 9, sub { (in_context(ack_call(), 0), 'ack') } ],
		[ 7, sub { (in_context(nack_call(), 0), 'nack') } ],
		[ 10, sub { (claim_and_finish(), 'claim_and_finish') } ],
		[ 2, sub { ('SELECT jobs.expire()', 'expire') } ],
		[ 3, sub { ('SELECT jobs.retry_delay(' . int4_value() . ')', 'retry_delay') } ],
		[ 8, sub { generic_call() } ],
		[ 4, sub { (setting(), 'setting') } ],
		[ 6, sub { (state_change(), 'state') } ],
		$v11 ? ([ 30, sub { statement_11() } ]) : (),
		$v12 ? ([ 10, sub { statement_12() } ]) : ());
}

emit("SET statement_timeout = '250ms'", 'setup');
emit("SET client_min_messages = warning", 'setup');
my $cursor = 0;
my $prepared = 0;
my $drops = 0;
while ($line_count < $count)
{
	my $r = rand();
	if ($r < 0.06)
	{
		# a transaction block, sometimes with savepoints, rolled back or committed
		emit('BEGIN' . pick('', '', ' ISOLATION LEVEL REPEATABLE READ', ' ISOLATION LEVEL SERIALIZABLE',
							 ' READ ONLY'), 'xact');
		my $savepoint = 0;
		for my $i (1 .. between(1, 5))
		{
			if (!$savepoint && chance(0.3))
			{
				emit('SAVEPOINT s', 'xact');
				$savepoint = 1;
			}
			if (chance(0.7))
			{
				# as a client would: undo a failed statement, go on
				emit('SAVEPOINT f', 'xact');
				emit(statement());
				print "\\if :ERROR\n";
				emit('ROLLBACK TO SAVEPOINT f', 'xact');
				print "\\endif\n";
				$line_count += 2;
			}
			else
			{
				emit(statement());
			}
			if ($savepoint && chance(0.4))
			{
				emit(pick('ROLLBACK TO SAVEPOINT s', 'RELEASE SAVEPOINT s'), 'xact');
				$savepoint = 0;
			}
		}
		emit(pick('COMMIT', 'ROLLBACK', 'COMMIT'), 'xact');
	}
	elsif ($r < 0.08)
	{
		# a cursor over a claim, scrolled, in a transaction or held past it
		my $c = 'c' . ++$cursor;
		my $hold = chance(0.3);
		emit('BEGIN', 'cursor');
		emit("DECLARE $c " . pick('', 'SCROLL ', 'NO SCROLL ') . 'CURSOR ' . ($hold ? 'WITH HOLD ' : '')
			 . 'FOR SELECT * FROM ' . any_consume_call(), 'cursor');
		emit("FETCH " . pick('1', '2', 'ALL', 'LAST', 'ABSOLUTE 2', 'BACKWARD 1', 'PRIOR') . " FROM $c", 'cursor')
		  for 1 .. between(1, 3);
		emit(pick('COMMIT', 'ROLLBACK'), 'cursor');
		if ($hold)
		{
			emit("FETCH " . pick('ALL', 'FIRST', 'BACKWARD ALL') . " FROM $c", 'cursor');
			emit("CLOSE $c", 'cursor');
		}
	}
	elsif ($r < 0.095)
	{
		# prepared statements, executed again with other arguments
		my $p = 'p' . ++$prepared;
		my $which = between(0, $v12 ? 5 : $v11 ? 4 : 2);
		if ($which == 0)
		{
			emit("PREPARE $p(int) AS SELECT * FROM jobs.consume(\$1)", 'prepared');
			emit("EXECUTE $p(" . num_value() . ")", 'prepared') for 1 .. between(1, 7);
		}
		elsif ($which == 1)
		{
			emit("PREPARE $p(varchar, jsonb, numeric) AS SELECT jobs.publish(\$1, \$2, NULL, \$3)", 'prepared');
			emit("EXECUTE $p(" . task_value() . ", " . jsonb_value() . ", " . timeout_value() . ")", 'prepared')
			  for 1 .. between(1, 7);
		}
		elsif ($which == 3)
		{
			emit("PREPARE $p(int, numeric) AS SELECT jobs.touch(job_id, \$2, attempts) FROM jobs.job_queue"
				 . " WHERE status = 'running' ORDER BY job_id LIMIT \$1", 'prepared');
			emit("EXECUTE $p(" . pick(1, 1, 2, 0, 'NULL') . ", " . extend_value() . ")", 'prepared')
			  for 1 .. between(1, 7);
		}
		elsif ($which == 5)
		{
			# the oldest running job (or none: NULL) acked, with an attempt
			# off by $2, while claiming up to $1
			emit("PREPARE $p(int, int) AS SELECT a.* FROM (SELECT (SELECT job_id FROM jobs.job_queue"
				 . " WHERE status = 'running' ORDER BY job_id LIMIT 1) AS id) q, LATERAL jobs.ack_and_consume(q.id, \$1,"
				 . " NULL, (SELECT attempts FROM jobs.job_queue WHERE job_id = q.id) + \$2) a", 'prepared');
			emit("EXECUTE $p(" . num_value() . ", " . pick(0, 0, 0, 1, -1, 'NULL') . ")", 'prepared')
			  for 1 .. between(1, 7);
		}
		elsif ($which == 4)
		{
			emit("PREPARE $p(bigint[], int[]) AS SELECT * FROM jobs.ack_batch(\$1, NULL, \$2)", 'prepared');
			emit("EXECUTE $p(" . ids_array() . ", " . attempts_array() . ")", 'prepared')
			  for 1 .. between(1, 7);
		}
		else
		{
			emit("PREPARE $p(int, int) AS SELECT jobs.ack(job_id, NULL, attempts + \$2) FROM jobs.job_queue"
				 . " WHERE status = 'running' ORDER BY job_id LIMIT \$1", 'prepared');
			emit("EXECUTE $p(" . pick(1, 1, 2, 5, 0, -1, 'NULL') . ", " . pick(0, 0, 0, 1, -1, 'NULL') . ")", 'prepared')
			  for 1 .. between(1, 7);
		}
		emit("DEALLOCATE $p", 'prepared');
	}
	elsif ($r < 0.0965 && $drop_extension && $drops < 3)
	{
		# the extension dropped and created again under the kept plans of
		# this session (and of the others, which fail cleanly meanwhile)
		$drops++;
		emit('SET statement_timeout = 0', 'extension');
		emit('DROP EXTENSION IF EXISTS pgjobs', 'extension');
		emit('SELECT * FROM jobs.consume(1)', 'extension');
		emit('CREATE EXTENSION IF NOT EXISTS pgjobs', 'extension');
		emit('RESET statement_timeout', 'extension');
	}
	else
	{
		emit(statement());
	}
}
emit('RESET ALL', 'teardown');
