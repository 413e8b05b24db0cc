//! RFC 4180 records of two fields, read strictly: where the `csv` crate's
//! parser accepts any input (a stray quote joins the field, an unclosed
//! quote runs to the end), a loader must say which line is wrong.
//!
//! ```text
//! record = field "," field (CRLF | LF | end of input)
//! field  = quoted | plain
//! quoted = '"' (any byte but '"' | '""')* '"'     may span lines
//! plain  = (any byte but '"' , CR LF)*
//! ```

use std::io::BufRead;

use super::{Pair, PairReader, ReadError};

/// Appends `key,value` and CRLF, quoting a field that needs it.
pub(super) fn write_record(key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    write_field(key, out);
    out.push(b',');
    write_field(value, out);
    out.extend_from_slice(b"\r\n");
}

fn write_field(field: &[u8], out: &mut Vec<u8>) {
    if !field
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
    {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Reads the record that starts with the line in `reader.buf`, reading
/// more lines while a quoted field is open.
pub(super) fn read_record<R: BufRead>(reader: &mut PairReader<R>) -> Result<Pair, ReadError> {
    let first_line = reader.lines;
    let mut fields: Vec<Vec<u8>> = Vec::with_capacity(2);
    let mut i = 0;
    loop {
        let mut field = Vec::new();
        if reader.buf.get(i) == Some(&b'"') {
            let opened = line_at(reader, first_line, i);
            i += 1;
            loop {
                match reader.buf.get(i).copied() {
                    None if reader.read_line()? => {}
                    None => {
                        return Err(ReadError::Malformed {
                            line: opened,
                            problem: "quoted field never closes (the input ends inside it)"
                                .to_string(),
                        });
                    }
                    Some(b'"') if reader.buf.get(i + 1) == Some(&b'"') => {
                        field.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b) => {
                        field.push(b);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(&b) = reader.buf.get(i) {
                match b {
                    b',' | b'\n' => break,
                    b'\r' if ends_line(&reader.buf[i..]) => break,
                    b'"' | b'\r' => {
                        let what = if b == b'"' {
                            "a quote"
                        } else {
                            "a carriage return"
                        };
                        return Err(ReadError::Malformed {
                            line: line_at(reader, first_line, i),
                            problem: format!(
                                "{what} inside an unquoted field (quote the field, doubling its quotes)"
                            ),
                        });
                    }
                    _ => {
                        field.push(b);
                        i += 1;
                    }
                }
            }
        }
        fields.push(field);
        match reader.buf.get(i) {
            Some(b',') => i += 1,
            None | Some(b'\n') => break,
            Some(b'\r') if ends_line(&reader.buf[i..]) => break,
            Some(&b) => {
                return Err(ReadError::Malformed {
                    line: line_at(reader, first_line, i),
                    problem: format!(
                        "'{}' after a closing quote, not a comma or the line's end",
                        [b].escape_ascii()
                    ),
                });
            }
        }
    }
    match <[Vec<u8>; 2]>::try_from(fields) {
        Ok([key, value]) => Ok((key, value)),
        Err(fields) => Err(ReadError::Malformed {
            line: first_line,
            problem: format!("{} fields, not 2 (key,value)", fields.len()),
        }),
    }
}

/// Whether `rest`, which starts with CR, is a line end: CRLF, or CR at the
/// end of the input (every line read but the last ends with LF).
fn ends_line(rest: &[u8]) -> bool {
    matches!(rest, [b'\r'] | [b'\r', b'\n', ..])
}

/// The line of byte `i` of the record, which started on `first_line`.
fn line_at<R>(reader: &PairReader<R>, first_line: u64, i: usize) -> u64 {
    let breaks = reader.buf[..i].iter().filter(|&&b| b == b'\n').count();
    first_line + breaks as u64
}

#[cfg(test)]
mod tests {
    use super::super::PairFormat;
    use super::super::tests::read_all;
    use super::*;

    fn read(input: &[u8]) -> Result<Vec<Pair>, (u64, String)> {
        read_all(input, PairFormat::Csv)
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_lines() {
        let input = b"a,1\r\n\"b,\"\"x\"\"\",\"two\nlines\"\n,\nlast,\"\"";
        assert_eq!(
            read(input).unwrap(),
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b,\"x\"".to_vec(), b"two\nlines".to_vec()),
                (b"".to_vec(), b"".to_vec()),
                (b"last".to_vec(), b"".to_vec()),
            ]
        );
    }

    #[test]
    fn a_field_needing_quotes_is_quoted() {
        let mut out = Vec::new();
        write_record(b"plain", b"a \"q\",\r\n", &mut out);
        assert_eq!(out, b"plain,\"a \"\"q\"\",\r\n\"\r\n");
    }

    #[test]
    fn malformed_records_name_their_line() {
        let cases: &[(&[u8], u64, &str)] = &[
            (b"a,1\nb\n", 2, "1 fields, not 2"),
            (b"a,1,2\n", 1, "3 fields, not 2"),
            (b"a,1\nb\"c,1\n", 2, "a quote inside an unquoted field"),
            (b"a,b\rc\n", 1, "a carriage return inside"),
            (b"a,1\n\"b\"x,1\n", 2, "'x' after a closing quote"),
            (
                b"k,1\n\n\"open,\nstill\nopen\n",
                3,
                "quoted field never closes",
            ),
            (
                b"\"multi\nline\",\"v\"\"\nx\"y\n",
                3,
                "'y' after a closing quote",
            ),
        ];
        for &(input, line, start) in cases {
            let (at, problem) = read(input).unwrap_err();
            assert_eq!(at, line, "{problem}");
            assert!(problem.starts_with(start), "{problem}");
        }
    }
}
