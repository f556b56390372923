//! The TAP device, opened inside its namespace through the tun-tap crate.

use std::io;
use std::os::fd::AsRawFd;

use nix::sched::CloneFlags;
use tun_tap::{Iface, Mode};

/// Why a TAP device could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Not a name the kernel takes.
    #[error(
        "`{0}` is not a device name: 1 to 15 characters (the kernel's IFNAMSIZ), letters, \
         digits, `-`, `_` or `.`"
    )]
    BadName(String),
    /// The namespace has no such device.
    #[error(
        "there is no device {dev} in namespace {netns}; make it with `packetlab lab up --name \
         {netns} --dev {dev}`"
    )]
    NoDevice {
        /// The namespace.
        netns: String,
        /// The device.
        dev: String,
    },
    /// Another program has the device.
    #[error(
        "TAP device {dev} in namespace {netns} is in use by another program (another `packetlab tap`?)"
    )]
    Busy {
        /// The namespace.
        netns: String,
        /// The device.
        dev: String,
    },
    /// Anything else.
    #[error("cannot open TAP device {dev} in namespace {netns}: {source}")]
    Io {
        /// The namespace.
        netns: String,
        /// The device.
        dev: String,
        /// Why.
        source: io::Error,
    },
}

/// Check a device name as the kernel would (`dev_valid_name`), before it is cut or refused.
pub fn check_name(dev: &str) -> Result<(), OpenError> {
    let ok = (1..=15).contains(&dev.len())
        && dev != "."
        && dev != ".."
        && dev
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(OpenError::BadName(dev.to_string()))
    }
}

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
    pub fn open(netns: &str, dev: &str) -> Result<Tap, OpenError> {
        check_name(dev)?;
        let io = |source: io::Error| OpenError::Io {
            netns: netns.to_string(),
            dev: dev.to_string(),
            source,
        };
        let ns = std::fs::File::open(format!("/var/run/netns/{netns}")).map_err(io)?;
        let opened = std::thread::scope(|scope| {
            scope
                .spawn(|| -> Result<Iface, OpenError> {
                    nix::sched::setns(&ns, CloneFlags::CLONE_NEWNET)
                        .map_err(|e| io(io::Error::from(e)))?;
                    // Opening a name that is not there would make a new, unconfigured TAP.
                    if nix::net::if_::if_nametoindex(dev).is_err() {
                        return Err(OpenError::NoDevice {
                            netns: netns.to_string(),
                            dev: dev.to_string(),
                        });
                    }
                    let iface = Iface::without_packet_info(dev, Mode::Tap).map_err(|e| {
                        if e.raw_os_error() == Some(nix::libc::EBUSY) {
                            OpenError::Busy {
                                netns: netns.to_string(),
                                dev: dev.to_string(),
                            }
                        } else {
                            io(e)
                        }
                    })?;
                    iface.set_non_blocking().map_err(io)?;
                    Ok(iface)
                })
                .join()
                .map_err(|_| {
                    io(io::Error::other(
                        "the thread that opens the TAP device panicked",
                    ))
                })?
        })?;
        Ok(Tap { iface: opened })
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
            Err(e) => Err(self.gone_or(e)),
        }
    }

    /// Send one frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.iface
            .send(frame)
            .map(|_| ())
            .map_err(|e| self.gone_or(e))
    }

    /// A device deleted under its open descriptor answers EBADFD: say that, as the namespace
    /// gone is said (NotFound: the environment changed, what was captured is written).
    fn gone_or(&self, e: io::Error) -> io::Error {
        if e.raw_os_error() != Some(nix::libc::EBADFD) {
            return e;
        }
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "TAP device {} was deleted (by `ip link del`?) while this ran",
                self.name()
            ),
        )
    }

    /// The descriptor, to wait on with poll.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.iface.as_raw_fd()
    }
}
