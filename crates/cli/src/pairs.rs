//! The formats of key/value pairs that `lsmkit load` reads and `lsmkit
//! dump` writes, one pair per line (a csv record may span lines):
//!
//! ```text
//! text:  KEY \t VALUE \n     escaped as the CLI shows text: \t \r \n \\ \' \" \xHH
//! hex:   HEXKEY \t HEXVALUE \n   two hex digits per byte (dump writes lowercase)
//! csv:   KEY , VALUE \r\n    RFC 4180; a field holding , " CR or LF is quoted, " doubled
//! ```
//!
//! Every format is exact for any bytes: text escapes every tab, line break
//! and byte outside printable ASCII, so one raw tab splits key from value
//! and a line break ends the pair; csv carries bytes as they are (not
//! necessarily UTF-8). On reading, a line may end with LF or CRLF, the
//! last line may lack its line end, and empty lines are skipped (an empty
//! key with an empty value is a line of one tab, or `,` in csv).

mod csv;

use std::io::{self, BufRead};

use crate::bytes::{self, escape, hex_into, unescape};

/// One key and its value.
pub type Pair = (Vec<u8>, Vec<u8>);

/// The formats, for `--help`.
pub const FORMATS_HELP: &str = "\
Formats (one pair per line; the same for load and dump, so dump | load copies a database exactly):
  text  KEY<TAB>VALUE<LF>. Bytes escaped as the CLI shows text: \\t \\r \\n \\\\ \\' \\\" and \\xHH
        for every other byte outside printable ASCII; any other byte stands for itself. Exactly
        one raw tab per line.
  hex   HEXKEY<TAB>HEXVALUE<LF>, two hex digits per byte (either case; dump writes lowercase).
  csv   RFC 4180 KEY,VALUE<CRLF>: a field holding a comma, a quote, CR or LF is quoted (\"...\")
        with each quote doubled, and may then span lines; bytes are taken as they are. Strict:
        a stray quote or an unclosed quoted field is an error.
On reading, lines may end with LF or CRLF, the last line may lack its end, and empty lines
are skipped.";

/// `n` pairs, in words.
pub fn count(n: u64) -> String {
    if n == 1 {
        "1 pair".to_string()
    } else {
        format!("{n} pairs")
    }
}

/// How pairs are written out, one per line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PairFormat {
    /// `KEY<TAB>VALUE`, escaped as the CLI shows text.
    Text,
    /// `HEXKEY<TAB>HEXVALUE`.
    Hex,
    /// RFC 4180 `KEY,VALUE`.
    Csv,
}

impl PairFormat {
    /// Appends the pair `key`, `value` to `out`, with its line end.
    pub fn write_pair(self, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
        match self {
            PairFormat::Text => {
                escape(key, out);
                out.push(b'\t');
                escape(value, out);
                out.push(b'\n');
            }
            PairFormat::Hex => {
                hex_into(key, out);
                out.push(b'\t');
                hex_into(value, out);
                out.push(b'\n');
            }
            PairFormat::Csv => csv::write_record(key, value, out),
        }
    }

    /// A key given on the command line as this format writes keys: text
    /// escaped, hex as hex, csv as it is.
    pub fn parse_key(self, given: &str) -> Result<Vec<u8>, String> {
        match self {
            PairFormat::Text => unescape(given.as_bytes()),
            PairFormat::Hex => bytes::unhex(given.as_bytes()),
            PairFormat::Csv => Ok(given.as_bytes().to_vec()),
        }
    }
}

/// Why a pair could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Reading the input failed.
    Io(io::Error),
    /// The input is not in the format, at `line` (counted from 1).
    Malformed {
        /// The line the problem is on.
        line: u64,
        /// What is wrong.
        problem: String,
    },
}

/// Reads pairs in a [`PairFormat`], counting lines.
pub struct PairReader<R> {
    input: R,
    format: PairFormat,
    /// The lines read so far.
    lines: u64,
    /// The line the last pair started on.
    pair_line: u64,
    /// The bytes read so far.
    bytes: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> PairReader<R> {
    /// A reader of `input` in `format`.
    pub fn new(input: R, format: PairFormat) -> PairReader<R> {
        PairReader {
            input,
            format,
            lines: 0,
            pair_line: 0,
            bytes: 0,
            buf: Vec::new(),
        }
    }

    /// The next pair, or `None` at the end of the input.
    pub fn next_pair(&mut self) -> Result<Option<Pair>, ReadError> {
        loop {
            self.buf.clear();
            if !self.read_line()? {
                return Ok(None);
            }
            if line_body(&self.buf).is_empty() {
                continue;
            }
            let line = self.lines;
            self.pair_line = line;
            let pair = match self.format {
                PairFormat::Text => split_tab(line_body(&self.buf)).and_then(|(k, v)| {
                    Ok((field(unescape(k), "key")?, field(unescape(v), "value")?))
                }),
                PairFormat::Hex => split_tab(line_body(&self.buf)).and_then(|(k, v)| {
                    Ok((
                        field(bytes::unhex(k), "key")?,
                        field(bytes::unhex(v), "value")?,
                    ))
                }),
                PairFormat::Csv => return csv::read_record(self).map(Some),
            };
            return pair
                .map(Some)
                .map_err(|problem| ReadError::Malformed { line, problem });
        }
    }

    /// The line (counted from 1) that the last pair read started on.
    pub fn pair_line(&self) -> u64 {
        self.pair_line
    }

    /// How many bytes of the input were read.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Appends the next line, with its line end, to the buffer; false at
    /// the end of the input.
    fn read_line(&mut self) -> Result<bool, ReadError> {
        let n = self
            .input
            .read_until(b'\n', &mut self.buf)
            .map_err(ReadError::Io)?;
        if n > 0 {
            self.lines += 1;
            self.bytes += n as u64;
        }
        Ok(n > 0)
    }
}

/// `line` without its LF or CRLF.
fn line_body(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn split_tab(line: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let mut fields = line.split(|&b| b == b'\t');
    match (fields.next(), fields.next(), fields.next()) {
        (Some(key), Some(value), None) => Ok((key, value)),
        (_, None, _) => Err("no tab between key and value".to_string()),
        _ => Err("more than one tab (a tab in a key or value is written \\t)".to_string()),
    }
}

fn field(decoded: Result<Vec<u8>, String>, what: &str) -> Result<Vec<u8>, String> {
    decoded.map_err(|problem| format!("{what}: {problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of `input`, or the line and problem of the first bad one.
    pub(super) fn read_all(input: &[u8], format: PairFormat) -> Result<Vec<Pair>, (u64, String)> {
        let mut reader = PairReader::new(input, format);
        let mut pairs = Vec::new();
        loop {
            match reader.next_pair() {
                Ok(Some(pair)) => pairs.push(pair),
                Ok(None) => return Ok(pairs),
                Err(ReadError::Malformed { line, problem }) => return Err((line, problem)),
                Err(ReadError::Io(e)) => panic!("{e}"),
            }
        }
    }

    fn pair(k: &[u8], v: &[u8]) -> Pair {
        (k.to_vec(), v.to_vec())
    }

    #[test]
    fn text_lines_split_at_the_one_tab() {
        let input = b"a\t1\r\n\n\\t\\x00\t\\n\nlast\t";
        assert_eq!(
            read_all(input, PairFormat::Text).unwrap(),
            vec![pair(b"a", b"1"), pair(b"\t\x00", b"\n"), pair(b"last", b"")]
        );
        assert_eq!(
            read_all(b"a\t1\nb\n", PairFormat::Text).unwrap_err(),
            (2, "no tab between key and value".to_string())
        );
        let (line, problem) = read_all(b"a\tb\tc\n", PairFormat::Text).unwrap_err();
        assert_eq!(line, 1);
        assert!(problem.starts_with("more than one tab"), "{problem}");
        let (line, problem) = read_all(b"\n\nk\\q\tv\n", PairFormat::Text).unwrap_err();
        assert_eq!(
            (line, problem.as_str()),
            (3, "key: unknown escape \\q at offset 1")
        );
    }

    #[test]
    fn hex_lines_decode_either_case() {
        assert_eq!(
            read_all(b"6B\t\nff00\t0a\n", PairFormat::Hex).unwrap(),
            vec![pair(b"k", b""), pair(b"\xff\x00", b"\n")]
        );
        let (line, problem) = read_all(b"6b\t7\n", PairFormat::Hex).unwrap_err();
        assert_eq!(
            (line, problem.as_str()),
            (1, "value: has an odd number of digits")
        );
    }

    #[test]
    fn every_format_writes_what_it_reads() {
        let pairs = vec![
            pair(b"", b""),
            pair(b"tab\there", b"line\nbreak\r\n"),
            pair(b"comma,\"quote\"", b"\xff\xfe not utf-8 \\"),
        ];
        for format in [PairFormat::Text, PairFormat::Hex, PairFormat::Csv] {
            let mut out = Vec::new();
            for (k, v) in &pairs {
                format.write_pair(k, v, &mut out);
            }
            assert_eq!(read_all(&out, format).unwrap(), pairs, "{format:?}");
        }
    }
}
