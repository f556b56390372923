//! ICMP (RFC 792, RFC 1122 §3.2.2): echo requests answered, echo replies matched to the
//! pings that asked, and the errors that come back about our own datagrams.

use super::*;

/// The identifier of the ICMP echo request quoted in an ICMP error, if it quotes one.
fn quoted_echo_id(original: &[u8]) -> Option<u16> {
    let ip = wire::Ipv4View::new_checked(original).ok()?;
    if ip.protocol() != wire::view::protocol::ICMP {
        return None;
    }
    // RFC 792 quotes only the first 8 octets of the datagram: an echo's whole header.
    let echo = wire::IcmpView::new_checked(&original[ip.header_len()..]).ok()?;
    (echo.msg_type() == 8).then(|| echo.echo_id())
}

impl Host {
    /// A new echo request's identifier, awaited from `now`, and its data: the 56 octets
    /// Linux's ping sends (64 with the header).
    pub(super) fn new_ping(&mut self, now: Time) -> (u16, Vec<u8>) {
        let id = self.next_ping_id;
        self.next_ping_id = self.next_ping_id.wrapping_add(1);
        self.pings.insert(id, (now, None));
        (id, (0..56u8).collect())
    }

    /// An ICMP message from `src` (to our `dst`, with the TTL it arrived with).
    pub(super) fn icmp_input(
        &mut self,
        now: Time,
        (src, dst, ttl): (Ipv4Addr, Ipv4Addr, u8),
        message: IcmpMessage<&[u8]>,
        via_lo: bool,
    ) {
        match message {
            IcmpMessage::EchoRequest { id, seq, data } => {
                let reply = IcmpMessage::EchoReply {
                    id,
                    seq,
                    data: data.to_vec(),
                };
                let reply = Ipv4Payload::Icmp(reply);
                if via_lo {
                    // The reply comes from the address that was pinged (127.0.0.9).
                    self.loop_back(now, (dst, src), reply, 64);
                } else {
                    self.ip_output(now, src, reply);
                }
            }
            IcmpMessage::EchoReply { id, .. } => {
                if let Some((sent, result @ None)) = self.pings.get_mut(&id) {
                    *result = Some(PingResult::Reply {
                        from: src.into(),
                        ttl,
                        rtt: now - *sent,
                    });
                }
            }
            IcmpMessage::TimeExceeded { original, .. } => {
                self.ping_answered(original, PingResult::TimeExceeded { from: src.into() });
            }
            IcmpMessage::Unreachable { original, code } => {
                self.udp_unreachable(original, code);
                let result = PingResult::Unreachable {
                    from: src.into(),
                    code,
                };
                self.ping_answered(original, result);
            }
            _ => {}
        }
    }

    /// An ICMP error about one of our echo requests: RFC 792 quotes our datagram's header
    /// and first 8 octets, where the request's identifier sits.
    fn ping_answered(&mut self, original: &[u8], answer: PingResult) {
        let quoted_id = quoted_echo_id(original);
        if let Some((_, result @ None)) = quoted_id.and_then(|id| self.pings.get_mut(&id)) {
            *result = Some(answer);
        }
    }
}
