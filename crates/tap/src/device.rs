//! The TAP device, opened inside its namespace through the tun-tap crate.

use std::io;
use std::os::fd::AsRawFd;

use nix::sched::CloneFlags;
use tun_tap::{Iface, Mode};

/// An open TAP device: Ethernet frames in and out, no packet-information header.
#[derive(Debug)]
pub struct Tap {
    iface: Iface,
}

impl Tap {
    /// Open TAP device `dev` of network namespace `netns`. The device is looked up in the
    /// namespace of the thread that opens it, so a short-lived thread enters the namespace
    /// (setns) and opens it there; the open descriptor then works from any thread, and this
    /// process's own threads never leave the root namespace.
    pub fn open(netns: &str, dev: &str) -> io::Result<Tap> {
        let ns = std::fs::File::open(format!("/var/run/netns/{netns}"))?;
        let dev = dev.to_string();
        let iface = std::thread::scope(|scope| {
            scope
                .spawn(|| -> io::Result<Iface> {
                    nix::sched::setns(&ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
                    let iface = Iface::without_packet_info(&dev, Mode::Tap)?;
                    iface.set_non_blocking()?;
                    Ok(iface)
                })
                .join()
                .map_err(|_| io::Error::other("the thread that opens the TAP device panicked"))?
        })?;
        Ok(Tap { iface })
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        self.iface.name()
    }

    /// One frame, if one is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.iface.recv(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Send one frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.iface.send(frame).map(|_| ())
    }

    /// The descriptor, to wait on with poll.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.iface.as_raw_fd()
    }
}
