//! A live capture from one interface: an `AF_PACKET` socket, as tcpdump's libpcap opens on
//! Linux, without libpcap (nothing to install beside the binary, which a `pip install` wheel
//! cannot bring). Each frame comes with the kernel's timestamp and the socket's drop counter.

use std::io;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::sched::CloneFlags;
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType,
    recvmsg, setsockopt, socket, sockopt,
};
use nix::sys::time::TimeValLike;
use observer::DataLink;

/// `sll_pkttype` of a frame the host sent.
const PACKET_OUTGOING: u8 = 4;
/// `sll_hatype` of Ethernet, loopback (which Linux frames as Ethernet) and a TUN device.
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const ARPHRD_NONE: u16 = 0xfffe;
/// How long a read waits before the caller may look at Ctrl-C again.
const POLL: Duration = Duration::from_millis(100);
/// The receive buffer asked for: a burst of 64 KiB loopback segments fits.
const RCVBUF: usize = 32 << 20;

/// An open capture on one interface.
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: usize,
    loopback: Option<bool>,
    buf: Vec<u8>,
    cmsg: Vec<u8>,
    /// The kernel's count of frames dropped for this socket so far.
    pub drops: u32,
}

/// One frame as captured.
pub struct Captured<'a> {
    /// The kernel's receive time, nanoseconds since the Unix epoch.
    pub t_ns: u64,
    /// The link type of the frame's header.
    pub link: DataLink,
    /// The frame.
    pub frame: &'a [u8],
}

impl PacketSocket {
    /// Open a capture on `iface`, in network namespace `netns` if one is named (entered by a
    /// short-lived thread, so that this process stays where it is).
    pub fn open(iface: &str, netns: Option<&str>) -> io::Result<PacketSocket> {
        let ns = match netns {
            Some(name) => Some(
                std::fs::File::open(format!("/var/run/netns/{name}")).map_err(|e| {
                    io::Error::new(e.kind(), format!("no network namespace {name}: {e}"))
                })?,
            ),
            None => None,
        };
        std::thread::scope(|scope| {
            scope
                .spawn(|| open_here(iface, ns.as_ref()))
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the capture thread panicked")))
        })
    }

    /// The next frame on the interface, or `None` when none came within a moment.
    pub fn next(&mut self) -> io::Result<Option<Captured<'_>>> {
        loop {
            let mut iov = [IoSliceMut::new(&mut self.buf)];
            let received = recvmsg::<LinkAddr>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut self.cmsg),
                MsgFlags::MSG_TRUNC,
            );
            let msg = match received {
                Ok(msg) => msg,
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let mut t_ns = None;
            for c in msg.cmsgs().into_iter().flatten() {
                match c {
                    ControlMessageOwned::ScmTimestampns(ts) => {
                        t_ns = Some(ts.num_nanoseconds().max(0) as u64);
                    }
                    ControlMessageOwned::RxqOvfl(n) => self.drops = n,
                    _ => {}
                }
            }
            let (len, Some(from)) = (msg.bytes, msg.address) else {
                continue;
            };
            if from.ifindex() != self.ifindex {
                continue;
            }
            let loopback = *self
                .loopback
                .get_or_insert(from.hatype() == ARPHRD_LOOPBACK);
            // On loopback every frame is seen leaving and arriving: keep it once, as libpcap.
            if loopback && from.pkttype() == PACKET_OUTGOING {
                continue;
            }
            let link = match from.hatype() {
                ARPHRD_ETHER | ARPHRD_LOOPBACK => DataLink::ETHERNET,
                ARPHRD_NONE => DataLink::RAW,
                other => {
                    return Err(io::Error::other(format!(
                        "the interface's link type (ARPHRD {other}) is not Ethernet or raw IP"
                    )));
                }
            };
            let t_ns = t_ns.unwrap_or_else(now_ns);
            let frame = &self.buf[..len.min(self.buf.len())];
            return Ok(Some(Captured { t_ns, link, frame }));
        }
    }
}

fn open_here(iface: &str, ns: Option<&std::fs::File>) -> io::Result<PacketSocket> {
    if let Some(ns) = ns {
        nix::sched::setns(ns, CloneFlags::CLONE_NEWNET)?;
    }
    let ifindex = nix::net::if_::if_nametoindex(iface)
        .map_err(|_| io::Error::new(io::ErrorKind::NotFound, format!("no interface {iface}")))?;
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )?;
    // Past net.core.rmem_max when the process may (CAP_NET_ADMIN, as under sudo): a burst of
    // 64 KiB loopback segments otherwise overflows the default limit's few hundred KiB.
    if setsockopt(&fd, sockopt::RcvBufForce, &RCVBUF).is_err() {
        setsockopt(&fd, sockopt::RcvBuf, &RCVBUF)?;
    }
    setsockopt(&fd, sockopt::ReceiveTimestampns, &true)?;
    setsockopt(&fd, sockopt::RxqOvfl, &1)?;
    let poll = nix::sys::time::TimeVal::milliseconds(POLL.as_millis() as i64);
    setsockopt(&fd, sockopt::ReceiveTimeout, &poll)?;
    Ok(PacketSocket {
        fd,
        ifindex: ifindex as usize,
        loopback: None,
        buf: vec![0; 1 << 18],
        cmsg: nix::cmsg_space!(nix::sys::time::TimeSpec, u32),
        drops: 0,
    })
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
