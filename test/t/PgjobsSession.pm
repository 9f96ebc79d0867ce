# PgjobsSession: a psql kept open on IPC::Run, for PostgreSQL minor releases
# whose PostgreSQL::Test::Cluster lacks background_psql.  query_safe SQL
# returns the output of SQL and dies on any error; quit ends psql.  Shared by
# the TAP tests in this directory (run with prove -I t).

package PgjobsSession;

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils ();

# open_session NODE returns a psql session on NODE's postgres database kept open in
# the background, with query_safe and quit:
# PostgreSQL::Test::BackgroundPsql where this minor release has it, else a
# PgjobsSession.
sub open_session
{
	my ($node) = @_;
	return $node->background_psql('postgres')
	  if $node->can('background_psql');
	return PgjobsSession->new($node->connstr('postgres'));
}

sub new
{
	my ($class, $connstr) = @_;
	my $self = { stdin => '', stdout => '', stderr => '', n => 0 };
	$self->{timeout} = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
	$self->{run} = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-f', '-' ],
		'<', \$self->{stdin}, '>', \$self->{stdout}, '2>', \$self->{stderr},
		$self->{timeout});
	return bless $self, $class;
}

sub query_safe
{
	my ($self, $sql) = @_;
	my $marker = 'pgjobs_session_done_' . ++$self->{n};

	$self->{stdin} .= "$sql\n;\n\\echo $marker\n";
	$self->{run}->pump until $self->{stdout} =~ /$marker\n/ || $self->{stderr} ne '';
	die "query failed: $self->{stderr}" if $self->{stderr} ne '';

	my $out = $self->{stdout};
	$self->{stdout} = '';
	$out =~ s/\n?$marker\n//;
	return $out;
}

sub quit
{
	my ($self) = @_;
	$self->{stdin} .= "\\q\n";
	return $self->{run}->finish;
}

1;
