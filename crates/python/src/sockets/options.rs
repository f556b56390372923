//! `setsockopt` and `getsockopt`, answered as Linux answers them: the values it takes, the
//! ones it refuses (EINVAL), and what it reads back (a buffer size doubled, as Linux keeps
//! room for its own bookkeeping beside the data).

use serde_json::json;
use stack::{Engine, SocketError, SocketOption};
use trace::Time;

use super::{Connecting, Fd, Outcome, Sock, Sockets, none};
use crate::errno::Errno;
use crate::protocol::{Family, SockOpt};

/// Linux's `net.core.rmem_max` and `wmem_max`: the most SO_RCVBUF and SO_SNDBUF take.
const BUFFER_MAX: i64 = 212_992;

/// What TCP_MAXSEG reads on a socket not yet connected (Linux's TCP_MSS_DEFAULT).
const MSS_DEFAULT: i64 = 536;

fn invalid() -> Errno {
    Errno::Stack(SocketError::InvalidArgument)
}

fn within(value: i64, range: std::ops::RangeInclusive<i64>) -> Result<u32, Errno> {
    if range.contains(&value) {
        Ok(value as u32)
    } else {
        Err(invalid())
    }
}

/// The option `opt` set to `value`, or why Linux refuses it.
fn option(opt: SockOpt, value: i64) -> Result<Option<SocketOption>, Errno> {
    let on = value != 0;
    let secs = |v: i64| within(v, 1..=32767).map(|s| Time::from_secs(u64::from(s)));
    Ok(Some(match opt {
        SockOpt::SO_REUSEADDR => SocketOption::ReuseAddr(on),
        SockOpt::SO_KEEPALIVE => SocketOption::KeepAlive(on),
        // Linux keeps twice what is asked, at least a little; the data may use half.
        SockOpt::SO_RCVBUF => SocketOption::RecvBuffer(value.clamp(1152, BUFFER_MAX) as u32),
        SockOpt::SO_SNDBUF => SocketOption::SendBuffer(value.clamp(2304, BUFFER_MAX) as u32),
        SockOpt::SO_BROADCAST => SocketOption::Broadcast(on),
        SockOpt::TCP_NODELAY => SocketOption::NoDelay(on),
        SockOpt::TCP_QUICKACK => SocketOption::QuickAck(on),
        SockOpt::TCP_CORK => SocketOption::Cork(on),
        SockOpt::TCP_KEEPIDLE => SocketOption::KeepIdle(secs(value)?),
        SockOpt::TCP_KEEPINTVL => SocketOption::KeepInterval(secs(value)?),
        SockOpt::TCP_KEEPCNT => SocketOption::KeepCount(within(value, 1..=127)?),
        SockOpt::TCP_MAXSEG => SocketOption::MaxSegment(within(value, 88..=32767)? as u16),
        SockOpt::IP_TTL if value == -1 => SocketOption::Ttl(64),
        SockOpt::IP_TTL => SocketOption::Ttl(within(value, 1..=255)? as u8),
        SockOpt::SO_LINGER | SockOpt::IPV6_V6ONLY => return Ok(None),
        SockOpt::SO_ERROR | SockOpt::SO_ACCEPTCONN => return Err(Errno::NoSuchOption),
    }))
}

/// `IPV6_V6ONLY`: an option of `AF_INET6` sockets only (else ENOPROTOOPT), fixed once the
/// socket is bound (then EINVAL), as Linux's `do_ipv6_setsockopt` has it.
fn set_v6only(sock: &mut Sock, on: bool) -> Outcome {
    if sock.family != Family::Inet6 {
        return Err(Errno::NoSuchOption);
    }
    if sock.bound.is_some() || sock.id.is_some() {
        return Err(invalid());
    }
    sock.options.v6only = on;
    none()
}

impl Sockets {
    /// `setsockopt(level, opt, value)`.
    pub(super) fn setsockopt(
        &mut self,
        fd: Fd,
        opt: SockOpt,
        value: i64,
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let sock = self.sock(fd)?;
        if opt == SockOpt::IPV6_V6ONLY {
            return set_v6only(sock, value != 0);
        }
        match option(opt, value)? {
            Some(option) => self.apply(fd, option, host, now),
            // SO_LINGER comes as -1 (off) or the seconds.
            None => sock.linger = u32::try_from(value).ok(),
        }
        none()
    }

    /// `getsockopt(level, opt)`.
    pub(super) fn getsockopt(&mut self, fd: Fd, opt: SockOpt, host: &mut dyn Engine) -> Outcome {
        let (default_rcv, default_snd) = host.default_buffers();
        let sock = self.sock(fd)?;
        let o = &sock.options;
        let secs = |t: Time| (t.as_nanos() / 1_000_000_000) as i64;
        let value: i64 = match opt {
            SockOpt::SO_REUSEADDR => o.reuse_addr.into(),
            SockOpt::SO_KEEPALIVE => o.keepalive.on.into(),
            SockOpt::SO_RCVBUF => 2 * i64::from(o.rcv_buf.unwrap_or(default_rcv)),
            SockOpt::SO_SNDBUF => 2 * i64::from(o.snd_buf.unwrap_or(default_snd)),
            SockOpt::SO_BROADCAST => o.broadcast.into(),
            SockOpt::SO_ACCEPTCONN => sock.listening.into(),
            SockOpt::SO_LINGER => sock.linger.map_or(-1, i64::from),
            SockOpt::TCP_NODELAY => o.nodelay.into(),
            SockOpt::TCP_QUICKACK => o.quickack.into(),
            SockOpt::TCP_CORK => o.cork.into(),
            SockOpt::TCP_KEEPIDLE => secs(o.keepalive.idle),
            SockOpt::TCP_KEEPINTVL => secs(o.keepalive.interval),
            SockOpt::TCP_KEEPCNT => o.keepalive.count.into(),
            SockOpt::IP_TTL => o.ttl.map_or(64, i64::from),
            SockOpt::IPV6_V6ONLY if sock.family != Family::Inet6 => {
                return Err(Errno::NoSuchOption);
            }
            SockOpt::IPV6_V6ONLY => o.v6only.into(),
            SockOpt::TCP_MAXSEG => match sock.id.and_then(|id| host.segment_size(id)) {
                Some(mss) => mss.into(),
                None => o.max_segment.map_or(MSS_DEFAULT, i64::from),
            },
            SockOpt::SO_ERROR => self.pending_error(fd, host)?,
        };
        Ok(Some((json!(value), value.to_string())))
    }

    /// SO_ERROR: how a non-blocking connect went (its errno, read once), else 0.
    fn pending_error(&mut self, fd: Fd, host: &dyn Engine) -> Result<i64, Errno> {
        let sock = self.sock(fd)?;
        if sock.connecting != Connecting::Started {
            return Ok(0);
        }
        let Some(status) = sock.id.and_then(|id| host.connect_status(id)) else {
            return Ok(0);
        };
        match status {
            Ok(()) => {
                sock.connecting = Connecting::Done;
                Ok(0)
            }
            Err(e) => {
                sock.connecting = Connecting::Failed;
                Ok(i64::from(Errno::from(e).number_and_text().0))
            }
        }
    }
}
