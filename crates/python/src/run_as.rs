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

    /// Give `paths` (the run's folder, the shim, the bridge's socket, the working folder) to
    /// the user the programs run as.
    pub(crate) fn give(&self, paths: &[&Path]) -> Result<(), LaunchError> {
        let RunAs::User { user, work, .. } = self else {
            return Ok(());
        };
        let mut all = paths.to_vec();
        all.push(work);
        user.give(&all).map_err(|e| {
            LaunchError(format!(
                "cannot give the programs' folder to user {}: {e}",
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

    /// When the run ends: move what the programs left in their own folder to `workdir`, as
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
                "warning: cannot move the programs' files from {} to {}: {e}",
                work.display(),
                workdir.display()
            );
        }
    }
}

/// Move every entry of `from` into `to`, owned by `owner`. Symbolic links are left behind: a
/// program could point one at a file only root may read.
fn move_tree(from: &Path, to: &Path, owner: (u32, u32)) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            std::os::unix::fs::lchown(&target, Some(owner.0), Some(owner.1))?;
            move_tree(&entry.path(), &target, owner)?;
        } else if kind.is_file() {
            if std::fs::rename(entry.path(), &target).is_err() {
                std::fs::copy(entry.path(), &target)?;
            }
            std::os::unix::fs::lchown(&target, Some(owner.0), Some(owner.1))?;
        }
    }
    Ok(())
}
