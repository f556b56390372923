//! Least privilege. The TAP mode needs two capabilities, and only to set up: CAP_SYS_ADMIN to
//! enter the lab's namespace and CAP_NET_ADMIN to attach to its TAP device. They are checked
//! as capabilities (so `setcap cap_net_admin,cap_sys_admin+ep packetlab` works as well as
//! sudo), and given up before the first frame: the process becomes an unprivileged user with
//! no capabilities and `no_new_privs`, so nothing it runs can gain them back.
//!
//! A learner's program never runs as root, on the simulator or against the kernel: when root
//! runs packetlab, each program runs as the [`Target`] user through util-linux's `setpriv`.

use std::path::{Path, PathBuf};

use caps::CapSet;
pub use caps::Capability;
use nix::unistd::{Gid, Uid, User};

/// The capabilities the TAP mode needs.
pub const NEEDED: [Capability; 2] = [Capability::CAP_NET_ADMIN, Capability::CAP_SYS_ADMIN];

/// Why privileges could not be given up (exit status 3 in the CLI).
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// No such user.
    #[error("there is no user `{0}` to run as (give another with --user)")]
    NoUser(String),
    /// A system call refused.
    #[error("cannot give up privileges ({step}): {errno}")]
    Refused {
        /// What was being done.
        step: &'static str,
        /// The error.
        errno: String,
    },
}

/// Whether this process holds every capability in `needed` (root does, unless confined).
pub fn holds(needed: &[Capability]) -> bool {
    needed
        .iter()
        .all(|&cap| caps::has_cap(None, CapSet::Effective, cap).unwrap_or(false))
}

/// Who the process becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The user's name, for messages.
    pub name: String,
    /// Its user id.
    pub uid: Uid,
    /// Its group id.
    pub gid: Gid,
    /// A person (from `--user` or sudo) rather than `nobody`: the outputs become theirs.
    pub person: bool,
}

impl Target {
    /// `--user NAME` (or a number); else the user who ran sudo (`SUDO_UID`, `SUDO_GID`); else
    /// `nobody`.
    pub fn choose(user: Option<&str>) -> Result<Target, PrivilegeError> {
        if let Some(name) = user {
            let found = match name.parse::<u32>() {
                Ok(uid) => User::from_uid(Uid::from_raw(uid)),
                Err(_) => User::from_name(name),
            };
            let user = found
                .ok()
                .flatten()
                .ok_or_else(|| PrivilegeError::NoUser(name.into()))?;
            return Ok(Target::of(&user, true));
        }
        let sudo = |var: &str| std::env::var(var).ok()?.parse::<u32>().ok();
        if let (Some(uid), Some(gid)) = (sudo("SUDO_UID"), sudo("SUDO_GID"))
            && uid != 0
        {
            let name = std::env::var("SUDO_USER").unwrap_or_else(|_| uid.to_string());
            return Ok(Target {
                name,
                uid: Uid::from_raw(uid),
                gid: Gid::from_raw(gid),
                person: true,
            });
        }
        match User::from_name("nobody") {
            Ok(Some(user)) => Ok(Target::of(&user, false)),
            _ => Ok(Target {
                name: "nobody".into(),
                uid: Uid::from_raw(65534),
                gid: Gid::from_raw(65534),
                person: false,
            }),
        }
    }

    /// Make files this (root) process made the person's own; nothing for `nobody`.
    pub fn hand_over(&self, paths: &[&Path]) {
        if self.person && nix::unistd::geteuid().is_root() {
            for path in paths {
                let _ = std::os::unix::fs::chown(
                    path,
                    Some(self.uid.as_raw()),
                    Some(self.gid.as_raw()),
                );
            }
        }
    }

    /// Whether this user may read `path` (every folder above it searchable, the file
    /// readable), by the permission bits.
    pub fn can_read(&self, path: &Path) -> bool {
        self.may(path, 0o4)
    }

    /// Whether this user may run `path` (every folder above it searchable, the file
    /// executable).
    pub fn can_run(&self, path: &Path) -> bool {
        self.may(path, 0o1)
    }

    fn may(&self, path: &Path, bit: u32) -> bool {
        use std::os::unix::fs::MetadataExt;
        let allowed = |meta: &std::fs::Metadata, bit: u32| {
            let shift = if meta.uid() == self.uid.as_raw() {
                6
            } else if meta.gid() == self.gid.as_raw() {
                3
            } else {
                0
            };
            meta.mode() >> shift & bit != 0
        };
        let Ok(path) = path.canonicalize() else {
            return false;
        };
        let folders_ok = path
            .ancestors()
            .skip(1)
            .all(|dir| std::fs::metadata(dir).is_ok_and(|m| allowed(&m, 0o1)));
        folders_ok && std::fs::metadata(&path).is_ok_and(|m| allowed(&m, bit))
    }

    /// Give `paths` (made by this root process) to this user.
    pub fn give(&self, paths: &[&Path]) -> std::io::Result<()> {
        for path in paths {
            std::os::unix::fs::chown(path, Some(self.uid.as_raw()), Some(self.gid.as_raw()))?;
        }
        Ok(())
    }

    /// `setpriv` arguments that run a program as this user with no capabilities and
    /// `no_new_privs` (util-linux).
    pub fn setpriv_args(&self) -> Vec<String> {
        vec![
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.gid),
            "--clear-groups".into(),
            "--inh-caps=-all".into(),
            "--bounding-set=-all".into(),
            "--no-new-privs".into(),
            "--".into(),
        ]
    }

    /// The program itself, or, where this user cannot read it (a checkout under /root), a
    /// copy of it in `dir` (a folder of this process's own), given to the user.
    pub fn readable_copy(&self, program: &Path, dir: &Path) -> std::io::Result<PathBuf> {
        let path = std::fs::canonicalize(program)?;
        if self.can_read(&path) {
            return Ok(path);
        }
        let copy = dir.join(path.file_name().unwrap_or_default());
        std::fs::copy(&path, &copy)?;
        self.give(&[&copy])?;
        Ok(copy)
    }

    /// The first `python3` on PATH that this user can run (one under /root, as pyenv's, it
    /// cannot).
    pub fn python3(&self) -> std::io::Result<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        // The path as resolved is the one checked, so it is the one run.
        std::env::split_paths(&path)
            .map(|dir| dir.join("python3"))
            .filter(|candidate| self.can_run(candidate))
            .find_map(|candidate| candidate.canonicalize().ok())
            .ok_or_else(|| {
                std::io::Error::other(format!(
                    "no python3 on PATH that user {} can run (a learner's program never runs \
                     as root); install one for every user, e.g. `apt-get install python3`",
                    self.name
                ))
            })
    }

    fn of(user: &User, person: bool) -> Target {
        Target {
            name: user.name.clone(),
            uid: user.uid,
            gid: user.gid,
            person,
        }
    }
}

fn refused(step: &'static str) -> impl Fn(nix::Error) -> PrivilegeError {
    move |e| PrivilegeError::Refused {
        step,
        errno: e.desc().to_string(),
    }
}

/// Become `target` (when root), with no capabilities and `no_new_privs`; every thread of the
/// process changes with it.
pub fn drop_to(target: &Target) -> Result<(), PrivilegeError> {
    use nix::unistd::{setgroups, setresgid, setresuid};
    if nix::unistd::geteuid().is_root() {
        setgroups(&[target.gid]).map_err(refused("setgroups"))?;
        setresgid(target.gid, target.gid, target.gid).map_err(refused("setresgid"))?;
        setresuid(target.uid, target.uid, target.uid).map_err(refused("setresuid"))?;
    }
    for set in [
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| PrivilegeError::Refused {
            step: "clear the capabilities",
            errno: e.to_string(),
        })?;
    }
    nix::sys::prctl::set_no_new_privs().map_err(refused("no_new_privs"))
}
