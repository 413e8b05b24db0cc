//! How keys and values are shown and given on the command line: escaped
//! text (`\x00`, `\n`, `\\`), or hex.

/// How bytes are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// Printable ASCII as is, other bytes escaped (`\x00`, `\n`, `\\`).
    Text,
    /// Two lowercase hex digits per byte.
    Hex,
}

impl Encoding {
    /// `bytes` shown in this encoding, escaped text quoted.
    pub fn show(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Text => format!("'{}'", bytes.escape_ascii()),
            Encoding::Hex => hex(bytes),
        }
    }

    /// Bytes given on the command line in this encoding: text as is
    /// (UTF-8), hex as pairs of digits.
    pub fn parse(self, given: &str) -> Result<Vec<u8>, String> {
        match self {
            Encoding::Text => Ok(given.as_bytes().to_vec()),
            Encoding::Hex => parse_hex(given),
        }
    }
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    hex_into(bytes, &mut out);
    // Hex digits are ASCII.
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends `bytes` as lowercase hex to `out`.
pub fn hex_into(bytes: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
}

fn parse_hex(given: &str) -> Result<Vec<u8>, String> {
    unhex(given.as_bytes()).map_err(|problem| format!("hex {given:?} {problem}"))
}

/// The bytes that the hex digits `digits` (either case) stand for; the
/// error says what is wrong with them.
pub fn unhex(digits: &[u8]) -> Result<Vec<u8>, String> {
    if let Some(at) = digits.iter().position(|d| !d.is_ascii_hexdigit()) {
        return Err(format!("has a non-hex byte at offset {at}"));
    }
    if !digits.len().is_multiple_of(2) {
        return Err("has an odd number of digits".to_string());
    }
    Ok(digits
        .chunks_exact(2)
        .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1]))
        .collect())
}

/// REQUIRES: `d` is an ASCII hex digit.
fn nibble(d: u8) -> u8 {
    (d as char).to_digit(16).unwrap_or(0) as u8
}

/// Writes `bytes` escaped as [`Encoding::Text`] shows them, without the
/// quotes: `\t`, `\r`, `\n`, `\\`, `\'`, `\"`, `\xHH` for other bytes
/// outside printable ASCII. So the output holds no tab, no line break and
/// no byte above 0x7e.
pub fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{}", bytes.escape_ascii());
}

/// The bytes that escaped text stands for: the inverse of [`escape`]. A
/// byte other than `\` stands for itself; after `\` come `t`, `r`, `n`,
/// `\`, `'`, `"`, or `x` and two hex digits (either case). The error
/// names the offset of the bad escape.
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let (byte, len) = match text.get(i + 1) {
            Some(b't') => (b'\t', 2),
            Some(b'r') => (b'\r', 2),
            Some(b'n') => (b'\n', 2),
            Some(&c @ (b'\\' | b'\'' | b'"')) => (c, 2),
            Some(b'x') => match text.get(i + 2..i + 4) {
                Some(&[hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                    (nibble(hi) << 4 | nibble(lo), 4)
                }
                _ => {
                    return Err(format!(
                        "\\x at offset {i} is not followed by two hex digits"
                    ));
                }
            },
            Some(&c) => {
                return Err(format!(
                    "unknown escape \\{} at offset {i}",
                    [c].escape_ascii()
                ));
            }
            None => return Err(format!("lone \\ at offset {i}, the end")),
        };
        out.push(byte);
        i += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_what_is_not_printable() {
        assert_eq!(Encoding::Text.show(b"a\x00b\n\\"), r"'a\x00b\n\\'");
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 0x7f, 0xff, b'a'];
        assert_eq!(Encoding::Hex.show(&bytes), "007fff61");
        assert_eq!(Encoding::Hex.parse("007fFF61").unwrap(), bytes);
        assert!(Encoding::Hex.parse("abc").is_err());
        assert!(Encoding::Hex.parse("zz").is_err());
        assert!(Encoding::Hex.parse("+1").is_err());
    }

    #[test]
    fn unescape_inverts_escape_for_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let mut text = Vec::new();
        escape(&all, &mut text);
        assert!(!text.iter().any(|&b| b == b'\t' || b == b'\n' || b > 0x7e));
        assert_eq!(unescape(&text).unwrap(), all);
        assert_eq!(
            unescape(b"\\X41").unwrap_err(),
            "unknown escape \\X at offset 0"
        );
        assert_eq!(
            unescape(b"\\x4").unwrap_err(),
            "\\x at offset 0 is not followed by two hex digits"
        );
        assert_eq!(
            unescape(b"ab\\").unwrap_err(),
            "lone \\ at offset 2, the end"
        );
        assert_eq!(
            unescape("caf\u{e9}".as_bytes()).unwrap(),
            "caf\u{e9}".as_bytes()
        );
    }
}
