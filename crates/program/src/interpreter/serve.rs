//! `serve`: a threading server as a program statement, each connection its own thread that
//! echoes (or upper-cases) what it reads until the client closes, one turn at a time.

use super::*;
use trace::{Note, ProgramNote, ServeStep};

/// One `serve` thread: its connection and the reply it is still sending.
#[derive(Debug)]
pub(super) struct Thread {
    number: u32,
    conn: SocketId,
    peer: String,
    reply: Vec<u8>,
    sent: usize,
}

/// One turn of a `serve` thread: finish sending its reply, then read and answer what came.
/// What it did; whether it ended; whether it made progress.
fn serve_thread(
    t: &mut Thread,
    host: &mut dyn Engine,
    now: Time,
    handler: Handler,
) -> (Option<ServeStep>, bool, bool) {
    let failed = |call: &str, e: SocketError| ServeStep::Failed {
        call: call.to_string(),
        error: e.to_string(),
    };
    while t.sent < t.reply.len() {
        match host.send(now, t.conn, &t.reply[t.sent..]) {
            Ok(0) => return (None, false, false),
            Ok(n) => t.sent += n,
            Err(e) => return (Some(failed("sendall", e)), true, false),
        }
    }
    match host.recv(now, t.conn, 1024) {
        Ok(None) => (None, false, false),
        Ok(Some(data)) if data.is_empty() => {
            let _ = host.close(now, t.conn);
            (Some(ServeStep::ClientClosed), true, false)
        }
        Ok(Some(data)) => {
            t.reply = match handler {
                Handler::Echo => data.clone(),
                Handler::Upper => data.to_ascii_uppercase(),
            };
            t.sent = 0;
            while t.sent < t.reply.len() {
                match host.send(now, t.conn, &t.reply[t.sent..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => t.sent += n,
                }
            }
            let step = ServeStep::Echoed {
                got: python_bytes_shown(&data),
                sent: python_bytes_shown(&t.reply),
            };
            (Some(step), false, true)
        }
        Err(e) => (Some(failed("recv(1024)", e)), true, false),
    }
}

impl ProgramRun {
    /// One round of a `serve`: accept what waits, then let each thread read and answer what
    /// has arrived. Every thread's step is a note in the trace, with the frames it caused.
    pub(super) fn serve_round(
        &mut self,
        host: &mut dyn Engine,
        env: &mut Env,
        listener: SocketId,
        handler: Handler,
    ) -> Result<(), SocketError> {
        let now = env.now;
        let name = env.host_name.to_string();
        let note = |t: &Thread, step: ServeStep| Event {
            t: now,
            kind: EventKind::Note {
                node: name.clone(),
                note: Note::Program(ProgramNote::Serve {
                    thread: t.number,
                    peer: t.peer.clone(),
                    step,
                }),
            },
        };
        loop {
            // A first round looks at every thread; then only at those whose connection
            // something happened to, when the engine can tell.
            let woken = host.take_woken();
            let mut progressed = false;
            let mut look_at: BTreeSet<u32> = match woken {
                Some(conns) if self.serve_started => conns
                    .iter()
                    .filter_map(|c| self.thread_of.get(c).copied())
                    .collect(),
                _ => self.threads.keys().copied().collect(),
            };
            self.serve_started = true;
            while let Some(conn) = host.accept(now, listener)? {
                self.served += 1;
                let peer = host
                    .info(conn)
                    .and_then(|i| i.remote)
                    .map_or_else(|| "?".to_string(), |r| r.to_string());
                let thread = Thread {
                    number: self.served,
                    conn,
                    peer,
                    reply: Vec::new(),
                    sent: 0,
                };
                env.record(host, vec![note(&thread, ServeStep::Accepted)]);
                self.threads.insert(self.served, thread);
                self.thread_of.insert(conn, self.served);
                look_at.insert(self.served);
                progressed = true;
            }
            for number in look_at {
                let Some(t) = self.threads.get_mut(&number) else {
                    continue;
                };
                let (step, ended, moved) = serve_thread(t, host, now, handler);
                progressed |= moved;
                if let Some(step) = step {
                    env.record(host, vec![note(t, step)]);
                }
                if ended {
                    self.thread_of.remove(&t.conn);
                    self.threads.remove(&number);
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }
}
