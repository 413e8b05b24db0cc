//! `lsmkit sst dump|verify|props` on good, missing, foreign, truncated and
//! damaged tables: damage is one line naming the file, exit 1, never a
//! panic, and the file is never changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{assert_fails_naming, assert_no_panic, lsmkit, stdout};
use lsmkit_sstable::{RangeTombstone, SstOptions, SstWriter};
use lsmkit_vfs::{Fs, StdFs};

const COMMANDS: [&str; 3] = ["dump", "verify", "props"];

/// A table of 500 puts and deletes (several data blocks) and a range
/// tombstone.
fn good_table(dir: &Path) -> PathBuf {
    let path = dir.join("good.sst");
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let mut writer = SstWriter::create(fs, &path, SstOptions::default()).unwrap();
    for i in 0..500u64 {
        let key = format!("key{i:05}");
        if i % 7 == 0 {
            writer.delete(key.as_bytes(), 1000 + i).unwrap();
        } else {
            writer
                .put(key.as_bytes(), 1000 + i, format!("value\n{i}\0").as_bytes())
                .unwrap();
        }
    }
    writer
        .add_range_tombstone(&RangeTombstone::new(&b"key00100"[..], &b"key00200"[..], 50))
        .unwrap();
    writer.finish().unwrap();
    path
}

/// Runs every command on `file` and checks that each fails naming it,
/// leaving it as it was.
fn assert_all_fail(file: &Path) {
    let before = fs::read(file).ok();
    for command in COMMANDS {
        let output = lsmkit(["sst", command, file.to_str().unwrap()]);
        assert_fails_naming(&output, file);
    }
    assert_eq!(fs::read(file).ok(), before, "{} changed", file.display());
}

#[test]
fn dump_prints_entries_in_order_then_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let table = good_table(dir.path());
    let output = lsmkit(["sst", "dump", table.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 501);
    assert_eq!(lines[0], "'key00000' @ 1000 Delete => ''");
    assert_eq!(lines[1], r"'key00001' @ 1001 Put => 'value\n1\x00'");
    assert_eq!(lines[500], "range delete ['key00100', 'key00200') @ 50");
}

#[test]
fn dump_limit_and_hex() {
    let dir = tempfile::tempdir().unwrap();
    let table = good_table(dir.path());
    let output = lsmkit([
        "sst",
        "dump",
        "--limit",
        "2",
        "--encoding",
        "hex",
        table.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "6b65793030303031 @ 1001 Put => 76616c75650a3100");
    assert_eq!(lines[2], "... 498 more entries");
}

#[test]
fn verify_and_props_describe_a_good_table() {
    let dir = tempfile::tempdir().unwrap();
    let table = good_table(dir.path());
    let output = lsmkit(["sst", "verify", table.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("OK: 500 entries, 1 range tombstones"));

    let output = lsmkit(["sst", "props", table.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for expected in [
        "entries              500",
        "deletions            72",
        "smallest key         'key00000'",
        "largest key          'key00499'",
        "smallest seqno       50",
        "largest seqno        1499",
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }
}

#[test]
fn props_show_the_codec_the_sizes_and_the_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("z.sst");
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let options = SstOptions::default().compression(lsmkit_sstable::Compression::Zstd);
    let mut writer = SstWriter::create(fs, &path, options).unwrap();
    for i in 0..500u64 {
        let value = format!("value {i:05} ").repeat(10);
        writer
            .put(format!("key{i:05}").as_bytes(), i + 1, value.as_bytes())
            .unwrap();
    }
    let meta = writer.finish().unwrap();
    let p = meta.properties;
    assert!(p.num_compressed_blocks > 0 && p.raw_data_size > 2 * p.data_size);
    let output = lsmkit(["sst", "props", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let ratio = format!("{:.2}", p.raw_data_size as f64 / p.data_size as f64);
    for expected in [
        "format version       V2".to_string(),
        "compression          zstd".to_string(),
        format!(
            "compressed blocks    {} of {}",
            p.num_compressed_blocks, p.num_data_blocks
        ),
        format!("data bytes           {}", p.data_size),
        format!("raw data bytes       {}", p.raw_data_size),
        format!("compression ratio    {ratio}"),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in\n{text}");
    }
    let output = lsmkit(["sst", "verify", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_all_fail(&dir.path().join("absent.sst"));
}

#[test]
fn directory_instead_of_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_all_fail(dir.path());
}

#[test]
fn foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    fs::write(&text, "not a table\n".repeat(40)).unwrap();
    assert_all_fail(&text);
    let empty = dir.path().join("empty.sst");
    fs::write(&empty, b"").unwrap();
    assert_all_fail(&empty);
}

#[test]
fn truncated_tables() {
    let dir = tempfile::tempdir().unwrap();
    let good = fs::read(good_table(dir.path())).unwrap();
    for len in [1, 55, 56, good.len() / 2, good.len() - 1] {
        let cut = dir.path().join(format!("cut{len}.sst"));
        fs::write(&cut, &good[..len]).unwrap();
        assert_all_fail(&cut);
    }
}

#[test]
fn bit_flips_anywhere_fail_verify_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = fs::read(good_table(dir.path())).unwrap();
    let damaged = dir.path().join("damaged.sst");
    let step = good.len() / 37;
    for at in (0..good.len()).step_by(step).chain([good.len() - 1]) {
        let mut bytes = good.clone();
        bytes[at] ^= 0x10;
        fs::write(&damaged, &bytes).unwrap();
        let verify = lsmkit(["sst", "verify", damaged.to_str().unwrap()]);
        assert_fails_naming(&verify, &damaged);
        for command in ["dump", "props"] {
            assert_no_panic(&lsmkit(["sst", command, damaged.to_str().unwrap()]));
        }
        assert_eq!(
            fs::read(&damaged).unwrap(),
            bytes,
            "flip at {at}: file changed"
        );
    }
}

#[test]
fn a_damaged_data_block_fails_dump_and_a_damaged_footer_fails_all() {
    let dir = tempfile::tempdir().unwrap();
    let good = fs::read(good_table(dir.path())).unwrap();
    let damaged = dir.path().join("data.sst");
    let mut bytes = good.clone();
    bytes[20] ^= 1;
    fs::write(&damaged, &bytes).unwrap();
    for command in ["dump", "verify"] {
        let output = lsmkit(["sst", command, damaged.to_str().unwrap()]);
        assert_fails_naming(&output, &damaged);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("offset 0"), "{stderr}");
    }
    let footer = dir.path().join("footer.sst");
    let mut bytes = good;
    let at = bytes.len() - 20;
    bytes[at] ^= 1;
    fs::write(&footer, &bytes).unwrap();
    assert_all_fail(&footer);
}
