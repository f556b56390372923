//! Message framing over TCP's byte stream, the fix for 粘包 ("sticky packets"): a 4-byte
//! length before each message, packed as Python's `struct.pack(FMT, n)` would, and the JSON
//! file header of the course notes (`{"filename": ..., "filesize": ...}`) behind one.

use std::fmt;

/// A `struct` format for a 4-byte length: byte order and signedness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthPrefix {
    /// `'i'` (native: little-endian on x86 and ARM) or `'<i'`: what the notes use.
    LittleSigned,
    /// `'I'` or `'<I'`.
    LittleUnsigned,
    /// `'!i'` or `'>i'`: network (big-endian) order.
    BigSigned,
    /// `'!I'` or `'>I'`: network order, unsigned: the portable choice.
    BigUnsigned,
}

impl LengthPrefix {
    /// Read a format as written in a program: `i`, `<i`, `I`, `<I`, `!i`, `>i`, `!I`, `>I`
    /// (quotes allowed).
    pub fn parse(text: &str) -> Option<LengthPrefix> {
        Some(match text.trim_matches(|c| c == '\'' || c == '"') {
            "i" | "<i" | "=i" | "@i" => LengthPrefix::LittleSigned,
            "I" | "<I" | "=I" | "@I" => LengthPrefix::LittleUnsigned,
            "!i" | ">i" => LengthPrefix::BigSigned,
            "!I" | ">I" => LengthPrefix::BigUnsigned,
            _ => return None,
        })
    }

    /// The format string, as Python writes it.
    pub fn format(self) -> &'static str {
        match self {
            LengthPrefix::LittleSigned => "i",
            LengthPrefix::LittleUnsigned => "I",
            LengthPrefix::BigSigned => "!i",
            LengthPrefix::BigUnsigned => "!I",
        }
    }

    /// `struct.pack(FMT, n)`.
    pub fn pack(self, n: u32) -> [u8; 4] {
        match self {
            LengthPrefix::LittleSigned | LengthPrefix::LittleUnsigned => n.to_le_bytes(),
            LengthPrefix::BigSigned | LengthPrefix::BigUnsigned => n.to_be_bytes(),
        }
    }

    /// `struct.unpack(FMT, b)[0]`.
    pub fn unpack(self, b: [u8; 4]) -> i64 {
        match self {
            LengthPrefix::LittleSigned => i64::from(i32::from_le_bytes(b)),
            LengthPrefix::LittleUnsigned => i64::from(u32::from_le_bytes(b)),
            LengthPrefix::BigSigned => i64::from(i32::from_be_bytes(b)),
            LengthPrefix::BigUnsigned => i64::from(u32::from_be_bytes(b)),
        }
    }

    /// `data` with its length in front.
    pub fn frame(self, data: &[u8]) -> Vec<u8> {
        let mut out = self.pack(data.len() as u32).to_vec();
        out.extend_from_slice(data);
        out
    }
}

impl fmt::Display for LengthPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct.pack('{}', n)", self.format())
    }
}

/// The file header of the notes, as Python's `json.dumps` writes it:
/// `{"filename": "vc.mp4", "filesize": 501024}`.
pub fn file_header(name: &str, size: u64) -> Vec<u8> {
    let name = serde_json::to_string(name).unwrap_or_else(|_| "\"?\"".to_string());
    format!("{{\"filename\": {name}, \"filesize\": {size}}}").into_bytes()
}

/// Read a file header back: the name and size, or what is wrong with it.
pub fn parse_file_header(bytes: &[u8]) -> Result<(String, u64), String> {
    #[derive(serde::Deserialize)]
    struct Header {
        filename: String,
        filesize: u64,
    }
    serde_json::from_slice::<Header>(bytes)
        .map(|h| (h.filename, h.filesize))
        .map_err(|e| format!("the file header is not the JSON expected: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_as_python_struct_does() {
        // struct.pack('i', 5) == b'\x05\x00\x00\x00'; struct.pack('!I', 5) == b'\x00\x00\x00\x05'
        assert_eq!(LengthPrefix::LittleSigned.pack(5), [5, 0, 0, 0]);
        assert_eq!(LengthPrefix::BigUnsigned.pack(5), [0, 0, 0, 5]);
        assert_eq!(LengthPrefix::LittleSigned.unpack([0xff; 4]), -1);
        assert_eq!(LengthPrefix::BigUnsigned.unpack([0xff; 4]), 4_294_967_295);
        assert_eq!(LengthPrefix::parse("'!I'"), Some(LengthPrefix::BigUnsigned));
        assert_eq!(LengthPrefix::parse("q"), None);
    }

    #[test]
    fn the_header_reads_like_json_dumps_and_back() {
        let h = file_header("vc.mp4", 501_024);
        assert_eq!(h, br#"{"filename": "vc.mp4", "filesize": 501024}"#);
        assert_eq!(
            parse_file_header(&h).unwrap(),
            ("vc.mp4".to_string(), 501_024)
        );
        assert!(parse_file_header(b"{\"name\": 1}").is_err());
    }
}
