//! One TCP connection: its transmission control block (TCB, RFC 9293 §3.3.1) and the event
//! processing of RFC 9293 §3.10, one function per event, each decision citing its section.
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

mod autotune;
mod buffer;
mod congestion;
mod delack;
mod info;

pub use info::{CaState, TcpInfo};
mod keepalive;
mod rack;
mod reassembly;
mod rtt;
mod sack;
mod sndbuf;
mod timers;
mod timestamps;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::ControlFlow;

use trace::{
    Cause, CwndChange, Endpoint, Event, EventKind, Recovery, Rule, TcpState, TcpVars, Time,
};
use wire::{SackBlocks, TcpFlags, TcpSegment};

use crate::{Profile, SeqNum, SocketError, SocketId, SocketOption};
pub(crate) use buffer::ByteQueue;
use congestion::Congestion;
pub(crate) use congestion::Tuning;
use delack::AckClock;
use keepalive::Liveness;
use rack::{Rack, WC_DEL_ACK};
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
    pub src: Ipv4Addr,
    /// Where to.
    pub dst: Ipv4Addr,
    /// The segment.
    pub seg: TcpSegment,
    /// Its time to live (IP_TTL; 64 unless set).
    pub ttl: u8,
}

/// The time to live of the packets a socket sends unless IP_TTL says otherwise (Linux's
/// `ip_default_ttl`).
pub(crate) const DEFAULT_TTL: u8 = 64;

impl Ctx<'_> {
    fn note(&mut self, text: String) {
        self.events.push(Event {
            t: self.now,
            kind: EventKind::Note {
                node: self.host.to_string(),
                text,
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
    local: SocketAddrV4,
    remote: SocketAddrV4,
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
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
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
    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }

    /// The peer's address and port.
    pub fn remote(&self) -> SocketAddrV4 {
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

    /// RFC 9293 §3.10.1, OPEN call, active: a new TCB sends its SYN and enters SYN-SENT.
    pub fn active_open(init: TcbInit, ctx: &mut Ctx) -> Tcb {
        let mut tcb = Tcb::new(init);
        tcb.snd_nxt = tcb.iss + 1;
        tcb.set_state(ctx, TcpState::SynSent, Rule::OpenActive);
        tcb.send_syn(ctx);
        tcb
    }

    /// RFC 9293 §3.10.7.2: a SYN reaches the listener `listener`; a new TCB takes the peer's
    /// sequence number and options, answers SYN+ACK and enters SYN-RECEIVED.
    pub fn passive_open(
        init: TcbInit,
        listener: SocketId,
        syn: &TcpSegment<&[u8]>,
        ctx: &mut Ctx,
    ) -> Tcb {
        let mut tcb = Tcb::new(init);
        tcb.listener = Some(listener);
        tcb.irs = SeqNum(syn.seq);
        tcb.rcv_nxt = tcb.irs + 1;
        tcb.rcv_adv = tcb.rcv_nxt;
        tcb.take_syn_options(ctx.now, syn);
        tcb.snd_wl1 = tcb.irs;
        tcb.set_state_from(
            ctx,
            TcpState::Listen,
            TcpState::SynReceived,
            Rule::ListenSyn,
        );
        tcb.send_syn(ctx);
        tcb
    }

    /// The options set on its socket (or inherited from its listener).
    pub fn options(&self) -> &SocketOptions {
        &self.options
    }

    /// The most data one segment carries now (what TCP_MAXSEG reads): the MSS, but no more
    /// than half the largest window the peer has offered, as Linux bounds it
    /// (`tcp_bound_to_half_wnd`), so that a window always takes two segments. On an
    /// Ethernet the bound never bites; on the loopback interface, whose MSS is about as
    /// large as the whole window, it halves the segments.
    pub fn segment_size(&self) -> u16 {
        let cutoff = if self.max_snd_wnd > u32::from(DEFAULT_MSS) {
            self.max_snd_wnd / 2
        } else {
            self.max_snd_wnd
        };
        match u16::try_from(cutoff) {
            Ok(cutoff) if cutoff > 0 && self.send_mss > cutoff => cutoff.max(48),
            _ => self.send_mss,
        }
    }

    /// `recv(max, MSG_PEEK)`: what `read` would give, left in place.
    pub fn peek(&self, max: usize) -> Vec<u8> {
        let len = max.min(self.recv_buf.len());
        self.recv_buf.slice(0, len).to_vec()
    }

    /// `accept()` took this connection off its listener's queue.
    pub fn accepted(&mut self) {
        self.listener = None;
    }

    /// `setsockopt` on this connection.
    pub fn set_option(&mut self, option: SocketOption) {
        self.options.apply(option);
        match option {
            // The window scale was fixed by the SYNs: a larger buffer is announced only as
            // far as the scale reaches.
            SocketOption::RecvBuffer(n) => self.rcv_buf_cap = n,
            SocketOption::SendBuffer(n) => {
                self.snd_buf_cap = n;
                if self.tuning.profile == Profile::Linux {
                    self.send_mem = Some(self.memory_for(n));
                }
            }
            // tcp(7): TCP_NODELAY "forces an explicit flush of pending output, even if
            // TCP_CORK is currently set"; uncorking flushes too.
            SocketOption::NoDelay(true) => self.push_held = true,
            SocketOption::Cork(false) => self.push_held |= self.options.nodelay,
            SocketOption::QuickAck(on) if self.tuning.profile == Profile::Linux => {
                // Linux's TCP_QUICKACK is not a lasting switch: it sets the interactive
                // mode of the ACK clock, which the connection's own traffic changes again.
                self.options.quickack = false;
                self.ack_clock.set_interactive(!on);
            }
            _ => {}
        }
        self.arm_keepalive();
    }

    /// `send`: queue `data` (the caller has checked it fits, RFC 9293 §3.10.2). Under
    /// the Linux profile, a sender that has been idle with nothing in flight first
    /// restarts its window (Linux's `tcp_slow_start_after_idle_check`).
    /// With `more` (MSG_MORE), the push that follows holds a partial segment back, and the
    /// end of this data is no push point.
    pub fn queue(&mut self, ctx: &mut Ctx, data: &[u8], more: bool) {
        self.restart_if_idle(ctx);
        let queue = self.queue_shape();
        if let Some(mem) = &mut self.send_mem {
            mem.add(data.len() as u32, queue);
        }
        self.send_buf.push(data);
        self.tail_pushed = !more;
        self.more_now = more;
        self.push_held = false;
    }

    /// Linux's slow start after idle: nothing in flight, and no data sent for longer than
    /// the RTO. Checked when data is queued and again when it can go (data queued before a
    /// zero window reopens restarts then, as Linux's first chunk after the wait shows).
    fn restart_if_idle(&mut self, ctx: &mut Ctx) {
        let idle = self.snd_max == self.snd_una
            && self.tuning.profile == Profile::Linux
            && self.tuning.restart_after_idle;
        if let Some(last) = self.last_data_sent.filter(|_| idle) {
            if let Some(reason) = self.cc.restart_after_idle(ctx.now - last, self.rtt.rto) {
                self.congestion_event(ctx, CwndChange::IdleRestart, reason);
            }
        }
    }

    /// `recv`: up to `max` octets of what has arrived in order (RFC 9293 §3.10.3).
    pub fn read(&mut self, now: Time, max: usize) -> Vec<u8> {
        let data = self.recv_buf.take_front(max);
        self.autotune(now, data.len());
        // RFC 9293 §3.8.6.2.2: tell the sender at once when the window reopens enough
        // (by min(buffer/2, MSS)); smaller openings wait, against silly windows.
        if self.window_update_due() {
            self.ack_now = true;
        }
        data
    }

    /// Linux's autotuning: the buffer, and with it the window that may be offered, grows
    /// with what the application reads per round trip (see `autotune`), unless SO_RCVBUF
    /// fixed it. The round trip is the receiver's estimate: with timestamps, Linux measures
    /// it from their echo in whole ticks of 1 ms, never less than one
    /// (`tcp_rcv_rtt_measure_ts`), so on a path faster than that it counts per millisecond.
    fn autotune(&mut self, now: Time, read: usize) {
        if self.tuning.profile != Profile::Linux || self.options.rcv_buf.is_some() || read == 0 {
            return;
        }
        let advmss = u32::from(self.our_mss);
        let first = self.rcv_ssthresh.unwrap_or(self.rcv_buf_cap);
        let rtt = self.receiver_rtt_estimate();
        let space = self
            .rcv_space
            .get_or_insert_with(|| autotune::RcvSpace::new(advmss, first));
        // Linux's window is half its buffer (tcp_win_from_space): at most tcp_rmem[2] / 2.
        let bounds = (self.rcv_buf_cap, self.rcv_buf_max / 2);
        if let Some(bigger) = space.read(read, now, rtt, advmss, bounds) {
            self.rcv_buf_cap = bigger;
        }
    }

    /// Whether received data waits to be read.
    pub fn has_unread(&self) -> bool {
        !self.recv_buf.is_empty()
    }

    /// `shutdown(SHUT_WR)`, or the FIN of `close()`: RFC 9293 §3.10.4 in a synchronised state.
    pub fn close_sending_side(&mut self, ctx: &mut Ctx) {
        self.queue_fin();
        match self.state {
            TcpState::CloseWait => self.set_state(ctx, TcpState::LastAck, Rule::CloseCloseWait),
            _ => self.set_state(ctx, TcpState::FinWait1, Rule::CloseEstablished),
        }
    }

    /// `close()` (RFC 9293 §3.10.4): nobody will read again; FIN where one is due.
    pub fn close(&mut self, ctx: &mut Ctx) {
        self.orphaned = true;
        match self.state {
            TcpState::SynSent => self.set_state(ctx, TcpState::Closed, Rule::CloseSynSent),
            TcpState::SynReceived | TcpState::Established | TcpState::CloseWait
                if self.fin_seq.is_none() =>
            {
                self.close_sending_side(ctx)
            }
            // Already closing (after shutdown, or a FIN is on its way): just let go.
            _ => {}
        }
    }

    /// ABORT (RFC 9293 §3.10.5), by `rule`: RST to a peer that may be listening, queues
    /// flushed, CLOSED.
    pub fn abort(&mut self, ctx: &mut Ctx, rule: Rule) {
        self.orphaned = true;
        if matches!(
            self.state,
            TcpState::SynReceived
                | TcpState::Established
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::CloseWait
        ) {
            self.send_rst(ctx);
        }
        self.send_buf.clear();
        self.recv_buf.clear();
        if self.state != TcpState::Closed {
            self.set_state(ctx, TcpState::Closed, rule);
        }
    }

    /// RCV.WND: what is left of the window we advertised.
    pub fn rcv_wnd(&self) -> u32 {
        if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv.since(self.rcv_nxt)
        } else {
            0
        }
    }

    /// Free room in the receive buffer.
    fn rcv_space(&self) -> u32 {
        self.rcv_buf_cap.saturating_sub(self.recv_buf.len() as u32)
    }

    /// The room the window may offer: the free room, at most Linux's `rcv_ssthresh` under
    /// the Linux profile.
    fn offerable(&self) -> u32 {
        let space = self.rcv_space();
        self.rcv_ssthresh.map_or(space, |clamp| space.min(clamp))
    }

    /// RFC 9293 §3.8.6.2.2 (receiver's SWS avoidance): move the right edge only by at least
    /// min(buffer/2, MSS), so the peer is never invited to send tiny segments.
    fn window_grows_enough(&self) -> bool {
        let threshold = (self.rcv_buf_cap / 2).min(u32::from(self.our_mss));
        self.offerable() >= self.rcv_wnd() + threshold
    }

    /// True when reading has opened the window enough to tell the peer at once: by the
    /// SWS threshold, and (as Linux's tcp_cleanup_rbuf decides) to at least twice what the
    /// peer may send now; smaller openings ride on the next ACK.
    pub fn window_update_due(&self) -> bool {
        self.state.is_synchronized()
            && self.window_grows_enough()
            && self.offerable() >= 2 * self.rcv_wnd()
    }

    /// The window scale we offer: the smallest that fits what the buffer may grow to,
    /// unless the application fixed its size (SO_RCVBUF), as Linux's
    /// `tcp_select_initial_window` chooses it.
    fn offered_shift(&self) -> u8 {
        let space = if self.options.rcv_buf.is_some() {
            self.rcv_buf_cap
        } else {
            self.rcv_buf_cap.max(self.rcv_buf_max)
        };
        window_shift_for(space)
    }

    /// In-order data arrived: under the Linux profile the window offered opens by two
    /// segments for each segment of 128 octets or more (`tcp_grow_window`).
    fn grow_receive_window(&mut self, len: usize) {
        let cap = self.rcv_buf_cap;
        if let Some(ssthresh) = &mut self.rcv_ssthresh {
            if len >= 128 {
                *ssthresh = (*ssthresh + 2 * u32::from(self.our_mss)).min(cap);
            }
        }
    }

    /// The window field for an outgoing segment, and RCV.ADV updated to match.
    fn advertise(&mut self, syn: bool) -> u16 {
        if syn {
            // RFC 7323 §2.2: the window of a SYN is never scaled. Linux offers a whole
            // number of segments of the MSS it expects (tcp_select_initial_window): its
            // own on a SYN, less the timestamps option on a SYN+ACK that agrees to them.
            let space = self.rcv_space().min(MAX_UNSCALED_WINDOW);
            let expected = if self.state == TcpState::SynReceived && self.ts.on {
                self.our_mss.saturating_sub(TIMESTAMPS_LEN)
            } else {
                self.our_mss
            };
            let mss = u32::from(expected.max(1));
            let window = if space > mss {
                space - space % mss
            } else {
                space
            };
            if self.state != TcpState::SynSent && self.state != TcpState::Closed {
                self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + window);
            }
            if self.tuning.profile == Profile::Linux {
                self.rcv_ssthresh = Some(window);
            }
            return window as u16;
        }
        if let Some(ssthresh) = self.rcv_ssthresh {
            return self.advertise_linux(ssthresh);
        }
        let unit = 1u32 << self.rcv_shift;
        let current = self.rcv_wnd();
        let wanted = if self.window_grows_enough() {
            self.rcv_space()
        } else {
            current
        };
        // Round down, except never below what was promised (rounding up by less than one
        // unit, as Linux does, rather than shrink the window).
        let mut field = wanted >> self.rcv_shift;
        if field << self.rcv_shift < current {
            field = current.div_ceil(unit);
        }
        let field = field.min(MAX_UNSCALED_WINDOW);
        self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + (field << self.rcv_shift));
        field as u16
    }

    /// Linux's window (`__tcp_select_window`): the free space, at most `rcv_ssthresh`,
    /// rounded up to the scale's unit so that it is not scaled away; never less than what
    /// was promised.
    fn advertise_linux(&mut self, ssthresh: u32) -> u16 {
        let unit = 1u32 << self.rcv_shift;
        let free = self.rcv_space().min(ssthresh);
        let promised = self.rcv_wnd();
        debug_assert_eq!(free, self.offerable());
        let wanted = if free >= promised { free } else { promised };
        let field = wanted.div_ceil(unit).min(MAX_UNSCALED_WINDOW);
        self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + (field << self.rcv_shift));
        field as u16
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

    fn syn_acked(&self) -> bool {
        self.snd_una != self.iss
    }

    /// The lowest sequence number a SACK block may report: data we sent, and (RFC 5961 §5.2's
    /// bound, as Linux's) no further back than the largest window the peer offered.
    fn dsack_floor(&self) -> SeqNum {
        self.snd_una - self.bytes_acked().min(self.max_snd_wnd)
    }

    /// Octets of data the peer has acknowledged (Linux's `bytes_acked`, mod 2^32).
    fn bytes_acked(&self) -> u32 {
        if self.syn_acked() {
            self.snd_una.since(self.iss + 1)
        } else {
            0
        }
    }

    /// True once our FIN has been sent and acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_seq.is_some_and(|f| self.snd_una == f + 1)
    }

    /// Sequence number of the first octet in `send_buf`.
    fn buf_seq(&self) -> SeqNum {
        if self.syn_acked() {
            self.snd_una
        } else {
            self.iss + 1
        }
    }

    /// Room left in the send buffer, as `poll` reports it: octets, or, as Linux counts
    /// memory once SO_SNDBUF is set, none until the free memory is half the memory queued
    /// (`tcp_poll`'s `__sk_stream_is_writeable`).
    pub fn send_space(&self) -> usize {
        match &self.send_mem {
            Some(mem) if !mem.writable() => 0,
            _ => self.accept_len(usize::MAX),
        }
    }

    /// How much of a write of `len` octets is queued now.
    pub fn accept_len(&self, len: usize) -> usize {
        match &self.send_mem {
            Some(mem) => mem.room(len, self.queue_shape()),
            None => (self.snd_buf_cap as usize)
                .saturating_sub(self.send_buf.len())
                .min(len),
        }
    }

    /// A write found no room for all it had: under Linux's accounting it waits to be woken.
    pub fn write_blocked(&mut self) {
        if let Some(mem) = &mut self.send_mem {
            mem.block();
        }
    }

    /// Where a write lands, for the send-buffer accounting.
    fn queue_shape(&self) -> Queue {
        Queue {
            end: self.buf_seq() + self.send_buf.len() as u32,
            unsent_from: self.snd_max,
            goal: self.size_goal(),
            push: self.push_allowance(),
        }
    }

    /// Linux's `size_goal` (`tcp_xmit_size_goal`): the octets one buffer takes, whole
    /// segments up to half the largest window the peer offered, at most 64 KiB.
    fn size_goal(&self) -> u32 {
        let mss = u32::from(self.segment_size().max(1));
        let half = if self.max_snd_wnd > 536 {
            self.max_snd_wnd / 2
        } else {
            self.max_snd_wnd
        };
        (half.min(65_536) / mss * mss).max(mss)
    }

    /// What a write may send while it copies (`tcp_push_one`): a TSO chunk at a time, in
    /// all what cwnd and the peer's window allow.
    fn push_allowance(&self) -> Push {
        if !self.may_send_data() {
            return Push { chunk: 0, quota: 0 };
        }
        let mss = u32::from(self.segment_size().max(1));
        let flight = self.snd_nxt.since(self.snd_una);
        let room = self.cc.cwnd.min(self.snd_wnd).saturating_sub(flight);
        let segs = self.tso_segs().unwrap_or(1);
        Push {
            chunk: segs * mss,
            quota: room / mss * mss,
        }
    }

    /// The accounting for SO_SNDBUF = `asked`, holding what is queued already.
    fn memory_for(&self, asked: u32) -> SendMemory {
        let mut mem = SendMemory::new(asked);
        let start = self.buf_seq();
        let queue = Queue {
            end: start,
            unsent_from: start,
            goal: self.size_goal(),
            push: Push { chunk: 0, quota: 0 },
        };
        mem.add(self.send_buf.len() as u32, queue);
        mem.sent(self.snd_max);
        mem
    }

    /// Queue our FIN behind all the data queued so far.
    pub fn queue_fin(&mut self) {
        if self.fin_seq.is_none() {
            self.fin_seq = Some(self.buf_seq() + self.send_buf.len() as u32);
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

    fn congestion_event(&self, ctx: &mut Ctx, change: CwndChange, reason: String) {
        ctx.events.push(Event {
            t: ctx.now,
            kind: EventKind::Congestion {
                endpoint: self.endpoint(ctx.host),
                cwnd: self.cc.cwnd,
                ssthresh: self.cc.ssthresh,
                reason,
                change,
            },
        });
    }

    fn segment(&mut self, now: Time, seq: SeqNum, flags: TcpFlags, payload: Vec<u8>) -> TcpSegment {
        let window = self.advertise(flags.syn);
        if flags.ack {
            // Any segment carrying an ACK sends the delayed (or compressed) one along.
            self.timers.stop(Timer::DelayedAck);
            self.timers.stop(Timer::CompressedAck);
            self.sack_compression.ack_sent();
            self.unacked_segments = 0;
            self.ack_clock.ack_sent();
            self.ts.last_ack_sent = self.rcv_nxt;
        }
        let sack = if flags.ack && !flags.syn && !flags.rst && self.sack_ok {
            self.sack_blocks(payload.len())
        } else {
            SackBlocks::default()
        };
        TcpSegment {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: seq.0,
            ack: if flags.ack { self.rcv_nxt.0 } else { 0 },
            flags,
            window,
            mss: flags.syn.then_some(self.our_mss),
            window_scale: (flags.syn && self.offer_window_scale).then(|| self.offered_shift()),
            sack_permitted: flags.syn && self.sack_ok,
            sack,
            timestamps: self.ts.option(now),
            other_options: Vec::new(),
            payload,
            checksum_ok: true,
        }
    }

    /// The SACK blocks for an ACK (RFC 2018 §4): while data is held out of order or a
    /// duplicate is to be reported, as many as fit in the option space beside the payload.
    fn sack_blocks(&mut self, payload: usize) -> SackBlocks {
        if self.reassembly.is_empty() && !self.sack_rx.has_dsack() {
            return SackBlocks::default();
        }
        // 40 octets of options: NOP, NOP, kind, length and 8 per block, beside timestamps.
        let most = if self.ts.on { 3 } else { SackBlocks::MAX };
        let room = usize::from(self.send_mss).saturating_sub(payload + 4) / 8;
        let held = self.reassembly.blocks();
        self.sack_rx.blocks(&held, most.min(room))
    }

    fn push(&self, ctx: &mut Ctx, seg: TcpSegment) {
        ctx.segments.push(Outbound {
            src: *self.local.ip(),
            dst: *self.remote.ip(),
            seg,
            ttl: self.options.ttl.unwrap_or(DEFAULT_TTL),
        });
    }

    /// SYN, with ACK once the peer's SYN has arrived (a SYN+ACK, also when resent after a
    /// close() in SYN-RECEIVED).
    fn syn_flags(&self) -> TcpFlags {
        TcpFlags {
            syn: true,
            ack: self.state != TcpState::SynSent,
            ..TcpFlags::default()
        }
    }

    /// Send our SYN (active open) or SYN+ACK (passive open), at ISS.
    pub fn send_syn(&mut self, ctx: &mut Ctx) {
        let seg = self.segment(ctx.now, self.iss, self.syn_flags(), Vec::new());
        self.push(ctx, seg);
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if self.retries == 0 {
            self.rtt_probe = Some((self.iss, self.snd_nxt, ctx.now));
        }
        self.timers
            .start_unless_running(Timer::Retransmit, ctx.now + self.rtt.rto);
    }

    /// Reset the connection (RFC 9293 §3.10.5: `<SEQ=SND.NXT><CTL=RST>`), with an ACK of
    /// what arrived as Linux's `tcp_send_active_reset` adds (tcpdump shows `[R.]`).
    pub fn send_rst(&mut self, ctx: &mut Ctx) {
        let flags = TcpFlags {
            rst: true,
            ack: self.state != TcpState::SynSent,
            ..TcpFlags::default()
        };
        let seg = self.segment(ctx.now, self.snd_max, flags, Vec::new());
        self.push(ctx, seg);
    }

    /// Take the options of the peer's SYN: MSS (RFC 9293 §3.7.1), window scale (RFC 7323
    /// §2.2: scaling is on only if both SYNs carry the option), SACK-permitted (RFC 2018
    /// §2) and timestamps (RFC 7323 §3.2), each on only if both SYNs carry it.
    pub fn take_syn_options(&mut self, now: Time, seg: &TcpSegment<&[u8]>) {
        self.sack_ok &= seg.sack_permitted;
        self.ts.take_syn(now, seg.timestamps);
        let mss = seg.mss.unwrap_or(DEFAULT_MSS).min(self.our_mss).max(1);
        // RFC 6691: the MSS counts no options, so the 12 octets of timestamps on every
        // segment come out of the data.
        self.send_mss = if self.ts.on {
            mss.saturating_sub(TIMESTAMPS_LEN).max(1)
        } else {
            mss
        };
        match seg.window_scale {
            Some(shift) if self.offer_window_scale => {
                self.snd_shift = shift.min(MAX_WINDOW_SHIFT);
                self.rcv_shift = self.offered_shift();
            }
            _ => {
                self.offer_window_scale = false;
                self.snd_shift = 0;
                self.rcv_shift = 0;
            }
        }
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.cc = Congestion::new(self.send_mss, self.iss, self.tuning);
    }

    /// Copy `len` octets of `send_buf` starting `offset` octets in.
    fn payload(&self, offset: usize, len: usize) -> Vec<u8> {
        self.send_buf.slice(offset, len).to_vec()
    }

    fn may_send_data(&self) -> bool {
        // RFC 9293 §3.10.2: data sent in SYN-RECEIVED waits for ESTABLISHED, the ACK of our
        // SYN; so it does after a close() there took us to FIN-WAIT-1, as Linux's does. A
        // close() there with nothing queued sends its FIN at once (§3.10.4).
        let fin_alone = self.state == TcpState::FinWait1 && self.send_buf.is_empty();
        (self.syn_acked() || fin_alone)
            && matches!(
                self.state,
                TcpState::Established
                    | TcpState::CloseWait
                    | TcpState::FinWait1
                    | TcpState::Closing
                    | TcpState::LastAck
            )
    }

    /// Send one segment of up to `max` octets at `seq` (which is at or after SND.UNA), with
    /// the FIN if it fits. Returns the sequence space used.
    fn send_at(&mut self, ctx: &mut Ctx, seq: SeqNum, max: usize) -> u32 {
        // Before the buffer lies only our SYN, which its own timer resends (found by fuzzing:
        // SACK blocks on a connection whose SYN was not yet acknowledged started a recovery).
        if seq < self.buf_seq() {
            return 0;
        }
        let offset = seq.since(self.buf_seq()) as usize;
        let available = self.send_buf.len().saturating_sub(offset);
        let len = available.min(max);
        let fin = self.fin_seq == Some(seq + len as u32);
        let payload = self.payload(offset, len);
        let flags = TcpFlags {
            ack: true,
            psh: len > 0 && len == available && self.tail_pushed,
            fin,
            ..TcpFlags::default()
        };
        if len > 0 {
            self.ack_clock.data_sent(ctx.now);
            self.last_data_sent = Some(ctx.now);
        }
        let seg = self.segment(ctx.now, seq, flags, payload);
        self.push(ctx, seg);
        let used = len as u32 + u32::from(fin);
        if self.sack_ok && used > 0 {
            self.rack.sent(seq, seq + used, ctx.now, self.snd_max);
        }
        used
    }

    /// Send what the windows and Nagle allow, then a bare ACK if one is owed, then set the
    /// timers (RFC 9293 §3.8.6, RFC 1122 §4.2.3.4, RFC 5681 §3.1, RFC 6298 §5.1).
    pub fn output(&mut self, ctx: &mut Ctx) {
        let may_send = self.may_send_data();
        if may_send && self.snd_wnd > 0 && self.unsent() > 0 {
            self.restart_if_idle(ctx);
        }
        let (first, chunk) = (ctx.segments.len(), self.tso_segs());
        if may_send {
            loop {
                let offset = self.snd_nxt.since(self.buf_seq()) as usize;
                if self.fin_seq.is_some_and(|f| self.snd_nxt > f) {
                    break; // everything, FIN included, has been sent
                }
                if self.snd_nxt < self.snd_max && self.skip_sacked(ctx) {
                    continue;
                }
                let unsent = self.send_buf.len().saturating_sub(offset);
                let flight = self.snd_nxt.since(self.snd_una);
                // RFC 3042: the first two duplicate ACKs each let one new segment out.
                let window = self.snd_wnd.min(self.cc.cwnd + self.cc.limited_transmit());
                let room = window.saturating_sub(flight) as usize;
                let mss = usize::from(self.segment_size());
                let len = unsent.min(mss).min(room).min(self.until_sacked());
                let fin = self.fin_seq == Some(self.snd_nxt + len as u32) && (len > 0 || room > 0);
                if len == 0 && !fin {
                    break;
                }
                let resending = self.snd_nxt < self.snd_max;
                // RFC 1122 §4.2.3.4 (with RFC 9293 §3.8.6.2.1's SWS avoidance): send a full
                // segment, or everything queued when nothing is unacknowledged (Nagle) or
                // Nagle is off, or at least half the largest window the peer offered.
                // With nothing in flight no ACK will come to change matters, so a window
                // smaller than all that fits is used as it is (RFC 1122's override).
                // Linux (Minshall): only a small segment still unacknowledged holds back
                // another, not a full one.
                let minshall =
                    self.tuning.profile == Profile::Linux && self.snd_sml <= self.snd_una;
                let idle_or_nodelay = flight == 0 || self.options.nodelay || minshall;
                // Linux's TCP_CORK and MSG_MORE (`tcp_nagle_check`): only full segments
                // (and a FIN) go; the probe timer sends what is held.
                let corked = self.holds_partial();
                let worth_it = len == mss
                    || (len == unsent && idle_or_nodelay && !corked)
                    || (len as u32 >= self.max_snd_wnd / 2 && idle_or_nodelay && !corked)
                    || (flight == 0 && len == room && !corked)
                    || fin
                    || resending;
                if !worth_it {
                    break;
                }
                let start = self.snd_nxt;
                let used = self.send_at(ctx, start, len);
                if resending {
                    self.karn(start, start + used);
                    self.retransmissions += 1;
                }
                self.snd_nxt = self.snd_nxt + used;
                if (used as usize) < mss {
                    self.snd_sml = self.snd_sml.max(self.snd_nxt);
                }
                if self.snd_nxt > self.snd_max {
                    self.probe_rearm = true;
                    self.snd_max = self.snd_nxt;
                    if self.rtt_probe.is_none() && !resending {
                        self.rtt_probe = Some((start, self.snd_nxt, ctx.now));
                    }
                }
                self.ack_now = false;
            }
        }
        Self::mark_chunks(ctx, first, chunk);
        if let Some(mem) = &mut self.send_mem {
            // Linux cuts its buffers where each chunk ends.
            for out in &ctx.segments[first..] {
                let seg = &out.seg;
                if seg.flags.psh && !seg.payload.is_empty() {
                    mem.sent(SeqNum(seg.seq) + seg.payload.len() as u32);
                }
            }
            mem.sent(self.snd_max);
        }
        self.note_flight();
        if self.ack_now {
            self.ack_now = false;
            let flags = TcpFlags {
                ack: true,
                ..TcpFlags::default()
            };
            let seg = self.segment(ctx.now, self.snd_nxt, flags, Vec::new());
            self.push(ctx, seg);
        }
        self.set_send_timers(ctx);
        self.more_now = false;
        self.arm_keepalive();
    }

    /// TCP_CORK, or MSG_MORE on the write being pushed: partial segments wait.
    fn holds_partial(&self) -> bool {
        (self.options.cork || self.more_now) && !self.push_held
    }

    /// Under the Linux profile, PSH as a Linux sender's wire shows it: the segments sent
    /// since `first` go out in TSO chunks of `tso_segs`, runs of contiguous data, and the
    /// last segment of each chunk of two or more carries PSH (a single segment only when it
    /// empties the queue, as `send_at` marks it).
    fn mark_chunks(ctx: &mut Ctx, first: usize, chunk: Option<u32>) {
        let Some(chunk) = chunk else {
            return;
        };
        let mut run = 0;
        let mut end = None;
        for i in first..ctx.segments.len() {
            let seg = &ctx.segments[i].seg;
            let len = seg.payload.len() as u32;
            if len == 0 {
                continue;
            }
            if end != Some(seg.seq) || run == chunk {
                run = 0;
            }
            run += 1;
            end = Some(seg.seq.wrapping_add(len));
            let next_joins = ctx.segments[i + 1..]
                .iter()
                .find(|o| !o.seg.payload.is_empty())
                .is_some_and(|o| Some(o.seg.seq) == end);
            if run >= 2 && (run == chunk || !next_joins) {
                ctx.segments[i].seg.flags.psh = true;
            }
        }
    }

    /// Under the Linux profile, how many segments Linux sends as one TSO chunk: about a
    /// millisecond at the pacing rate (`tcp_tso_autosize`: twice cwnd per SRTT in slow
    /// start, 1.2 times after; more on a path of under 16 ms; at most 64 KiB; at least
    /// `tcp_min_tso_segs`), and no more than half the congestion window
    /// (`tcp_cwnd_test`).
    fn tso_segs(&self) -> Option<u32> {
        if self.tuning.profile != Profile::Linux {
            return None;
        }
        const GSO_MAX: u64 = 65_536;
        let mss = u64::from(self.segment_size().max(1));
        let half_cwnd = (self.cc.cwnd / mss as u32 / 2).max(1);
        let Some(srtt) = self.rtt.srtt.filter(|t| t.as_nanos() > 0) else {
            return Some(((GSO_MAX / mss) as u32).min(half_cwnd));
        };
        let rate = self
            .pacing_rate
            .unwrap_or_else(|| self.pacing_rate_now(srtt));
        let mut bytes = rate >> 10;
        let min_rtt_us = self.rack.min_rtt().unwrap_or(srtt).as_nanos() / 1_000;
        let shift = min_rtt_us >> 9;
        if shift < 64 {
            bytes += GSO_MAX >> shift;
        }
        let autosize = ((bytes.min(GSO_MAX) / mss) as u32).max(self.tuning.min_tso_segs);
        Some(autosize.min(half_cwnd))
    }

    /// Linux's `tcp_update_pacing_rate`, in octets per second: twice cwnd per SRTT in slow
    /// start, 1.2 times after, of the larger of cwnd and the packets out (so a recovery's
    /// small cwnd does not shrink the chunks of a large flight).
    fn pacing_rate_now(&self, srtt: Time) -> u64 {
        let ratio = if self.cc.cwnd < self.cc.ssthresh / 2 {
            200
        } else {
            120
        };
        let out = self.cc.cwnd.max(self.snd_max.since(self.snd_una));
        u64::from(out) * ratio / 100 * 1_000_000_000 / srtt.as_nanos().max(1)
    }

    /// Linux sets the pacing rate as each ACK has been taken (`tcp_cong_control`), so a
    /// cwnd changed later, by a restart after idle, sizes chunks only from the next ACK.
    fn ack_taken(&mut self) {
        if self.tuning.profile == Profile::Linux {
            self.pacing_rate = self.rtt.srtt.map(|srtt| self.pacing_rate_now(srtt));
        }
    }

    /// Resending after a timeout: step over a range the peer has SACKed since (RFC 6675
    /// §5.1). Returns whether SND.NXT moved.
    fn skip_sacked(&mut self, ctx: &mut Ctx) -> bool {
        let Some(end) = self.scoreboard.sacked_end_at(self.snd_nxt) else {
            return false;
        };
        let (from, to) = (self.snd_nxt, end.min(self.snd_max));
        self.snd_nxt = to;
        self.recovery_event(ctx, Recovery::SkipSacked, Some((from, to)), None);
        true
    }

    /// Octets queued and never sent.
    fn unsent(&self) -> usize {
        if self.snd_max < self.buf_seq() {
            return self.send_buf.len();
        }
        let sent = self.snd_max.since(self.buf_seq()) as usize;
        self.send_buf.len().saturating_sub(sent)
    }

    /// Octets from SND.NXT to the next SACKed range (no limit when there is none).
    fn until_sacked(&self) -> usize {
        match self.scoreboard.next_sacked_start(self.snd_nxt) {
            Some(start) if self.snd_nxt < self.snd_max => start.since(self.snd_nxt) as usize,
            _ => usize::MAX,
        }
    }

    /// Octets (and FIN) queued and never sent.
    fn pending(&self) -> bool {
        let end = self.buf_seq() + self.send_buf.len() as u32;
        self.snd_nxt < end || self.fin_seq.is_some_and(|f| self.snd_nxt <= f)
    }

    fn set_send_timers(&mut self, ctx: &mut Ctx) {
        if matches!(self.state, TcpState::TimeWait | TcpState::Closed) {
            return;
        }
        let flight = self.snd_nxt.since(self.snd_una);
        let zero_window = self.state.is_synchronized()
            && self.snd_wnd == 0
            && (self.pending() || self.persisting)
            && flight <= u32::from(self.persisting);
        if zero_window {
            // RFC 9293 §3.8.6.1: with a zero window the sender must still probe, or a lost
            // window update would deadlock both sides. The persist timer does it.
            self.timers.stop(Timer::Retransmit);
            if !self.timers.is_running(Timer::Persist) {
                self.persisting = true;
                self.timers
                    .set(Timer::Persist, ctx.now + self.persist_interval());
            }
        } else if self.holding(flight) {
            // Linux's `tcp_check_probe_timer`: data held back by TCP_CORK or MSG_MORE with
            // nothing in flight leaves when the probe timer fires, after an RTO.
            self.persisting = false;
            self.timers
                .start_unless_running(Timer::Persist, ctx.now + self.rtt.rto);
        } else {
            self.persisting = false;
            self.timers.stop(Timer::Persist);
            self.persist_backoff = 0;
            if flight > 0 {
                self.timers
                    .start_unless_running(Timer::Retransmit, ctx.now + self.rtt.rto);
            }
        }
        if std::mem::take(&mut self.probe_rearm) || flight == 0 {
            self.arm_probe(ctx.now);
        }
    }

    /// Whether a partial segment is held back by TCP_CORK or MSG_MORE with nothing in
    /// flight and the window open.
    fn holding(&self, flight: u32) -> bool {
        self.state.is_synchronized()
            && self.holds_partial()
            && flight == 0
            && self.snd_wnd > 0
            && self.unsent() > 0
    }

    /// RFC 8985 §7.2: after new data or an ACK of new data, the probe timeout starts again:
    /// 2·SRTT, plus the worst-case delayed ACK when one segment is out, and only if it
    /// comes before the RTO. It needs SACK, and waits while recovery or a probe is under way.
    fn arm_probe(&mut self, now: Time) {
        let flight = self.snd_max.since(self.snd_una);
        let eligible = self.sack_ok
            && flight > 0
            && !self.cc.in_recovery
            && self.rack.tlp_end.is_none()
            && self.retries == 0
            && self.may_send_data();
        // Beyond one segment Linux adds TCP_TIMEOUT_MIN (2 ms), so that an SRTT of almost
        // nothing does not fire a probe before any ACK can come.
        let pto = match self.rtt.srtt {
            Some(srtt) if flight <= u32::from(self.send_mss) => Time(2 * srtt.0) + WC_DEL_ACK,
            Some(srtt) => Time(2 * srtt.0) + PTO_MARGIN,
            None => Time::from_secs(1),
        };
        let rto = self.timers.get(Timer::Retransmit);
        let before_rto = rto.is_none_or(|rto| now + pto < rto);
        match rto {
            _ if !eligible => self.timers.stop(Timer::Probe),
            _ if before_rto => self.timers.set(Timer::Probe, now + pto),
            // Linux probes at the RTO's time instead of letting it fire
            // (`tcp_schedule_loss_probe`: the earlier of the two, one timer): the RTO then
            // runs again from the probe, not yet backed off.
            Some(rto) if self.tuning.profile == Profile::Linux => {
                self.timers.stop(Timer::Retransmit);
                self.timers.set(Timer::Probe, rto);
            }
            _ => self.timers.stop(Timer::Probe),
        }
    }

    /// The probe timeout expired (RFC 8985 §7.3): send one segment, new data if the windows
    /// allow, else the last segment again, so that its ACK (with SACK) shows what is
    /// missing; then the RTO runs.
    pub fn probe_timeout(&mut self, ctx: &mut Ctx) {
        self.timers.stop(Timer::Probe);
        let flight = self.snd_max.since(self.snd_una);
        if flight == 0 || self.cc.in_recovery || !self.sack_ok {
            return;
        }
        // RFC 8985 §7.3: new data if the receive window allows it, whatever cwnd says
        // (Linux's tcp_send_loss_probe lets one segment past it).
        // Linux sends new data only if a whole segment of it fits the window
        // (tcp_snd_wnd_test); otherwise it resends the last segment.
        let room = self.snd_wnd.saturating_sub(flight);
        let whole = match self.tuning.profile {
            Profile::Linux => {
                let offset = self.snd_nxt.since(self.buf_seq()) as usize;
                let unsent = self.send_buf.len().saturating_sub(offset) as u32;
                unsent.min(u32::from(self.segment_size()))
            }
            Profile::Rfc => 1,
        };
        let new_data = self.snd_nxt == self.snd_max && self.pending() && room >= whole.max(1);
        let start;
        let used;
        if new_data {
            start = self.snd_nxt;
            used = self.send_new_segment(ctx);
        } else {
            start = self
                .rack
                .last_start()
                .unwrap_or(self.snd_una)
                .max(self.snd_una);
            let fin_sent = self.fin_seq.is_some_and(|f| f < self.snd_max);
            let len = self.snd_max.since(start) - u32::from(fin_sent);
            used = self.send_at(ctx, start, len as usize);
            self.karn(start, start + used);
            self.retransmissions += 1;
        }
        if used == 0 {
            // Nothing could go: the RTO, which the probe may have stood in for, runs.
            self.timers
                .start_unless_running(Timer::Retransmit, ctx.now + self.rtt.rto);
            return;
        }
        self.rack.tlp_start = start;
        self.rack.tlp_end = Some(self.snd_max);
        self.rack.tlp_retransmitted = !new_data;
        self.timers.set(Timer::Retransmit, ctx.now + self.rtt.rto);
        self.recovery_event(
            ctx,
            Recovery::TailLossProbe,
            Some((start, start + used)),
            None,
        );
    }

    /// RFC 8985 §7.4.2, as Linux applies it: the ACKs of a probe. A probe of new data, a
    /// D-SACK for the resent data, or a pure duplicate ACK at its end (both copies came,
    /// to a receiver without D-SACK) mean nothing was lost. An ACK beyond the probe means
    /// the probe repaired a loss, which reduces cwnd. Any other ACK at its end waits.
    fn probe_acked(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
        advanced: bool,
        dsack: Option<(SeqNum, SeqNum)>,
    ) {
        let Some(end) = self.rack.tlp_end else {
            return;
        };
        let ack = SeqNum(seg.ack);
        if ack < end {
            return;
        }
        let spurious = dsack.is_some_and(|(a, b)| a < end && self.rack.tlp_start < b);
        let pure_dupack = !advanced && seg.payload.is_empty() && seg.sack.is_empty();
        if !self.rack.tlp_retransmitted || spurious || (ack == end && pure_dupack) {
            self.rack.tlp_end = None;
            return;
        }
        if ack == end {
            return;
        }
        self.rack.tlp_end = None;
        if !self.cc.in_recovery {
            let reason = self.cc.reduce_after_probe();
            self.congestion_event(ctx, CwndChange::ProbeRepair, reason);
            self.recovery_event(ctx, Recovery::ProbeRepairedLoss, None, None);
        }
    }

    /// RFC 8985 §6.2: RACK's loss detection, after an ACK or when its timer fires. The
    /// scoreboard learns what it marks; a lost retransmission is sent again. Returns
    /// whether it marked anything.
    fn rack_detect(&mut self, ctx: &mut Ctx) -> bool {
        let sacked_segments = self.scoreboard.sacked_octets() / u32::from(self.send_mss);
        let reo = self
            .rack
            .reo_wnd(self.cc.in_recovery, sacked_segments, self.rtt.srtt);
        let (lost, wait) = self.rack.detect_loss(ctx.now, reo);
        match wait {
            Some(at) => self.timers.set(Timer::Reorder, at),
            None => self.timers.stop(Timer::Reorder),
        }
        for &(a, b) in &lost {
            if self.cc.in_recovery && a < self.scoreboard.high_rxt {
                self.scoreboard.high_rxt = a;
            }
            self.recovery_event(ctx, Recovery::RackLost, Some((a, b)), None);
        }
        if !lost.is_empty() || self.scoreboard.has_rack_lost() {
            self.scoreboard.set_rack_lost(self.rack.lost_ranges());
        }
        !lost.is_empty()
    }

    /// RACK's reordering timer expired (RFC 8985 §6.2 step 5): look again, and recover
    /// what it finds lost.
    pub fn reorder_timeout(&mut self, ctx: &mut Ctx) {
        self.timers.stop(Timer::Reorder);
        if !self.rack_detect(ctx) {
            return;
        }
        if self.cc.in_recovery {
            self.sack_send(ctx);
        } else if self.snd_una >= self.cc.recover {
            self.enter_sack_recovery(ctx, u32::from(self.send_mss));
        } else {
            self.resend_lost_after_timeout(ctx);
        }
    }

    /// After a retransmission timeout, the resend from SND.UNA has passed a segment that
    /// RACK now marks lost: its retransmission was lost too (RFC 8985 §6.2 finds lost
    /// retransmissions). Resend it as soon as the congestion window allows, before new
    /// data, as Linux's loss state does (`tcp_xmit_retransmit_queue`), rather than wait for
    /// the next, doubled, timeout.
    fn resend_lost_after_timeout(&mut self, ctx: &mut Ctx) {
        let smss = u32::from(self.send_mss);
        let mut pipe = self.pipe();
        for (a, b) in self.rack.lost_ranges() {
            let mut start = a;
            while start < b.min(self.snd_nxt) && self.cc.cwnd.saturating_sub(pipe) >= smss {
                let len = b.since(start).min(u32::from(self.segment_size()));
                let used = self.send_at(ctx, start, len as usize);
                if used == 0 {
                    return;
                }
                self.karn(start, start + used);
                self.retransmissions += 1;
                pipe += used;
                let range = Some((start, start + used));
                self.recovery_event(ctx, Recovery::RetransmitLost, range, Some(pipe));
                start = start + used;
            }
        }
        self.scoreboard.set_rack_lost(self.rack.lost_ranges());
    }

    fn persist_interval(&self) -> Time {
        Time(
            self.rtt
                .rto
                .0
                .saturating_mul(1 << self.persist_backoff.min(6)),
        )
        .min(MAX_RTO)
    }

    /// The persist timer expired: send a zero-window probe of one octet (RFC 9293 §3.8.6.1:
    /// "the sending TCP must ... send at least one octet of new data") and back off.
    pub fn persist_timeout(&mut self, ctx: &mut Ctx) {
        self.timers.stop(Timer::Persist);
        if self.snd_wnd > 0 && self.snd_max == self.snd_una && self.unsent() > 0 {
            return self.send_held(ctx);
        }
        self.persist_backoff += 1;
        if self.tuning.profile == Profile::Linux {
            return self.zero_length_probe(ctx);
        }
        let seq = if self.snd_nxt == self.snd_una {
            self.snd_nxt
        } else {
            self.snd_una // the previous probe, still unacknowledged
        };
        let used = self.send_at(ctx, seq, 1);
        self.snd_nxt = self.snd_nxt.max(seq + used);
        self.snd_max = self.snd_max.max(self.snd_nxt);
        self.persisting = true;
        self.timers
            .set(Timer::Persist, ctx.now + self.persist_interval());
        ctx.note(format!(
            "socket {}: the peer's window is zero: probe with one octet at {} (RFC 9293 \
             §3.8.6.1), next probe in {}s",
            self.id,
            seq,
            self.persist_interval()
        ));
    }

    /// The probe timer found the window open and data held back (TCP_CORK, MSG_MORE): send
    /// a segment of it, with PSH, as Linux's `tcp_write_wakeup` does.
    fn send_held(&mut self, ctx: &mut Ctx) {
        let room = self.snd_wnd as usize;
        let len = self
            .unsent()
            .min(usize::from(self.segment_size()))
            .min(room);
        let start = self.snd_nxt;
        let first = ctx.segments.len();
        let used = self.send_at(ctx, start, len);
        if let Some(out) = ctx.segments.get_mut(first) {
            out.seg.flags.psh = true;
        }
        self.snd_nxt = start + used;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        self.probe_rearm = true;
        self.rtt_probe.get_or_insert((start, self.snd_nxt, ctx.now));
        self.persist_backoff = 0;
        ctx.note(format!(
            "socket {}: nothing in flight and {} octets held back by TCP_CORK or MSG_MORE:              the probe timer sends them (Linux's tcp_write_wakeup)",
            self.id, used
        ));
    }

    /// Linux's zero-window probe (`tcp_xmit_probe_skb`): no data, at SND.UNA − 1, a
    /// sequence number the peer has already acknowledged, so that it answers with an ACK and
    /// its window. RFC 9293 §3.8.6.1 asks for a probe the peer must answer; an old sequence
    /// number is one, as RFC 1122 §4.2.2.17 allows.
    fn zero_length_probe(&mut self, ctx: &mut Ctx) {
        let flags = TcpFlags {
            ack: true,
            ..TcpFlags::default()
        };
        let seg = self.segment(ctx.now, self.snd_una - 1, flags, Vec::new());
        self.push(ctx, seg);
        self.persisting = true;
        self.timers
            .set(Timer::Persist, ctx.now + self.persist_interval());
        ctx.note(format!(
            "socket {}: the peer's window is zero: probe with an empty segment at SND.UNA − 1 = \
             {} (Linux), next probe in {}s",
            self.id,
            self.snd_una - 1,
            self.persist_interval()
        ));
    }

    /// The delayed-ACK timer expired: send the ACK (RFC 1122 §4.2.3.2).
    pub fn delayed_ack_timeout(&mut self) {
        self.timers.stop(Timer::DelayedAck);
        self.ack_clock.delayed_ack_sent(self.rtt.rto);
        self.ack_now = true;
    }

    /// Process an acceptable new acknowledgment: SND.UNA < SEG.ACK =< SND.MAX (RFC 9293
    /// §3.10.7.4, fifth step, ESTABLISHED).
    fn take_ack(&mut self, ctx: &mut Ctx, ack: SeqNum, echo: Option<wire::Timestamps>) {
        let flight_before = self.snd_nxt.max(self.snd_max).since(self.snd_una);
        let acked = ack.since(self.snd_una);
        let delivered = self.newly_delivered(ack, acked);
        if let Some(r) = self.ts.rtt(ctx.now, echo) {
            // RFC 7323 §4.1: every ACK of new data echoes the clock of the segment that
            // caused it, retransmitted or not (Karn's ambiguity is gone); Appendix G weighs
            // each sample by how many a window gives.
            let expected = flight_before.div_ceil(2 * u32::from(self.send_mss)).max(1);
            self.rtt.sample_weighted(r, expected);
            self.rtt_probe = None;
        } else if let Some((_, timed, sent_at)) = self.rtt_probe {
            if ack >= timed {
                // RFC 6298 §3: one sample per round trip, from a segment never retransmitted.
                self.rtt.sample(ctx.now - sent_at);
                self.rtt_probe = None;
            }
        }
        let mut data = acked as usize;
        if !self.syn_acked() {
            data -= 1;
        }
        let data = data.min(self.send_buf.len());
        self.send_buf.consume(data);
        self.snd_una = ack;
        let start = self.buf_seq();
        if let Some(mem) = &mut self.send_mem {
            mem.acked(start);
        }
        self.snd_nxt = self.snd_nxt.max(ack);
        self.retries = 0;
        self.probe_rearm = true;
        if self.loss_recovery.is_some_and(|recover| ack >= recover) {
            self.loss_recovery = None;
        }
        if self.state.is_synchronized() {
            let flight_after = self.snd_max.since(self.snd_una);
            if self.cc.in_recovery && self.sack_ok {
                // RFC 6675 leaves cwnd alone during recovery: pipe decides what is sent.
            } else if self.cc.in_recovery {
                let (reason, partial) = self.cc.on_recovery_ack(ack, acked, flight_after);
                self.congestion_event(
                    ctx,
                    if partial {
                        CwndChange::InRecovery
                    } else {
                        CwndChange::RecoveryExit
                    },
                    reason,
                );
                if partial {
                    self.retransmit_first(ctx);
                }
            } else {
                let limited = self.cwnd_limited(flight_before);
                let rtt = self.rtt.srtt.unwrap_or(self.rtt.rto);
                // RFC 3465 counts the octets the ACK covers; Linux counts what it newly
                // delivered (`tcp_cong_avoid` with `acked_sacked`): octets SACKed before were
                // delivered then, when cwnd could not grow (a duplicate ACK raises nothing).
                let grow_by = match self.tuning.profile {
                    Profile::Linux => delivered,
                    Profile::Rfc => acked,
                };
                if let Some(reason) = self.cc.on_new_ack(grow_by, limited, ctx.now, rtt) {
                    self.congestion_event(ctx, CwndChange::Growth, reason);
                }
            }
        }
        // RFC 6298 §5.2/5.3: stop the timer when all is acknowledged, else restart it.
        if self.snd_una == self.snd_max {
            self.timers.stop(Timer::Retransmit);
        } else {
            self.timers.set(Timer::Retransmit, ctx.now + self.rtt.rto);
        }
    }

    /// Of the `acked` octets up to `ack`, those not delivered before: SACKed octets were
    /// delivered when SACKed; without SACK, Linux counts each duplicate ACK as one segment
    /// delivered (`tcp_add_reno_sack`), and the ACK that ends them as the rest, at least one
    /// segment (`tcp_remove_reno_sacks`).
    fn newly_delivered(&self, ack: SeqNum, acked: u32) -> u32 {
        if self.sack_ok {
            return acked - self.sacked_before(ack);
        }
        let smss = u32::from(self.send_mss);
        acked
            .saturating_sub(self.cc.dupacks * smss)
            .max(acked.min(smss))
    }

    /// Octets below `ack` that the peer had SACKed already.
    fn sacked_before(&self, ack: SeqNum) -> u32 {
        self.scoreboard
            .sacked()
            .iter()
            .map(|&(a, b)| {
                if b.min(ack) > a {
                    b.min(ack).since(a)
                } else {
                    0
                }
            })
            .sum()
    }

    /// Whether the sender was held back by cwnd when `flight` octets were out (RFC 7661):
    /// the whole window in use; under the Linux profile, in slow start, half of it
    /// (`tcp_is_cwnd_limited`: a window twice what was ever out still grows).
    fn cwnd_limited(&self, flight: u32) -> bool {
        let smss = u32::from(self.send_mss);
        match self.tuning.profile {
            Profile::Linux if self.cc.cwnd < self.cc.ssthresh => {
                self.cc.cwnd < 2 * flight.max(self.max_flight.0).max(smss)
            }
            _ => flight + smss > self.cc.cwnd,
        }
    }

    /// The SACK blocks as the scoreboard takes them. Linux marks only whole segments
    /// SACKed (`tcp_match_skb_to_sack` cuts a segment at MSS boundaries, and a block of
    /// less than one covers none), so under the Linux profile a block is trimmed to the
    /// segments it wholly covers, and one that covers none is dropped. A D-SACK block, below
    /// SND.UNA, is kept as it came.
    fn whole_segment_blocks(&self, blocks: &wire::SackBlocks) -> wire::SackBlocks {
        if self.tuning.profile != Profile::Linux {
            return *blocks;
        }
        let mut kept = wire::SackBlocks::default();
        for (i, &(left, right)) in blocks.as_slice().iter().enumerate() {
            if i == 0 && SeqNum(right) <= self.snd_una {
                kept.push(left, right);
            } else if let Some((a, b)) = self.rack.whole_segments(SeqNum(left), SeqNum(right)) {
                kept.push(a.0, b.0);
            }
        }
        kept
    }

    /// Linux's `tcp_cwnd_validate`: remember the largest flight of the window under way, so
    /// that slow start grows cwnd up to twice it while its ACKs come (`tcp_is_cwnd_limited`)
    /// though the application sent no more.
    fn note_flight(&mut self) {
        let flight = self.snd_nxt.since(self.snd_una);
        let (most, until) = self.max_flight;
        if self.snd_una >= until || flight > most {
            self.max_flight = (flight, self.snd_nxt);
        }
    }

    /// Resend the first unacknowledged segment (fast retransmit, RFC 5681 §3.2; a partial
    /// ACK, RFC 6582 §3.2).
    fn retransmit_first(&mut self, ctx: &mut Ctx) {
        self.retransmissions += 1;
        let seq = self.snd_una;
        let used = self.send_at(ctx, seq, usize::from(self.segment_size()));
        self.karn(seq, seq + used);
        self.timers.set(Timer::Retransmit, ctx.now + self.rtt.rto);
    }

    /// Karn's rule (RFC 6298 §3): if the segment being timed is sent again, its ACK can no
    /// longer say which copy it answers, so the measurement is abandoned.
    fn karn(&mut self, start: SeqNum, end: SeqNum) {
        if let Some((timed_start, timed_end, _)) = self.rtt_probe {
            if start < timed_end && timed_start < end {
                self.rtt_probe = None;
            }
        }
    }

    /// RFC 9293 §3.10.7.4, fifth step: update the send window from a segment that is not
    /// older than the last one used (SND.WL1, SND.WL2).
    fn update_window(&mut self, seg: &TcpSegment<&[u8]>) {
        let seq = SeqNum(seg.seq);
        let ack = SeqNum(seg.ack);
        // RFC 9293 §3.10.7.4: only an ACK at or after SND.UNA updates the window; an old
        // one, reordered, would bring back a window the peer has since changed.
        let newer = self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= ack);
        if self.snd_una <= ack && newer {
            self.snd_wnd = u32::from(seg.window) << self.snd_shift;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            if self.persisting && self.snd_wnd > 0 {
                // The window reopened: resend a probe octet it did not take right away,
                // rather than leave a hole for the retransmission timer.
                self.snd_nxt = self.snd_una;
            }
        }
    }

    /// RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT.
    pub fn syn_sent_arrives(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) {
        let seq = SeqNum(seg.seq);
        let ack = SeqNum(seg.ack);
        if seg.flags.ack && (ack <= self.iss || ack > self.snd_max) {
            // "first check the ACK bit": it acknowledges something we never sent.
            if !seg.flags.rst {
                self.push(ctx, rst_for(seg));
            }
            return;
        }
        if seg.flags.rst {
            if seg.flags.ack {
                self.error = Some(SocketError::ConnectionRefused);
                self.set_state(ctx, TcpState::Closed, Rule::SynSentRefused);
            }
            // A RST without an ACK cannot be matched to our SYN: drop it.
            return;
        }
        if !seg.flags.syn {
            return;
        }
        self.irs = seq;
        self.rcv_nxt = seq + 1;
        // Our SYN offered this much, unscaled, before RCV.NXT was known.
        self.rcv_adv = self.rcv_nxt + self.rcv_space().min(MAX_UNSCALED_WINDOW);
        self.take_syn_options(ctx.now, seg);
        self.snd_wl1 = seq;
        self.snd_wl2 = ack;
        if seg.flags.ack {
            self.take_ack(ctx, ack, seg.timestamps);
        }
        if self.snd_una > self.iss {
            self.ack_now = true;
            self.set_state(ctx, TcpState::Established, Rule::SynSentSynAck);
        } else {
            // Simultaneous open: both SYNs crossed.
            self.set_state(ctx, TcpState::SynReceived, Rule::SimultaneousOpen);
            let seg = self.segment(ctx.now, self.iss, self.syn_flags(), Vec::new());
            self.push(ctx, seg);
        }
    }

    /// RFC 9293 §3.10.7.4: the acceptability test of an incoming segment.
    fn acceptable(&self, seq: SeqNum, len: u32) -> bool {
        let wnd = self.rcv_wnd();
        let in_window = |s: SeqNum| self.rcv_nxt <= s && s < self.rcv_nxt + wnd;
        match (len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => in_window(seq),
            (_, 0) => false,
            (_, _) => in_window(seq) || in_window(seq + (len - 1)),
        }
    }

    /// RFC 9293 §3.10.7.4: SEGMENT ARRIVES in SYN-RECEIVED and every synchronised state.
    pub fn segment_arrives(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) {
        self.heard_from_peer(ctx.now);
        self.quick_ack_pending = false;
        if self.state == TcpState::SynSent {
            return self.syn_sent_arrives(ctx, seg);
        }
        let _ = self.synchronized_arrives(ctx, seg);
    }

    /// The RFC's checks in its order; each may end the processing of the segment.
    fn synchronized_arrives(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) -> ControlFlow<()> {
        self.check_timestamp(ctx, seg)?;
        self.check_sequence(ctx, seg)?;
        self.ts.remember(ctx.now, SeqNum(seg.seq), seg.timestamps);
        self.check_rst(ctx, seg)?;
        // The third check, security, does not apply.
        self.check_syn(ctx, seg)?;
        self.check_ack(ctx, seg)?;
        // The sixth, URG, is not implemented.
        let fin_covered = self.check_text(ctx, seg)?;
        self.check_fin(ctx, seg, fin_covered);
        ControlFlow::Continue(())
    }

    /// RFC 7323 §5.3 R1, before the sequence number: PAWS drops a segment whose clock is
    /// older than TS.Recent, and answers it with an ACK.
    fn check_timestamp(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) -> ControlFlow<()> {
        let Err(stale) = self.ts.paws_check(ctx.now, seg.timestamps, seg.flags.rst) else {
            return ControlFlow::Continue(());
        };
        if self.tuning.profile == Profile::Linux && self.linux_paws_passes(seg, &stale) {
            return ControlFlow::Continue(());
        }
        self.answer_out_of_window(ctx, seg, Answer::Duplicate);
        let seq = SeqNum(seg.seq);
        ctx.note(format!(
            "socket {}: TSval {} is older than TS.Recent {}: a stale duplicate, dropped \
             (PAWS, RFC 7323 §5.3)",
            self.id, stale.tsval, stale.recent
        ));
        let range = Some((seq, seq + seg.seg_len()));
        self.recovery_event(ctx, Recovery::PawsDrop, range, None);
        ControlFlow::Break(())
    }

    /// Linux's PAWS lets through what RFC 7323 §5.3 would drop: a clock one tick behind
    /// (`TCP_PAWS_WINDOW`), and a pure duplicate ACK that changes no window and is less than
    /// an RTO behind (`tcp_disordered_ack`): it was only overtaken by a later ACK, and its
    /// SACK blocks still tell the sender what arrived.
    fn linux_paws_passes(&self, seg: &TcpSegment<&[u8]>, stale: &Stale) -> bool {
        let behind = stale.recent.wrapping_sub(stale.tsval);
        if behind <= 1 {
            return true;
        }
        let (seq, ack) = (SeqNum(seg.seq), SeqNum(seg.ack));
        let pure_ack = seg.flags.ack && seg.seg_len() == 0 && seq == self.rcv_nxt;
        let window = u32::from(seg.window) << self.snd_shift;
        let may_update_window = ack > self.snd_una
            || seq > self.snd_wl1
            || (seq == self.snd_wl1 && (window > self.snd_wnd || window == 0));
        // tcp_tsval_replay: the RTO in timestamp ticks (1 ms), and a fifth more.
        let replay = (self.rtt.rto.as_nanos() / 1_000_000 * 12 / 10) as u32;
        pure_ack && ack == self.snd_una && !may_update_window && behind <= replay
    }

    /// In a simultaneous open, the peer's SYN-ACK reaching us in SYN-RECEIVED: its SYN is
    /// the one we have, its ACK is of our SYN. RFC 9293's figure 8 (§3.5) takes it to
    /// ESTABLISHED, though the acceptability test alone would drop it; Linux passes it so
    /// (`tcp_validate_incoming`), reporting the SYN it already had as a D-SACK.
    fn crossing_syn_ack(&self, seg: &TcpSegment<&[u8]>) -> bool {
        self.state == TcpState::SynReceived
            && self.listener.is_none()
            && seg.flags.syn
            && seg.flags.ack
            && seg.payload.is_empty()
            && SeqNum(seg.seq) + 1 == self.rcv_nxt
            && SeqNum(seg.ack) == self.snd_max
    }

    /// First: check the sequence number.
    fn check_sequence(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) -> ControlFlow<()> {
        let seq = SeqNum(seg.seq);
        if self.acceptable(seq, seg.seg_len()) {
            return ControlFlow::Continue(());
        }
        if self.crossing_syn_ack(seg) {
            if self.sack_ok {
                // RFC 2883 §4: the SYN came twice.
                self.sack_rx.duplicate((seq, seq + 1));
            }
            self.ack_now = true;
            return ControlFlow::Continue(());
        }
        if self.state == TcpState::TimeWait
            && seg.flags.fin
            && !seg.flags.rst
            && seq + seg.seg_len() == self.rcv_nxt
        {
            // "The only thing that can arrive in this state is a retransmission of the
            // remote FIN. Acknowledge it, and restart the 2 MSL timeout."
            self.ack_now = true;
            self.timers
                .set(Timer::TimeWait, ctx.now + Time(2 * self.msl.0));
            ctx.note(format!(
                "socket {}: retransmitted FIN in TIME-WAIT (our last ACK was lost): ACK it \
                 again and restart the 2×MSL timer (RFC 9293 §3.10.7.4)",
                self.id
            ));
            return ControlFlow::Break(());
        }
        if seg.flags.rst {
            return ControlFlow::Break(());
        }
        // "If an incoming segment is not acceptable, an acknowledgment should be sent in
        // reply (unless the RST bit is set)."
        self.answer_out_of_window(ctx, seg, Answer::Duplicate);
        if seg.seg_len() > 0 && self.rcv_wnd() == 0 && seq == self.rcv_nxt {
            ctx.note(format!(
                "socket {}: our window is zero: the probe is not accepted; ACK with the \
                 window (RFC 9293 §3.8.6.1)",
                self.id
            ));
        } else if seg.seg_len() > 0 && seq + seg.seg_len() <= self.rcv_nxt {
            if self.sack_ok && !seg.payload.is_empty() {
                // RFC 2883 §4: tell the sender what came twice.
                self.sack_rx
                    .duplicate((seq, seq + seg.payload.len() as u32));
            }
            ctx.note(format!(
                "socket {}: duplicate segment {}..{} (all before RCV.NXT={}): dropped, ACK \
                 again",
                self.id,
                seq,
                seq + seg.seg_len(),
                self.rcv_nxt
            ));
        }
        ControlFlow::Break(())
    }

    /// How far before SND.UNA an ACK may be and still belong to the connection (RFC 5961
    /// §5.2's MAX.SND.WND). Linux counts no further back than the data acknowledged so
    /// far (`tcp_ack`: an ACK of octets never sent is no old ACK), so on a connection that
    /// has sent nothing every ACK below SND.UNA is challenged.
    fn old_ack_reach(&self) -> u32 {
        match self.tuning.profile {
            Profile::Rfc => self.max_snd_wnd,
            Profile::Linux => self.max_snd_wnd.min(self.bytes_acked()),
        }
    }

    /// Answer a segment we do not accept (outside the window, stale, or a challenge, RFC
    /// 5961) with an ACK. Under the Linux profile one without data is answered at most every
    /// 500 ms (`tcp_oow_rate_limited`, `tcp_invalid_ratelimit`): two ends that disagree
    /// about the connection would otherwise ACK each other's ACKs forever (RFC 5961 §7
    /// asks for a limit on challenge ACKs too).
    fn answer_out_of_window(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>, kind: Answer) {
        // Linux exempts data (no ACK loop is made of data), but not from challenge ACKs.
        let limited = self.tuning.profile == Profile::Linux
            && (kind == Answer::Challenge || seg.seg_len() == 0 || seg.flags.syn);
        if limited {
            if let Some(last) = self.last_oow_ack.filter(|&t| ctx.now - t < OOW_RATE_LIMIT) {
                ctx.note(format!(
                    "socket {}: no ACK for it: one went out for another such segment {} ago \
                     (Linux answers them at most every {})",
                    self.id,
                    ctx.now - last,
                    OOW_RATE_LIMIT
                ));
                return;
            }
            self.last_oow_ack = Some(ctx.now);
        }
        self.ack_now = true;
    }

    /// Second: check the RST bit.
    fn check_rst(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) -> ControlFlow<()> {
        if !seg.flags.rst {
            return ControlFlow::Continue(());
        }
        let seq = SeqNum(seg.seq);
        if seq != self.rcv_nxt {
            // RFC 5961 §3.2, adopted by RFC 9293 §3.10.7.4: an in-window RST that is not
            // exactly at RCV.NXT may be forged; answer with a challenge ACK.
            self.answer_out_of_window(ctx, seg, Answer::Challenge);
            ctx.note(format!(
                "socket {}: RST at {} is in the window but not at RCV.NXT={}: challenge ACK \
                 (RFC 5961 §3.2)",
                self.id, seq, self.rcv_nxt
            ));
        } else {
            self.reset_by_peer(ctx);
        }
        ControlFlow::Break(())
    }

    /// Fourth: check the SYN bit.
    fn check_syn(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) -> ControlFlow<()> {
        if !seg.flags.syn || self.crossing_syn_ack(seg) {
            return ControlFlow::Continue(());
        }
        if self.state == TcpState::SynReceived && self.listener.is_some() {
            self.set_state(ctx, TcpState::Closed, Rule::SynReceivedSyn);
            return ControlFlow::Break(());
        }
        // RFC 5961 §4.2: a SYN in a synchronised state gets a challenge ACK.
        self.answer_out_of_window(ctx, seg, Answer::Challenge);
        ctx.note(format!(
            "socket {}: SYN in a synchronised state: challenge ACK (RFC 5961 §4.2)",
            self.id
        ));
        ControlFlow::Break(())
    }

    /// Fifth: check the ACK field.
    fn check_ack(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) -> ControlFlow<()> {
        if !seg.flags.ack {
            return ControlFlow::Break(());
        }
        let ack = SeqNum(seg.ack);
        match self.state {
            TcpState::SynReceived if self.snd_una < ack && ack <= self.snd_max => {
                self.snd_wnd = u32::from(seg.window) << self.snd_shift;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = SeqNum(seg.seq);
                self.snd_wl2 = ack;
                self.take_ack(ctx, ack, seg.timestamps);
                self.ack_taken();
                self.set_state(ctx, TcpState::Established, Rule::SynReceivedAck);
            }
            TcpState::SynReceived => {
                self.push(ctx, rst_for(seg));
                return ControlFlow::Break(());
            }
            TcpState::Established
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::CloseWait
            | TcpState::Closing
            | TcpState::LastAck => return self.synchronized_ack(ctx, seg, ack),
            _ => {}
        }
        ControlFlow::Continue(())
    }

    /// The fifth step in the synchronised states: new data acknowledged, the window, a
    /// duplicate ACK, and the ACK of our FIN.
    fn synchronized_ack(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
        ack: SeqNum,
    ) -> ControlFlow<()> {
        if ack > self.snd_max {
            // It acknowledges something not yet sent: ACK and drop.
            self.ack_now = true;
            return ControlFlow::Break(());
        }
        let reach = self.old_ack_reach();
        if ack < self.snd_una - reach.max(u32::from(self.tuning.profile == Profile::Rfc)) {
            // RFC 5961 §5.2, adopted by RFC 9293 §3.10.7.4: an ACK older than any window we
            // were offered is not from this connection's past; a blind injection, maybe.
            self.answer_out_of_window(ctx, seg, Answer::Challenge);
            ctx.note(format!(
                "socket {}: ACK {} is older than SND.UNA={} minus the largest window ({}): \
                 dropped, challenge ACK (RFC 5961 §5.2)",
                self.id, ack, self.snd_una, reach
            ));
            return ControlFlow::Break(());
        }
        // RFC 5681 §2: a duplicate ACK acknowledges nothing new, carries no data, no SYN or
        // FIN, leaves the window alone, while data is outstanding.
        let duplicate = ack == self.snd_una
            && seg.payload.is_empty()
            && !seg.flags.fin
            && self.snd_max != self.snd_una
            && u32::from(seg.window) << self.snd_shift == self.snd_wnd
            && self.snd_wnd != 0;
        let una_before = self.snd_una;
        let advanced = una_before < ack;
        // SACKed octets that this ACK now covers were delivered when they were SACKed.
        let sacked_below = if advanced { self.sacked_before(ack) } else { 0 };
        if advanced {
            self.take_ack(ctx, ack, seg.timestamps);
        }
        self.update_window(seg);
        if self.persisting && self.snd_wnd == 0 && self.tuning.profile == Profile::Linux {
            // Linux (`tcp_ack_probe`): an answer that keeps the window shut restarts the
            // probe timer from now, with the back-off it has reached.
            self.timers
                .set(Timer::Persist, ctx.now + self.persist_interval());
        }
        if self.sack_ok {
            let newly_acked = self.snd_una.since(una_before);
            self.sack_ack(ctx, seg, (newly_acked, sacked_below), duplicate);
        } else if duplicate {
            self.duplicate_ack(ctx, ack);
        }
        self.ack_taken();
        match self.state {
            TcpState::FinWait1 if self.fin_acked() => {
                self.set_state(ctx, TcpState::FinWait2, Rule::FinWait1Ack)
            }
            TcpState::Closing if self.fin_acked() => {
                self.set_state(ctx, TcpState::TimeWait, Rule::ClosingAck)
            }
            TcpState::LastAck if self.fin_acked() => {
                self.set_state(ctx, TcpState::Closed, Rule::LastAckAck);
                return ControlFlow::Break(());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    /// Seventh: process the segment text. Continues with whether a FIN on the segment is
    /// covered (every octet before it taken or held).
    fn check_text(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) -> ControlFlow<(), bool> {
        let fin = seg.flags.fin;
        if !self.takes_text() || seg.payload.is_empty() {
            return ControlFlow::Continue(fin);
        }
        if self.orphaned {
            // RFC 9293 §3.10.4 leaves this open; like Linux (RFC 2525 §2.17), data for an
            // application that has closed is answered with RST: it would be lost.
            self.send_rst(ctx);
            self.set_state(ctx, TcpState::Closed, Rule::DataAfterClose);
            return ControlFlow::Break(());
        }
        let data_seq = SeqNum(seg.seq) + u32::from(seg.flags.syn);
        ControlFlow::Continue(fin & self.take_text(ctx, data_seq, seg.payload))
    }

    /// The states in which segment text is delivered.
    fn takes_text(&self) -> bool {
        matches!(
            self.state,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        )
    }

    /// Eighth: check the FIN bit.
    fn check_fin(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>, fin_covered: bool) {
        if fin_covered && self.takes_text() {
            let data_seq = SeqNum(seg.seq) + u32::from(seg.flags.syn);
            self.peer_fin_seq = Some(data_seq + seg.payload.len() as u32);
        }
        if seg.flags.fin && matches!(self.state, TcpState::CloseWait | TcpState::LastAck) {
            self.ack_now = true; // a retransmitted FIN we already have
        }
        if self.peer_fin || self.peer_fin_seq != Some(self.rcv_nxt) {
            return;
        }
        self.rcv_nxt = self.rcv_nxt + 1;
        self.peer_fin = true;
        let delays = self.delayed_ack && !self.options.quickack;
        match self.state {
            TcpState::SynReceived | TcpState::Established => {
                // Linux: the ACK of the peer's FIN waits (interactive mode), so that it can
                // ride on our own FIN if the application closes within the ACK timeout.
                self.ack_clock.fin_arrived();
                if delays && (!self.ack_now || self.quick_ack_pending) {
                    self.ack_now = false;
                    self.delay_ack(ctx.now);
                } else {
                    self.ack_now = true;
                }
                self.set_state(ctx, TcpState::CloseWait, Rule::EstablishedFin)
            }
            TcpState::FinWait1 if self.fin_acked() => {
                self.ack_now = true;
                self.set_state(ctx, TcpState::TimeWait, Rule::FinWait1FinAcked)
            }
            TcpState::FinWait1 => {
                self.ack_now = true;
                self.set_state(ctx, TcpState::Closing, Rule::SimultaneousClose)
            }
            TcpState::FinWait2 => {
                self.ack_now = true;
                self.set_state(ctx, TcpState::TimeWait, Rule::FinWait2Fin)
            }
            _ => self.ack_now = true,
        }
    }

    /// RFC 9293 §3.10.7.4, seventh step: deliver in-order text, hold out-of-order text for
    /// reassembly, and decide how soon to acknowledge. Returns whether every octet of the
    /// segment was taken or held (so that a FIN on it counts).
    fn take_text(&mut self, ctx: &mut Ctx, data_seq: SeqNum, payload: &[u8]) -> bool {
        let window_end = self.rcv_nxt + self.rcv_wnd();
        if data_seq > self.rcv_nxt {
            // Ahead of a gap: hold what fits in the window.
            let fits = (window_end.since(data_seq) as usize).min(payload.len());
            let inserted = self
                .reassembly
                .insert(self.rcv_nxt, data_seq, &payload[..fits]);
            if self.sack_ok {
                self.sack_rx.arrived(data_seq);
                if inserted.new == 0 && fits > 0 {
                    self.sack_rx.duplicate((data_seq, data_seq + fits as u32));
                }
            }
            let how = self.ack_out_of_order(ctx.now);
            ctx.note(format!(
                "socket {}: segment {}..{} arrived ahead of RCV.NXT={}: held for reassembly \
                 ({} new octets{}); {how}",
                self.id,
                data_seq,
                data_seq + payload.len() as u32,
                self.rcv_nxt,
                inserted.new,
                if inserted.duplicate > 0 {
                    format!(", {} already held", inserted.duplicate)
                } else {
                    String::new()
                }
            ));
            return fits == payload.len();
        }
        let skip = self.rcv_nxt.since(data_seq) as usize;
        let fresh = &payload[skip.min(payload.len())..];
        let room = (self.rcv_space() as usize).min(window_end.since(self.rcv_nxt) as usize);
        let take = fresh.len().min(room);
        if skip > 0 && self.sack_ok {
            let twice = skip.min(payload.len()) as u32;
            self.sack_rx.duplicate((data_seq, data_seq + twice));
        }
        if skip > 0 {
            ctx.note(format!(
                "socket {}: {} octets of this segment were received before; {} are new",
                self.id,
                skip.min(payload.len()),
                fresh.len()
            ));
        }
        self.recv_buf.push(&fresh[..take]);
        self.rcv_nxt = self.rcv_nxt + take as u32;
        self.grow_receive_window(take);
        let had_gap = !self.reassembly.is_empty();
        if had_gap {
            let room = self.rcv_space() as usize;
            let moved = self
                .reassembly
                .pop_ready(self.rcv_nxt, &mut self.recv_buf, room);
            self.rcv_nxt = self.rcv_nxt + moved;
            self.sack_rx.forget_below(self.rcv_nxt);
            if moved > 0 {
                ctx.note(format!(
                    "socket {}: the gap is filled: {} held octets join the stream, RCV.NXT={}",
                    self.id, moved, self.rcv_nxt
                ));
            }
        }
        // RFC 5681 §4.2: ACK at once when a segment fills (part of) a gap; otherwise ACK
        // at least every second full-sized segment, and never later than the delay; at once
        // too in Linux's quick-ACK mode (see `delack`).
        if !fresh.is_empty() {
            self.ack_clock
                .data_arrived(ctx.now, self.rtt.rto, self.rcv_wnd());
        }
        if had_gap {
            self.ack_clock.enter_quick(self.rcv_wnd());
        }
        if had_gap || take < fresh.len() || !self.delayed_ack || self.options.quickack {
            self.ack_now = true;
        } else if self.ack_clock.quick() {
            self.ack_now = true;
            self.quick_ack_pending = true;
        } else {
            self.unacked_segments += 1;
            if self.unacked_segments >= 2 {
                self.ack_now = true;
            } else {
                self.delay_ack(ctx.now);
            }
        }
        take == fresh.len()
    }

    /// The ACK of a segment held out of order, and how it goes, in words. RFC 5681 §4.2: a
    /// duplicate ACK at once. Linux with SACK: at once in quick-ACK mode and for the first
    /// three for one RCV.NXT, then compressed (see `delack`).
    fn ack_out_of_order(&mut self, now: Time) -> &'static str {
        if self.tuning.profile != Profile::Linux || !self.sack_ok {
            self.ack_clock.enter_quick(self.rcv_wnd());
            self.ack_now = true;
            return "duplicate ACK at once (RFC 5681 §4.2)";
        }
        if self.ack_clock.quick() {
            self.ack_now = true;
            return "duplicate ACK at once (quick-ACK mode)";
        }
        let rtt = self.receiver_rtt();
        match self.sack_compression.held(now, self.rcv_nxt, rtt) {
            None => {
                self.ack_now = true;
                "duplicate ACK at once (Linux sends the first three for a hole, and every 44th)"
            }
            Some(at) => {
                self.timers.start_unless_running(Timer::CompressedAck, at);
                "its ACK waits a moment to report more with it (Linux's SACK compression)"
            }
        }
    }

    /// The round trip SACK compression goes by: Linux takes the smaller of its receiver
    /// estimate and the smoothed RTT, when it has one.
    fn receiver_rtt(&self) -> Time {
        match self.rtt.srtt {
            Some(srtt) if srtt > Time::ZERO => srtt.min(self.receiver_rtt_estimate()),
            _ => self.receiver_rtt_estimate(),
        }
    }

    /// Linux's receiver estimate of the round trip: with timestamps, from their echo, in
    /// whole ticks of 1 ms and never less than one (`tcp_rcv_rtt_measure_ts`); without, the
    /// round trip measured.
    fn receiver_rtt_estimate(&self) -> Time {
        let srtt = self.rtt.srtt.unwrap_or(Time::ZERO);
        if !self.ts.on {
            return srtt;
        }
        let tick = Time::from_millis(1).as_nanos();
        Time(srtt.as_nanos().div_ceil(tick).max(1) * tick)
    }

    /// The compressed ACK's time has come.
    pub fn compressed_ack_timeout(&mut self) {
        self.timers.stop(Timer::CompressedAck);
        self.ack_now = true;
    }

    /// Owe an ACK, sent within the ACK timeout unless something goes out sooner.
    fn delay_ack(&mut self, now: Time) {
        let at = now + self.ack_clock.timeout();
        self.timers.start_unless_running(Timer::DelayedAck, at);
    }

    /// A duplicate ACK arrived (RFC 5681 §3.2).
    fn duplicate_ack(&mut self, ctx: &mut Ctx, ack: SeqNum) {
        let flight = self.snd_max.since(self.snd_una);
        let unsent = self.pending() && self.snd_wnd > flight;
        let threshold = self.cc.dupack_threshold(flight, unsent);
        let (reason, retransmit) = self.cc.on_dupack(flight, ack, self.snd_max, threshold);
        if let Some(reason) = reason {
            self.congestion_event(
                ctx,
                if retransmit {
                    CwndChange::FastRetransmit
                } else {
                    CwndChange::InRecovery
                },
                reason,
            );
        }
        if retransmit {
            let count = match threshold {
                3 => "third".to_string(),
                n => format!("duplicate ACK #{n} (early retransmit, RFC 5827); the {n}th"),
            };
            ctx.note(format!(
                "socket {}: {count} duplicate ACK for {}: fast retransmit (RFC 5681 §3.2)",
                self.id, ack
            ));
            self.retransmit_first(ctx);
        }
    }

    /// RFC 6675 §5: an ACK on a connection with SACK. The scoreboard takes its blocks; in
    /// loss recovery the ACK ends it (A) or lets more out (B, C); outside, it may count as a
    /// duplicate and start recovery.
    fn sack_ack(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
        (newly_acked, sacked_below): (u32, u32),
        duplicate: bool,
    ) {
        let advanced = newly_acked > 0;
        // RFC 6937's DeliveredData: the change in SND.UNA plus the change in SACKed octets,
        // which lose what the cumulative ACK now covers.
        let newly_delivered = newly_acked - sacked_below;
        let blocks = self.whole_segment_blocks(&seg.sack);
        let learned =
            self.scoreboard
                .update(self.dsack_floor(), (self.snd_una, self.snd_max), &blocks);
        if let Some(range) = learned.dsack {
            self.recovery_event(ctx, Recovery::DsackReceived, Some(range), None);
            self.rack.dsack(self.snd_una, self.snd_max);
        }
        self.probe_acked(ctx, seg, advanced, learned.dsack);
        let mss = u32::from(self.send_mss);
        self.rack
            .delivered(self.snd_una, self.scoreboard.sacked(), ctx.now, mss);
        let rack_lost = self.rack_detect(ctx);
        if self.cc.in_recovery {
            if self.snd_una >= self.cc.recover {
                let reason = self.cc.exit_sack_recovery();
                self.congestion_event(ctx, CwndChange::RecoveryExit, reason);
                self.recovery_event(ctx, Recovery::Exit, None, None);
                self.rack.recovery_ended();
            } else {
                let delivered = newly_delivered + learned.newly_sacked;
                if let Some(reason) = self.cc.prr_ack(delivered, self.pipe(), advanced) {
                    self.congestion_event(ctx, CwndChange::InRecovery, reason);
                }
                self.sack_send(ctx);
            }
            return;
        }
        let delivered = newly_delivered + learned.newly_sacked;
        if rack_lost && self.snd_una >= self.cc.recover {
            // RFC 8985 §3.4: a segment RACK marks lost starts loss recovery.
            return self.enter_sack_recovery(ctx, delivered);
        }
        if rack_lost {
            self.resend_lost_after_timeout(ctx);
        }
        if advanced {
            self.cc.dupacks = 0;
        }
        // RFC 6675 §2: with SACK, an ACK that SACKs octets not SACKed before is a
        // duplicate too, cumulative or not.
        let sacks_more = learned.newly_sacked > 0 && self.snd_max != self.snd_una;
        if !duplicate && !sacks_more {
            return;
        }
        self.cc.dupacks += 1;
        let lost = self
            .scoreboard
            .is_lost(self.snd_una, u32::from(self.send_mss));
        // A new recovery waits until the last one's point is acknowledged (§5.1).
        if (self.cc.dupacks >= DUP_THRESH || lost) && self.snd_una >= self.cc.recover {
            self.enter_sack_recovery(ctx, delivered);
        }
    }

    /// RFC 6675 §5 step 4: RecoveryPoint = HighData, ssthresh = cwnd = FlightSize / 2,
    /// resend the first unacknowledged segment, then send what pipe allows.
    /// `delivered`: what the ACK that began it reported delivered, for PRR.
    fn enter_sack_recovery(&mut self, ctx: &mut Ctx, delivered: u32) {
        let flight = self.snd_max.since(self.snd_una);
        let reason = self.cc.enter_sack_recovery(flight, self.snd_max);
        self.congestion_event(ctx, CwndChange::SackRecovery, reason);
        if let Some(reason) = self.cc.prr_ack(delivered, self.pipe(), false) {
            self.congestion_event(ctx, CwndChange::InRecovery, reason);
        }
        let seq = self.snd_una;
        let used = self.send_at(ctx, seq, usize::from(self.segment_size()));
        if used == 0 {
            return;
        }
        self.karn(seq, seq + used);
        self.retransmissions += 1;
        self.cc.sent_in_recovery(used);
        // (4.3): HighRxt and RescueRxt cover the segment just resent.
        self.scoreboard.high_rxt = seq + used;
        self.scoreboard.rescue_rxt = Some(seq + (used - 1));
        self.timers.set(Timer::Retransmit, ctx.now + self.rtt.rto);
        let pipe = self.pipe();
        self.recovery_event(ctx, Recovery::Enter, Some((seq, seq + used)), Some(pipe));
        self.sack_send(ctx);
    }

    /// RFC 6675 §4 SetPipe() for this connection.
    fn pipe(&self) -> u32 {
        self.scoreboard
            .pipe(self.snd_una, self.snd_max, u32::from(self.send_mss))
    }

    /// RFC 6675 §5 (C): while cwnd − pipe ≥ 1 SMSS, send what NextSeg() names.
    fn sack_send(&mut self, ctx: &mut Ctx) {
        let (first, chunk) = (ctx.segments.len(), self.tso_segs());
        self.sack_send_each(ctx);
        Self::mark_chunks(ctx, first, chunk);
    }

    /// `sack_send`, one segment at a time.
    fn sack_send_each(&mut self, ctx: &mut Ctx) {
        let smss = u32::from(self.send_mss);
        let mut pipe = self.pipe();
        while self.cc.cwnd.saturating_sub(pipe) >= smss {
            let new_data = self.snd_nxt == self.snd_max
                && self.pending()
                && self.snd_wnd > self.snd_max.since(self.snd_una);
            let next = self
                .scoreboard
                .next_seg(self.snd_una, self.snd_max, smss, new_data);
            let (decision, (start, end)) = match next {
                None => break,
                Some(NextSeg::NewData) => {
                    let start = self.snd_nxt;
                    let used = self.send_new_segment(ctx);
                    if used == 0 {
                        break;
                    }
                    pipe += used;
                    self.cc.sent_in_recovery(used);
                    let range = Some((start, start + used));
                    self.recovery_event(ctx, Recovery::NewData, range, Some(pipe));
                    continue;
                }
                Some(NextSeg::Lost(r)) => (Recovery::RetransmitLost, r),
                Some(NextSeg::Hole(r)) => (Recovery::RetransmitHole, r),
                // Linux sends no rescue retransmission (RFC 6675 §5 rule 4 is a MAY).
                Some(NextSeg::Rescue(_)) if self.tuning.profile == Profile::Linux => break,
                Some(NextSeg::Rescue(r)) => (Recovery::Rescue, r),
            };
            let used = self.send_at(ctx, start, end.since(start) as usize);
            if used == 0 {
                break;
            }
            self.karn(start, start + used);
            self.retransmissions += 1;
            if decision == Recovery::Rescue {
                // Rule 4: once per recovery; HighRxt stays.
                self.scoreboard.rescue_rxt = Some(self.cc.recover);
            } else {
                self.scoreboard.high_rxt = start + used;
            }
            pipe += used;
            self.cc.sent_in_recovery(used);
            self.recovery_event(ctx, decision, Some((start, start + used)), Some(pipe));
        }
    }

    /// One new segment at SND.NXT, as long as the data, the MSS and the peer's window
    /// allow. Returns the sequence space used.
    fn send_new_segment(&mut self, ctx: &mut Ctx) -> u32 {
        let offset = self.snd_nxt.since(self.buf_seq()) as usize;
        let unsent = self.send_buf.len().saturating_sub(offset);
        let room = self
            .snd_wnd
            .saturating_sub(self.snd_nxt.since(self.snd_una)) as usize;
        let len = unsent.min(usize::from(self.segment_size())).min(room);
        let fin = self.fin_seq == Some(self.snd_nxt + len as u32);
        if len == 0 && !fin {
            return 0;
        }
        let start = self.snd_nxt;
        let used = self.send_at(ctx, start, len);
        self.snd_nxt = start + used;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        self.probe_rearm = true;
        if self.rtt_probe.is_none() {
            self.rtt_probe = Some((start, self.snd_nxt, ctx.now));
        }
        used
    }

    /// A loss-recovery decision, with the scoreboard, into the trace.
    fn recovery_event(
        &self,
        ctx: &mut Ctx,
        decision: Recovery,
        range: Option<(SeqNum, SeqNum)>,
        pipe: Option<u32>,
    ) {
        ctx.events.push(Event {
            t: ctx.now,
            kind: EventKind::Recovery {
                endpoint: self.endpoint(ctx.host),
                decision,
                range: range.map(|(a, b)| (a.0, b.0)),
                sacked: self
                    .scoreboard
                    .sacked()
                    .iter()
                    .map(|(a, b)| (a.0, b.0))
                    .collect(),
                pipe,
                cwnd: self.cc.cwnd,
            },
        });
    }

    /// RFC 9293 §3.10.7.4, second step: an acceptable RST.
    fn reset_by_peer(&mut self, ctx: &mut Ctx) {
        let rule = match self.state {
            TcpState::SynReceived if self.listener.is_some() => {
                // "Return this connection to LISTEN state": the listener listens on, and
                // this half-open TCB, which was its offshoot, goes.
                self.set_state(ctx, TcpState::Listen, Rule::SynReceivedRstPassive);
                self.state = TcpState::Closed;
                self.timers.stop_all_but(None);
                return;
            }
            TcpState::SynReceived => {
                self.error = Some(SocketError::ConnectionRefused);
                Rule::SynReceivedRstActive
            }
            // Linux's tcp_reset: a peer that has said it is done and then resets leaves
            // EPIPE for the next call; anywhere else, ECONNRESET.
            TcpState::CloseWait => {
                self.error = Some(SocketError::BrokenPipe);
                self.send_buf.clear();
                Rule::Reset
            }
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2 => {
                self.error = Some(SocketError::ConnectionReset);
                self.send_buf.clear();
                Rule::Reset
            }
            _ => Rule::ClosingReset,
        };
        self.set_state(ctx, TcpState::Closed, rule);
    }

    /// The retransmission timer expired (RFC 6298 §5.4–5.6): resend the oldest unacknowledged
    /// segment and back off, or abort after too many tries.
    pub fn retransmit(&mut self, ctx: &mut Ctx) {
        self.timers.stop(Timer::Retransmit);
        self.retries += 1;
        let most = if self.syn_acked() {
            MAX_RETRANSMISSIONS
        } else {
            MAX_SYN_RETRANSMISSIONS
        };
        if self.retries > most {
            self.error = Some(SocketError::TimedOut);
            ctx.note(format!(
                "socket {}: connection aborted after {most} retransmissions",
                self.id
            ));
            if self.state.is_synchronized() {
                // RFC 9293 §3.8.3 and Linux: tell the peer, in case it still listens.
                self.send_rst(ctx);
            }
            self.set_state(ctx, TcpState::Closed, Rule::RetransmissionsExceeded);
            return;
        }
        // RFC 6298 §5.5: back off; Karn's rule keeps the backed-off RTO until a segment
        // sent once is acknowledged.
        self.rtt.back_off();
        self.rtt_probe = None;
        if !self.syn_acked() {
            self.retransmissions += 1;
            let seg = self.segment(ctx.now, self.iss, self.syn_flags(), Vec::new());
            ctx.note(format!(
                "socket {}: retransmits its {} (try {}), next timeout in {}s",
                self.id,
                if self.syn_flags().ack {
                    "SYN+ACK"
                } else {
                    "SYN"
                },
                self.retries,
                self.rtt.rto
            ));
            self.push(ctx, seg);
            self.timers.set(Timer::Retransmit, ctx.now + self.rtt.rto);
            return;
        }
        let flight = self.snd_max.since(self.snd_una);
        self.loss_recovery = Some(self.snd_max);
        // RFC 2018 §8: the receiver may have discarded what it SACKed; what it SACKs again
        // is learned anew (RFC 6675 §5.1). Everything is resent, so RACK's marks and a
        // probe under way are moot.
        self.scoreboard.clear();
        self.rack.clear_lost();
        self.rack.tlp_end = None;
        self.timers.stop(Timer::Reorder);
        self.timers.stop(Timer::Probe);
        let reason = self.cc.on_timeout(flight, self.snd_max, self.retries == 1);
        self.congestion_event(ctx, CwndChange::Timeout, reason);
        ctx.note(format!(
            "socket {}: retransmission timeout: resend from SND.UNA={} (try {}), next timeout \
             in {}s (RFC 6298 §5.4–5.6)",
            self.id, self.snd_una, self.retries, self.rtt.rto
        ));
        // Go back N: everything after SND.UNA counts as unsent again; output() resends as
        // much as the (now one-segment) congestion window allows, and counts it.
        self.snd_nxt = self.snd_una;
        if self.snd_wnd == 0 {
            // The window closed with data in flight: probing takes over.
            self.persisting = true;
        }
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
