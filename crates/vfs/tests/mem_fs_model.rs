//! Random sequences of file and directory operations, with syncs, end in a
//! crash; afterwards exactly the durable state must remain, as a simple
//! model of the durability rules computes it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use lsmkit_vfs::{Fs, MemFs, WritableFile};
use proptest::prelude::*;

const DIRS: [&str; 2] = ["/d", "/d/s"];
const FILES: [&str; 5] = ["/d/a", "/d/b", "/d/c", "/d/s/a", "/d/s/b"];
const SLOTS: usize = 3;

#[derive(Clone, Debug)]
enum Step {
    Create { file: usize, slot: usize },
    OpenAppend { file: usize, slot: usize },
    Append { slot: usize, len: usize },
    Flush { slot: usize },
    Sync { slot: usize },
    Close { slot: usize },
    Rename { from: usize, to: usize },
    Remove { file: usize },
    Truncate { file: usize, len: usize },
    SyncDir { dir: usize },
    Preallocate { slot: usize, len: usize },
    ReleaseReserve { slot: usize },
}

fn step() -> impl Strategy<Value = Step> {
    let file = 0..FILES.len();
    let slot = 0..SLOTS;
    prop_oneof![
        1 => (file.clone(), slot.clone()).prop_map(|(file, slot)| Step::Create { file, slot }),
        1 => (file.clone(), slot.clone()).prop_map(|(file, slot)| Step::OpenAppend { file, slot }),
        3 => (slot.clone(), 0..40usize).prop_map(|(slot, len)| Step::Append { slot, len }),
        1 => slot.clone().prop_map(|slot| Step::Flush { slot }),
        2 => slot.clone().prop_map(|slot| Step::Sync { slot }),
        1 => slot.clone().prop_map(|slot| Step::Close { slot }),
        1 => (file.clone(), file.clone()).prop_map(|(from, to)| Step::Rename { from, to }),
        1 => file.clone().prop_map(|file| Step::Remove { file }),
        1 => (file, 0..60usize).prop_map(|(file, len)| Step::Truncate { file, len }),
        1 => (slot.clone(), 0..120usize).prop_map(|(slot, len)| Step::Preallocate { slot, len }),
        1 => slot.clone().prop_map(|slot| Step::ReleaseReserve { slot }),
        2 => (0..DIRS.len()).prop_map(|dir| Step::SyncDir { dir }),
    ]
}

/// One file of the model.
#[derive(Clone, Default)]
struct File {
    /// Flushed bytes.
    data: Vec<u8>,
    /// How many of them are synced.
    synced: usize,
    /// Preallocated size: zeros past `data` up to it.
    reserved: usize,
    /// The reservation as of the last sync.
    synced_reserved: usize,
}

/// `bytes` padded with zeros to `size`.
fn padded(bytes: &[u8], size: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if out.len() < size {
        out.resize(size, 0);
    }
    out
}

/// The durability rules with plain indices: files are numbered, and the
/// live and durable namespaces map names to file numbers.
#[derive(Default)]
struct Model {
    files: Vec<File>,
    live: BTreeMap<usize, usize>,
    durable: BTreeMap<usize, usize>,
    /// Per slot: the file written and the bytes not yet flushed.
    writers: [Option<(usize, Vec<u8>)>; SLOTS],
}

impl Model {
    fn flush(&mut self, slot: usize) {
        if let Some((file, buf)) = &mut self.writers[slot] {
            self.files[*file].data.append(buf);
        }
    }

    fn close(&mut self, slot: usize) {
        self.flush(slot);
        self.writers[slot] = None;
    }

    /// Applies a step; returns whether it succeeds.
    fn apply(&mut self, step: &Step, bytes: &[u8]) -> bool {
        match *step {
            Step::Create { file, slot } => {
                self.close(slot);
                self.files.push(File::default());
                self.live.insert(file, self.files.len() - 1);
                self.writers[slot] = Some((self.files.len() - 1, Vec::new()));
            }
            Step::OpenAppend { file, slot } => {
                self.close(slot);
                let Some(&id) = self.live.get(&file) else {
                    return false;
                };
                // Appends go on after any reserved zeros.
                let f = &mut self.files[id];
                f.data = padded(&f.data, f.reserved);
                self.writers[slot] = Some((id, Vec::new()));
            }
            Step::Append { slot, .. } => {
                if let Some((_, buf)) = &mut self.writers[slot] {
                    buf.extend_from_slice(bytes);
                }
            }
            Step::Flush { slot } => self.flush(slot),
            Step::Sync { slot } => {
                self.flush(slot);
                if let Some((file, _)) = self.writers[slot] {
                    let f = &mut self.files[file];
                    f.synced = f.data.len();
                    f.synced_reserved = f.reserved;
                }
            }
            Step::Close { slot } => self.close(slot),
            Step::Rename { from, to } => {
                let Some(id) = self.live.remove(&from) else {
                    return false;
                };
                self.live.insert(to, id);
            }
            Step::Remove { file } => return self.live.remove(&file).is_some(),
            Step::Truncate { file, len } => {
                let Some(&id) = self.live.get(&file) else {
                    return false;
                };
                self.files[id] = File {
                    data: padded(
                        &self.files[id].data[..len.min(self.files[id].data.len())],
                        len,
                    ),
                    synced: len,
                    reserved: 0,
                    synced_reserved: 0,
                };
            }
            Step::Preallocate { slot, len } => {
                self.flush(slot);
                if let Some((file, _)) = self.writers[slot] {
                    let f = &mut self.files[file];
                    f.reserved = f.reserved.max(len);
                }
            }
            Step::ReleaseReserve { slot } => {
                self.flush(slot);
                if let Some((file, _)) = self.writers[slot] {
                    self.files[file].reserved = 0;
                }
            }
            Step::SyncDir { dir } => {
                let in_dir =
                    |file: &usize| Path::new(FILES[*file]).parent() == Some(Path::new(DIRS[dir]));
                self.durable.retain(|file, _| !in_dir(file));
                for (file, id) in &self.live {
                    if in_dir(file) {
                        self.durable.insert(*file, *id);
                    }
                }
            }
        }
        true
    }

    /// The files a crash leaves: each durable name with its synced bytes.
    fn after_crash(&self) -> BTreeMap<usize, Vec<u8>> {
        self.durable
            .iter()
            .map(|(file, id)| {
                let f = &self.files[*id];
                (*file, padded(&f.data[..f.synced], f.synced_reserved))
            })
            .collect()
    }

    fn live_files(&self) -> BTreeMap<usize, Vec<u8>> {
        self.live
            .iter()
            .map(|(file, id)| {
                let f = &self.files[*id];
                (*file, padded(&f.data, f.reserved))
            })
            .collect()
    }
}

fn run(
    fs: &MemFs,
    writers: &mut [Option<Box<dyn WritableFile>>; SLOTS],
    step: &Step,
    bytes: &[u8],
) -> bool {
    let path = |file: usize| Path::new(FILES[file]);
    let open = |slot: &mut Option<Box<dyn WritableFile>>,
                result: std::io::Result<Box<dyn WritableFile>>| {
        *slot = None;
        result.map(|file| *slot = Some(file)).is_ok()
    };
    match *step {
        Step::Create { file, slot } => {
            writers[slot] = None;
            open(&mut writers[slot], fs.create(path(file)))
        }
        Step::OpenAppend { file, slot } => {
            writers[slot] = None;
            open(&mut writers[slot], fs.open_append(path(file)))
        }
        Step::Append { slot, .. } => writers[slot]
            .as_mut()
            .is_none_or(|w| w.append(bytes).is_ok()),
        Step::Flush { slot } => writers[slot].as_mut().is_none_or(|w| w.flush().is_ok()),
        Step::Sync { slot } => writers[slot].as_mut().is_none_or(|w| w.sync().is_ok()),
        Step::Close { slot } => {
            writers[slot] = None;
            true
        }
        Step::Rename { from, to } => fs.rename(path(from), path(to)).is_ok(),
        Step::Remove { file } => fs.remove(path(file)).is_ok(),
        Step::Truncate { file, len } => fs.truncate(path(file), len as u64).is_ok(),
        Step::SyncDir { dir } => fs.sync_dir(Path::new(DIRS[dir])).is_ok(),
        Step::Preallocate { slot, len } => writers[slot]
            .as_mut()
            .is_none_or(|w| w.preallocate(len as u64).is_ok()),
        Step::ReleaseReserve { slot } => writers[slot]
            .as_mut()
            .is_none_or(|w| w.release_reserve().is_ok()),
    }
}

/// Every file of the tree, read back.
fn files_of(fs: &MemFs) -> BTreeMap<usize, Vec<u8>> {
    let mut found = BTreeMap::new();
    for dir in DIRS {
        for name in fs.list(Path::new(dir)).unwrap() {
            let path = format!("{dir}/{name}");
            if DIRS.contains(&path.as_str()) {
                continue;
            }
            let file = FILES.iter().position(|f| *f == path).expect("a known name");
            let reader = fs.open(Path::new(&path)).unwrap();
            let mut bytes = vec![0; reader.len() as usize];
            reader.read_at(0, &mut bytes).unwrap();
            if let Some(direct) = reader.as_bytes() {
                assert_eq!(direct, &bytes[..]);
            }
            found.insert(file, bytes);
        }
    }
    found
}

/// Runs the steps on a fresh MemFs and on the model, checking that they
/// agree on every step's success and on the live files at the end.
fn run_both(steps: &[Step]) -> (MemFs, Model, [Option<Box<dyn WritableFile>>; SLOTS]) {
    let fs = MemFs::new();
    for dir in DIRS {
        fs.create_dir_all(Path::new(dir)).unwrap();
    }
    let mut model = Model::default();
    let mut writers: [Option<Box<dyn WritableFile>>; SLOTS] = Default::default();
    for (i, step) in steps.iter().enumerate() {
        let len = match step {
            Step::Append { len, .. } => *len,
            _ => 0,
        };
        let bytes: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
        let expected = model.apply(step, &bytes);
        assert_eq!(
            run(&fs, &mut writers, step, &bytes),
            expected,
            "step {i}: {step:?}"
        );
    }
    (fs, model, writers)
}

proptest! {
    #[test]
    fn a_crash_leaves_exactly_the_durable_state(steps in prop::collection::vec(step(), 0..60)) {
        let (fs, mut model, mut writers) = run_both(&steps);
        // Flush what the writers hold, as dropping them does, then compare
        // the live state before crashing.
        for (slot, writer) in writers.iter_mut().enumerate() {
            model.close(slot);
            *writer = None;
        }
        prop_assert_eq!(files_of(&fs), model.live_files());
        let expected = model.after_crash();
        let clone = fs.crash_clone();
        prop_assert_eq!(files_of(&clone), expected.clone());
        prop_assert_eq!(files_of(&fs), model.live_files(), "crash_clone changed the original");
        fs.crash();
        prop_assert_eq!(files_of(&fs), expected);
    }

    #[test]
    fn a_torn_crash_keeps_the_durable_state_and_a_prefix_of_the_rest(
        steps in prop::collection::vec(step(), 0..60),
        seed in any::<u64>(),
    ) {
        // Writers stay open: their unflushed bytes never reach the files.
        let (fs, model, _writers) = run_both(&steps);
        let torn = files_of(&fs.crash_clone_torn(seed));
        let durable = model.after_crash();
        prop_assert_eq!(torn.keys().collect::<Vec<_>>(), durable.keys().collect::<Vec<_>>());
        for (file, data) in &torn {
            let f = &model.files[model.durable[file]];
            // The synced bytes, a prefix of the unsynced ones, then zeros
            // up to the synced reservation.
            let kept = data
                .iter()
                .zip(&f.data)
                .take_while(|(a, b)| a == b)
                .count();
            prop_assert!(kept >= f.synced, "lost synced bytes");
            prop_assert!(data[kept..].iter().all(|&b| b == 0), "not zeros after the kept prefix");
            prop_assert!(data.len() <= f.data.len().max(f.synced_reserved));
            prop_assert!(data.len() >= f.synced.max(f.synced_reserved));
        }
    }
}
