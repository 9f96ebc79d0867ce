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
# below also get calls written for their meaning.  SETTINGS lists the
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
	elsif ($t eq 'double precision' || $t eq 'real') { $v = pick('NULL', '0', '-1', "'NaN'", "'Infinity'", '1e308', '0.5'); }
	elsif ($t eq 'smallint') { $v = pick('NULL', '0', '-1', '32767', '-32768', '1'); }
	else { $v = 'NULL'; }
	return "($v)::$t";
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
		[ 10, "DO \$\$BEGIN PERFORM $call; END\$\$" ]);
}

sub publish_call
{
	return 'jobs.publish(' . call_args(
		[ 'i_task', \&task_value, 1 ],
		[ 'i_body', \&jsonb_value, 0 ],
		[ 'i_scheduled_at', \&timestamptz_value, 0 ],
		[ 'i_timeout', \&timeout_value, 0 ],
		[ 'i_priority', \&int4_value, 0 ],
		[ 'i_max_retries', sub { weighted([ 50, 'NULL' ], [ 50, sub { int4_value() } ]) }, 0 ]) . ')';
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
		[ 3, "SELECT fuzz_worker(" . num_value() . ", " . between(0, 3) . ")" ],
		[ 1, "VACUUM jobs.job_queue" ],
		[ 2, "LISTEN pgjobs" ],
		[ 1, "UNLISTEN *" ],
		[ 1, "ANALYZE jobs.job_queue" ]);
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
		[ 6, sub { (state_change(), 'state') } ]);
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
		my $which = between(0, 2);
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
