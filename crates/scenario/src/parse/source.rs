//! Positions in the file: byte offsets turned into `file:line:column`, and a line read word by
//! word with each word's offset.

use std::net::SocketAddr;
use std::ops::Range;

use toml::Spanned;

use crate::ScenarioError;

/// Turns byte offsets into `file:line:column` errors.
pub(crate) struct Source<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> ScenarioError {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ScenarioError {
            file: self.path.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    pub(super) fn error<T>(
        &self,
        spanned: &Spanned<T>,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.error_at(spanned.span().start, message)
    }

    /// The offset of each line of a string value's content in the file, so that errors in a
    /// program or expectation point at the right line. Literal strings (`'''`) map one to one;
    /// in basic strings escapes may shift the column.
    pub(super) fn content_lines<'s>(&self, value: &'s Spanned<String>) -> Vec<(usize, &'s str)> {
        let span: Range<usize> = value.span();
        let raw = &self.text[span.clone()];
        let mut cursor = span.start
            + if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
                3
            } else {
                1
            };
        let mut out = Vec::new();
        for line in value.get_ref().lines() {
            let found = self.text[cursor..span.end].find(line).map(|i| cursor + i);
            let offset = found.unwrap_or(cursor);
            out.push((offset, line));
            if let Some(o) = found {
                cursor = o + line.len();
            }
        }
        out
    }
}

/// A line being read word by word, each word with its offset in the file.
pub(super) struct Words<'a> {
    pub(super) src: &'a Source<'a>,
    pub(super) line: &'a str,
    pub(super) base: usize,
    pub(super) pos: usize,
}

impl<'a> Words<'a> {
    pub(super) fn new(src: &'a Source<'a>, base: usize, line: &'a str) -> Words<'a> {
        Words {
            src,
            line,
            base,
            pos: 0,
        }
    }

    pub(super) fn skip_space(&mut self) {
        while self.pos < self.line.len() && self.line.as_bytes()[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    pub(super) fn at_end(&mut self) -> bool {
        self.skip_space();
        self.pos >= self.line.len() || self.line[self.pos..].starts_with('#')
    }

    pub(super) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(super) fn err(&self, message: impl Into<String>) -> ScenarioError {
        self.src.error_at(self.offset(), message)
    }

    pub(super) fn peek(&mut self) -> Option<&'a str> {
        if self.at_end() {
            return None;
        }
        let rest = &self.line[self.pos..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        Some(&rest[..end])
    }

    pub(super) fn next(&mut self, expected: &str) -> Result<(usize, &'a str), ScenarioError> {
        let word = self
            .peek()
            .ok_or_else(|| self.err(format!("expected {expected}, found the end of the line")))?;
        let at = self.offset();
        self.pos += word.len();
        Ok((at, word))
    }

    pub(super) fn expect_word(&mut self, word: &str) -> Result<(), ScenarioError> {
        let at = self.offset();
        let (_, found) = self.next(&format!("`{word}`"))?;
        if found == word {
            Ok(())
        } else {
            Err(self
                .src
                .error_at(at, format!("expected `{word}`, found `{found}`")))
        }
    }

    pub(super) fn end(&mut self) -> Result<(), ScenarioError> {
        if self.at_end() {
            Ok(())
        } else {
            let rest = self.line[self.pos..].trim_end();
            Err(self.err(format!("unexpected `{rest}` at the end of the line")))
        }
    }

    /// An address and port, like `10.0.0.2:9000` or `[2001:db8::2]:9000`.
    pub(super) fn socket_addr(&mut self) -> Result<SocketAddr, ScenarioError> {
        let (at, addr) = self.next("an address like 10.0.0.2:9000")?;
        addr.parse().map_err(|_| {
            self.src.error_at(
                at,
                format!(
                    "`{addr}`: expected an address and port like 10.0.0.2:9000 or \
                     [2001:db8::2]:9000"
                ),
            )
        })
    }

    /// The optional size of a `recv` or `recvfrom` (1024, as in `recv(1024)`, if absent).
    pub(super) fn recv_size(&mut self) -> Result<usize, ScenarioError> {
        if self.at_end() {
            return Ok(1024);
        }
        let (at, n) = self.next("a size")?;
        n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            self.src
                .error_at(at, format!("`{n}`: expected a size ≥ 1, like 1024"))
        })
    }

    /// A double-quoted string with Python-like escapes (`\n`, `\t`, `\\`, `\"`, `\xNN`); an
    /// optional `b` prefix is allowed, as in Python's `b"..."`.
    pub(super) fn string(&mut self) -> Result<Vec<u8>, ScenarioError> {
        self.skip_space();
        let start = self.offset();
        let rest = &self.line[self.pos..];
        let body = rest
            .strip_prefix("b\"")
            .or_else(|| rest.strip_prefix('"'))
            .ok_or_else(|| self.err("expected a string in double quotes, like \"hello\\n\""))?;
        let quote_len = rest.len() - body.len();
        let mut out = Vec::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += quote_len + i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let (j, e) = chars.next().ok_or_else(|| {
                        self.src
                            .error_at(start, "unterminated string: missing closing \"")
                    })?;
                    match e {
                        'n' => out.push(b'\n'),
                        'r' => out.push(b'\r'),
                        't' => out.push(b'\t'),
                        '0' => out.push(0),
                        '\\' => out.push(b'\\'),
                        '"' => out.push(b'"'),
                        '\'' => out.push(b'\''),
                        'x' => {
                            let hex: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                            let byte = u8::from_str_radix(&hex, 16).map_err(|_| {
                                self.src.error_at(
                                    self.offset() + quote_len + j,
                                    "expected two hex digits after \\x",
                                )
                            })?;
                            out.push(byte);
                        }
                        other => {
                            return Err(self.src.error_at(
                                self.offset() + quote_len + j,
                                format!("unknown escape `\\{other}`; expected one of \\n \\r \\t \\0 \\\\ \\\" \\xNN"),
                            ));
                        }
                    }
                }
                c => {
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        Err(self
            .src
            .error_at(start, "unterminated string: missing closing \""))
    }
}

/// A line without its trailing `# comment`: a `#` inside a double-quoted string is text
/// (`trace contains "frame #3"`), one outside starts the comment.
pub(super) fn without_comment(raw: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '#' if !quoted => return raw[..i].trim(),
            _ => {}
        }
    }
    raw.trim()
}
