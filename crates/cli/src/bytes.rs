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
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
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
    }
}
