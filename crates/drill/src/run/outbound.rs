//! The packets the host sends, each compared with the script's next outbound packet: its
//! flags, numbers, window and options, and its time within the tolerance; the script's own
//! numbers mapped to the live connection's (packetdrill's relative sequence numbers).

use super::*;

/// Outbound packets.
impl Runner<'_> {
    /// Wait for the next packet the host sends, up to `deadline`.
    fn next_sent(&mut self, deadline: Time) -> Outcome<Option<Queued>> {
        while self.queue.is_empty() {
            if self.target.now() >= deadline {
                return Ok(None);
            }
            self.target.advance(deadline, true);
            self.collect()?;
        }
        Ok(self.queue.pop_front())
    }

    pub(super) fn expect(&mut self, line: u32, p: &Packet, window: Window) -> Outcome<()> {
        let deadline = time(window.end + self.tolerance(window.start, window.last) + SNIFF_SLACK);
        let Some(first) = self.next_sent(deadline)? else {
            let mut failure = self.fail(
                line,
                format!(
                    "timed out waiting for a packet: the host sent nothing by {} s",
                    secs(us(deadline))
                ),
            );
            failure.expected = Some(show_packet(p));
            return Err(failure);
        };
        let result = match (&p.body, &first.sent) {
            (Body::Tcp(spec), Sent::Tcp(_)) => self.expect_tcp(spec, first, deadline),
            (
                Body::Udp { len },
                Sent::Udp {
                    src_port,
                    dst_port,
                    len: got,
                },
            ) => {
                self.udp.get_or_insert((*src_port, *dst_port));
                if len == got {
                    Ok((first.t, first.number, format!("> udp ({got})")))
                } else {
                    Err((
                        format!("expected a UDP payload of {len} octets but it has {got}"),
                        format!("> udp ({got})"),
                    ))
                }
            }
            (_, other) => Err((
                "the host sent another kind of packet".to_string(),
                describe(other),
            )),
        };
        match result {
            Ok((t, number, text)) => {
                self.on_time(window, us(t), "outbound packet")
                    .map_err(|message| Failure {
                        expected: Some(show_packet(p)),
                        actual: Some(text.clone()),
                        ..self.fail(line, message)
                    })?;
                self.comment(number, line, &text);
                self.step(line, t, text);
                self.last_at = Some(us(t));
                Ok(())
            }
            Err((message, actual)) => Err(Failure {
                expected: Some(show_packet(p)),
                actual: Some(actual),
                ..self.fail(line, message)
            }),
        }
    }

    /// Match a TCP line: the segment (or, unless `--strict_segments`, consecutive ones
    /// that together carry the line's payload) in script space, field by field.
    fn expect_tcp(
        &mut self,
        spec: &TcpSpec,
        first: Queued,
        deadline: Time,
    ) -> Result<(Time, u64, String), (String, String)> {
        let Sent::Tcp(mut seg) = first.sent else {
            unreachable!("called with a TCP segment")
        };
        self.learn_conn(spec, &seg);
        self.map_to_script(&mut seg);
        let (mut t, number) = (first.t, first.number);
        while seg.len < spec.len && !self.settings.strict_segments {
            let Ok(Some(Queued {
                t: t2,
                sent: Sent::Tcp(mut more),
                ..
            })) = self.next_sent(deadline)
            else {
                break;
            };
            self.map_to_script(&mut more);
            if more.seq != seg.seq.wrapping_add(seg.len) {
                return Err((
                    "the next segment does not continue the data".to_string(),
                    packet::show(&more),
                ));
            }
            // As packetdrill aggregates: the last segment's header, the first's sequence.
            more.len += seg.len;
            more.seq = seg.seq;
            seg = more;
            t = t2;
        }
        let shown = show_like(&seg, spec);
        match self.differences(spec, &seg) {
            Some(message) => Err((message, shown)),
            None => Ok((t, number, shown)),
        }
    }

    /// A SYN the host sends starts the connection under test (active open); a SYN-ACK gives
    /// the local ISN of a passive one.
    fn learn_conn(&mut self, spec: &TcpSpec, seg: &Segment) {
        if seg.flags.syn && !seg.flags.ack {
            self.conn = Conn {
                local_port: seg.src_port,
                remote_port: seg.dst_port,
                script_isn: spec.seq,
                live_isn: Some(seg.seq),
                active: true,
                reopened: false,
            };
        } else if seg.flags.syn && (self.conn.live_isn.is_none() || self.conn.reopened) {
            self.conn.script_isn = spec.seq;
            self.conn.live_isn = Some(seg.seq);
            self.conn.reopened = false;
        }
    }

    fn map_to_script(&self, seg: &mut Segment) {
        seg.seq = seg.seq.wrapping_sub(self.conn.offset());
    }

    /// The first field in which the segment differs from the line, in words.
    fn differences(&mut self, spec: &TcpSpec, seg: &Segment) -> Option<String> {
        let flag_names = [
            ("FIN", spec.flags.fin, seg.flags.fin),
            ("SYN", spec.flags.syn, seg.flags.syn),
            ("RST", spec.flags.rst, seg.flags.rst),
            ("PSH", spec.flags.psh, seg.flags.psh),
            ("ACK", spec.flags.ack, seg.flags.ack),
            ("URG", spec.flags.urg, seg.flags.urg),
            ("ECE", spec.flags.ece, seg.flags.ece),
            ("CWR", spec.flags.cwr, seg.flags.cwr),
        ];
        for (name, want, got) in flag_names {
            if want != got {
                let has = |on: bool| if on { "set" } else { "clear" };
                return Some(format!(
                    "the {name} flag: expected {}, actual {}",
                    has(want),
                    has(got)
                ));
            }
        }
        if spec.seq != seg.seq {
            return Some(format!(
                "the sequence number: expected {}, actual {}",
                spec.seq, seg.seq
            ));
        }
        if spec.ack != seg.ack {
            return Some(format!(
                "the acknowledgment number: expected {}, actual {}",
                spec.ack, seg.ack
            ));
        }
        if let Some(win) = spec.win.filter(|w| *w != seg.win) {
            return Some(format!("the window: expected {win}, actual {}", seg.win));
        }
        if spec.len != seg.len {
            return Some(format!(
                "the payload: expected {} octets, actual {}",
                spec.len, seg.len
            ));
        }
        let options = spec.options.as_ref()?;
        self.option_differences(options, &seg.options)
    }

    fn option_differences(&mut self, want: &[TcpOpt], got: &[Opt]) -> Option<String> {
        let kinds = |o: &Opt| match o {
            Opt::Known(k) => k.kind(),
            Opt::Other(kind, _) => *kind,
        };
        if want.len() != got.len() || want.iter().zip(got).any(|(w, g)| w.kind() != kinds(g)) {
            return Some("the options differ".to_string());
        }
        for (w, g) in want.iter().zip(got) {
            let Opt::Known(g) = g else { continue };
            match (w, g) {
                (TcpOpt::Timestamp { val, .. }, TcpOpt::Timestamp { val: live, .. }) => {
                    if let Some(message) = self.ts_val(*val, *live) {
                        return Some(message);
                    }
                }
                (TcpOpt::Nop | TcpOpt::Eol, _) => {}
                _ if w != g => return Some(format!("the option {w}: actual {g}")),
                _ => {}
            }
        }
        None
    }

    /// Map a TS val between script and wire, and check it when a tick is given.
    fn ts_val(&mut self, script: u32, live: u32) -> Option<String> {
        self.ts_map.insert(script, live);
        let (first_script, first_live) = *self.ts_base.get_or_insert((script, live));
        let tick = self.settings.ts_tick_usecs?;
        let actual = first_script.wrapping_add(live.wrapping_sub(first_live));
        let off = i64::from((actual.wrapping_sub(script)) as i32).abs() * tick;
        (off > self.settings.tolerance_usecs)
            .then(|| format!("the TS val: expected {script}, actual {actual} (in script ticks)"))
    }
}

/// A packet line, as the script writes it.
fn show_packet(p: &Packet) -> String {
    let arrow = if p.direction == Direction::Inbound {
        '<'
    } else {
        '>'
    };
    match &p.body {
        Body::Tcp(spec) => format!("{arrow} {}", show_spec(spec)),
        Body::Udp { len } => format!("{arrow} udp ({len})"),
        Body::Icmp(_) => format!("{arrow} icmp"),
    }
}

/// A segment the host sent, shown as the line that expects it would show it: the window
/// only where the line gives one.
fn show_like(seg: &Segment, spec: &TcpSpec) -> String {
    let options = seg.options.iter().map(Opt::to_string).collect();
    let win = spec.win.map(|_| seg.win);
    format!(
        "> {}",
        packet::show_parts(seg.flags, seg.seq, seg.len, seg.ack, win, Some(options))
    )
}

fn describe(sent: &Sent) -> String {
    match sent {
        Sent::Tcp(seg) => format!("> {}", packet::show(seg)),
        Sent::Udp { len, .. } => format!("> udp ({len})"),
        Sent::Icmp { icmp_type, code } => format!("> icmp type {icmp_type} code {code}"),
        Sent::ArpRequest { target_ip, .. } => format!("> arp who-has {target_ip}"),
        Sent::Other => "> another packet".to_string(),
    }
}
