//! Compressing a data block for a version-2 envelope, and decompressing
//! one read back: LZ4 through `lz4_flex` (feature `lz4`), Zstandard through
//! `zstd` (feature `zstd`).
//!
//! The envelope itself (codec byte, raw length, checksum) is in
//! [`format`](crate::format); this module only turns block bytes into
//! payload bytes and back. A decompressor is handed a payload whose
//! checksum already matched and a raw length already checked against
//! [`MAX_COMPRESSED_RAW_LEN`](crate::format::MAX_COMPRESSED_RAW_LEN); it
//! still refuses a raw length the codec cannot produce from so few bytes,
//! so that a crafted block cannot make it allocate far beyond its size.

use std::sync::Arc;

use crate::format::Compression;

/// Why a payload could not be decompressed.
#[derive(Debug)]
pub(crate) enum DecompressError {
    /// This build lacks the codec's feature.
    Unavailable,
    /// The payload is not a valid encoding of `raw_len` bytes.
    Corrupt(String),
}

/// Whether this build can encode and decode `codec`.
pub(crate) fn available(codec: Compression) -> bool {
    match codec {
        Compression::None => true,
        Compression::Lz4 => cfg!(feature = "lz4"),
        Compression::Zstd => cfg!(feature = "zstd"),
    }
}

/// The most a codec's output can expand per input byte, plus a constant:
/// LZ4 encodes at most 255 output bytes per input byte of a match length;
/// a Zstandard RLE block of 4 bytes stands for up to 128 KiB.
fn max_expansion(codec: Compression, payload_len: usize) -> usize {
    let (ratio, slack) = match codec {
        Compression::None => (1, 0),
        Compression::Lz4 => (255, 16),
        Compression::Zstd => (1 << 15, 1 << 17),
    };
    payload_len.saturating_mul(ratio).saturating_add(slack)
}

/// Decompresses `payload` to exactly `raw_len` bytes.
///
/// REQUIRES: `raw_len` checked against the format's limit.
pub(crate) fn decompress(
    codec: Compression,
    payload: &[u8],
    raw_len: usize,
) -> Result<Arc<[u8]>, DecompressError> {
    if !available(codec) {
        return Err(DecompressError::Unavailable);
    }
    if raw_len > max_expansion(codec, payload.len()) {
        return Err(DecompressError::Corrupt(format!(
            "{} bytes cannot decompress to {raw_len}",
            payload.len()
        )));
    }
    // One allocation of exactly `raw_len`, written in place.
    let mut out: Arc<[u8]> = std::iter::repeat_n(0u8, raw_len).collect();
    let Some(buf) = Arc::get_mut(&mut out) else {
        return Err(DecompressError::Corrupt("buffer is shared".into()));
    };
    let written = decode_into(codec, payload, buf)?;
    if written != raw_len {
        return Err(DecompressError::Corrupt(format!(
            "decompressed to {written} bytes, the block header says {raw_len}"
        )));
    }
    Ok(out)
}

#[allow(unused_variables)]
fn decode_into(
    codec: Compression,
    payload: &[u8],
    buf: &mut [u8],
) -> Result<usize, DecompressError> {
    let corrupt = |e: &dyn std::fmt::Display| DecompressError::Corrupt(e.to_string());
    match codec {
        Compression::None => Err(DecompressError::Corrupt("not compressed".into())),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4_flex::block::decompress_into(payload, buf).map_err(|e| corrupt(&e)),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd_context::decompress(payload, buf).map_err(|e| corrupt(&e)),
        #[allow(unreachable_patterns)]
        _ => Err(DecompressError::Unavailable),
    }
}

/// Compresses blocks for one writer, reusing its buffers and, for
/// Zstandard, its compression context.
pub(crate) struct Compressor {
    codec: Compression,
    #[cfg(feature = "zstd")]
    zstd: Option<zstd::bulk::Compressor<'static>>,
}

impl Compressor {
    /// A compressor for `codec` at `zstd_level` (used by Zstandard only);
    /// `None` if this build lacks the codec or the level is refused.
    #[allow(unused_variables)]
    pub(crate) fn new(codec: Compression, zstd_level: i32) -> Option<Compressor> {
        if !available(codec) {
            return None;
        }
        Some(Compressor {
            codec,
            #[cfg(feature = "zstd")]
            zstd: match codec {
                Compression::Zstd => Some(zstd::bulk::Compressor::new(zstd_level).ok()?),
                _ => None,
            },
        })
    }

    /// The codec this compressor writes.
    pub(crate) fn codec(&self) -> Compression {
        self.codec
    }

    /// Appends the compressed form of `block` to `out`; returns `false`
    /// (with `out` as it was) if the codec failed, so that the caller
    /// stores the block raw.
    pub(crate) fn compress_into(&mut self, block: &[u8], out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let Some(bound) = compress_bound(self.codec, block.len()) else {
            return false;
        };
        out.resize(start + bound, 0);
        let written = self.encode(block, &mut out[start..]);
        match written {
            Some(n) => {
                out.truncate(start + n);
                true
            }
            None => {
                out.truncate(start);
                false
            }
        }
    }

    #[allow(unused_variables)]
    fn encode(&mut self, block: &[u8], dst: &mut [u8]) -> Option<usize> {
        match self.codec {
            #[cfg(feature = "lz4")]
            Compression::Lz4 => lz4_flex::block::compress_into(block, dst).ok(),
            #[cfg(feature = "zstd")]
            Compression::Zstd => self.zstd.as_mut()?.compress_to_buffer(block, dst).ok(),
            _ => None,
        }
    }
}

/// The most bytes `codec` can compress `len` bytes to; `None` for a codec
/// that does not compress or is not in this build.
#[allow(unused_variables)]
fn compress_bound(codec: Compression, len: usize) -> Option<usize> {
    match codec {
        #[cfg(feature = "lz4")]
        Compression::Lz4 => Some(lz4_flex::block::get_maximum_output_size(len)),
        #[cfg(feature = "zstd")]
        Compression::Zstd => Some(zstd::zstd_safe::compress_bound(len)),
        _ => None,
    }
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("codec", &self.codec)
            .finish()
    }
}

/// One Zstandard decompression context per thread: making one costs more
/// than decompressing a 4 KiB block.
#[cfg(feature = "zstd")]
mod zstd_context {
    use std::cell::RefCell;
    use std::io;

    thread_local! {
        static CONTEXT: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { RefCell::new(None) };
    }

    pub(super) fn decompress(payload: &[u8], buf: &mut [u8]) -> io::Result<usize> {
        CONTEXT.with(|cell| {
            let mut slot = cell.try_borrow_mut().map_err(io::Error::other)?;
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::new()?);
            }
            match slot.as_mut() {
                Some(d) => d.decompress_to_buffer(payload, buf),
                None => Err(io::Error::other("no zstd context")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..4096u32).map(|i| (i % 7) as u8 + b'a').collect()
    }

    #[test]
    fn every_available_codec_round_trips() {
        for codec in [Compression::Lz4, Compression::Zstd] {
            let Some(mut c) = Compressor::new(codec, 3) else {
                assert!(!available(codec));
                continue;
            };
            let mut out = vec![9];
            assert!(c.compress_into(&sample(), &mut out));
            assert_eq!(out[0], 9);
            assert!(out.len() < 200, "{codec:?}: {}", out.len());
            let back = decompress(codec, &out[1..], 4096).unwrap();
            assert_eq!(&back[..], &sample()[..]);
        }
    }

    #[test]
    fn wrong_lengths_and_garbage_are_errors() {
        for codec in [Compression::Lz4, Compression::Zstd] {
            let Some(mut c) = Compressor::new(codec, 3) else {
                continue;
            };
            let mut out = Vec::new();
            assert!(c.compress_into(&sample(), &mut out));
            for raw_len in [4095, 4097, 1] {
                assert!(
                    matches!(
                        decompress(codec, &out, raw_len),
                        Err(DecompressError::Corrupt(_))
                    ),
                    "{codec:?} {raw_len}"
                );
            }
            let garbage = vec![0xa5; 64];
            assert!(decompress(codec, &garbage, 4096).is_err());
            // A claim no payload this short can back.
            assert!(matches!(
                decompress(codec, &out[..2], 60 << 20),
                Err(DecompressError::Corrupt(_))
            ));
        }
    }
}
