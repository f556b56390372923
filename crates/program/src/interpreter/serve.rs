//! `serve`: a threading server as a program statement, each connection its own thread that
//! echoes (or upper-cases) what it reads until the client closes, one turn at a time.

use super::*;

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
/// What it did, in words; whether it ended; whether it made progress.
fn serve_thread(
    t: &mut Thread,
    host: &mut dyn Engine,
    now: Time,
    handler: Handler,
) -> (Option<String>, bool, bool) {
    let who = |t: &Thread| format!("thread {} ({})", t.number, t.peer);
    while t.sent < t.reply.len() {
        match host.send(now, t.conn, &t.reply[t.sent..]) {
            Ok(0) => return (None, false, false),
            Ok(n) => t.sent += n,
            Err(e) => {
                let text = format!("{}: sendall → {e}; the thread ends", who(t));
                return (Some(text), true, false);
            }
        }
    }
    match host.recv(now, t.conn, 1024) {
        Ok(None) => (None, false, false),
        Ok(Some(data)) if data.is_empty() => {
            let _ = host.close(now, t.conn);
            let text = format!(
                "{}: recv(1024) → b'': the client has closed; close()",
                who(t)
            );
            (Some(text), true, false)
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
            let text = format!(
                "{}: recv(1024) → {}; sendall({})",
                who(t),
                python_bytes_shown(&data),
                python_bytes_shown(&t.reply)
            );
            (Some(text), false, true)
        }
        Err(e) => {
            let text = format!("{}: recv(1024) → {e}; the thread ends", who(t));
            (Some(text), true, false)
        }
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
        let note = |text: String| Event {
            t: now,
            kind: EventKind::Note {
                node: name.clone(),
                text,
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
                let text = format!(
                    "accept() → connection from {peer}; thread {} handles it",
                    self.served
                );
                self.threads.insert(
                    self.served,
                    Thread {
                        number: self.served,
                        conn,
                        peer,
                        reply: Vec::new(),
                        sent: 0,
                    },
                );
                self.thread_of.insert(conn, self.served);
                look_at.insert(self.served);
                env.record(host, vec![note(text)]);
                progressed = true;
            }
            for number in look_at {
                let Some(t) = self.threads.get_mut(&number) else {
                    continue;
                };
                let (text, ended, moved) = serve_thread(t, host, now, handler);
                progressed |= moved;
                if ended {
                    self.thread_of.remove(&t.conn);
                    self.threads.remove(&number);
                }
                if let Some(text) = text {
                    env.record(host, vec![note(text)]);
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }
}
