#!/usr/bin/perl
# Interop client for smpp-mux, written against Perl's Net::SMPP (CPAN,
# Debian package libnet-smpp-perl) -- an SMPP 3.4 implementation this
# project did not write.
#
# Usage:
#   netsmpp_client.pl HOST PORT SYSTEM_ID PASSWORD DESTINATION COUNT
#       bind as transceiver, submit COUNT messages with registered_delivery=1,
#       print "SUBMIT_RESP status=<n> id=<id>" per response and
#       "DLR id=<id> stat=<stat>" per delivery receipt, until every message
#       has a DELIVRD receipt; then unbind. Exit 0 on success.
#   netsmpp_client.pl --bind-fail HOST PORT SYSTEM_ID PASSWORD
#       bind as transceiver and expect a refusal: prints
#       "BIND_FAIL status=<n>" and exits 0 when the status is non-zero,
#       exits 1 when the bind succeeded.
#
# Anything Net::SMPP warns about while decoding (unknown TLV tags, short
# PDUs, ...) is printed as "WARN <text>" on stdout so the Go test can
# report it. Any error, or more than TIMEOUT seconds overall (default 20,
# env NETSMPP_TIMEOUT), exits non-zero with a message on stderr.
use strict;
use warnings;
use IO::Select;
use Time::HiRes qw(time);
use Net::SMPP;

$| = 1;

my $bind_fail = 0;
if (@ARGV && $ARGV[0] eq '--bind-fail') {
    $bind_fail = 1;
    shift @ARGV;
}
my ($host, $port, $system_id, $password, $dest, $count) = @ARGV;
if ($bind_fail ? @ARGV != 4 : @ARGV != 6) {
    die "usage: $0 HOST PORT SYSTEM_ID PASSWORD DESTINATION COUNT\n"
      . "       $0 --bind-fail HOST PORT SYSTEM_ID PASSWORD\n";
}

my $timeout  = $ENV{NETSMPP_TIMEOUT} || 20;
my $deadline = time + $timeout;

# The overall timeout. alarm() cannot be used: Net::SMPP's read_hard()
# installs its own local $SIG{ALRM} (which answers an alarm by sending an
# enquire_link and reading on) and calls alarm(0) after every read, so a
# caller's alarm is swallowed or cancelled. Instead a watchdog process
# sends us SIGTERM at the deadline; never entering read_pdu() without
# select()ing for readability first keeps the common waits short too.
sub timeout_exit { print STDERR "TIMEOUT after ${timeout}s\n"; exit 3 }
$SIG{TERM} = \&timeout_exit;
my $parent   = $$;
my $watchdog = fork();
die "fork: $!\n" unless defined $watchdog;
if ($watchdog == 0) {
    open STDOUT, '>', '/dev/null';    # do not hold the caller's pipes open
    open STDERR, '>', '/dev/null';
    my $until = $deadline;
    while ((my $r = $until - time) > 0) {
        select(undef, undef, undef, $r > 0.5 ? 0.5 : $r);
        exit 0 if getppid() != $parent;    # the client is gone
    }
    kill 'TERM', $parent;
    exit 0;
}
END { kill 'KILL', $watchdog if $watchdog && $$ == $parent }
sub remaining { my $r = $deadline - time; return $r > 0 ? $r : 0 }

$SIG{__WARN__} = sub {
    my $w = join '', @_;
    $w =~ s/\s+$//;
    $w =~ s/\n/ | /g;
    print "WARN $w\n";
};

my $status_name = sub {
    my $pdu = shift;
    my $s = eval { $pdu->explain_status };
    return defined $s ? $s : sprintf('0x%08X', $pdu->status);
};

# Net::SMPP->new_transceiver() would bind synchronously, in a read that
# no select() guards; so connect, then bind_transceiver asynchronously.
my $smpp = Net::SMPP->new_connect(
    $host,
    port              => $port,
    system_id         => $system_id,
    password          => $password,
    system_type       => '',
    interface_version => 0x34,
    timeout           => 5,
    async             => 1,
);
die "connect to $host:$port failed: $!\n" unless defined $smpp;
my $sel = IO::Select->new($smpp);

sub wait_readable {
    my $r = remaining();
    timeout_exit() if $r <= 0 || !$sel->can_read($r);
}

sub read_one {
    wait_readable();
    my $pdu = $smpp->read_pdu();
    if (!defined $pdu) {
        my $err = ${*$smpp}{smpperror} || 'connection closed';
        die "read_pdu failed: $err\n";
    }
    return $pdu;
}

my $bseq = $smpp->bind_transceiver();
my $resp;
while (1) {
    $resp = read_one();
    last if $resp->cmd == Net::SMPP::CMD_bind_transceiver_resp && $resp->seq == $bseq;
    die sprintf("expected bind_transceiver_resp, got cmd 0x%08X status %d seq %d\n",
                $resp->cmd, $resp->status, $resp->seq)
      unless $resp->cmd == Net::SMPP::CMD_enquire_link;
    $smpp->enquire_link_resp(seq => $resp->seq);
}

if ($resp->status != 0) {
    printf "BIND_FAIL status=%d\n", $resp->status;
    print STDERR "bind refused: ", $status_name->($resp), "\n";
    if ($bind_fail) {
        # The contract says the mux closes the connection after a refused
        # bind: check that it does, within the overall bound.
        my $wait = remaining() < 5 ? remaining() : 5;
        if ($sel->can_read($wait)) {
            my $buf;
            my $n = sysread($smpp, $buf, 4096);
            if (!defined $n || $n == 0) {
                print "CLOSED\n";
            } else {
                printf "UNEXPECTED_DATA bytes=%d\n", $n;
            }
        } else {
            print "NOT_CLOSED\n";
        }
        exit 0;
    }
    exit 1;
}
printf "BIND_OK status=0 system_id=%s\n",
  defined $resp->{system_id} ? $resp->{system_id} : '';
if ($bind_fail) {
    print STDERR "bind with a wrong password succeeded\n";
    $smpp->unbind();
    exit 1;
}

# Submit everything asynchronously: a synchronous submit_sm in Net::SMPP
# waits with wait_pdu(), which silently discards any deliver_sm that
# arrives meanwhile.
my %seq_to_n;
for my $n (1 .. $count) {
    my $seq = $smpp->submit_sm(
        source_addr_ton     => 5,
        source_addr_npi     => 0,
        source_addr         => 'Interop',
        dest_addr_ton       => 1,
        dest_addr_npi       => 1,
        destination_addr    => $dest,
        registered_delivery => 1,
        data_coding         => 0,
        short_message       => "Net::SMPP interop message $n",
    );
    $seq_to_n{$seq} = $n;
}

my (%submitted, %delivrd, @early);
my $resps    = 0;
my $failures = 0;

sub handle_receipt {
    my $pdu  = shift;
    my $text = defined $pdu->{short_message} ? $pdu->{short_message} : '';
    my ($text_id)   = $text =~ /\bid:(\S+)/;
    my ($text_stat) = $text =~ /\bstat:(\S+)/;
    my $rid = $pdu->{receipted_message_id};
    if (defined $rid) {
        # C-Octet String: the NUL terminator is part of the TLV value.
        if ($rid !~ s/\0\z//) {
            print "NOTE receipted_message_id TLV without NUL terminator\n";
        }
    }
    my $id = defined $rid ? $rid : $text_id;
    if (!defined $id) {
        print "BAD_DLR no id: text=$text\n";
        $failures++;
        return;
    }
    if (defined $rid && defined $text_id && $rid ne $text_id) {
        print "BAD_DLR receipted_message_id=$rid but text id:$text_id\n";
        $failures++;
    }
    my $stat = defined $text_stat ? $text_stat : 'UNKNOWN';
    if (defined $pdu->{message_state}) {
        my ($ms) = unpack 'C', $pdu->{message_state};
        my %want = (ENROUTE => 1, DELIVRD => 2, EXPIRED => 3, DELETED => 4,
                    UNDELIV => 5, ACCEPTD => 6, UNKNOWN => 7, REJECTD => 8);
        if (defined $want{$stat} && $want{$stat} != $ms) {
            print "BAD_DLR message_state=$ms but text stat:$stat\n";
            $failures++;
        }
    }
    print "DLR id=$id stat=$stat\n";
    if ($stat eq 'DELIVRD') {
        $delivrd{$id}++;
        if (!exists $submitted{$id}) {
            # a receipt may race its submit_sm_resp; checked at the end
            push @early, $id;
        }
    }
}

sub handle_other {
    my $pdu = shift;
    my $cmd = $pdu->cmd;
    if ($cmd == Net::SMPP::CMD_deliver_sm) {
        if (($pdu->{esm_class} || 0) & 0x04) {
            handle_receipt($pdu);
        } else {
            my $t = defined $pdu->{short_message} ? $pdu->{short_message} : '';
            print "MO from=$pdu->{source_addr} to=$pdu->{destination_addr} text=$t\n";
        }
        $smpp->deliver_sm_resp(seq => $pdu->seq, message_id => '');
    } elsif ($cmd == Net::SMPP::CMD_enquire_link) {
        print "ENQUIRE_LINK\n";
        $smpp->enquire_link_resp(seq => $pdu->seq);
    } elsif ($cmd == Net::SMPP::CMD_generic_nack) {
        printf "GENERIC_NACK status=%d seq=%d\n", $pdu->status, $pdu->seq;
        $failures++;
    } elsif ($cmd == Net::SMPP::CMD_unbind) {
        $smpp->unbind_resp(seq => $pdu->seq);
        die "the mux unbound us before we were done\n";
    } else {
        printf "UNEXPECTED cmd=0x%08X status=%d seq=%d\n", $cmd, $pdu->status, $pdu->seq;
        $failures++;
    }
}

while ($resps < $count || grep { !$delivrd{$_} } keys %submitted) {
    my $pdu = read_one();
    if ($pdu->cmd == Net::SMPP::CMD_submit_sm_resp) {
        if (!exists $seq_to_n{$pdu->seq}) {
            printf "UNEXPECTED submit_sm_resp seq=%d\n", $pdu->seq;
            $failures++;
            next;
        }
        delete $seq_to_n{$pdu->seq};
        $resps++;
        my $id = defined $pdu->message_id ? $pdu->message_id : '';
        printf "SUBMIT_RESP status=%d id=%s\n", $pdu->status, $id;
        if ($pdu->status != 0) {
            print STDERR "submit_sm refused: ", $status_name->($pdu), "\n";
            $failures++;
            next;
        }
        $submitted{$id} = 1;
    } else {
        handle_other($pdu);
    }
}

for my $id (@early) {
    if (!exists $submitted{$id}) {
        print "BAD_DLR DELIVRD for unknown id=$id\n";
        $failures++;
    }
}

# Optionally keep reading for a while (NETSMPP_LINGER seconds) to collect
# receipts that come after the DELIVRD ones, e.g. a late ENROUTE.
if (my $linger = $ENV{NETSMPP_LINGER}) {
    my $until = time + $linger;
    $until = $deadline - 1 if $until > $deadline - 1;
    while ((my $r = $until - time) > 0) {
        last unless $sel->can_read($r);
        handle_other(read_one());
    }
}

# Unbind, answering whatever still arrives (a late ENROUTE, say) until the
# unbind_resp comes.
my $useq = $smpp->unbind();
while (1) {
    my $pdu = read_one();
    if ($pdu->cmd == Net::SMPP::CMD_unbind_resp && $pdu->seq == $useq) {
        printf "UNBIND_RESP status=%d\n", $pdu->status;
        last;
    }
    handle_other($pdu);
}
close $smpp;

if ($failures) {
    print STDERR "$failures failure(s)\n";
    exit 1;
}
print "DONE\n";
exit 0;
