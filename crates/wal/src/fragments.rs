//! The fragment scanner under [`LogReader`](crate::LogReader): walks a log
//! file block by block and yields each fragment, or each damaged range,
//! without judging either. Assembling records and applying a recovery mode
//! is the reader's job.

use std::io;
use std::sync::Arc;

use crate::error::Corruption;
use crate::format::{BLOCK_SIZE, FragmentType, HEADER_SIZE, Header, LOG_NUMBER_AT, TYPE_AT};
use lsmkit_vfs::RandomAccessFile;

/// One step of a scan.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// A fragment whose checksum, type and log number are right.
    Fragment {
        offset: u64,
        ty: FragmentType,
        payload: &'a [u8],
    },
    /// A damaged range of `len` bytes at `offset`.
    Bad {
        offset: u64,
        len: u64,
        what: Corruption,
    },
}

/// Scans the fragments of one log file in order.
#[derive(Debug)]
pub(crate) struct Fragments {
    file: Arc<dyn RandomAccessFile>,
    file_len: u64,
    log_number: u32,
    /// Whether the file offers all its bytes as one slice, so that blocks
    /// need not be copied.
    direct: bool,
    /// File offset of the current block.
    block_start: u64,
    /// Bytes of the current block in the file (less than a block at the
    /// end), or `None` before the block is loaded.
    block_len: Option<usize>,
    /// The current block, when the file does not offer its bytes directly.
    buf: Vec<u8>,
    /// Offset of the next fragment within the current block.
    pos: usize,
    /// Whether zeros that run to the end of the file end the log (its
    /// writer preallocated) rather than being damage.
    zeros_end_log: bool,
    /// Where the zeros that end the file begin, once the scan reached them.
    zero_tail: Option<u64>,
    /// The last scan for zeros: from where, and the first non-zero byte it
    /// found, so that a run of zeroed headers is scanned once, not once
    /// per block.
    nonzero_at: Option<(u64, u64)>,
}

impl Fragments {
    pub(crate) fn new(file: Arc<dyn RandomAccessFile>, log_number: u32) -> Fragments {
        let file_len = file.len();
        let direct = file.as_bytes().map(|bytes| bytes.len() as u64) == Some(file_len);
        Fragments {
            file_len,
            direct,
            file,
            log_number,
            block_start: 0,
            block_len: None,
            buf: Vec::new(),
            pos: 0,
            zeros_end_log: false,
            zero_tail: None,
            nonzero_at: None,
        }
    }

    /// Takes zeros that run to the end of the file for the end of the log.
    pub(crate) fn set_zeros_end_log(&mut self, on: bool) {
        self.zeros_end_log = on;
    }

    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    /// How many bytes of zeros end the file, past its last fragment: space
    /// the writer preallocated and had not filled. Known once the scan
    /// returned `None`.
    pub(crate) fn zero_tail(&self) -> u64 {
        self.zero_tail.map_or(0, |from| self.file_len - from)
    }

    /// The next fragment or damaged range, or `None` at the end of the
    /// file.
    pub(crate) fn next_event(&mut self) -> io::Result<Option<Event<'_>>> {
        loop {
            let block_len = match self.block_len {
                Some(len) => len,
                None if self.block_start >= self.file_len => return Ok(None),
                None => self.load_block()?,
            };
            let pos = self.pos;
            let offset = self.block_start + pos as u64;
            let rest = block_len - pos;
            if BLOCK_SIZE - pos < HEADER_SIZE {
                // The block's padding (all of it, or what the file has).
                let zeroed = self.block()[pos..].iter().all(|&b| b == 0);
                self.next_block();
                if zeroed {
                    continue;
                }
                return Ok(Some(bad(offset, rest, Corruption::BadPadding)));
            }
            if rest < HEADER_SIZE {
                if rest > 0 && self.zero_tail_at(offset)? {
                    return Ok(self.end_at_zeros(offset));
                }
                self.next_block();
                if rest == 0 {
                    continue;
                }
                let what = Corruption::Truncated {
                    needed: HEADER_SIZE as u64,
                    available: rest as u64,
                };
                return Ok(Some(bad(offset, rest, what)));
            }
            let mut raw = [0u8; HEADER_SIZE];
            raw.copy_from_slice(&self.block()[pos..pos + HEADER_SIZE]);
            let header = Header::decode(&raw);
            let needed = HEADER_SIZE + usize::from(header.len);
            // Until the checksum is checked, the length cannot be trusted:
            // a damaged fragment takes the rest of its block with it.
            let rest_of_block = |what| {
                Some(Event::Bad {
                    offset,
                    len: rest as u64,
                    what,
                })
            };
            if raw == [0; HEADER_SIZE] {
                // Zeros from here to the end of the file are preallocated
                // space, not damage: the log ends cleanly before them.
                if self.zero_tail_at(offset)? {
                    return Ok(self.end_at_zeros(offset));
                }
                self.next_block();
                return Ok(rest_of_block(Corruption::Zeroed));
            }
            if pos + needed > BLOCK_SIZE {
                self.next_block();
                let room = (BLOCK_SIZE - pos - HEADER_SIZE) as u64;
                let len = u64::from(header.len);
                return Ok(rest_of_block(Corruption::BadLength { len, room }));
            }
            if needed > rest {
                self.next_block();
                let (needed, available) = (needed as u64, rest as u64);
                return Ok(rest_of_block(Corruption::Truncated { needed, available }));
            }
            let payload_range = pos + HEADER_SIZE..pos + needed;
            let computed = header.expected_crc(&self.block()[payload_range.clone()]);
            if computed != header.crc {
                self.next_block();
                let stored = header.crc;
                return Ok(rest_of_block(Corruption::ChecksumMismatch {
                    stored,
                    computed,
                }));
            }
            // The checksum vouches for the length from here on.
            self.pos += needed;
            let Some(ty) = FragmentType::from_byte(header.type_byte) else {
                let what = Corruption::UnknownType {
                    found: header.type_byte,
                };
                return Ok(Some(bad(offset, needed, what)));
            };
            if header.log_number != self.log_number {
                let what = Corruption::ForeignLogNumber {
                    expected: self.log_number,
                    found: header.log_number,
                };
                return Ok(Some(bad(offset, needed, what)));
            }
            return Ok(Some(Event::Fragment {
                offset,
                ty,
                payload: &self.block()[payload_range],
            }));
        }
    }

    /// Ends the scan at `offset`, where zeros run to the end of the file.
    fn end_at_zeros(&mut self, offset: u64) -> Option<Event<'static>> {
        self.zero_tail = Some(offset);
        self.block_start = self.file_len;
        self.block_len = None;
        self.pos = 0;
        None
    }

    /// Whether the zeros the scan met at `offset` end the log: the log may
    /// end in zeros, and nothing but zeros follows.
    fn zero_tail_at(&mut self, offset: u64) -> io::Result<bool> {
        Ok(self.zeros_end_log && self.zeros_from(offset)?)
    }

    /// Whether every byte from `from` to the end of the file is zero.
    fn zeros_from(&mut self, from: u64) -> io::Result<bool> {
        if let Some((scanned_from, nonzero)) = self.nonzero_at
            && scanned_from <= from
            && from <= nonzero
        {
            return Ok(false);
        }
        let mut buf = Vec::new();
        let mut at = from;
        while at < self.file_len {
            let len = self.block_len_at(at);
            let bytes = self.bytes_at(at, len, &mut buf)?;
            if let Some(i) = bytes.iter().position(|&b| b != 0) {
                self.nonzero_at = Some((from, at + i as u64));
                return Ok(false);
            }
            at += len as u64;
        }
        Ok(true)
    }

    /// Reads the block at `block_start` (unless the file offers its bytes)
    /// and returns its length.
    fn load_block(&mut self) -> io::Result<usize> {
        let len = self.block_len_at(self.block_start);
        if !self.direct {
            self.buf.resize(len, 0);
            self.file.read_at(self.block_start, &mut self.buf)?;
        }
        self.block_len = Some(len);
        self.pos = 0;
        Ok(len)
    }

    /// The length of the block starting at `start`: a whole block, or what
    /// the file has of it.
    fn block_len_at(&self, start: u64) -> usize {
        // At most a block: fits a usize.
        (self.file_len - start).min(BLOCK_SIZE as u64) as usize
    }

    /// The bytes of the loaded block.
    fn block(&self) -> &[u8] {
        let len = self.block_len.unwrap_or(0);
        self.direct_bytes(self.block_start, len)
            .unwrap_or_else(|| &self.buf[..len])
    }

    /// `len` bytes at `start`: in place if the file offers its bytes,
    /// else read into `buf`.
    fn bytes_at<'a>(
        &'a self,
        start: u64,
        len: usize,
        buf: &'a mut Vec<u8>,
    ) -> io::Result<&'a [u8]> {
        if let Some(bytes) = self.direct_bytes(start, len) {
            return Ok(bytes);
        }
        buf.resize(len, 0);
        self.file.read_at(start, buf)?;
        Ok(&buf[..])
    }

    /// `len` bytes at `start`, if the file offers its bytes directly.
    fn direct_bytes(&self, start: u64, len: usize) -> Option<&[u8]> {
        match self.file.as_bytes() {
            // In bounds: start + len <= file_len = bytes.len().
            Some(bytes) if self.direct => Some(&bytes[start as usize..start as usize + len]),
            _ => None,
        }
    }

    /// Whether a well-formed fragment of this log (right checksum, type and
    /// log number) starts anywhere at or after `from`: whether damage before
    /// `from` has good data after it, and so is no torn tail.
    ///
    /// Fragments never cross blocks, so each block is searched on its own,
    /// at every byte offset; a cheap look at the type, log number and
    /// length filters out almost every offset before the checksum is
    /// computed. Independent of the scan's position.
    pub(crate) fn well_formed_after(&self, from: u64) -> io::Result<bool> {
        let mut buf = Vec::new();
        let mut block_start = from - from % BLOCK_SIZE as u64;
        let mut first = (from - block_start) as usize;
        while block_start < self.file_len {
            let len = self.block_len_at(block_start);
            let block = self.bytes_at(block_start, len, &mut buf)?;
            if (first..len.saturating_sub(HEADER_SIZE - 1)).any(|at| self.well_formed(block, at)) {
                return Ok(true);
            }
            block_start += BLOCK_SIZE as u64;
            first = 0;
        }
        Ok(false)
    }

    /// Whether a well-formed fragment of this log starts at `block[at..]`.
    fn well_formed(&self, block: &[u8], at: usize) -> bool {
        // The cheap filter: type byte and log number, read in place.
        let type_ok = FragmentType::from_byte(block[at + TYPE_AT]).is_some();
        if !type_ok || block[at + LOG_NUMBER_AT..at + HEADER_SIZE] != self.log_number.to_le_bytes()
        {
            return false;
        }
        let mut raw = [0u8; HEADER_SIZE];
        raw.copy_from_slice(&block[at..at + HEADER_SIZE]);
        let header = Header::decode(&raw);
        let end = at + HEADER_SIZE + usize::from(header.len);
        end <= block.len() && header.expected_crc(&block[at + HEADER_SIZE..end]) == header.crc
    }

    fn next_block(&mut self) {
        self.block_start += BLOCK_SIZE as u64;
        self.block_len = None;
        self.pos = 0;
    }
}

fn bad(offset: u64, len: usize, what: Corruption) -> Event<'static> {
    Event::Bad {
        offset,
        len: len as u64,
        what,
    }
}
