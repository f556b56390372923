//! The driver's side of the smoltcp host: frames in, smoltcp polled, what it sent and the
//! transitions it made taken out as trace events.

use trace::DropReason;

use super::*;

/// The driver's side of the smoltcp host, as [`stack::Driven`] asks of every engine.
impl Driven for SmolHost {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn engine_name(&self) -> &'static str {
        "smoltcp"
    }

    fn receive(&mut self, now: Time, bytes: &[u8], frame_number: u64) {
        // smoltcp drops bad frames silently; say so in the trace, as our stack does.
        let mut rst = false;
        if let Ok(frame) = wire::decode(bytes) {
            if let EthPayload::Ipv4(ip) = &frame.payload {
                if let Ipv4Payload::Tcp(seg) = &ip.payload {
                    rst = seg.flags.rst;
                    if !seg.checksum_ok || !ip.header_checksum_ok {
                        self.events.push(Event {
                            t: now,
                            kind: EventKind::Drop {
                                node: self.config.name.clone(),
                                reason: DropReason::SmoltcpBadChecksum,
                                frame: Some(frame_number),
                            },
                        });
                    }
                }
            }
        }
        self.observe(bytes, false);
        self.device.rx.push_back(bytes.to_vec());
        while !self.device.rx.is_empty() {
            self.iface
                .poll_ingress_single(instant(now), &mut self.device, &mut self.sockets);
        }
        self.egress(now);
        self.settle(now, Cause::Frame(frame_number), rst);
    }

    fn poll_timers(&mut self, now: Time) {
        self.egress(now);
        self.settle(now, Cause::Timer(TimerKind::SmoltcpPoll), false);
    }

    fn poll_at(&self) -> Option<Time> {
        self.next_poll
    }

    fn take_frames(&mut self) -> Vec<Vec<u8>> {
        self.observed_tx = 0;
        std::mem::take(&mut self.device.tx)
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn open_connections(&self) -> usize {
        self.entries
            .values()
            .filter(|e| !matches!(e.state, TcpState::Closed | TcpState::Listen))
            .count()
    }
}
