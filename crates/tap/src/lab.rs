//! Network namespaces with a TAP device in them, made with iproute2 and deleted on drop.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Why the machine refuses to run the TAP mode (exit status 3 in the CLI).
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// Not root, where root is needed: making and deleting namespaces.
    #[error(
        "making or deleting a lab needs root: a network namespace, a TAP device (running as \
         uid {uid}); run it with sudo, or run the lessons on the simulated network with \
         `packetlab run handshake`, which needs no root"
    )]
    NotRoot {
        /// The effective user id.
        uid: u32,
    },
    /// Without the capabilities the TAP mode needs to attach to a lab.
    #[error(
        "the TAP mode needs root, or the capabilities CAP_NET_ADMIN and CAP_SYS_ADMIN, to \
         attach to a TAP device in a namespace (running as uid {uid} without them): run it \
         with sudo, or give the program the two capabilities once with `sudo setcap \
         cap_net_admin,cap_sys_admin+ep {binary}`; or run the lessons on the simulated network \
         with `packetlab run handshake`, which needs no root"
    )]
    NoCapabilities {
        /// The effective user id.
        uid: u32,
        /// This program's own path, for the `setcap` line.
        binary: String,
    },
    /// No TUN/TAP driver.
    #[error(
        "/dev/net/tun is missing: this kernel or container offers no TUN/TAP devices; load it \
         with `modprobe tun` (or give the container /dev/net/tun), or run the lessons on the \
         simulated network with `packetlab run handshake`"
    )]
    NoTun,
    /// No iproute2.
    #[error("the `ip` command (iproute2) is missing: install it with `apt-get install iproute2`")]
    NoIp,
}

/// Check that namespaces and TAP devices can be made (and deleted) here: root, since
/// iproute2 makes them.
pub fn check_environment() -> Result<(), EnvError> {
    let uid = nix::unistd::geteuid();
    if !uid.is_root() {
        return Err(EnvError::NotRoot { uid: uid.as_raw() });
    }
    check_attach()
}

/// Check that this process may attach to a lab's TAP device: the two capabilities (root
/// has them), the TUN driver and iproute2.
pub fn check_attach() -> Result<(), EnvError> {
    if !privilege::holds(&privilege::NEEDED) {
        let uid = nix::unistd::geteuid().as_raw();
        let binary = std::env::current_exe()
            .map_or_else(|_| "packetlab".to_string(), |p| p.display().to_string());
        return Err(EnvError::NoCapabilities { uid, binary });
    }
    if !Path::new("/dev/net/tun").exists() {
        return Err(EnvError::NoTun);
    }
    let ip = Command::new("ip").arg("-V").output();
    if !ip.is_ok_and(|o| o.status.success()) {
        return Err(EnvError::NoIp);
    }
    Ok(())
}

/// A lab could not be set up or torn down.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The environment refuses.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// There is no lab of that name to delete.
    #[error("there is no lab `{0}` (no network namespace of that name): nothing to delete")]
    NoLab(String),
    /// A command failed.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Its error output.
        message: String,
    },
}

/// A network namespace holding one TAP device whose kernel side is addressed and up.
#[derive(Debug)]
pub struct Lab {
    name: String,
    dev: String,
    kernel_cidr: String,
    /// Made by this value (deleted on drop), or only attached to.
    owned: bool,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn run(args: &[&str]) -> Result<Output, LabError> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| LabError::Command {
            command: args.join(" "),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out)
}

impl Lab {
    /// A namespace name unique to this process: `prefix-PID-N`.
    pub fn unique_name(prefix: &str) -> String {
        format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Create namespace `name` with loopback up and a persistent TAP device `dev` whose
    /// kernel side has `kernel_cidr` (like `10.77.0.1/24`) and is up. If any step fails, what
    /// was made is deleted again.
    pub fn up(name: &str, dev: &str, kernel_cidr: &str) -> Result<Lab, LabError> {
        check_environment()?;
        run(&["ip", "netns", "add", name])?;
        let lab = Lab {
            name: name.to_string(),
            dev: dev.to_string(),
            kernel_cidr: kernel_cidr.to_string(),
            owned: true,
        };
        lab.ip(&["link", "set", "lo", "up"])?;
        lab.ip(&["tuntap", "add", "dev", dev, "mode", "tap"])?;
        // The lessons are IPv4: without this the kernel's IPv6 neighbour discovery and
        // multicast reports would fill the capture with frames our host ignores.
        // Best effort: a kernel without IPv6 has nothing to switch off.
        let switch_off = format!("echo 1 > /proc/sys/net/ipv6/conf/{dev}/disable_ipv6");
        let _ = run(&["ip", "netns", "exec", name, "sh", "-c", &switch_off]);
        lab.ip(&["addr", "add", kernel_cidr, "dev", dev])?;
        lab.ip(&["link", "set", dev, "up"])?;
        Ok(lab)
    }

    /// A lab made earlier (by `packetlab lab up`), used but not deleted by this value.
    pub fn attach(name: &str, dev: &str) -> Result<Lab, LabError> {
        check_attach()?;
        if !Path::new("/var/run/netns").join(name).exists() {
            return Err(LabError::Command {
                command: format!("ip netns exec {name}"),
                message: format!(
                    "there is no network namespace `{name}`; make one with `packetlab lab up \
                     --name {name}`"
                ),
            });
        }
        Ok(Lab {
            name: name.to_string(),
            dev: dev.to_string(),
            kernel_cidr: String::new(),
            owned: false,
        })
    }

    /// Delete namespace `name` (and everything in it), killing what still runs there.
    pub fn delete(name: &str) -> Result<(), LabError> {
        check_environment()?;
        if !std::path::Path::new("/var/run/netns").join(name).exists() {
            return Err(LabError::NoLab(name.to_string()));
        }
        if let Ok(out) = run(&["ip", "netns", "pids", name]) {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        run(&["ip", "netns", "del", name]).map(|_| ())
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The TAP device's name.
    pub fn dev(&self) -> &str {
        &self.dev
    }

    /// The kernel side's address and prefix, if this value made the lab.
    pub fn kernel_cidr(&self) -> &str {
        &self.kernel_cidr
    }

    /// Run `ip ARGS` inside the namespace.
    pub fn ip(&self, args: &[&str]) -> Result<Output, LabError> {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend_from_slice(args);
        run(&full)
    }

    /// IPv6 on the device's kernel side (the lab switches it off), with `cidr` used at once
    /// (no duplicate address detection, as packetlab's hosts do none).
    pub fn enable_ipv6(&self, cidr: &str) -> Result<(), LabError> {
        let dev = &self.dev;
        let on = format!(
            "echo 0 > /proc/sys/net/ipv6/conf/{dev}/disable_ipv6 && \
             echo 0 > /proc/sys/net/ipv6/conf/{dev}/accept_dad"
        );
        run(&["ip", "netns", "exec", &self.name, "sh", "-c", &on])?;
        self.ip(&["-6", "addr", "add", cidr, "dev", dev, "nodad"])?;
        Ok(())
    }

    /// Whether some TCP socket listens in the namespace now.
    pub fn listening(&self) -> bool {
        self.command("ss")
            .args(["-ltnH"])
            .output()
            .is_ok_and(|out| out.stdout.iter().any(|b| !b.is_ascii_whitespace()))
    }

    /// Wait until some socket in the namespace listens on TCP (a server program that has
    /// just been started), for at most `limit`; true if one does.
    pub fn wait_for_listener(&self, limit: std::time::Duration) -> bool {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if self.listening() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// A command that runs `program args` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.owned {
            let _ = Lab::delete(&self.name);
        }
    }
}
