//! How keys and values are shown and given on the command line: escaped
//! text (`\x00`, `\n`, `\\`), or hex.

use std::fmt::Write as _;

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
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn parse_hex(given: &str) -> Result<Vec<u8>, String> {
    let digits = given.as_bytes();
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(format!("{given:?} is not hex"));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!("hex {given:?} has an odd number of digits"));
    }
    let nibble = |d: u8| (d as char).to_digit(16).unwrap_or(0) as u8;
    Ok(digits
        .chunks_exact(2)
        .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1]))
        .collect())
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
}
