#!/usr/bin/perl
# Bayes follows the Redis master: SpamAssassin's Redis Bayes store takes one server and knows no Sentinel,
# so spamd talks to this loopback forwarder, which asks the Sentinels where the master is and relays bytes.
# Trusts the Sentinels' answer (with the Redis password) and nothing in the relayed bytes, which it never reads.
#
#   MOAT_BAYES_SENTINELS        host:port,host:port,...   the Sentinels to ask, in order
#   MOAT_BAYES_SENTINEL_NAME    the master name Sentinel monitors (default moat)
#   MOAT_REDIS_PASSWORD_FILE    the Sentinels' password (the redis_password secret; unset: no AUTH)
#   MOAT_BAYES_PROXY_LISTEN     where spamd connects (default 127.0.0.1:6380; loopback only)
#   MOAT_BAYES_PROXY_POLL_MS    how often the Sentinels are asked (default 1000)
#
# Every connection spamd opens is joined to the master the Sentinels name at that moment. The Sentinels
# are asked again every poll and whenever a master connection fails; when the answer changes, every open
# pair is closed, so spamd's children (which reconnect on EOF) reach the new master and never keep
# writing to a demoted one. Each poll also PINGs the master: a master that misses two (a crashed
# host sends no reset, and SpamAssassin's Redis reads have no timeout) gets its pairs closed and new
# connections refused until it answers or the Sentinels name another, so spamd scans without Bayes
# meanwhile instead of waiting. One line on stderr per change of master or of its health.
use strict;
use warnings;
use IO::Socket::IP;
use IO::Select;
use Socket qw(SOL_SOCKET SO_KEEPALIVE);
use Time::HiRes qw(time);

$| = 1;
$SIG{PIPE} = 'IGNORE';  # a peer gone mid-write is an error return, not the end of the forwarder
my @sentinels = grep { length } split /[,\s]+/, ($ENV{MOAT_BAYES_SENTINELS} // '');
die "redis-master-proxy: MOAT_BAYES_SENTINELS is empty\n" unless @sentinels;
my $name = $ENV{MOAT_BAYES_SENTINEL_NAME} || 'moat';
my $listen = $ENV{MOAT_BAYES_PROXY_LISTEN} || '127.0.0.1:6380';
my $poll = ($ENV{MOAT_BAYES_PROXY_POLL_MS} || 1000) / 1000;
my $password;
if (my $f = $ENV{MOAT_REDIS_PASSWORD_FILE}) {
  open(my $fh, '<', $f) or die "redis-master-proxy: cannot read $f: $!\n";
  $password = <$fh> // '';
  $password =~ s/\r?\n\z//;
  die "redis-master-proxy: $f is empty\n" unless length $password;
}

sub say_line { print STDERR "redis-master-proxy: @_\n" }

# One RESP command on a blocking socket; the reply as a scalar, an array ref, or die on an error reply.
sub resp_call {
  my ($sock, @args) = @_;
  my $req = '*' . scalar(@args) . "\r\n";
  $req .= '$' . length($_) . "\r\n$_\r\n" for @args;
  print {$sock} $req or die "write: $!\n";
  return resp_read($sock);
}

sub resp_read {
  my ($sock) = @_;
  local $/ = "\r\n";
  my $line = <$sock>;
  die "no reply\n" unless defined $line;
  chomp $line;
  my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));
  return $rest if $type eq '+' || $type eq ':';
  die "$rest\n" if $type eq '-';
  if ($type eq '$') {
    return undef if $rest < 0;
    my $data = '';
    while (length($data) < $rest + 2) {
      my $n = read($sock, $data, $rest + 2 - length($data), length($data));
      die "short reply\n" unless $n;
    }
    return substr($data, 0, $rest);
  }
  if ($type eq '*') {
    return undef if $rest < 0;
    return [map { resp_read($sock) } 1 .. $rest];
  }
  die "bad reply\n";
}

# The master's host:port from the first Sentinel that answers, or undef (with why).
sub ask_sentinels {
  my @why;
  for my $s (@sentinels) {
    my ($h, $p) = $s =~ /^\[?([^\]]+?)\]?:(\d+)$/ or do { push @why, "$s: not host:port"; next };
    my $sock = IO::Socket::IP->new(PeerHost => $h, PeerPort => $p, Timeout => 1);
    unless ($sock) { push @why, "$s: $@"; next }
    my $answer = eval {
      local $SIG{ALRM} = sub { die "timeout\n" };
      alarm 2;
      resp_call($sock, 'AUTH', $password) if defined $password;
      my $r = resp_call($sock, 'SENTINEL', 'get-master-addr-by-name', $name);
      alarm 0;
      $r;
    };
    alarm 0;
    my $err = $@;
    close $sock;
    if (ref $answer eq 'ARRAY' && @$answer == 2 && $answer->[1] =~ /^\d+$/) {
      return "$answer->[0]:$answer->[1]";
    }
    chomp $err;
    push @why, "$s: " . ($err || "no master named $name");
  }
  return (undef, join('; ', @why));
}

my $server = IO::Socket::IP->new(LocalHost => ($listen =~ /^(.*):(\d+)$/)[0], LocalPort => ($listen =~ /:(\d+)$/)[0],
  Listen => 64, ReuseAddr => 1) or die "redis-master-proxy: cannot listen on $listen: $@\n";
my $sel = IO::Select->new($server);
my %peer;       # socket -> its other end
my $master;     # host:port now
my $last_poll = 0;
my $last_why = '';
my $master_ok = 1;  # is the master taken as answering (2 missed PINGs in a row: not; one answer: again)
my $missed = 0;

sub close_pair {
  my ($s) = @_;
  my $o = delete $peer{$s};
  for my $x (grep { defined } $s, $o) {
    delete $peer{$x};
    $sel->remove($x);
    close $x;
  }
}

sub close_all {
  my $open = scalar(keys %peer) / 2;
  for my $h ($sel->handles) {
    close_pair($h) if $h != $server && exists $peer{$h};
  }
  return $open;
}

# Does the master answer a PING within a second (AUTH first when there is a password)?
sub master_answers {
  my ($m) = @_;
  my ($h, $p) = $m =~ /^(.*):(\d+)$/ or return 0;
  my $sock = IO::Socket::IP->new(PeerHost => $h, PeerPort => $p, Timeout => 1) or return 0;
  my $pong = eval {
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 1;
    resp_call($sock, 'AUTH', $password) if defined $password;
    my $r = resp_call($sock, 'PING');
    alarm 0;
    $r;
  };
  alarm 0;
  close $sock;
  return defined $pong && $pong eq 'PONG';
}

sub resolve {
  my ($m, $why) = ask_sentinels();
  if (!defined $m) {
    say_line("no master from the Sentinels ($why); keeping " . ($master // 'none')) if $why ne $last_why;
    $last_why = $why;
  } else {
    $last_why = '';
    if (!defined $master || $m ne $master) {
      my $open = close_all();
      say_line("master is $m" . (defined $master ? " (was $master; closing $open connections)" : ''));
      $master = $m;
      $master_ok = 1;
      $missed = 0;
    }
  }
  if (defined $master) {
    $missed = master_answers($master) ? 0 : $missed + 1;
    # one PING lost to a busy host is no outage: two in a row are
    my $ok = $missed < 2;
    if (!$ok && $master_ok) {
      my $open = close_all();
      say_line("master $master does not answer: closed $open connections, refusing new ones until it answers or the Sentinels name another");
    } elsif ($ok && !$master_ok) {
      say_line("master $master answers again");
    }
    $master_ok = $ok;
  }
  $last_poll = time;
}

say_line("listening on $listen, asking " . join(',', @sentinels) . " for master $name");
resolve();
while (1) {
  my $wait = $poll - (time - $last_poll);
  my @ready = $sel->can_read($wait > 0 ? $wait : 0);
  for my $s (@ready) {
    if ($s == $server) {
      my $c = $server->accept or next;
      resolve() unless defined $master;
      if (!$master_ok) {
        close $c;  # spamd's Bayes call fails at once and the scan goes on without Bayes
        next;
      }
      my ($h, $p) = defined $master ? ($master =~ /^(.*):(\d+)$/) : ();
      # one second at most: this loop relays every other connection meanwhile
      my $up = defined $h ? IO::Socket::IP->new(PeerHost => $h, PeerPort => $p, Timeout => 1) : undef;
      if (!$up) {
        # as good as two missed PINGs: refuse at once until the master answers or the Sentinels move it,
        # rather than make every reconnect of spamd's wait for the same timeout
        say_line('cannot reach the master ' . ($master // '(none known)') . ': ' . ($@ || 'unknown') . '; refusing connections until it answers');
        close $c;
        $master_ok = 0;
        $missed = 2;
        next;
      }
      setsockopt($up, SOL_SOCKET, SO_KEEPALIVE, 1);
      $peer{$c} = $up;
      $peer{$up} = $c;
      $sel->add($c, $up);
      next;
    }
    next unless exists $peer{$s};
    my $n = sysread($s, my $buf, 65536);
    if (!$n) {
      close_pair($s);
      next;
    }
    my $o = $peer{$s};
    my $off = 0;
    while ($off < $n) {
      my $w = syswrite($o, $buf, $n - $off, $off);
      if (!defined $w) { close_pair($s); last }
      $off += $w;
    }
  }
  resolve() if time - $last_poll >= $poll;
}
