//! `packetlab plot`: a picture of one connection over time, from a trace or any capture.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::EXIT_BAD_INPUT;

/// The command line of `packetlab plot`.
#[derive(clap::Args)]
pub struct PlotArgs {
    /// A trace written by `packetlab run` (its capture beside it), or any pcap/pcapng capture.
    input: PathBuf,
    /// The connection, by its number (from 1, in the order they began); default: the one
    /// that carried most data. A wrong number lists them. Several (`--conn 1,2`) are compared
    /// on one axis: cwnd, rtt or throughput.
    #[arg(long, value_name = "N[,N…]", value_delimiter = ',')]
    conn: Vec<usize>,
    /// The picture; default: `cwnd` for a trace, `tcptrace` for a capture.
    #[arg(long, value_enum)]
    kind: Option<plot::Kind>,
    /// Whose data to follow; default: the side that sent more.
    #[arg(long, value_enum)]
    dir: Option<plot::Dir>,
    /// The file to write: .svg, .png or .html (zoom, pan and the data as tables). Default:
    /// NAME.KIND.svg in the current directory.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Run `packetlab plot`.
pub fn plot(args: PlotArgs) -> ExitCode {
    match draw(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn draw(args: &PlotArgs) -> Result<String, plot::PlotError> {
    let recording = plot::load(&args.input)?;
    let request = plot::Request {
        conns: args.conn.clone(),
        kind: args.kind,
        dir: args.dir,
    };
    let kind = request.kind.unwrap_or(recording.default_kind());
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.input, kind));
    let format = plot::Format::of(&output)?;
    let figure = plot::figure(&recording, &request)?;
    drop(recording);
    let title = figure.title.clone();
    let bytes = plot::render(figure, format)?;
    capture::write_atomically(&output, |out| out.write_all(&bytes)).map_err(|e| {
        plot::PlotError::Output(format!(
            "{}: cannot write the picture: {e}",
            output.display()
        ))
    })?;
    Ok(format!("wrote {} ({title})", output.display()))
}

/// `captures/congestion.trace.jsonl` → `congestion.cwnd.svg`.
fn default_output(input: &Path, kind: plot::Kind) -> PathBuf {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = [".trace.jsonl", ".pcapng", ".pcap", ".jsonl"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name);
    PathBuf::from(format!("{stem}.{}.svg", kind.name()))
}
