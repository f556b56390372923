//! One TCP connection: its transmission control block (TCB, RFC 9293 §3.3.1) and the event
//! processing of RFC 9293 §3.10, one function per event, each decision citing its section.
//! This file holds the TCB and its state changes; the events are in RFC 9293's own order:
//! the user calls ([`user`], §3.10.1–6), SEGMENT ARRIVES ([`arrives`], §3.10.7) with what an
//! acceptable ACK does ([`ack`]), output ([`output`], §3.8.6) and the window we offer
//! ([`window`]), timeouts ([`timeouts`], §3.10.8), and the loss recovery that joins SACK,
//! RACK-TLP and congestion control ([`recovery`]).
//!
//! The TCB never touches the network: segments to send are pushed into a [`Ctx`], and so are
//! the trace events. The host owns demultiplexing, listeners and IP.
//!
//! Beyond the state machine: retransmission timing (RFC 6298, in [`rtt`]), out-of-order
//! reassembly ([`reassembly`]), flow control with zero-window probes (RFC 9293 §3.8.6),
//! window scaling (RFC 7323), Nagle's algorithm (RFC 896) and delayed ACKs (RFC 1122
//! §4.2.3.2), congestion control (RFC 5681 and RFC 6582, in [`congestion`]), selective
//! acknowledgments with their loss recovery (RFC 2018, 2883, 6675, in [`sack`]), RACK-TLP
//! (RFC 8985, in [`rack`]) and timestamps (RFC 7323, in [`timestamps`]).

mod ack;
mod arrives;
mod autotune;
mod buffer;
mod congestion;
mod delack;
mod info;

pub use info::{CaState, TcpInfo};
mod keepalive;
mod output;
mod pmtu;
mod rack;
mod reassembly;
mod recovery;
mod rtt;
mod sack;
mod sndbuf;
mod timeouts;
mod timers;
mod timestamps;
mod user;
mod window;

use std::net::{IpAddr, SocketAddr};
use std::ops::ControlFlow;

use trace::{
    Cause, CwndReason, Endpoint, Event, EventKind, Note, OutOfOrderAck, Recovery, Rule, SocketNote,
    TcpNote, TcpState, TcpVars, Time,
};
use wire::{SackBlocks, TcpFlags, TcpSegment};

use crate::{Profile, SeqNum, SocketError, SocketId, SocketOption};
pub(crate) use buffer::ByteQueue;
use congestion::Congestion;
pub(crate) use congestion::Tuning;
use delack::AckClock;
use keepalive::Liveness;
use rack::{Probe, Rack, WC_DEL_ACK};
use reassembly::Reassembly;
pub use rtt::MIN_RTO;
use rtt::{MAX_RTO, RttEstimator};
use sack::{DUP_THRESH, NextSeg, SackReceiver, Scoreboard};
use sndbuf::{Push, Queue, SendMemory};
pub(crate) use timers::Timer;
use timers::Timers;
use timestamps::{Stale, TsClock};

/// The largest window the 16-bit header field holds unscaled.
const MAX_UNSCALED_WINDOW: u32 = 65_535;
/// RFC 7323 §2.3: the shift count is at most 14.
const MAX_WINDOW_SHIFT: u8 = 14;
/// How many times a segment is retransmitted before the connection is aborted (RFC 9293
/// §3.8.3's R2 as Linux's tcp_retries2: about 15 minutes with the backoff).
pub(crate) const MAX_RETRANSMISSIONS: u32 = 15;
/// How many times a SYN is retransmitted before `connect` gives up (Linux's
/// tcp_syn_retries: 127 s from the first SYN).
pub(crate) const MAX_SYN_RETRANSMISSIONS: u32 = 6;
/// RFC 9293 §3.7.1: the MSS to assume when the peer sends no MSS option.
pub(crate) const DEFAULT_MSS: u16 = 536;
/// How long an ACK may be delayed: Linux's TCP_DELACK_MIN (RFC 1122 §4.2.3.2 allows up to
/// 500 ms).
pub const DELAYED_ACK: Time = Time::from_millis(40);
/// Added to 2·SRTT for a probe timeout with more than one segment out (Linux's
/// TCP_TIMEOUT_MIN).
const PTO_MARGIN: Time = Time::from_millis(2);
/// The timestamps option as every segment carries it: NOP, NOP, kind, length, 8 octets.
const TIMESTAMPS_LEN: u16 = 12;

/// Everything a TCB needs from its host while it handles one event.
pub(crate) struct Ctx<'a> {
    pub now: Time,
    pub host: &'a str,
    pub cause: Cause,
    pub events: &'a mut Vec<Event>,
    pub segments: &'a mut Vec<Outbound>,
}

/// Linux's `tcp_invalid_ratelimit`: the least time between two ACKs that answer
/// segments outside the window.
const OOW_RATE_LIMIT: Time = Time::from_millis(500);

/// Why a segment we do not accept is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// RFC 9293's ACK for an unacceptable or stale segment.
    Duplicate,
    /// RFC 5961's challenge ACK.
    Challenge,
}

/// A segment on its way out, with the IP header fields its socket decides.
#[derive(Debug)]
pub(crate) struct Outbound {
    /// From which of our addresses.
    pub src: IpAddr,
    /// Where to.
    pub dst: IpAddr,
    /// The segment.
    pub seg: TcpSegment,
    /// Its time to live (IP_TTL; 64 unless set).
    pub ttl: u8,
}

/// The time to live of the packets a socket sends unless IP_TTL says otherwise (Linux's
/// `ip_default_ttl`).
pub(crate) const DEFAULT_TTL: u8 = 64;

impl Ctx<'_> {
    fn note(&mut self, socket: SocketId, what: TcpNote) {
        self.events.push(Event {
            t: self.now,
            kind: EventKind::Note {
                node: self.host.to_string(),
                note: Note::Tcp(SocketNote { socket, what }),
            },
        });
    }
}

/// Per-socket options a program can set (`setsockopt`). Nagle and delayed ACKs are on by
/// default: RFC 1122 §4.2.3.4 says Nagle "SHOULD" be on, and §4.2.3.2 that ACKs "SHOULD" be
/// delayed. The rest default to the host's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SocketOptions {
    /// TCP_NODELAY: turn Nagle's algorithm (RFC 896) off.
    pub nodelay: bool,
    /// Acknowledge every segment at once instead of delaying ACKs (Linux's TCP_QUICKACK,
    /// kept on for good here).
    pub quickack: bool,
    /// SO_REUSEADDR, inherited by a listener's connections.
    pub reuse_addr: bool,
    /// SO_RCVBUF, when set: the receive buffer instead of the host's.
    pub rcv_buf: Option<u32>,
    /// SO_SNDBUF, when set: the send buffer instead of the host's.
    pub snd_buf: Option<u32>,
    /// SO_KEEPALIVE and its timing.
    pub keepalive: Keepalive,
    /// TCP_MAXSEG, when set: the MSS we announce and send at most.
    pub max_segment: Option<u16>,
    /// IP_TTL, when set: instead of 64.
    pub ttl: Option<u8>,
    /// SO_BROADCAST (UDP): sending to a broadcast address is allowed.
    pub broadcast: bool,
    /// TCP_CORK: partial segments wait.
    pub cork: bool,
    /// IPV6_V6ONLY: a socket bound to `::` takes IPv6 only, not IPv4 too.
    pub v6only: bool,
}

/// Keep-alive probing (RFC 1122 §4.2.3.6): off by default, and when on, Linux's timing
/// unless the program sets its own (`tcp_keepalive_time` 2 h, `_intvl` 75 s, `_probes` 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// SO_KEEPALIVE.
    pub on: bool,
    /// TCP_KEEPIDLE: idle time before the first probe.
    pub idle: Time,
    /// TCP_KEEPINTVL: between unanswered probes.
    pub interval: Time,
    /// TCP_KEEPCNT: unanswered probes before the connection is dropped.
    pub count: u32,
}

impl Default for Keepalive {
    fn default() -> Keepalive {
        Keepalive {
            on: false,
            idle: Time::from_secs(7200),
            interval: Time::from_secs(75),
            count: 9,
        }
    }
}

impl SocketOptions {
    /// Set one option.
    pub fn apply(&mut self, option: SocketOption) {
        match option {
            SocketOption::NoDelay(on) => self.nodelay = on,
            SocketOption::QuickAck(on) => self.quickack = on,
            SocketOption::ReuseAddr(on) => self.reuse_addr = on,
            SocketOption::RecvBuffer(n) => self.rcv_buf = Some(n),
            SocketOption::SendBuffer(n) => self.snd_buf = Some(n),
            SocketOption::KeepAlive(on) => self.keepalive.on = on,
            SocketOption::KeepIdle(t) => self.keepalive.idle = t,
            SocketOption::KeepInterval(t) => self.keepalive.interval = t,
            SocketOption::KeepCount(n) => self.keepalive.count = n,
            SocketOption::MaxSegment(mss) => self.max_segment = Some(mss),
            SocketOption::Ttl(ttl) => self.ttl = Some(ttl),
            SocketOption::Broadcast(on) => self.broadcast = on,
            SocketOption::Cork(on) => self.cork = on,
        }
    }
}

/// Numbers a test or a lesson may want to look at; the TCB's own are private.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpStats {
    /// Smoothed RTT (RFC 6298), once measured.
    pub srtt: Option<Time>,
    /// RTT variation (RFC 6298).
    pub rttvar: Time,
    /// Current retransmission timeout, after any backoff.
    pub rto: Time,
    /// Congestion window, octets.
    pub cwnd: u32,
    /// Slow-start threshold, octets (`u32::MAX` until the first loss).
    pub ssthresh: u32,
    /// The peer's window, scaled, octets.
    pub snd_wnd: u32,
    /// The window we advertised last, octets.
    pub rcv_wnd: u32,
    /// Octets queued to send (sent or not) and not yet acknowledged.
    pub send_queue: usize,
    /// Octets received in order and not yet read.
    pub recv_queue: usize,
    /// Octets received out of order, held for reassembly.
    pub out_of_order: usize,
    /// Segments retransmitted so far (by timeout or fast retransmit).
    pub retransmissions: u64,
    /// Our window scale shift and the peer's (0 and 0 when not negotiated).
    pub window_shifts: (u8, u8),
    /// The MSS we send with.
    pub send_mss: u16,
}

/// The transmission control block of one connection.
#[derive(Debug)]
pub(crate) struct Tcb {
    id: SocketId,
    state: TcpState,
    local: SocketAddr,
    remote: SocketAddr,
    iss: SeqNum,
    irs: SeqNum,
    snd_una: SeqNum,
    /// The next sequence number to send. After a timeout it goes back to SND.UNA (go-back-N),
    /// so [`Tcb::snd_max`] keeps the highest ever sent.
    snd_nxt: SeqNum,
    /// One past the highest sequence number ever sent; ACKs up to here are acceptable.
    snd_max: SeqNum,
    /// The peer's window, scaled to octets.
    snd_wnd: u32,
    /// The largest window the peer has offered (RFC 9293 §3.8.6.2.1's Max(SND.WND)).
    max_snd_wnd: u32,
    snd_wl1: SeqNum,
    snd_wl2: SeqNum,
    /// RFC 7323: the shift we apply to the peer's window field, and to ours.
    snd_shift: u8,
    rcv_shift: u8,
    /// Whether to put a window scale option on our SYN.
    offer_window_scale: bool,
    rcv_nxt: SeqNum,
    /// The right edge of the window we last advertised; it never moves left (RFC 9293
    /// §3.8.6: "shrinking the window" is strongly discouraged).
    rcv_adv: SeqNum,
    rcv_buf_cap: u32,
    snd_buf_cap: u32,
    /// Data the application sent and the peer has not acknowledged: the octet at the front has
    /// sequence number [`Tcb::buf_seq`].
    send_buf: ByteQueue,
    /// In-order data received and not yet read by the application.
    recv_buf: ByteQueue,
    reassembly: Reassembly,
    /// The sequence number of our FIN, once the application has closed its sending side.
    fin_seq: Option<SeqNum>,
    /// The peer's FIN has been processed: after `recv_buf` drains, `recv` returns end of file.
    peer_fin: bool,
    /// Where the peer's FIN sits, once seen (possibly ahead of a gap).
    peer_fin_seq: Option<SeqNum>,
    error: Option<SocketError>,
    /// The MSS we may send: the peer's MSS option, capped by our own MTU.
    send_mss: u16,
    /// The MSS we advertise.
    our_mss: u16,
    rtt: RttEstimator,
    /// The segment being timed (its first and one-past-last sequence numbers, and when it
    /// left): the ACK that covers it gives an RTT sample, unless it was retransmitted
    /// meanwhile (Karn's rule).
    rtt_probe: Option<(SeqNum, SeqNum, Time)>,
    retries: u32,
    retransmissions: u64,
    persist_backoff: u32,
    persisting: bool,
    /// The end of the last segment sent shorter than the MSS (Linux's `snd_sml`, for
    /// Minshall's form of Nagle's algorithm).
    snd_sml: SeqNum,
    /// When we last answered a segment outside the window (Linux's `last_oow_ack_time`).
    last_oow_ack: Option<Time>,
    /// SND.MAX when a retransmission timeout struck, until all of it is acknowledged
    /// (Linux's Loss state).
    loss_recovery: Option<SeqNum>,
    /// When data last went out (Linux's `lsndtime`).
    last_data_sent: Option<Time>,
    /// The most octets in flight in the window now being acknowledged, and where that
    /// window ends (Linux's `max_packets_out`, `cwnd_usage_seq`).
    max_flight: (u32, SeqNum),
    /// Full segments received and not yet acknowledged (RFC 5681 §4.2: ACK every second).
    unacked_segments: u32,
    /// When to acknowledge: quick-ACK and interactive modes, the ACK timeout (Linux's).
    ack_clock: AckClock,
    /// Linux's SACK compression (Linux profile with SACK).
    sack_compression: delack::SackCompression,
    /// The ACK owed now is owed only because of quick-ACK mode (a FIN on the same segment
    /// makes it wait after all).
    quick_ack_pending: bool,
    /// Delayed ACKs on (the host's default); `options.quickack` turns them off per socket.
    delayed_ack: bool,
    options: SocketOptions,
    cc: Congestion,
    /// TIME-WAIT, retransmission, persist and delayed-ACK timers.
    timers: Timers,
    msl: Time,
    /// The listener this connection came from (passive open), until it is accepted.
    listener: Option<SocketId>,
    /// The application has called close(): nobody will read again.
    orphaned: bool,
    /// An ACK must be sent even if no data goes out.
    ack_now: bool,
    /// SACK (RFC 2018): offered on our SYN, and on only if both SYNs carry it.
    sack_ok: bool,
    /// The SACK blocks we report as a receiver.
    sack_rx: SackReceiver,
    /// What the peer has SACKed, and the variables of RFC 6675's loss recovery.
    scoreboard: Scoreboard,
    /// The timestamps option (RFC 7323).
    ts: TsClock,
    /// RACK's view of what is in flight, and the tail loss probe (RFC 8985).
    rack: Rack,
    /// The pacing rate as the last ACK left it (Linux profile), in octets per second.
    pacing_rate: Option<u64>,
    /// Whether the end of the queue was pushed (written without MSG_MORE): only then does
    /// the segment that empties the queue carry PSH (Linux's `tcp_mark_push`).
    tail_pushed: bool,
    /// MSG_MORE on the write being queued: this push holds a partial segment back.
    more_now: bool,
    /// Linux's TCP_NAGLE_PUSH: setting TCP_NODELAY (or uncorking with it set) sends what
    /// is held, corked or not, until more data is queued.
    push_held: bool,
    /// Under the Linux profile with SO_SNDBUF set: the send buffer counted as Linux counts
    /// it, in memory (otherwise in octets, up to `snd_buf_cap`).
    send_mem: Option<SendMemory>,
    /// New data left or an ACK of new data came: the probe timeout starts again.
    probe_rearm: bool,
    /// When the peer was last heard from, and the keep-alive probes since.
    liveness: Liveness,
    /// How the window is managed (the host's choices).
    tuning: Tuning,
    /// The largest the receive buffer may grow to.
    rcv_buf_max: u32,
    /// Linux's `rcv_ssthresh`: the receive window offered opens from the SYN's up to the
    /// buffer as in-order data arrives (`tcp_grow_window`); none under the RFC profile.
    rcv_ssthresh: Option<u32>,
    /// Linux's receive-buffer autotuning, once the application reads (Linux profile, no
    /// SO_RCVBUF).
    rcv_space: Option<autotune::RcvSpace>,
}

/// The parts of a new TCB that differ between active and passive open.
pub(crate) struct TcbInit {
    pub id: SocketId,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub iss: SeqNum,
    pub our_mss: u16,
    pub rcv_buf_cap: u32,
    pub snd_buf_cap: u32,
    pub msl: Time,
    pub delayed_ack: bool,
    pub options: SocketOptions,
    pub min_rto: Time,
    /// How the window is managed.
    pub tuning: Tuning,
    /// The largest the receive buffer may grow to: the window scale offered fits it.
    pub rcv_buf_max: u32,
    /// Offer SACK-permitted on our SYN (or accept it on the peer's).
    pub sack: bool,
    /// Offer timestamps, with this clock offset.
    pub timestamps: Option<u32>,
}

/// The smallest shift that fits `buffer` in the 16-bit window field (RFC 7323 §2.3).
fn window_shift_for(buffer: u32) -> u8 {
    let mut shift = 0;
    while shift < MAX_WINDOW_SHIFT && (buffer >> shift) > MAX_UNSCALED_WINDOW {
        shift += 1;
    }
    shift
}

impl Tcb {
    fn new(init: TcbInit) -> Tcb {
        let send_mss = DEFAULT_MSS.min(init.our_mss);
        Tcb {
            id: init.id,
            state: TcpState::Closed,
            local: init.local,
            remote: init.remote,
            iss: init.iss,
            irs: SeqNum(0),
            snd_una: init.iss,
            snd_nxt: init.iss,
            snd_max: init.iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: SeqNum(0),
            snd_shift: 0,
            rcv_shift: 0,
            offer_window_scale: true,
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            rcv_buf_cap: init.rcv_buf_cap,
            snd_buf_cap: init.snd_buf_cap,
            send_buf: ByteQueue::default(),
            recv_buf: ByteQueue::default(),
            reassembly: Reassembly::default(),
            fin_seq: None,
            peer_fin: false,
            peer_fin_seq: None,
            error: None,
            send_mss,
            our_mss: init.our_mss,
            rtt: RttEstimator {
                bound_variation: init.tuning.profile == Profile::Linux,
                ..RttEstimator::new(init.min_rto)
            },
            rtt_probe: None,
            retries: 0,
            retransmissions: 0,
            persist_backoff: 0,
            persisting: false,
            snd_sml: init.iss,
            last_oow_ack: None,
            loss_recovery: None,
            last_data_sent: None,
            max_flight: (0, init.iss),
            unacked_segments: 0,
            ack_clock: AckClock::default(),
            sack_compression: delack::SackCompression::default(),
            quick_ack_pending: false,
            delayed_ack: init.delayed_ack,
            options: init.options,
            cc: Congestion::new(send_mss, init.iss, init.tuning),
            tuning: init.tuning,
            rcv_buf_max: init.rcv_buf_max,
            rcv_ssthresh: None,
            rcv_space: None,
            timers: Timers::default(),
            msl: init.msl,
            listener: None,
            orphaned: false,
            ack_now: false,
            sack_ok: init.sack,
            sack_rx: SackReceiver::default(),
            scoreboard: Scoreboard::default(),
            ts: TsClock::new(init.timestamps.is_some(), init.timestamps.unwrap_or(0)),
            rack: Rack::new(init.tuning.profile == Profile::Linux),
            pacing_rate: None,
            tail_pushed: true,
            more_now: false,
            push_held: false,
            send_mem: init
                .options
                .snd_buf
                .filter(|_| init.tuning.profile == Profile::Linux)
                .map(SendMemory::new),
            probe_rearm: false,
            liveness: Liveness::default(),
        }
    }

    /// The earliest of this connection's timers.
    pub fn next_deadline(&self) -> Option<Time> {
        self.timers.next_deadline()
    }

    /// The timer to serve at `now`, if one has expired.
    pub fn expired_timer(&self, now: Time) -> Option<Timer> {
        self.timers.expired(now)
    }

    /// A SYN that may end TIME-WAIT early (RFC 1122 §4.2.2.13, RFC 6191, as Linux's
    /// `tcp_timewait_state_process` decides): no ACK or RST, and a sequence number beyond
    /// the old connection's, or a later timestamp. Returns the ISS the new connection
    /// takes, past all the old one sent (Linux: SND.NXT + 65537).
    pub fn time_wait_reopens(&self, seg: &TcpSegment<&[u8]>) -> Option<SeqNum> {
        let syn = seg.flags.syn && !seg.flags.ack && !seg.flags.rst;
        let beyond = SeqNum(seg.seq) > self.rcv_nxt || self.ts.is_newer(seg.timestamps);
        (self.state == TcpState::TimeWait && syn && beyond).then(|| self.snd_nxt + 65_537)
    }

    /// The connection's state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// Our address and port.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The peer's address and port.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// The listener this connection came from, until it is accepted.
    pub fn listener(&self) -> Option<SocketId> {
        self.listener
    }

    /// Whether the application has closed (or aborted) it: nobody will read again.
    pub fn is_orphaned(&self) -> bool {
        self.orphaned
    }

    /// Why the connection ended, if it ended badly.
    pub fn error(&self) -> Option<SocketError> {
        self.error
    }

    /// Whether our FIN is queued (after `shutdown` or `close`).
    pub fn fin_queued(&self) -> bool {
        self.fin_seq.is_some()
    }

    /// Whether the peer's FIN has been processed: once the data is read, `recv` gives `b''`.
    pub fn peer_closed(&self) -> bool {
        self.peer_fin
    }

    /// The connection variables, for trace events.
    pub fn vars(&self) -> TcpVars {
        TcpVars {
            snd_una: self.snd_una.0,
            snd_nxt: self.snd_nxt.0,
            rcv_nxt: self.rcv_nxt.0,
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_wnd(),
            cwnd: Some(self.cc.cwnd),
            ssthresh: Some(self.cc.ssthresh),
            sacked: (!self.scoreboard.is_empty()).then(|| self.scoreboard.sacked_octets()),
        }
    }

    /// Numbers for tests and lessons.
    pub fn stats(&self) -> TcpStats {
        TcpStats {
            srtt: self.rtt.srtt,
            rttvar: self.rtt.rttvar,
            rto: self.rtt.rto,
            cwnd: self.cc.cwnd,
            ssthresh: self.cc.ssthresh,
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_wnd(),
            send_queue: self.send_buf.len(),
            recv_queue: self.recv_buf.len(),
            out_of_order: self.reassembly.held(),
            retransmissions: self.retransmissions,
            window_shifts: (self.rcv_shift, self.snd_shift),
            send_mss: self.send_mss,
        }
    }

    /// This connection as a trace endpoint.
    pub fn endpoint(&self, host: &str) -> Endpoint {
        Endpoint {
            host: host.to_string(),
            socket: self.id,
            local: self.local,
            remote: Some(self.remote),
        }
    }

    /// Change state and record the transition with its cause and rule.
    pub fn set_state(&mut self, ctx: &mut Ctx, to: TcpState, rule: Rule) {
        self.set_state_from(ctx, self.state, to, rule);
    }

    /// Like [`Tcb::set_state`], naming the old state explicitly (a child of a listener starts
    /// in LISTEN as far as the RFC is concerned).
    pub fn set_state_from(&mut self, ctx: &mut Ctx, from: TcpState, to: TcpState, rule: Rule) {
        self.state = to;
        match to {
            TcpState::TimeWait => {
                self.timers
                    .set(Timer::TimeWait, ctx.now + Time(2 * self.msl.0));
                self.timers.stop_all_but(Some(Timer::TimeWait));
            }
            TcpState::Closed => self.timers.stop_all_but(None),
            _ => {}
        }
        ctx.events.push(Event {
            t: ctx.now,
            kind: EventKind::TcpTransition {
                endpoint: self.endpoint(ctx.host),
                from,
                to,
                cause: ctx.cause.clone(),
                rule,
                detail: None,
                vars: self.vars(),
            },
        });
    }

    fn congestion_event(&self, ctx: &mut Ctx, reason: CwndReason) {
        ctx.events.push(Event {
            t: ctx.now,
            kind: EventKind::Congestion {
                endpoint: self.endpoint(ctx.host),
                cwnd: self.cc.cwnd,
                ssthresh: self.cc.ssthresh,
                reason,
            },
        });
    }
}

/// The reset for a segment that does not belong to any connection we have (RFC 9293
/// §3.10.7.1): `<SEQ=SEG.ACK><CTL=RST>` if it had an ACK, else
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
pub(crate) fn rst_for(seg: &TcpSegment<&[u8]>) -> TcpSegment {
    let mut reply = TcpSegment {
        src_port: seg.dst_port,
        dst_port: seg.src_port,
        checksum_ok: true,
        ..TcpSegment::default()
    };
    if seg.flags.ack {
        reply.seq = seg.ack;
        reply.flags.rst = true;
    } else {
        reply.seq = 0;
        reply.ack = seg.seq.wrapping_add(seg.seg_len());
        reply.flags.rst = true;
        reply.flags.ack = true;
    }
    reply
}
