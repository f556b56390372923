//! `packetlab explain`: a capture file read whole, or a live interface watched as it goes,
//! each transition printed when its packet passes, as `tcpdump -i` prints packets.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use observer::{Explanation, Observer, Packet};

use crate::packet_socket::PacketSocket;
use crate::{EXIT_BAD_INPUT, EXIT_ENVIRONMENT};

/// `packetlab explain`'s options.
#[derive(clap::Args)]
pub(crate) struct ExplainArgs {
    /// The capture (pcap or pcapng).
    #[arg(required_unless_present = "live", conflicts_with = "live")]
    capture: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Take every checksum as good in Zeek's notation, as `zeek -C` does (no `c` letters,
    /// no packet set aside).
    #[arg(long)]
    ignore_checksums: bool,
    /// Write Zeek's conn.log (its TSV format, the columns of Zeek's Conn::Info) into DIR,
    /// or to standard output for `-` (then nothing else goes there).
    #[arg(long, value_name = "DIR")]
    zeek_log: Option<PathBuf>,
    /// Watch a live interface instead of reading a file: each state change is printed as its
    /// packet passes; Ctrl-C ends with the summary. Needs CAP_NET_RAW (and CAP_SYS_ADMIN
    /// with --netns), given up once the interface is open.
    #[arg(long, value_name = "IFACE")]
    live: Option<String>,
    /// The network namespace the interface is in (`ip netns` names it).
    #[arg(long, value_name = "NS", requires = "live")]
    netns: Option<String>,
    /// Which packets to take, in tcpdump's words: `tcp port 9000`, `host 10.0.0.2 and not
    /// port 22` (protocols, hosts, networks and ports).
    #[arg(long, value_name = "EXPR", requires = "live")]
    filter: Option<String>,
    /// Keep the packets taken in a pcapng file, flushed as it goes.
    #[arg(long, value_name = "FILE", requires = "live")]
    write: Option<PathBuf>,
    /// The user to become once the interface is open (default: the one who ran sudo, else
    /// nobody).
    #[arg(long, requires = "live")]
    user: Option<String>,
}

/// Run `packetlab explain`.
pub(crate) fn explain(args: ExplainArgs) -> ExitCode {
    let options = observer::Options {
        ignore_checksums: args.ignore_checksums,
    };
    match (&args.live, &args.capture) {
        (Some(iface), _) => live(iface, &args, options),
        (None, Some(path)) => file(path, &args, options),
        (None, None) => ExitCode::from(EXIT_BAD_INPUT),
    }
}

fn bad(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// A capture file, read whole.
fn file(path: &Path, args: &ExplainArgs, options: observer::Options) -> ExitCode {
    let file = match std::fs::File::open(path) {
        Ok(file) => std::io::BufReader::new(file),
        Err(e) => {
            return bad(format_args!(
                "{}: cannot read the file: {e}",
                path.display()
            ));
        }
    };
    match observer::explain_with(&path.display().to_string(), file, options) {
        Ok(explanation) => summary(&path.display().to_string(), &explanation, args),
        Err(e) => bad(e),
    }
}

/// What was skipped and why, Zeek's log if asked for, then the explanation as text or JSON.
fn summary(label: &str, explanation: &Explanation, args: &ExplainArgs) -> ExitCode {
    for skipped in &explanation.skipped {
        eprintln!(
            "{label}: skipped {} frame(s): {}",
            skipped.frames, skipped.reason
        );
    }
    if let Some(cut) = &explanation.cut_short {
        eprintln!(
            "warning: {}; explained the {} packet(s) before it",
            cut.message, explanation.packets
        );
    }
    if let Some(dir) = &args.zeek_log {
        if let Err(e) = write_zeek_log(dir, explanation) {
            return bad(format_args!(
                "{}: cannot write conn.log: {e}",
                dir.display()
            ));
        }
        if dir == Path::new("-") {
            return ExitCode::SUCCESS;
        }
    }
    if args.json {
        return match serde_json::to_string_pretty(explanation) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => bad(e),
        };
    }
    println!(
        "{label}: {} packets, {} TCP segments, {} connection(s)",
        explanation.packets,
        explanation.tcp_segments,
        explanation.connections.len()
    );
    for (i, c) in explanation.connections.iter().enumerate() {
        println!();
        print_connection(i, c, &explanation.conn_log);
    }
    ExitCode::SUCCESS
}

/// Zeek's conn.log for `explain --zeek-log`: DIR/conn.log, put in place whole, or standard
/// output for `-`.
fn write_zeek_log(dir: &Path, explanation: &Explanation) -> std::io::Result<()> {
    let (records, span) = (&explanation.conn_log, explanation.span_ns);
    if dir == Path::new("-") {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        observer::write_conn_log(records, span, &mut out)?;
        return out.flush();
    }
    std::fs::create_dir_all(dir)?;
    let path = dir.join("conn.log");
    capture::write_atomically(&path, |out| observer::write_conn_log(records, span, out))?;
    eprintln!("wrote {} ({} records)", path.display(), records.len());
    Ok(())
}

/// One connection of `explain`'s text: its Zeek notation, its transitions, where it ends.
fn print_connection(i: usize, c: &observer::Connection, conn_log: &[observer::ConnLog]) {
    println!(
        "connection {}: {} → {}  history {}  state {}{}",
        i + 1,
        c.orig.addr,
        c.resp.addr,
        c.history,
        c.conn_state,
        if c.mid_stream {
            "  (the capture begins mid-connection: ESTABLISHED inferred)"
        } else {
            ""
        }
    );
    // Where Zeek draws the lines differently, say so: its records are what conn.log holds.
    let records: Vec<&observer::ConnLog> = c.zeek_records.iter().map(|&r| &conn_log[r]).collect();
    let same = records.len() == 1 && records[0].orig == c.orig.addr;
    if !same {
        for r in records {
            println!(
                "  zeek record from #{}: {} → {}  history {}  state {}",
                r.first_frame, r.orig, r.resp, r.history, r.conn_state
            );
        }
    }
    for t in &c.transitions {
        println!(
            "  #{:<6} {} {:<21} {} → {}  ({})",
            t.frame,
            role(c, t),
            t.endpoint.to_string(),
            t.from,
            t.to,
            t.rule
        );
    }
    println!(
        "  now: orig {} ({} bytes sent, {} retransmissions), resp {} ({} bytes sent, {} \
         retransmissions)",
        c.orig.state,
        c.orig.bytes,
        c.orig.retransmissions,
        c.resp.state,
        c.resp.bytes,
        c.resp.retransmissions
    );
}

fn role(c: &observer::Connection, t: &observer::Inferred) -> &'static str {
    if t.endpoint == c.orig.addr {
        "orig"
    } else {
        "resp"
    }
}

/// How often a live capture's file is flushed while packets keep coming.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// A live interface: open it with the privileges that takes, give them all up, then watch
/// until Ctrl-C.
fn live(iface: &str, args: &ExplainArgs, options: observer::Options) -> ExitCode {
    let filter = match args.filter.as_deref().map(observer::Filter::parse) {
        None => None,
        Some(Ok(filter)) => Some(filter),
        Some(Err(e)) => return bad(format_args!("--filter: {e}")),
    };
    if let Err(code) = may_capture(args.netns.is_some()) {
        return code;
    }
    let mut writer = match args
        .write
        .as_deref()
        .map(|p| live_writer(p, iface))
        .transpose()
    {
        Ok(writer) => writer,
        Err(e) => return bad(format_args!("--write: {e}")),
    };
    let mut socket = match PacketSocket::open(iface, args.netns.as_deref()) {
        Ok(socket) => socket,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return bad(e),
        Err(e) => {
            eprintln!("error: cannot watch {iface}: {e}");
            return ExitCode::from(EXIT_ENVIRONMENT);
        }
    };
    let outputs: Vec<&Path> = args.write.iter().map(PathBuf::as_path).collect();
    if let Err(code) = crate::tap_mode::give_up_privileges(args.user.as_deref(), &outputs) {
        return code;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)) {
        eprintln!("error: cannot catch Ctrl-C: {e}");
        return ExitCode::from(EXIT_ENVIRONMENT);
    }
    let place = args
        .netns
        .as_ref()
        .map_or_else(String::new, |ns| format!(" in namespace {ns}"));
    eprintln!("watching {iface}{place}: each state change as it happens; Ctrl-C ends");
    let mut watch = Watch {
        observer: Observer::new(options),
        filter,
        taken: 0,
        start: None,
    };
    let failed = watch.run(&mut socket, writer.as_mut(), &stop);
    if let Some(writer) = writer
        && let Err(e) = writer.finish()
    {
        eprintln!("error: --write: {e}");
    }
    eprintln!(
        "{} packets taken, {} dropped by the kernel",
        watch.taken, socket.drops
    );
    if let Some(e) = failed {
        eprintln!("error: {iface}: {e}");
    }
    let label = format!("{iface}{place}");
    summary(&label, &watch.observer.finish(None), args)
}

/// Whether this process may open a packet socket (and enter a namespace): exit status 3 and
/// how to grant it if not.
fn may_capture(netns: bool) -> Result<(), ExitCode> {
    use privilege::Capability;
    let mut needed = vec![Capability::CAP_NET_RAW];
    if netns {
        needed.push(Capability::CAP_SYS_ADMIN);
    }
    if privilege::holds(&needed) {
        return Ok(());
    }
    let binary = std::env::current_exe()
        .map_or_else(|_| "packetlab".to_string(), |p| p.display().to_string());
    let caps = if netns {
        "cap_net_raw,cap_sys_admin"
    } else {
        "cap_net_raw"
    };
    eprintln!(
        "error: watching a live interface needs CAP_NET_RAW{}: run it with sudo, or give the \
         binary the capability once: sudo setcap {caps}+ep {binary}",
        if netns { " and CAP_SYS_ADMIN" } else { "" }
    );
    Err(ExitCode::from(EXIT_ENVIRONMENT))
}

/// The pcapng file of a live capture, written in place as it goes.
fn live_writer(path: &Path, iface: &str) -> std::io::Result<capture::CaptureWriter> {
    let mut writer = capture::CaptureWriter::create_in(
        path,
        capture::Format::PcapNg,
        capture::DEFAULT_SNAPLEN,
        capture::Placement::AsItGoes,
    )?;
    writer.interface(&capture::Interface {
        name: iface.to_string(),
        description: format!("{iface}, watched live by packetlab explain"),
    })?;
    writer.flush()?;
    Ok(writer)
}

/// A live watch in progress.
struct Watch {
    observer: Observer,
    filter: Option<observer::Filter>,
    taken: u64,
    start: Option<u64>,
}

impl Watch {
    /// Take frames until Ctrl-C; an error that ends the watch early, if one did.
    fn run(
        &mut self,
        socket: &mut PacketSocket,
        mut writer: Option<&mut capture::CaptureWriter>,
        stop: &AtomicBool,
    ) -> Option<std::io::Error> {
        let mut flushed = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let captured = match socket.next() {
                Ok(Some(captured)) => captured,
                Ok(None) => {
                    if let Some(w) = writer.as_deref_mut() {
                        let _ = w.flush();
                    }
                    continue;
                }
                Err(e) => return Some(e),
            };
            let packet = Packet::live(self.taken + 1, captured.t_ns, captured.link, captured.frame);
            if self
                .filter
                .as_ref()
                .is_some_and(|f| !f.matches(&packet.inner))
            {
                continue;
            }
            self.taken += 1;
            if let Some(w) = writer.as_deref_mut()
                && let Err(e) = keep(w, &packet, &mut flushed)
            {
                return Some(e);
            }
            self.take(&packet);
        }
        None
    }

    /// One packet into the observer; each state change it shows, printed.
    fn take(&mut self, packet: &Packet) {
        let start = *self.start.get_or_insert(packet.t_ns);
        let Some(update) = self.observer.packet(packet) else {
            return;
        };
        let c = self.observer.connection(update.connection);
        let seconds = packet.t_ns.saturating_sub(start) as f64 / 1e9;
        for t in &c.transitions[update.transitions.clone()] {
            println!(
                "{seconds:>12.6}  #{:<6} connection {} {} {:<21} {} → {}  ({})  history {}",
                t.frame,
                update.connection + 1,
                role(c, t),
                t.endpoint.to_string(),
                t.from,
                t.to,
                t.rule,
                self.observer.history(&update)
            );
        }
    }
}

/// One packet into the live capture's file, flushed now and then.
fn keep(
    writer: &mut capture::CaptureWriter,
    packet: &Packet,
    flushed: &mut Instant,
) -> std::io::Result<()> {
    if packet.link != observer::DataLink::ETHERNET {
        return Ok(());
    }
    let epoch = capture::EPOCH.as_nanos() as u64;
    writer.record(&capture::Record {
        interface: 0,
        t_ns: packet.t_ns.saturating_sub(epoch),
        data: packet.frame.to_vec(),
        original_len: packet.orig_len,
        comments: Vec::new(),
        direction: None,
    })?;
    if flushed.elapsed() >= FLUSH_EVERY {
        *flushed = Instant::now();
        writer.flush()?;
    }
    Ok(())
}
