//! Who a learner's programs run as. A program is code from a file, like a script: when root
//! runs packetlab, it must not run as root. It runs as the [`Target`] user (the one who ran
//! sudo, else `nobody`) with no capabilities and `no_new_privs`, in a working folder of that
//! user's own; what it leaves there is moved to the folder the caller named when the run ends.

use std::path::{Path, PathBuf};
use std::process::Command;

use privilege::Target;

use crate::LaunchError;

/// How this run's programs are started.
#[derive(Debug)]
pub(crate) enum RunAs {
    /// packetlab runs as an ordinary user: so do the programs, in the caller's folder.
    Caller,
    /// packetlab runs as root: the programs run as `user` through `setpriv`.
    User {
        /// Who they run as.
        user: Target,
        /// A `python3` that user can run.
        python3: PathBuf,
        /// Their working folder, the user's own.
        work: PathBuf,
    },
}

impl RunAs {
    /// Choose for this process; `dir` is the run's own temporary folder, where a working
    /// folder for the user is made when one is needed.
    pub(crate) fn choose(dir: &Path) -> Result<RunAs, LaunchError> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(RunAs::Caller);
        }
        let user = Target::choose(None).map_err(|e| LaunchError(e.to_string()))?;
        let python3 = user.python3().map_err(|e| LaunchError(e.to_string()))?;
        let work = dir.join("work");
        std::fs::create_dir(&work)
            .map_err(|e| LaunchError(format!("cannot make {}: {e}", work.display())))?;
        Ok(RunAs::User {
            user,
            python3,
            work,
        })
    }

    /// Open the run's folder to the user the programs run as, and no further: they may pass
    /// through it (not list it or write in it, where root writes their input and reads their
    /// errors), read the shim's folder (Python lists a folder it imports from), connect to
    /// the bridge's socket, and work in their own folder.
    pub(crate) fn open_to_user(
        &self,
        dir: &Path,
        shim: &Path,
        socket: &Path,
    ) -> Result<(), LaunchError> {
        use std::os::unix::fs::PermissionsExt;
        let RunAs::User { user, work, .. } = self else {
            return Ok(());
        };
        let mode = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        };
        let files =
            || std::fs::read_dir(shim)?.try_for_each(|e| e.and_then(|e| mode(&e.path(), 0o644)));
        mode(dir, 0o711)
            .and_then(|()| mode(shim, 0o755))
            .and_then(|()| files())
            .and_then(|()| user.give(&[socket, work]))
            .map_err(|e| {
                LaunchError(format!(
                    "cannot open the programs' folder to user {}: {e}",
                    user.name
                ))
            })
    }

    /// The program file the user can read: the original, or a copy in `dir`.
    pub(crate) fn program(&self, path: &Path, dir: &Path) -> Result<PathBuf, LaunchError> {
        let found = match self {
            RunAs::Caller => std::fs::canonicalize(path),
            RunAs::User { user, .. } => user.readable_copy(path, dir),
        };
        found.map_err(|e| LaunchError(format!("{}: {e}", path.display())))
    }

    /// `python3`, as the user, in the working folder (`workdir`, the caller's, unless the
    /// user has a folder of their own).
    pub(crate) fn python3(&self, workdir: &Path) -> Command {
        match self {
            RunAs::Caller => {
                let mut command = Command::new("python3");
                command.current_dir(workdir);
                command
            }
            RunAs::User {
                user,
                python3,
                work,
            } => {
                let mut command = Command::new("setpriv");
                command.args(user.setpriv_args()).arg(python3);
                command.current_dir(work);
                command
            }
        }
    }

    /// What `python3` is here, for an error message when it cannot start.
    pub(crate) fn describe(&self) -> String {
        match self {
            RunAs::Caller => "python3".to_string(),
            RunAs::User { user, python3, .. } => format!(
                "{} as user {} through setpriv (util-linux)",
                python3.display(),
                user.name
            ),
        }
    }

    /// When the run ends: copy what the programs left in their own folder to `workdir`, as
    /// the files of the person who ran packetlab (root's, unless run with sudo).
    pub(crate) fn move_back(&self, workdir: &Path) {
        let RunAs::User { user, work, .. } = self else {
            return;
        };
        let owner = if user.person {
            (user.uid.as_raw(), user.gid.as_raw())
        } else {
            (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )
        };
        if let Err(e) = move_tree(work, workdir, owner) {
            // Said, not lost: this runs as the run ends, with no caller left to return it to.
            eprintln!(
                "warning: cannot copy the programs' files from {} to {}: {e}",
                work.display(),
                workdir.display()
            );
        }
    }
}

/// Copy every regular file and folder under `from` into `to`, owned by `owner`, walking by
/// descriptors opened without following links: a program (or a child of it still running)
/// cannot turn a name into a link to a file only root may read, nor a FIFO into a hang.
fn move_tree(from: &Path, to: &Path, owner: (u32, u32)) -> std::io::Result<()> {
    let top = nix::fcntl::open(from, walk_flags(), nix::sys::stat::Mode::empty())?;
    copy_folder(top, to, owner)
}

/// Read-only, not through a link, never blocking, not inherited.
fn walk_flags() -> nix::fcntl::OFlag {
    use nix::fcntl::OFlag;
    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC
}

fn copy_folder(folder: std::os::fd::OwnedFd, to: &Path, owner: (u32, u32)) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let mut dir = nix::dir::Dir::from_fd(folder)?;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_owned())
        .filter(|name| !matches!(name.to_bytes(), b"." | b".."))
        .collect();
    for name in names {
        // A link fails to open (ELOOP) and is left behind.
        let Ok(fd) = nix::fcntl::openat(
            &dir,
            name.as_c_str(),
            walk_flags(),
            nix::sys::stat::Mode::empty(),
        ) else {
            continue;
        };
        let mut file = std::fs::File::from(fd);
        let kind = file.metadata()?.file_type();
        let target = to.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            std::os::unix::fs::lchown(&target, Some(owner.0), Some(owner.1))?;
            copy_folder(file.into(), &target, owner)?;
        } else if kind.is_file() {
            let mut copy = std::fs::File::create(&target)?;
            std::io::copy(&mut file, &mut copy)?;
            std::os::unix::fs::lchown(&target, Some(owner.0), Some(owner.1))?;
        }
    }
    Ok(())
}
