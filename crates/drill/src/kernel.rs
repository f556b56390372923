//! The Linux kernel as the host under test, as packetdrill tests it, but over a TAP device
//! in a network namespace of the run's own: the script's frames are written to the TAP,
//! the kernel's read from it, and the script's calls are made on real sockets of that
//! namespace, in real time. The namespace (and everything in it) is deleted when the run
//! ends, also when it fails.

use nix::{getsockopt_impl, libc, setsockopt_impl, sockopt_impl};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{
    self as sock, AddressFamily, MsgFlags, SockFlag, SockType, SockaddrIn, sockopt,
};
use python::protocol::{Kind, SockOpt};
use tap::{Lab, Tap};
use trace::{Event, Time};

use crate::calls::{Got, Op};
use crate::config::Line;
use crate::packet::addr;
use crate::target::Target;

/// The TAP device's name in the run's namespace.
const DEV: &str = "drill0";

/// What the threads of a run tell it: a frame the kernel sent, or a call that returned.
enum Message {
    Frame(Instant, Vec<u8>),
    Returned(Got, Option<OwnedFd>, Instant),
}

/// The kernel in a namespace of its own.
pub struct Kernel {
    /// Deleted on drop, with the TAP device and the sockets' namespace.
    lab: Lab,
    tap: Arc<Tap>,
    start: Instant,
    messages: Receiver<Message>,
    sender: Sender<Message>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    frames: Vec<(Time, Vec<u8>)>,
    /// The script's sockets, by their descriptor numbers.
    fds: BTreeMap<u32, Arc<OwnedFd>>,
    returned: Option<(Got, Time)>,
    /// The congestion control each TCP socket is given, where the namespace may not make
    /// it the default.
    congestion: Option<String>,
}

/// Why the kernel engine could not start.
pub type SetupError = String;

fn errno_name(e: Errno) -> String {
    format!("{e:?}")
}

impl Kernel {
    /// A namespace with the kernel side of a TAP device as packetdrill's local host
    /// (192.168.0.1/16, its gateway's MAC known for good, so that no ARP delays the first
    /// packet), the commands' sysctls set in it; the clock starts when this returns.
    pub fn start(lines: &[Line]) -> Result<(Kernel, Vec<String>), SetupError> {
        let name = Lab::unique_name("pl-drill");
        let cidr = format!("{}/{}", addr::LOCAL, addr::PREFIX);
        let lab = Lab::up(&name, DEV, &cidr).map_err(|e| e.to_string())?;
        let mac = addr::HOST_MAC.to_string();
        let gateway_mac = addr::GATEWAY_MAC.to_string();
        let gateway = addr::GATEWAY.to_string();
        lab.ip(&["link", "set", DEV, "address", &mac])
            .map_err(|e| e.to_string())?;
        lab.ip(&[
            "neigh",
            "replace",
            &gateway,
            "lladdr",
            &gateway_mac,
            "dev",
            DEV,
            "nud",
            "permanent",
        ])
        .map_err(|e| e.to_string())?;
        lab.ip(&["route", "add", "default", "via", &gateway])
            .map_err(|e| e.to_string())?;
        // A plain FIFO on the device, as packetdrill's own setup puts on its tunnel: the
        // machine's default queueing discipline may be fq, which paces every flow.
        plain_fifo(&lab)?;
        let (notes, congestion) = configure(&lab, lines)?;
        let tap = Arc::new(Tap::open(lab.name(), DEV).map_err(|e| e.to_string())?);
        let (sender, messages) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = spawn_reader(Arc::clone(&tap), sender.clone(), Arc::clone(&stop));
        wait_until_ready(&tap, &messages)?;
        let kernel = Kernel {
            lab,
            tap,
            start: Instant::now(),
            messages,
            sender,
            stop,
            reader: Some(reader),
            frames: Vec::new(),
            fds: BTreeMap::new(),
            returned: None,
            congestion,
        };
        Ok((kernel, notes))
    }

    fn time(&self, at: Instant) -> Time {
        Time(at.saturating_duration_since(self.start).as_nanos() as u64)
    }

    fn take(&mut self, message: Message) {
        match message {
            Message::Frame(at, frame) => {
                let t = self.time(at);
                self.frames.push((t, frame));
            }
            Message::Returned(got, fd, at) => {
                self.register(&got, fd);
                self.returned = Some((got, self.time(at)));
            }
        }
    }

    fn register(&mut self, got: &Got, fd: Option<OwnedFd>) {
        if let (Got::Value(n, _), Some(fd)) = (got, fd) {
            self.fds.insert(*n as u32, Arc::new(fd));
        }
    }

    /// `socket()`, made in the namespace: the only call that must be, as a socket belongs
    /// to the namespace it was made in.
    fn socket(&mut self, kind: Kind, nonblocking: bool) -> Got {
        let ty = match kind {
            Kind::Stream => SockType::Stream,
            Kind::Dgram => SockType::Datagram,
        };
        let flags = if nonblocking {
            SockFlag::SOCK_NONBLOCK
        } else {
            SockFlag::empty()
        };
        let netns = format!("/var/run/netns/{}", self.lab.name());
        let made = std::thread::scope(|scope| {
            scope
                .spawn(|| -> Result<OwnedFd, Errno> {
                    let ns = std::fs::File::open(&netns).map_err(|_| Errno::ENOENT)?;
                    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
                    sock::socket(AddressFamily::Inet, ty, flags, None)
                })
                .join()
                .unwrap_or(Err(Errno::EIO))
        });
        if let (Ok(fd), Some(name), Kind::Stream) = (&made, &self.congestion, kind) {
            let _ = sock::setsockopt(fd, sockopt::TcpCongestion, &std::ffi::OsString::from(name));
        }
        match made {
            Ok(fd) => {
                let n = fd.as_raw_fd();
                self.fds.insert(n as u32, Arc::new(fd));
                Got::Value(i64::from(n), Vec::new())
            }
            Err(e) => Got::Errno(errno_name(e)),
        }
    }

    /// The sockets a call names (its descriptors, as the table holds them).
    fn sockets_of(&self, op: &Op) -> Result<Vec<Arc<OwnedFd>>, Got> {
        let fds: Vec<u32> = match op {
            Op::Socket { .. } => Vec::new(),
            Op::Poll(fds, _) => fds.iter().map(|(fd, _)| *fd).collect(),
            Op::Bind(fd, _)
            | Op::Listen(fd, _)
            | Op::Accept(fd)
            | Op::Connect(fd, _)
            | Op::Recv { fd, .. }
            | Op::Send { fd, .. }
            | Op::Close(fd)
            | Op::Shutdown(fd, _)
            | Op::SetOption(fd, ..)
            | Op::GetOption(fd, _)
            | Op::Fcntl(fd, _)
            | Op::SockName(fd)
            | Op::PeerName(fd) => vec![*fd],
        };
        // A descriptor the script did not open is not touched: it could be one of ours.
        fds.iter()
            .map(|fd| {
                self.fds
                    .get(fd)
                    .cloned()
                    .ok_or(Got::Errno("EBADF".to_string()))
            })
            .collect()
    }
}

/// Set the commands' sysctls in the namespace: the notes on lines skipped, and the
/// congestion control to give each socket where the namespace may not make it the default
/// (a namespace may choose only those the machine allows; root may set any on a socket).
fn configure(lab: &Lab, lines: &[Line]) -> Result<(Vec<String>, Option<String>), SetupError> {
    let mut notes = Vec::new();
    // Linux's own default, whatever this machine chose (BBR, say, which paces).
    let mut wanted = "cubic".to_string();
    for line in lines {
        match line {
            Line::Sysctl(name, value) if name == CONGESTION => wanted = value.clone(),
            Line::Sysctl(name, value) => set_sysctl(lab, name, value)
                .map_err(|e| format!("sysctl {name}={value} in the run's namespace: {e}"))?,
            Line::FlushMetrics => {
                let _ = lab.ip(&["tcp_metrics", "flush", "all"]);
            }
            Line::Skipped(note) => notes.push(note.clone()),
        }
    }
    if set_sysctl(lab, CONGESTION, &wanted).is_ok() {
        return Ok((notes, None));
    }
    notes.push(format!(
        "{CONGESTION}={wanted}: set on each socket (TCP_CONGESTION), as the machine does not \
         let a namespace make it the default"
    ));
    Ok((notes, Some(wanted)))
}

/// The sysctl that chooses the congestion control.
const CONGESTION: &str = "net.ipv4.tcp_congestion_control";

/// Replace the device's queueing discipline with `pfifo`, inside the lab's namespace.
fn plain_fifo(lab: &Lab) -> Result<(), SetupError> {
    let out = std::process::Command::new("tc")
        .args([
            "-n",
            lab.name(),
            "qdisc",
            "replace",
            "dev",
            DEV,
            "root",
            "pfifo",
        ])
        .output()
        .map_err(|e| format!("tc (iproute2) to set the device's queueing discipline: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(format!("tc qdisc replace dev {DEV} root pfifo: {err}"));
    }
    Ok(())
}

/// Set a sysctl of the lab's namespace: written to `/proc/sys` by a thread in that
/// namespace (the files under `/proc/sys/net` are those of the namespace that opens them;
/// a setting that is not per namespace is not there to open).
fn set_sysctl(lab: &Lab, name: &str, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let netns = format!("/var/run/netns/{}", lab.name());
    let file = format!("/proc/sys/{}", name.replace('.', "/"));
    std::thread::scope(|scope| {
        scope
            .spawn(|| -> std::io::Result<()> {
                let ns = std::fs::File::open(&netns)?;
                nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&file)?
                    .write_all(value.as_bytes())
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the thread panicked")))
    })
}

/// Wait until the kernel answers on the device: its carrier comes up some time after the
/// device is opened (Linux's link watch runs it, up to a second later on a busy machine),
/// and until then what the kernel sends is dropped, so the clock must not start before.
fn wait_until_ready(tap: &Tap, messages: &Receiver<Message>) -> Result<(), SetupError> {
    let give_up = Instant::now() + Duration::from_secs(5);
    while Instant::now() < give_up {
        let _ = tap.send(&crate::packet::arp_request());
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_millis(50) {
            if let Ok(Message::Frame(_, frame)) = messages.recv_timeout(Duration::from_millis(10)) {
                if matches!(crate::packet::read(&frame), crate::packet::Sent::Other)
                    && frame.get(12..14) == Some(&[0x08, 0x06])
                {
                    // Whatever else came meanwhile is not the script's.
                    while messages.try_recv().is_ok() {}
                    return Ok(());
                }
            }
        }
    }
    Err("the kernel did not answer on the TAP device within 5 s".to_string())
}

/// A thread that reads the kernel's frames from the TAP device, each with when it came.
fn spawn_reader(tap: Arc<Tap>, sender: Sender<Message>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(mut poll) = mio::Poll::new() else {
            return;
        };
        let fd = tap.raw_fd();
        let mut source = mio::unix::SourceFd(&fd);
        if poll
            .registry()
            .register(&mut source, mio::Token(0), mio::Interest::READABLE)
            .is_err()
        {
            return;
        }
        let mut events = mio::Events::with_capacity(4);
        let mut buf = vec![0u8; 65_600];
        while !stop.load(Ordering::Relaxed) {
            let _ = poll.poll(&mut events, Some(Duration::from_millis(5)));
            while let Ok(Some(n)) = tap.recv(&mut buf) {
                if sender
                    .send(Message::Frame(Instant::now(), buf[..n].to_vec()))
                    .is_err()
                {
                    return;
                }
            }
        }
    })
}

impl Drop for Kernel {
    /// Stop reading; the sockets close; the namespace goes with the lab.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for fd in self.fds.values() {
            let _ = sock::shutdown(fd.as_raw_fd(), sock::Shutdown::Both);
        }
        self.fds.clear();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Target for Kernel {
    fn now(&self) -> Time {
        self.time(Instant::now())
    }

    fn advance(&mut self, until: Time, until_frame: bool) {
        loop {
            while let Ok(message) = self.messages.try_recv() {
                self.take(message);
            }
            if until_frame && (!self.frames.is_empty() || self.returned.is_some()) {
                return;
            }
            let now = self.now();
            if now >= until {
                return;
            }
            let wait = Duration::from_nanos(until.as_nanos() - now.as_nanos());
            match self.messages.recv_timeout(wait) {
                Ok(message) => self.take(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn inject(&mut self, frame: &[u8], _number: u64) {
        let _ = self.tap.send(frame);
    }

    fn take_frames(&mut self) -> Vec<(Time, Vec<u8>)> {
        while let Ok(message) = self.messages.try_recv() {
            self.take(message);
        }
        std::mem::take(&mut self.frames)
    }

    fn take_events(&mut self) -> Vec<Event> {
        Vec::new()
    }

    fn call(&mut self, op: &Op, background: bool, limit: Time) -> Option<Got> {
        if let Op::Socket { kind, nonblocking } = op {
            return Some(self.socket(*kind, *nonblocking));
        }
        let fds = match self.sockets_of(op) {
            Ok(fds) => fds,
            Err(got) => return Some(got),
        };
        if let Op::Close(fd) = op {
            // The descriptor goes now; the socket when no call holds it (as Linux's close).
            self.fds.remove(fd);
            return Some(Got::Value(0, Vec::new()));
        }
        let may_block = matches!(
            op,
            Op::Accept(_) | Op::Connect(..) | Op::Recv { .. } | Op::Send { .. } | Op::Poll(..)
        );
        if !may_block {
            // Made here and now: a thread's start would cost more than the call.
            let (got, fd) = make(op, &fds);
            self.register(&got, fd);
            return Some(got);
        }
        let (done, result) = channel();
        let op = op.clone();
        let sender = if background {
            self.sender.clone()
        } else {
            done
        };
        std::thread::spawn(move || {
            let (got, fd) = make(&op, &fds);
            let _ = sender.send(Message::Returned(got, fd, Instant::now()));
        });
        if background {
            return None;
        }
        let message = result
            .recv_timeout(Duration::from_nanos(limit.as_nanos()))
            .ok()?;
        let Message::Returned(got, fd, _) = message else {
            return None;
        };
        self.register(&got, fd);
        Some(got)
    }

    fn take_returned(&mut self) -> Option<(Got, Time)> {
        self.returned.take()
    }

    fn tcp_info(&mut self, remote_port: u16) -> Result<Vec<(String, i64)>, String> {
        let fd = self
            .fds
            .values()
            .find(|fd| {
                sock::getpeername::<SockaddrIn>(fd.as_raw_fd())
                    .is_ok_and(|a| a.port() == remote_port)
            })
            .ok_or("no socket of the script is connected to the script's port")?;
        let i = sock::getsockopt(fd.as_ref(), TcpInfo).map_err(errno_name)?;
        Ok([
            ("state", i64::from(i.tcpi_state)),
            ("ca_state", i64::from(i.tcpi_ca_state)),
            ("retransmits", i64::from(i.tcpi_retransmits)),
            ("probes", i64::from(i.tcpi_probes)),
            ("backoff", i64::from(i.tcpi_backoff)),
            ("options", i64::from(i.tcpi_options)),
            ("snd_wscale", i64::from(i.tcpi_snd_rcv_wscale & 0xf)),
            ("rcv_wscale", i64::from(i.tcpi_snd_rcv_wscale >> 4)),
            ("rto", i64::from(i.tcpi_rto)),
            ("ato", i64::from(i.tcpi_ato)),
            ("snd_mss", i64::from(i.tcpi_snd_mss)),
            ("rcv_mss", i64::from(i.tcpi_rcv_mss)),
            ("unacked", i64::from(i.tcpi_unacked)),
            ("sacked", i64::from(i.tcpi_sacked)),
            ("lost", i64::from(i.tcpi_lost)),
            ("retrans", i64::from(i.tcpi_retrans)),
            ("fackets", i64::from(i.tcpi_fackets)),
            ("pmtu", i64::from(i.tcpi_pmtu)),
            ("rcv_ssthresh", i64::from(i.tcpi_rcv_ssthresh)),
            ("rtt", i64::from(i.tcpi_rtt)),
            ("rttvar", i64::from(i.tcpi_rttvar)),
            ("snd_ssthresh", i64::from(i.tcpi_snd_ssthresh)),
            ("snd_cwnd", i64::from(i.tcpi_snd_cwnd)),
            ("advmss", i64::from(i.tcpi_advmss)),
            ("reordering", i64::from(i.tcpi_reordering)),
            ("rcv_rtt", i64::from(i.tcpi_rcv_rtt)),
            ("rcv_space", i64::from(i.tcpi_rcv_space)),
            ("total_retrans", i64::from(i.tcpi_total_retrans)),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect())
    }
}

sockopt_impl!(
    /// TCP_INFO, the fields every Linux since 2.6 has.
    TcpInfo,
    GetOnly,
    libc::IPPROTO_TCP,
    libc::TCP_INFO,
    libc::tcp_info
);

fn sockaddr(a: &SocketAddrV4) -> SockaddrIn {
    SockaddrIn::from(*a)
}

fn value(n: usize) -> Got {
    Got::Value(n as i64, Vec::new())
}

fn zero<T>(result: nix::Result<T>) -> Got {
    match result {
        Ok(_) => Got::Value(0, Vec::new()),
        Err(e) => Got::Errno(errno_name(e)),
    }
}

/// Make a call on real sockets; a socket `accept` made comes back with it.
fn make(op: &Op, fds: &[Arc<OwnedFd>]) -> (Got, Option<OwnedFd>) {
    let fd = || fds[0].as_raw_fd();
    let count = |r: nix::Result<usize>| r.map_or_else(|e| Got::Errno(errno_name(e)), value);
    let got = match op {
        Op::Accept(_) => {
            return match sock::accept(fds[0].as_fd()) {
                Ok(new) => (
                    Got::Value(i64::from(new.as_raw_fd()), Vec::new()),
                    Some(new),
                ),
                Err(e) => (Got::Errno(errno_name(e)), None),
            };
        }
        Op::Bind(_, a) => zero(sock::bind(fd(), &sockaddr(a))),
        Op::Listen(_, backlog) => zero(sock::listen(
            fds[0].as_ref(),
            sock::Backlog::new(*backlog as i32).unwrap_or(sock::Backlog::MAXCONN),
        )),
        Op::Connect(_, a) => zero(sock::connect(fd(), &sockaddr(a))),
        Op::Recv {
            max, flags, from, ..
        } => {
            let mut buf = vec![0u8; *max];
            let flags = MsgFlags::from_bits_truncate(*flags as i32);
            if *from {
                count(sock::recvfrom::<SockaddrIn>(fd(), &mut buf).map(|(n, _)| n))
            } else {
                count(sock::recv(fd(), &mut buf, flags))
            }
        }
        Op::Send { len, flags, to, .. } => {
            let data = vec![0u8; *len];
            let flags = MsgFlags::from_bits_truncate(*flags as i32);
            match to {
                Some(a) => count(sock::sendto(fd(), &data, &sockaddr(a), flags)),
                None => count(sock::send(fd(), &data, flags)),
            }
        }
        Op::Shutdown(_, how) => {
            let how = match how {
                0 => sock::Shutdown::Read,
                1 => sock::Shutdown::Write,
                _ => sock::Shutdown::Both,
            };
            zero(sock::shutdown(fd(), how))
        }
        Op::SetOption(_, opt, v) => set_option(fds[0].as_ref(), *opt, *v),
        Op::GetOption(_, opt) => get_option(fds[0].as_ref(), *opt),
        Op::Fcntl(_, set) => fcntl(fds[0].as_ref(), *set),
        Op::Poll(asked, timeout_ms) => poll(fds, asked, *timeout_ms),
        Op::SockName(_) => zero(sock::getsockname::<SockaddrIn>(fd())),
        Op::PeerName(_) => zero(sock::getpeername::<SockaddrIn>(fd())),
        Op::Socket { .. } | Op::Close(_) => Got::Errno("EINVAL".to_string()),
    };
    (got, None)
}

fn set_option(fd: &OwnedFd, opt: SockOpt, v: i64) -> Got {
    let on = v != 0;
    let n = v.max(0) as u32;
    zero(match opt {
        SockOpt::SO_REUSEADDR => sock::setsockopt(fd, sockopt::ReuseAddr, &on),
        SockOpt::SO_KEEPALIVE => sock::setsockopt(fd, sockopt::KeepAlive, &on),
        SockOpt::SO_RCVBUF => sock::setsockopt(fd, sockopt::RcvBuf, &(n as usize)),
        SockOpt::SO_SNDBUF => sock::setsockopt(fd, sockopt::SndBuf, &(n as usize)),
        SockOpt::SO_BROADCAST => sock::setsockopt(fd, sockopt::Broadcast, &on),
        SockOpt::SO_LINGER => {
            let linger = nix::libc::linger {
                l_onoff: i32::from(v >= 0),
                l_linger: v.max(0) as i32,
            };
            sock::setsockopt(fd, sockopt::Linger, &linger)
        }
        SockOpt::TCP_NODELAY => sock::setsockopt(fd, sockopt::TcpNoDelay, &on),
        SockOpt::TCP_MAXSEG => sock::setsockopt(fd, sockopt::TcpMaxSeg, &n),
        SockOpt::TCP_KEEPIDLE => sock::setsockopt(fd, sockopt::TcpKeepIdle, &n),
        SockOpt::TCP_KEEPINTVL => sock::setsockopt(fd, sockopt::TcpKeepInterval, &n),
        SockOpt::TCP_KEEPCNT => sock::setsockopt(fd, sockopt::TcpKeepCount, &n),
        SockOpt::IP_TTL => sock::setsockopt(fd, sockopt::Ipv4Ttl, &(v as i32)),
        SockOpt::TCP_QUICKACK => sock::setsockopt(fd, QuickAck, &on),
        SockOpt::TCP_CORK => sock::setsockopt(fd, Cork, &on),
        SockOpt::IPV6_V6ONLY => sock::setsockopt(fd, sockopt::Ipv6V6Only, &on),
        SockOpt::SO_ERROR | SockOpt::SO_ACCEPTCONN => Err(Errno::ENOPROTOOPT),
    })
}

sockopt_impl!(
    /// TCP_QUICKACK, which nix does not name.
    QuickAck,
    Both,
    nix::libc::IPPROTO_TCP,
    nix::libc::TCP_QUICKACK,
    bool
);

sockopt_impl!(
    /// TCP_CORK, which nix names only for some systems.
    Cork,
    Both,
    nix::libc::IPPROTO_TCP,
    nix::libc::TCP_CORK,
    bool
);

fn get_option(fd: &OwnedFd, opt: SockOpt) -> Got {
    let b = |r: nix::Result<bool>| r.map(i64::from);
    let got: nix::Result<i64> = match opt {
        SockOpt::SO_REUSEADDR => b(sock::getsockopt(fd, sockopt::ReuseAddr)),
        SockOpt::SO_KEEPALIVE => b(sock::getsockopt(fd, sockopt::KeepAlive)),
        SockOpt::SO_RCVBUF => sock::getsockopt(fd, sockopt::RcvBuf).map(|n| n as i64),
        SockOpt::SO_SNDBUF => sock::getsockopt(fd, sockopt::SndBuf).map(|n| n as i64),
        SockOpt::SO_BROADCAST => b(sock::getsockopt(fd, sockopt::Broadcast)),
        SockOpt::SO_ACCEPTCONN => b(sock::getsockopt(fd, sockopt::AcceptConn)),
        SockOpt::SO_ERROR => sock::getsockopt(fd, sockopt::SocketError).map(i64::from),
        SockOpt::SO_LINGER => sock::getsockopt(fd, sockopt::Linger).map(|l| {
            if l.l_onoff == 0 {
                -1
            } else {
                i64::from(l.l_linger)
            }
        }),
        SockOpt::TCP_NODELAY => b(sock::getsockopt(fd, sockopt::TcpNoDelay)),
        SockOpt::TCP_MAXSEG => sock::getsockopt(fd, sockopt::TcpMaxSeg).map(i64::from),
        SockOpt::TCP_KEEPIDLE => sock::getsockopt(fd, sockopt::TcpKeepIdle).map(i64::from),
        SockOpt::TCP_KEEPINTVL => sock::getsockopt(fd, sockopt::TcpKeepInterval).map(i64::from),
        SockOpt::TCP_KEEPCNT => sock::getsockopt(fd, sockopt::TcpKeepCount).map(i64::from),
        SockOpt::IP_TTL => sock::getsockopt(fd, sockopt::Ipv4Ttl).map(i64::from),
        SockOpt::TCP_QUICKACK => b(sock::getsockopt(fd, QuickAck)),
        SockOpt::TCP_CORK => b(sock::getsockopt(fd, Cork)),
        SockOpt::IPV6_V6ONLY => b(sock::getsockopt(fd, sockopt::Ipv6V6Only)),
    };
    match got {
        Ok(v) => Got::Value(0, vec![v]),
        Err(e) => Got::Errno(errno_name(e)),
    }
}

fn fcntl(fd: &OwnedFd, set: Option<i64>) -> Got {
    use nix::fcntl::{FcntlArg, OFlag};
    let result = match set {
        Some(flags) => nix::fcntl::fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags as i32)),
        ),
        None => nix::fcntl::fcntl(fd, FcntlArg::F_GETFL),
    };
    match result {
        Ok(v) => Got::Value(i64::from(v), Vec::new()),
        Err(e) => Got::Errno(errno_name(e)),
    }
}

fn poll(fds: &[Arc<OwnedFd>], asked: &[(u32, i64)], timeout_ms: i64) -> Got {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let mut polled: Vec<PollFd> = fds
        .iter()
        .zip(asked)
        .map(|(fd, (_, events))| {
            PollFd::new(fd.as_fd(), PollFlags::from_bits_truncate(*events as i16))
        })
        .collect();
    let timeout = if timeout_ms < 0 {
        PollTimeout::NONE
    } else {
        PollTimeout::try_from(timeout_ms.min(i64::from(i32::MAX)) as i32)
            .unwrap_or(PollTimeout::MAX)
    };
    match nix::poll::poll(&mut polled, timeout) {
        Ok(n) => {
            let revents = polled
                .iter()
                .map(|p| p.revents().map_or(0, |r| i64::from(r.bits())))
                .collect();
            Got::Value(i64::from(n), revents)
        }
        Err(e) => Got::Errno(errno_name(e)),
    }
}
