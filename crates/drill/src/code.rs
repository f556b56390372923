//! packetdrill's `%{ python }%` blocks: at its line a block takes a snapshot of the
//! connection's TCP_INFO; when the script has run, python3 runs every block, in order,
//! with the snapshot's fields as `tcpi_*` variables and Linux's constants (`TCP_CA_Open`,
//! ...), as packetdrill runs them. A failed assertion is a failure at the block's line.

use std::io::Write;
use std::process::{Command, Stdio};

/// One block, with the TCP_INFO taken at its line.
#[derive(Debug, Clone)]
pub struct Snippet {
    /// The script line of `%{`.
    pub line: u32,
    /// The Python code.
    pub code: String,
    /// `tcpi_*` fields (without the prefix) and values.
    pub info: Vec<(String, i64)>,
}

/// Why the blocks did not all pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeError {
    /// python3 could not be run: the blocks cannot be checked.
    NoPython(String),
    /// A block failed (an assertion, or an error in its code).
    Failed {
        /// The block's line.
        line: u32,
        /// What Python said.
        message: String,
    },
}

/// The program python3 runs: the snippets come as JSON on its standard input.
const PROGRAM: &str = r#"
import json, sys, textwrap, traceback
CONSTANTS = dict(
    TCP_CA_Open=0, TCP_CA_Disorder=1, TCP_CA_CWR=2, TCP_CA_Recovery=3, TCP_CA_Loss=4,
    TCP_ESTABLISHED=1, TCP_SYN_SENT=2, TCP_SYN_RECV=3, TCP_FIN_WAIT1=4, TCP_FIN_WAIT2=5,
    TCP_TIME_WAIT=6, TCP_CLOSE=7, TCP_CLOSE_WAIT=8, TCP_LAST_ACK=9, TCP_LISTEN=10,
    TCP_CLOSING=11, TCPI_OPT_TIMESTAMPS=1, TCPI_OPT_SACK=2, TCPI_OPT_WSCALE=4,
    TCPI_OPT_ECN=8,
)
for line, info, code in json.load(sys.stdin):
    first, _, rest = code.strip("\n").partition("\n")
    source = first.strip() + "\n" + textwrap.dedent(rest)
    scope = dict(CONSTANTS)
    scope.update({"tcpi_" + name: value for name, value in info})
    try:
        exec(compile(source, "%{ }%", "exec"), scope)
    except AssertionError as e:
        at = traceback.extract_tb(e.__traceback__)[-1].lineno
        said = source.splitlines()[at - 1].strip()
        print(line)
        print(f"`{said}` failed" + (f": {e}" if str(e) else ""))
        sys.exit(1)
    except Exception as e:
        print(line)
        print(f"{type(e).__name__}: {e}")
        sys.exit(1)
"#;

/// Run the blocks; `Ok` when every one passed.
pub fn run(snippets: &[Snippet]) -> Result<(), CodeError> {
    if snippets.is_empty() {
        return Ok(());
    }
    let input = serde_json::to_vec(
        &snippets
            .iter()
            .map(|s| (s.line, &s.info, &s.code))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| CodeError::NoPython(e.to_string()))?;
    let mut child = Command::new("python3")
        .args(["-c", PROGRAM])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CodeError::NoPython(format!("%{{ }}% blocks need python3: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A python3 that exits early closes the pipe; its output says why.
        let _ = stdin.write_all(&input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| CodeError::NoPython(format!("python3: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    match lines.next().and_then(|l| l.trim().parse().ok()) {
        Some(line) => Err(CodeError::Failed {
            line,
            message: lines.collect::<Vec<_>>().join(" "),
        }),
        None => Err(CodeError::NoPython(format!(
            "python3 failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snippet(line: u32, code: &str, cwnd: i64) -> Snippet {
        Snippet {
            line,
            code: code.to_string(),
            info: vec![("snd_cwnd".to_string(), cwnd), ("ca_state".to_string(), 3)],
        }
    }

    #[test]
    fn blocks_pass_and_fail_at_their_line() {
        if Command::new("python3").arg("-V").output().is_err() {
            assert!(
                std::env::var("PACKETLAB_REQUIRE_PYTHON").as_deref() != Ok("1"),
                "python3 is required (PACKETLAB_REQUIRE_PYTHON=1) but missing"
            );
            eprintln!("skipped: no python3");
            return;
        }
        let good = snippet(5, " assert tcpi_snd_cwnd == 7, tcpi_snd_cwnd ", 7);
        let multi = snippet(
            9,
            "\nassert tcpi_ca_state == TCP_CA_Recovery, tcpi_ca_state\nassert tcpi_snd_cwnd == 7, tcpi_snd_cwnd\n",
            7,
        );
        assert_eq!(run(&[good.clone(), multi]), Ok(()));
        let bad = snippet(12, "assert tcpi_snd_cwnd == 7, tcpi_snd_cwnd", 10);
        assert_eq!(
            run(&[good, bad]),
            Err(CodeError::Failed {
                line: 12,
                message: "`assert tcpi_snd_cwnd == 7, tcpi_snd_cwnd` failed: 10".to_string()
            })
        );
        let unknown = snippet(3, "assert tcpi_delivered == 1", 1);
        assert_eq!(
            run(&[unknown]),
            Err(CodeError::Failed {
                line: 3,
                message: "NameError: name 'tcpi_delivered' is not defined".to_string()
            })
        );
    }
}
