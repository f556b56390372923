//! The test plays the peer of our host: it crafts each segment by hand (`peer.send`) and
//! checks each segment our host answers (`peer.expect`).
#![allow(dead_code)]

use std::net::Ipv4Addr;

use packetlab_stack::{Driven, Host, HostConfig, SocketApi, SocketId};
use trace::{EventKind, TcpState, Time};
use wire::{Arp, ArpOp, EthPayload, Frame, Ipv4Packet, Ipv4Payload, MacAddr, TcpFlags, TcpSegment};

pub const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const US_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
pub const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
pub const PEER_PORT: u16 = 40000;
pub const PEER_ISS: u32 = 1000;

pub struct Peer {
    pub host: Host,
    pub now: Time,
    pub frame_number: u64,
}

/// Flags in tcpdump notation: "S", "S.", ".", "P.", "F.", "R", "R.".
pub fn flags(text: &str) -> TcpFlags {
    TcpFlags {
        syn: text.contains('S'),
        fin: text.contains('F'),
        rst: text.contains('R'),
        psh: text.contains('P'),
        ack: text.contains('.'),
        urg: false,
    }
}

pub fn seg(port: u16, f: &str, seq: u32, ack: u32, payload: &[u8]) -> TcpSegment {
    let flags = flags(f);
    TcpSegment {
        src_port: PEER_PORT,
        dst_port: port,
        seq,
        ack: if flags.ack { ack } else { 0 },
        flags,
        window: 8192,
        mss: flags.syn.then_some(1460),
        payload: payload.to_vec(),
        checksum_ok: true,
        ..TcpSegment::default()
    }
}

impl Peer {
    pub fn new() -> Peer {
        Peer::with(|_| {})
    }

    pub fn with(configure: impl FnOnce(&mut HostConfig)) -> Peer {
        let mut config = HostConfig::new("us", US_MAC, US, 24);
        config.seed = 42;
        // The per-state transcripts expect an ACK for every segment; delayed ACKs have
        // transcripts of their own below.
        config.delayed_ack = false;
        configure(&mut config);
        let mut peer = Peer {
            host: Host::new(config),
            now: Time::ZERO,
            frame_number: 0,
        };
        // An ARP request from the peer teaches our host the peer's MAC (RFC 826), so the
        // transcripts below need no ARP of their own.
        let request = Frame {
            src: PEER_MAC,
            dst: MacAddr::BROADCAST,
            payload: EthPayload::Arp(Arp {
                op: ArpOp::Request,
                sender_mac: PEER_MAC,
                sender_ip: PEER,
                target_mac: MacAddr::ZERO,
                target_ip: US,
            }),
        };
        peer.deliver(&request.encode());
        let replies = peer.host.take_frames();
        assert_eq!(replies.len(), 1, "one ARP reply");
        peer.host.take_events();
        peer
    }

    pub fn deliver(&mut self, bytes: &[u8]) {
        self.frame_number += 1;
        self.host.receive(self.now, bytes, self.frame_number);
    }

    /// The peer sends a segment to our host.
    pub fn send(&mut self, segment: TcpSegment) {
        let frame = Frame {
            src: PEER_MAC,
            dst: US_MAC,
            payload: EthPayload::Ipv4(Ipv4Packet {
                src: PEER,
                dst: US,
                ttl: 64,
                ident: 1,
                header_checksum_ok: true,
                payload: Ipv4Payload::Tcp(segment),
            }),
        };
        self.deliver(&frame.encode());
    }

    /// Every TCP segment our host has sent since the last look. An ARP request for the
    /// peer's address (a probe of a stale entry) is answered, as the peer's card would.
    pub fn sent(&mut self) -> Vec<TcpSegment> {
        let mut segments = Vec::new();
        loop {
            let frames = self.host.take_frames();
            if frames.is_empty() {
                return segments;
            }
            for bytes in &frames {
                match wire::decode(bytes).map(|f| f.payload) {
                    Ok(EthPayload::Ipv4(Ipv4Packet {
                        payload: Ipv4Payload::Tcp(seg),
                        ..
                    })) => segments.push(seg.into_owned()),
                    Ok(EthPayload::Arp(arp))
                        if arp.op == ArpOp::Request && arp.target_ip == PEER =>
                    {
                        self.deliver(&arp_reply(&arp).encode());
                    }
                    _ => {}
                }
            }
        }
    }

    /// Move on to the host's next timer that sends a TCP segment (answering ARP on the way);
    /// the segments it sent.
    pub fn next_segments(&mut self) -> Vec<TcpSegment> {
        loop {
            let deadline = self.host.poll_at().expect("a timer is set");
            self.advance(deadline - self.now);
            let sent = self.sent();
            if !sent.is_empty() {
                return sent;
            }
        }
    }

    /// Our host sent exactly one segment, with these flags; return it.
    pub fn expect(&mut self, f: &str) -> TcpSegment {
        let sent = self.sent();
        assert_eq!(
            sent.len(),
            1,
            "expected one segment [{f}], got {}",
            brief(&sent)
        );
        assert_eq!(
            sent[0].flags.tcpdump(),
            flags(f).tcpdump(),
            "{}",
            brief(&sent)
        );
        sent.into_iter().next().unwrap()
    }

    pub fn expect_nothing(&mut self) {
        let sent = self.sent();
        assert!(sent.is_empty(), "expected silence, got {}", brief(&sent));
    }

    /// The (from, to) of every transition since the last look.
    pub fn transitions(&mut self) -> Vec<(TcpState, TcpState)> {
        self.host
            .take_events()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::TcpTransition { from, to, .. } => Some((from, to)),
                _ => None,
            })
            .collect()
    }

    pub fn advance(&mut self, dt: Time) {
        self.now = self.now + dt;
        self.host.poll_timers(self.now);
    }

    pub fn state(&self, id: SocketId) -> TcpState {
        self.host.info(id).map_or(TcpState::Closed, |i| i.state)
    }

    /// Active open to the peer, up to ESTABLISHED. Returns the socket and our ISS.
    pub fn established_client(&mut self) -> (SocketId, u32) {
        let id = self
            .host
            .connect(self.now, std::net::SocketAddr::from((PEER, PEER_PORT)))
            .unwrap();
        let syn = self.expect("S");
        let port = syn.src_port;
        self.send(TcpSegment {
            src_port: PEER_PORT,
            dst_port: port,
            ..seg(port, "S.", PEER_ISS, syn.seq + 1, b"")
        });
        self.expect(".");
        self.transitions();
        (id, syn.seq)
    }

    pub fn our_port(&self, id: SocketId) -> u16 {
        self.host.info(id).unwrap().local.port()
    }
}

/// The peer's answer to our host's ARP request.
fn arp_reply(request: &Arp) -> Frame {
    Frame {
        src: PEER_MAC,
        dst: request.sender_mac,
        payload: EthPayload::Arp(Arp {
            op: ArpOp::Reply,
            sender_mac: PEER_MAC,
            sender_ip: PEER,
            target_mac: request.sender_mac,
            target_ip: request.sender_ip,
        }),
    }
}

/// Segments in one line each, tcpdump style, without their payload.
pub fn brief(segments: &[TcpSegment]) -> String {
    let lines: Vec<String> = segments
        .iter()
        .map(|s| {
            format!(
                "[{}] seq={} ack={} win={} len={}",
                s.flags.tcpdump(),
                s.seq,
                s.ack,
                s.window,
                s.payload.len()
            )
        })
        .collect();
    format!("{} segment(s): {}", segments.len(), lines.join("; "))
}
