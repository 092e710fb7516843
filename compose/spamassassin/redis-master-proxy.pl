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
# Two processes. A watcher child asks the Sentinels every poll (each with a 1 s connect and a 2 s answer
# budget), resolves the master's name, PINGs it, and writes one line per poll into a pipe. The relay (this
# process) never blocks: one IO::Select loop over the listener, the pipe and every connection, non-blocking
# connects to the master (1 s budget), and a buffer per direction (a peer that does not read stops its
# other side being read once 1 MiB waits; nothing else waits for it). So a slow Sentinel, a slow master or a
# stalled spamd child delays only itself, never another connection's Bayes reads.
#
# Every connection spamd opens is joined to the master the Sentinels name at that moment. When the answer
# changes, every open pair is closed, so spamd's children (which reconnect on EOF) reach the new master and
# never keep writing to a demoted one. A master that misses two PINGs in a row (a crashed host sends no
# reset, and SpamAssassin's Redis reads have no timeout) gets its pairs closed and new connections refused
# until it answers or the Sentinels name another, so spamd scans without Bayes meanwhile instead of waiting.
# One line on stderr per change of master or of its health.
use strict;
use warnings;
use Errno qw(EAGAIN EINPROGRESS EINTR EWOULDBLOCK);
use IO::Handle;
use IO::Select;
use IO::Socket::IP;
use Socket qw(SOL_SOCKET SO_ERROR SO_KEEPALIVE getaddrinfo getnameinfo NI_NUMERICHOST NIx_NOSERV SOCK_STREAM);
use Time::HiRes qw(time sleep);

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
my $MAX_BUFFER = 1 << 20;   # bytes waiting for one peer before its other side is no longer read
my $CONNECT_BUDGET = 1;     # seconds for a connect to the master

sub say_line { print STDERR "redis-master-proxy: @_\n" }

# ---------------------------------------------------------------- the watcher (blocking, in its own process)

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

# Commands on a new connection to host:port within $budget seconds in all; the last reply, or die.
sub ask {
  my ($h, $p, $budget, @cmds) = @_;
  my $sock = IO::Socket::IP->new(PeerHost => $h, PeerPort => $p, Timeout => 1) or die(($@ || 'connect failed') . "\n");
  my $r = eval {
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm $budget;
    my $last;
    $last = resp_call($sock, @$_) for @cmds;
    alarm 0;
    $last;
  };
  my $err = $@;
  alarm 0;
  close $sock;
  die $err if $err;
  return $r;
}

# The master's host:port from the first Sentinel that answers, or undef (with why).
sub ask_sentinels {
  my @why;
  for my $s (@sentinels) {
    my ($h, $p) = $s =~ /^\[?([^\]]+?)\]?:(\d+)$/ or do { push @why, "$s: not host:port"; next };
    my @auth = defined $password ? (['AUTH', $password]) : ();
    my $answer = eval { ask($h, $p, 2, @auth, ['SENTINEL', 'get-master-addr-by-name', $name]) };
    my $err = $@;
    if (ref $answer eq 'ARRAY' && @$answer == 2 && $answer->[1] =~ /^\d+$/) {
      return "$answer->[0]:$answer->[1]";
    }
    chomp $err;
    push @why, "$s: " . ($err || "no master named $name");
  }
  return (undef, join('; ', @why));
}

# The first address of a host name (numeric), or undef: the relay connects to addresses, never resolves.
sub address_of {
  my ($h) = @_;
  my ($err, @res) = getaddrinfo($h, '', { socktype => SOCK_STREAM });
  return undef if $err || !@res;
  my ($e2, $ip) = getnameinfo($res[0]{addr}, NI_NUMERICHOST, NIx_NOSERV);
  return $e2 ? undef : $ip;
}

# Writes "master NAME:PORT ADDR up|down" or "none WHY" into the pipe every poll; exits with the relay.
sub watch {
  my ($out, $parent) = @_;
  $out->autoflush(1);
  my ($master, $missed, $last_why) = (undef, 0, '');
  while (1) {
    exit 0 if getppid() != $parent;
    my $t0 = time;
    my ($m, $why) = ask_sentinels();
    if (!defined $m) {
      say_line("no master from the Sentinels ($why); keeping " . ($master // 'none')) if $why ne $last_why;
      $last_why = $why;
    } else {
      $last_why = '';
      $missed = 0 if !defined $master || $m ne $master;
      $master = $m;
    }
    if (defined $master) {
      my ($h, $p) = $master =~ /^\[?(.*?)\]?:(\d+)$/;
      my $ip = address_of($h);
      my @auth = defined $password ? (['AUTH', $password]) : ();
      my $pong = defined $ip ? eval { ask($ip, $p, 1, @auth, ['PING']) } : undef;
      # one PING lost to a busy host is no outage: two in a row are
      $missed = (defined $pong && $pong eq 'PONG') ? 0 : $missed + 1;
      my $addr = defined $ip ? ($ip =~ /:/ ? "[$ip]:$p" : "$ip:$p") : '-';
      print {$out} "master $master $addr " . ($missed < 2 ? 'up' : 'down') . "\n" or exit 0;
    } else {
      print {$out} "none\n" or exit 0;
    }
    my $rest = $poll - (time - $t0);
    sleep $rest if $rest > 0;
  }
}

# ---------------------------------------------------------------- the relay (non-blocking)

my ($lhost, $lport) = $listen =~ /^\[?(.*?)\]?:(\d+)$/ or die "redis-master-proxy: MOAT_BAYES_PROXY_LISTEN is not host:port\n";
my $server = IO::Socket::IP->new(LocalHost => $lhost, LocalPort => $lport, Listen => 128, ReuseAddr => 1)
  or die "redis-master-proxy: cannot listen on $listen: $@\n";
$server->blocking(0);

my ($pipe, $watcher);
my %conn;           # fileno -> { sock, peer (fileno), out (bytes for sock), connecting (deadline), eof }
sub start_watcher {
  pipe(my $r, my $w) or die "redis-master-proxy: pipe: $!\n";
  my $parent = $$;
  my $pid = fork // die "redis-master-proxy: fork: $!\n";
  if ($pid == 0) {
    close $r;
    close $server;
    close $_->{sock} for values %conn;  # the relay's connections end when the relay closes them
    watch($w, $parent);
    exit 0;
  }
  close $w;
  $r->blocking(0);
  ($pipe, $watcher) = ($r, $pid);
}

my $master;         # NAME:PORT, as the Sentinels name it
my $master_addr;    # ADDR:PORT to connect to
my $master_ok = 0;  # no master known yet: refuse until the watcher's first line
my $pipe_buf = '';

sub close_pair {
  my ($fd) = @_;
  my $c = delete $conn{$fd} or return;
  my $p = defined $c->{peer} ? delete $conn{$c->{peer}} : undef;
  close $_->{sock} for grep { defined } $c, $p;
}

sub close_all {
  my $open = 0;
  for my $fd (keys %conn) {
    next unless exists $conn{$fd};
    $open++;
    close_pair($fd);
  }
  return $open;
}

sub on_watcher_line {
  my ($line) = @_;
  if ($line =~ /^master (\S+) (\S+) (up|down)$/) {
    my ($m, $addr, $ok) = ($1, $2, $3 eq 'up');
    if (!defined $master || $m ne $master) {
      my $open = close_all();
      say_line("master is $m" . (defined $master ? " (was $master; closing $open connections)" : ''));
      $master = $m;
      $master_ok = 1;
    }
    $master_addr = $addr eq '-' ? undef : $addr;
    $ok &&= defined $master_addr;
    if (!$ok && $master_ok) {
      my $open = close_all();
      say_line("master $master does not answer: closed $open connections, refusing new ones until it answers or the Sentinels name another");
    } elsif ($ok && !$master_ok) {
      say_line("master $master answers again");
    }
    $master_ok = $ok;
  }
}

sub accept_client {
  while (my $c = $server->accept) {
    if (!$master_ok || !defined $master_addr) {
      close $c;  # spamd's Bayes call fails at once and the scan goes on without Bayes
      next;
    }
    my ($h, $p) = $master_addr =~ /^\[?(.*?)\]?:(\d+)$/;
    my $up = IO::Socket::IP->new(PeerHost => $h, PeerPort => $p, Blocking => 0);
    if (!$up) {
      say_line("cannot reach the master $master ($master_addr): " . ($@ || $!) . '; refusing connections until it answers');
      close $c;
      $master_ok = 0;
      next;
    }
    $c->blocking(0);
    setsockopt($up, SOL_SOCKET, SO_KEEPALIVE, 1);
    my ($cf, $uf) = (fileno $c, fileno $up);
    $conn{$cf} = { sock => $c, peer => $uf, out => '' };
    $conn{$uf} = { sock => $up, peer => $cf, out => '', connecting => time + $CONNECT_BUDGET };
  }
}

# Writes what waits for a connection; false when the connection is broken.
sub flush_out {
  my ($c) = @_;
  while (length $c->{out}) {
    my $w = syswrite($c->{sock}, $c->{out});
    if (!defined $w) {
      return 1 if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
      return 0;
    }
    substr($c->{out}, 0, $w, '');
  }
  return 1;
}

say_line("listening on $listen, asking " . join(',', @sentinels) . " for master $name");
start_watcher();
while (1) {
  my $rd = IO::Select->new($server, $pipe);
  my $wr = IO::Select->new;
  my $now = time;
  my $wait = 1;
  for my $fd (keys %conn) {
    my $c = $conn{$fd};
    if ($c->{connecting}) {
      $wr->add($c->{sock});
      my $left = $c->{connecting} - $now;
      $wait = $left if $left < $wait;
      next;
    }
    $wr->add($c->{sock}) if length $c->{out};
    my $p = $conn{$c->{peer}};
    # back-pressure: a peer with a full buffer stops this side being read, nothing else
    $rd->add($c->{sock}) if !$c->{eof} && $p && length($p->{out}) < $MAX_BUFFER;
  }
  $wait = 0 if $wait < 0;
  my ($r, $w) = IO::Select->select($rd, $wr, undef, $wait);
  my %readable = map { fileno($_) => 1 } @{$r // []};
  my %writable = map { fileno($_) => 1 } @{$w // []};

  if ($readable{fileno $pipe}) {
    my $n = sysread($pipe, $pipe_buf, 4096, length $pipe_buf);
    if (defined $n && $n == 0) {
      # the watcher is gone: take another (what the relay knows stays until it answers)
      waitpid($watcher, 0);
      say_line('the Sentinel watcher exited; starting another');
      close $pipe;
      sleep 0.2;
      start_watcher();
    }
    while ($pipe_buf =~ s/^([^\n]*)\n//) { on_watcher_line($1) }
  }
  accept_client() if $readable{fileno $server};

  $now = time;
  for my $fd (keys %conn) {
    my $c = $conn{$fd} or next;
    if ($c->{connecting}) {
      if ($writable{$fd}) {
        my $err = getsockopt($c->{sock}, SOL_SOCKET, SO_ERROR);
        $err = defined $err ? unpack('i', $err) : -1;
        if ($err) {
          local $! = $err > 0 ? $err : 0;
          say_line("cannot reach the master $master ($master_addr): $!; refusing connections until it answers");
          $master_ok = 0;
          close_pair($fd);
          next;
        }
        delete $c->{connecting};
        $writable{$fd} = 1 if length $c->{out};
      } elsif ($now >= $c->{connecting}) {
        # as good as two missed PINGs: refuse at once until the watcher sees it answer again
        say_line("cannot reach the master $master ($master_addr): connect timed out; refusing connections until it answers");
        $master_ok = 0;
        close_pair($fd);
        next;
      } else {
        next;
      }
    }
    if ($writable{$fd} && !flush_out($c)) { close_pair($fd); next }
    my $p = $conn{$c->{peer}};
    if ($readable{$fd} && $p) {
      my $n = sysread($c->{sock}, my $buf, 65536);
      if (!defined $n) {
        next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        close_pair($fd);
        next;
      }
      if ($n == 0) {
        $c->{eof} = 1;
      } else {
        $p->{out} .= $buf;
        if (!$p->{connecting} && !flush_out($p)) { close_pair($fd); next }
      }
    }
    # one side has ended: the pair ends once what it sent has been written to the other
    if ($c->{eof} && $p && !length $p->{out} && !$p->{connecting}) { close_pair($fd); next }
    if ($p && $p->{eof} && !length $c->{out}) { close_pair($fd); next }
  }
}
