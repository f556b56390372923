//! Framed reads, as the course's programs read: a 4-byte length then that many octets, or a
//! JSON header's length, the header, then the file it announces, each part with `recv(1024)`
//! calls until it is whole.

use super::*;

/// Where a framed read is: the bytes of the part being read, how many recv calls so far.
#[derive(Debug)]
pub(super) struct Framing {
    buf: Vec<u8>,
    calls: u32,
    stage: Stage,
}

#[derive(Debug)]
pub(super) enum Stage {
    /// The 4-byte length.
    Prefix,
    /// A message of this many octets.
    Message(usize),
    /// A file header of this many octets.
    FileHeader(usize),
    /// The file itself.
    File {
        name: String,
        size: u64,
        got: u64,
        hasher: Sha256,
    },
}

/// `recv` until `buf` holds `need` octets, at most 1024 a call, like the notes' loops. `Ok(false)`:
/// nothing more yet.
pub(super) fn fill(
    host: &mut dyn Engine,
    now: Time,
    id: SocketId,
    buf: &mut Vec<u8>,
    need: usize,
    calls: &mut u32,
) -> Result<bool, String> {
    while buf.len() < need {
        match host.recv(now, id, (need - buf.len()).min(1024)) {
            Ok(None) => return Ok(false),
            Ok(Some(data)) if data.is_empty() => {
                return Err(format!(
                    "the peer closed the connection after {} of {need} octets",
                    buf.len()
                ));
            }
            Ok(Some(data)) => {
                *calls += 1;
                buf.extend_from_slice(&data);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(true)
}

impl ProgramRun {
    /// Read one framed message (or, with `file`, a JSON header and the file it announces);
    /// `None` while more is to come; the value and how `recv` would show it when whole.
    pub(super) fn read_framed(
        &mut self,
        host: &mut dyn Engine,
        now: Time,
        id: SocketId,
        prefix: LengthPrefix,
        file: bool,
    ) -> Result<Option<(Value, String)>, String> {
        if !matches!(self.progress, Progress::Framed(_)) {
            self.progress = Progress::Framed(Framing {
                buf: Vec::new(),
                calls: 0,
                stage: Stage::Prefix,
            });
        }
        let skip = self.skip_digests;
        let Progress::Framed(f) = &mut self.progress else {
            return Ok(None);
        };
        loop {
            match &mut f.stage {
                Stage::Prefix => {
                    if !fill(host, now, id, &mut f.buf, 4, &mut f.calls)? {
                        return Ok(None);
                    }
                    let n = length(prefix, &f.buf)?;
                    f.buf.clear();
                    f.stage = if file {
                        Stage::FileHeader(n)
                    } else {
                        Stage::Message(n)
                    };
                }
                Stage::Message(n) => {
                    let n = *n;
                    if !fill(host, now, id, &mut f.buf, n, &mut f.calls)? {
                        return Ok(None);
                    }
                    let shown = format!(
                        "{} (the {}-byte header said {n}; {} recv calls)",
                        python_bytes(&f.buf),
                        4,
                        f.calls
                    );
                    let message = std::mem::take(&mut f.buf);
                    self.progress = Progress::Idle;
                    return Ok(Some((Value::Bytes(message), shown)));
                }
                Stage::FileHeader(n) => {
                    let n = *n;
                    if !fill(host, now, id, &mut f.buf, n, &mut f.calls)? {
                        return Ok(None);
                    }
                    let (name, size) = parse_file_header(&f.buf)?;
                    f.buf.clear();
                    f.stage = Stage::File {
                        name,
                        size,
                        got: 0,
                        hasher: Sha256::new(),
                    };
                }
                Stage::File {
                    name,
                    size,
                    got,
                    hasher,
                } => {
                    let file = (name.as_str(), *size, got, hasher);
                    let Some(digest) = receive_file(host, (now, id), file, &mut f.calls, skip)?
                    else {
                        return Ok(None);
                    };
                    let shown = format!("{name}: {digest} ({} recv calls)", f.calls);
                    self.progress = Progress::Idle;
                    return Ok(Some((Value::Stream(digest), shown)));
                }
            }
        }
    }
}

/// The rest of an announced file, `recv(1024)` after `recv(1024)` until `size` octets came
/// (hashed unless `skip`): its digest once whole, none while more is to come.
fn receive_file(
    host: &mut dyn Engine,
    (now, id): (Time, SocketId),
    (name, size, got, hasher): (&str, u64, &mut u64, &mut Sha256),
    calls: &mut u32,
    skip: bool,
) -> Result<Option<StreamDigest>, String> {
    while *got < size {
        let want = (size - *got).min(1024) as usize;
        match host.recv(now, id, want) {
            Ok(None) => return Ok(None),
            Ok(Some(data)) if data.is_empty() => {
                return Err(format!(
                    "the peer closed the connection after {got} of {size} octets of {name}"
                ));
            }
            Ok(Some(data)) => {
                *calls += 1;
                *got += data.len() as u64;
                if !skip {
                    hasher.update(&data);
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(Some(StreamDigest {
        len: size,
        sha256: hasher.clone().finalize().into(),
    }))
}

/// The length a 4-octet prefix gives, as `struct.unpack` reads it; a number no message could
/// have says the two ends disagree on the format.
fn length(prefix: LengthPrefix, buf: &[u8]) -> Result<usize, String> {
    let b = [buf[0], buf[1], buf[2], buf[3]];
    let n = prefix.unpack(b);
    if !(0..=1 << 30).contains(&n) {
        return Err(format!(
            "struct.unpack('{}', {}) = {n}: not a length (sender and receiver disagree on the \
             format?)",
            prefix.format(),
            python_bytes(&b)
        ));
    }
    Ok(n as usize)
}
