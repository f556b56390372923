//! The lessons built into the binary (see `build.rs`): `packetlab lessons` lists them,
//! `packetlab run handshake` runs one by name, `packetlab lessons --copy DIR` writes them out
//! to be read and edited. A file path given to `run` is still read from the disk.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::EXIT_BAD_INPUT;

include!(concat!(env!("OUT_DIR"), "/lessons.rs"));

/// `packetlab lessons`' options.
#[derive(clap::Args)]
pub(crate) struct LessonsArgs {
    /// Write every lesson (scenario files and Python programs) into DIR, to edit and run.
    #[arg(long, value_name = "DIR")]
    copy: Option<PathBuf>,
}

/// One built-in lesson.
pub(crate) struct Lesson {
    /// Its number in the README's table, for the simulator's lessons.
    pub number: Option<u32>,
    /// Its name: its path under `scenarios/` without `.toml` (`handshake`,
    /// `kernel/length-prefix`).
    pub name: String,
    /// Its title.
    pub title: String,
}

/// A scenario file's title, all the listing needs of it.
#[derive(serde::Deserialize)]
struct Titled {
    title: String,
}

/// Every built-in lesson: the numbered ones in order, then the others by name.
pub(crate) fn all() -> Vec<Lesson> {
    let mut lessons: Vec<Lesson> = FILES
        .iter()
        .filter_map(|(file, bytes)| {
            let name = file.strip_suffix(".toml")?;
            // The title alone: the whole scenario names programs that are not on the disk.
            let title = toml::from_str::<Titled>(std::str::from_utf8(bytes).ok()?)
                .ok()?
                .title;
            let number = NUMBERED.iter().find(|(_, f)| f == file).map(|(n, _)| *n);
            Some(Lesson {
                number,
                name: name.to_string(),
                title,
            })
        })
        .collect();
    lessons.sort_by(|a, b| {
        (a.number.is_none(), a.number, &a.name).cmp(&(b.number.is_none(), b.number, &b.name))
    });
    lessons
}

/// Run `packetlab lessons`.
pub(crate) fn command(args: LessonsArgs) -> ExitCode {
    if let Some(dir) = args.copy {
        return match copy(&dir) {
            Ok(n) => {
                println!(
                    "wrote {n} files into {}: run one with `packetlab run {}`",
                    dir.display(),
                    dir.join("handshake.toml").display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}: {e}", dir.display());
                ExitCode::from(EXIT_BAD_INPUT)
            }
        };
    }
    for lesson in all() {
        let number = lesson
            .number
            .map_or_else(|| "  ".to_string(), |n| format!("{n:>2}"));
        println!("{number}  {:<28} {}", lesson.name, lesson.title);
    }
    println!();
    println!(
        "Run one with `packetlab run NAME` (outputs in ./captures/); `packetlab lessons --copy DIR` writes them out."
    );
    ExitCode::SUCCESS
}

/// Write every built-in file under `dir`, keeping the folders; refuses to overwrite.
fn copy(dir: &Path) -> std::io::Result<usize> {
    for (file, _) in FILES {
        if dir.join(file).exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{file} is there already: copy into an empty folder"),
            ));
        }
    }
    write_all(dir)?;
    Ok(FILES.len())
}

fn write_all(dir: &Path) -> std::io::Result<()> {
    for (file, bytes) in FILES {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, bytes)?;
    }
    Ok(())
}

/// A built-in lesson named `name` (`handshake`, `handshake.toml`, `kernel/length-prefix`),
/// written with everything it uses under a temporary `scenarios/` folder: the folder (deleted
/// when dropped) and the scenario's path in it.
pub(crate) fn materialize(name: &str) -> Option<std::io::Result<(tempfile::TempDir, PathBuf)>> {
    let file = format!("{}.toml", name.strip_suffix(".toml").unwrap_or(name));
    FILES.iter().find(|(f, _)| *f == file)?;
    Some((|| {
        let dir = tempfile::Builder::new()
            .prefix("packetlab-lesson")
            .tempdir()?;
        let scenarios = dir.path().join("scenarios");
        write_all(&scenarios)?;
        let path = scenarios.join(&file);
        Ok((dir, path))
    })())
}
