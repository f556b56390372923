//! The tokens of packetdrill's language, each with its place in the file. The rules follow
//! packetdrill's own lexer: numbers before words, `...` before `.`, `//` and `/* */`
//! comments, backquoted commands and `%{ }%` code blocks taken whole.

use crate::parse::ParseError;
use crate::script::Pos;

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A decimal or hexadecimal integer, maybe negative.
    Int(i64),
    /// A number with a fraction (`.1`, `0.100`), as microseconds when it is a time.
    Float(f64),
    /// A word: letters, digits and `_`.
    Word(String),
    /// A double-quoted string, without its quotes.
    Str(String),
    /// A backquoted command, without its quotes.
    Command(String),
    /// A `%{ ... }%` block's text.
    Code(String),
    /// `--name` and its raw `=value`, if any.
    Option(String, Option<String>),
    /// `...`.
    Ellipsis,
    /// Any other single character.
    Punct(char),
    /// The end of the file.
    End,
}

impl Tok {
    /// How an error message names the token.
    pub fn describe(&self) -> String {
        match self {
            Tok::Int(n) => format!("`{n}`"),
            Tok::Float(x) => format!("`{x}`"),
            Tok::Word(w) => format!("`{w}`"),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Command(_) => "a backquoted command".to_string(),
            Tok::Code(_) => "a %{ }% block".to_string(),
            Tok::Option(name, _) => format!("`--{name}`"),
            Tok::Ellipsis => "`...`".to_string(),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::End => "the end of the file".to_string(),
        }
    }
}

/// A token and where it starts.
#[derive(Clone, Debug)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Where it starts.
    pub pos: Pos,
}

/// A cursor over the file's characters that keeps count of lines and columns.
struct Cursor<'a> {
    text: &'a str,
    offset: usize,
    line: u32,
    column: u32,
}

impl Cursor<'_> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
            offset: self.offset,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.offset..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.text[self.offset..].chars().nth(n)
    }

    fn rest(&self) -> &str {
        &self.text[self.offset..]
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &str {
        let start = self.offset;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        &self.text[start..self.offset]
    }

    /// Everything up to `end` (which is consumed), or an error naming what is missing.
    fn until(&mut self, end: &str, start: Pos, what: &str) -> Result<String, ParseError> {
        match self.rest().find(end) {
            Some(n) => {
                let body = self.rest()[..n].to_string();
                for _ in 0..body.chars().count() + end.chars().count() {
                    self.bump();
                }
                Ok(body)
            }
            None => Err(ParseError::new(
                start,
                format!("the `{end}` that ends {what}"),
                "the end of the file",
            )),
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The script's tokens, ending with [`Tok::End`].
pub fn tokens(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut cursor = Cursor {
        text,
        offset: 0,
        line: 1,
        column: 1,
    };
    let mut out = Vec::new();
    loop {
        skip_blanks(&mut cursor)?;
        let pos = cursor.pos();
        let Some(c) = cursor.peek() else {
            out.push(Token { tok: Tok::End, pos });
            return Ok(out);
        };
        let tok = token(&mut cursor, c, pos)?;
        out.push(Token { tok, pos });
    }
}

fn skip_blanks(cursor: &mut Cursor) -> Result<(), ParseError> {
    loop {
        let start = cursor.pos();
        match (cursor.peek(), cursor.peek_at(1)) {
            (Some(c), _) if c.is_whitespace() => {
                cursor.bump();
            }
            (Some('/'), Some('/')) => {
                cursor.take_while(|c| c != '\n');
            }
            (Some('/'), Some('*')) => {
                cursor.bump();
                cursor.bump();
                cursor.until("*/", start, "this comment")?;
            }
            _ => return Ok(()),
        }
    }
}

fn token(cursor: &mut Cursor, c: char, pos: Pos) -> Result<Tok, ParseError> {
    let next = cursor.peek_at(1);
    match c {
        '`' => {
            cursor.bump();
            Ok(Tok::Command(cursor.until("`", pos, "this command")?))
        }
        '"' => {
            cursor.bump();
            Ok(Tok::Str(cursor.until("\"", pos, "this string")?))
        }
        '%' if next == Some('{') => {
            cursor.bump();
            cursor.bump();
            Ok(Tok::Code(cursor.until("}%", pos, "this code block")?))
        }
        '-' if next == Some('-') => {
            cursor.bump();
            cursor.bump();
            let name = cursor.take_while(is_word).to_string();
            let value = (cursor.peek() == Some('=')).then(|| {
                cursor.bump();
                cursor.take_while(|c| !c.is_whitespace()).to_string()
            });
            Ok(Tok::Option(name, value))
        }
        '.' if cursor.rest().starts_with("...") => {
            for _ in 0..3 {
                cursor.bump();
            }
            Ok(Tok::Ellipsis)
        }
        '-' | '.' if next.is_some_and(|n| n.is_ascii_digit() || (c == '-' && n == '.')) => {
            number(cursor, pos)
        }
        c if c.is_ascii_digit() => number(cursor, pos),
        c if is_word(c) => Ok(Tok::Word(cursor.take_while(is_word).to_string())),
        _ => {
            cursor.bump();
            Ok(Tok::Punct(c))
        }
    }
}

/// `-1`, `1000`, `0x2`, `.1`, `0.100`: the same rules as packetdrill's lexer.
fn number(cursor: &mut Cursor, pos: Pos) -> Result<Tok, ParseError> {
    let rest = cursor.rest();
    if let Some(hex) = rest.strip_prefix("0x") {
        let digits: String = hex.chars().take_while(char::is_ascii_hexdigit).collect();
        for _ in 0..2 + digits.len() {
            cursor.bump();
        }
        return i64::from_str_radix(&digits, 16)
            .map(Tok::Int)
            .map_err(|_| ParseError::new(pos, "a hexadecimal number", format!("`0x{digits}`")));
    }
    let negative = cursor.peek() == Some('-');
    if negative {
        cursor.bump();
    }
    let whole = cursor.take_while(|c| c.is_ascii_digit()).to_string();
    let fraction = (cursor.peek() == Some('.')
        && cursor.peek_at(1).is_some_and(|c| c.is_ascii_digit()))
    .then(|| {
        cursor.bump();
        cursor.take_while(|c| c.is_ascii_digit()).to_string()
    });
    let sign = if negative { "-" } else { "" };
    let bad = |text: String| ParseError::new(pos, "a number", format!("`{text}`"));
    match fraction {
        Some(fraction) => {
            let text = format!(
                "{sign}{}.{fraction}",
                if whole.is_empty() { "0" } else { &whole }
            );
            text.parse().map(Tok::Float).map_err(|_| bad(text))
        }
        None => {
            let text = format!("{sign}{whole}");
            text.parse().map(Tok::Int).map_err(|_| bad(text))
        }
    }
}
