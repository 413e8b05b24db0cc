//! The executor through real tables on an in-memory filesystem: the model
//! check of the stream again, the output partition, and a failure injected
//! at every write, sync and rename.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Case, History, Version, arb_case, build, readers, small_tables, visible};
use lsmkit_compaction::{
    CompactionJob, CompactionOutcome, OutputTable, execute, execute_tables_split,
};
use lsmkit_sstable::{RangeTombstone, SstOptions, SstReader, SstWriter};
use lsmkit_vfs::{FaultFs, Fs, MemFs, Op, Rule};
use proptest::prelude::*;

const DIR: &str = "/db";

/// Writes one input table per source of the history; returns their paths.
fn write_inputs(fs: &Arc<dyn Fs>, h: &History) -> Vec<PathBuf> {
    common::write_inputs(fs, h, DIR)
}

fn output_namer() -> impl FnMut() -> PathBuf {
    let mut n = 0;
    move || {
        n += 1;
        PathBuf::from(format!("{DIR}/out-{n}.sst"))
    }
}

fn job(case: &Case, inputs: Vec<PathBuf>, target_file_size: u64) -> CompactionJob {
    CompactionJob {
        inputs,
        snapshots: case.snapshots.clone(),
        bottommost: case.bottommost,
        target_file_size,
        table_options: small_tables(),
        lower: Vec::new(),
        upper: None,
        filter: None,
        merge_operator: None,
    }
}

/// Reads an output table back: its versions and tombstones.
fn read_table(fs: &Arc<dyn Fs>, table: &OutputTable) -> (Vec<Version>, Vec<RangeTombstone>) {
    let reader = SstReader::open(&**fs, table.meta.path.clone()).unwrap();
    let mut it = reader.iter();
    let versions = common::collect(&mut it);
    (versions, reader.range_tombstones().to_vec())
}

/// Every output's points and tombstones lie in its key range; the ranges
/// tile the key space in order.
fn check_partition(fs: &Arc<dyn Fs>, outcome: &CompactionOutcome) -> Result<(), TestCaseError> {
    for (i, table) in outcome.added.iter().enumerate() {
        prop_assert_eq!(i == 0, table.lower.is_empty());
        match outcome.added.get(i + 1) {
            Some(next) => prop_assert_eq!(table.upper.as_ref(), Some(&next.lower)),
            None => prop_assert!(table.upper.is_none()),
        }
        let in_range = |key: &[u8]| {
            key >= table.lower.as_slice() && table.upper.as_deref().is_none_or(|u| key < u)
        };
        let (versions, tombstones) = read_table(fs, table);
        for v in &versions {
            prop_assert!(in_range(&v.user_key), "{:?} outside table {}", v, i);
        }
        for t in &tombstones {
            prop_assert!(in_range(&t.start), "{:?} outside table {}", t, i);
            prop_assert!(table.upper.as_deref().is_none_or(|u| t.end.as_slice() <= u));
        }
    }
    Ok(())
}

/// Every reader of the case sees after the compaction what it saw before;
/// the outputs partition the key space; the inputs are left in place.
fn check_outcome(
    fs: &Arc<dyn Fs>,
    case: &Case,
    h: &History,
    inputs: &[PathBuf],
    outcome: &CompactionOutcome,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(&outcome.removed, inputs);
    check_partition(fs, outcome)?;

    let mut after_points = h.older_points.clone();
    let mut after_tombstones = h.older_tombstones.clone();
    for table in &outcome.added {
        let (versions, tombstones) = read_table(fs, table);
        after_points.extend(versions);
        after_tombstones.extend(tombstones);
    }
    for s in readers(case) {
        prop_assert_eq!(
            visible(&h.all_points, &h.all_tombstones, s),
            visible(&after_points, &after_tombstones, s),
            "reader at {}",
            s
        );
    }
    // The inputs are left for the engine to remove.
    for path in inputs {
        prop_assert!(fs.exists(path).unwrap());
    }
    Ok(())
}

/// Names outputs from several threads at once.
fn shared_namer() -> impl Fn() -> PathBuf + Sync {
    let n = AtomicU64::new(0);
    move || {
        PathBuf::from(format!(
            "{DIR}/part-{}.sst",
            n.fetch_add(1, Ordering::Relaxed) + 1
        ))
    }
}

/// Writes each source of the history as a run of up to `cuts + 1` tables
/// cut between user keys (a run of non-overlapping tables, as a
/// compaction writes them), its tombstones in the first; returns every
/// table's path, the runs' tables interleaved so that the executor must
/// find the runs itself.
fn write_runs(fs: &Arc<dyn Fs>, h: &History, cuts: usize) -> Vec<PathBuf> {
    let mut runs: Vec<Vec<PathBuf>> = Vec::new();
    for (i, (points, tombstones)) in h.inputs.iter().enumerate() {
        let mut sorted = points.clone();
        sorted.sort_by(|a, b| a.user_key.cmp(&b.user_key));
        let mut keys: Vec<&[u8]> = sorted.iter().map(|v| v.user_key.as_slice()).collect();
        keys.dedup();
        // Table `t` takes the user keys from `keys[bounds[t]]` on.
        let per_table = keys.len().div_ceil(cuts + 1).max(1);
        let mut tables: Vec<(Vec<Version>, Vec<RangeTombstone>)> = Vec::new();
        for chunk in keys.chunks(per_table) {
            let in_chunk = |v: &&Version| chunk.contains(&v.user_key.as_slice());
            tables.push((
                sorted.iter().filter(in_chunk).cloned().collect(),
                Vec::new(),
            ));
        }
        if tables.is_empty() && !tombstones.is_empty() {
            tables.push((Vec::new(), Vec::new()));
        }
        if let Some(first) = tables.first_mut() {
            first.1 = tombstones.clone();
        }
        runs.push(
            tables
                .iter()
                .enumerate()
                .map(|(t, (points, tombstones))| {
                    let path = PathBuf::from(format!("{DIR}/run-{i}-{t}.sst"));
                    common::write_table(fs, &path, points, tombstones)
                })
                .collect(),
        );
    }
    let longest = runs.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|t| runs.iter().filter_map(move |run| run.get(t).cloned()))
        .collect()
}

/// The range tombstones the outcome's tables hold.
fn tombstones_written(outcome: &CompactionOutcome) -> u64 {
    outcome
        .added
        .iter()
        .map(|t| t.meta.properties.num_range_tombstones)
        .sum()
}

/// Opens the inputs, as an engine holds them.
fn open_all(fs: &Arc<dyn Fs>, inputs: &[PathBuf]) -> Vec<Arc<SstReader>> {
    inputs
        .iter()
        .map(|p| SstReader::open(&**fs, p.clone()).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::scaled_cases(64), ..ProptestConfig::default() })]

    #[test]
    fn every_reader_sees_the_same_after_compaction_through_tables(
        case in arb_case(), target in prop_oneof![Just(1u64), Just(100), Just(1 << 20)]
    ) {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        let h = build(&case);
        let inputs = write_inputs(&fs, &h);
        let outcome = execute(&fs, &job(&case, inputs.clone(), target), output_namer()).unwrap();
        check_outcome(&fs, &case, &h, &inputs, &outcome)?;
    }

    #[test]
    fn every_reader_sees_the_same_after_compacting_runs_of_several_tables(
        case in arb_case(),
        target in prop_oneof![Just(1u64), Just(100), Just(1 << 20)],
        cuts in 1usize..4,
        parts in 1usize..4,
    ) {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        let h = build(&case);
        let inputs = write_runs(&fs, &h, cuts);
        let job = job(&case, inputs.clone(), target);
        let outcome =
            execute_tables_split(&fs, &job, &open_all(&fs, &inputs), parts, shared_namer()).unwrap();
        check_outcome(&fs, &case, &h, &inputs, &outcome)?;
    }

    #[test]
    fn every_reader_sees_the_same_after_a_compaction_in_parts(
        case in arb_case(),
        target in prop_oneof![Just(1u64), Just(100), Just(1 << 20)],
        parts in 2usize..6,
    ) {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        let h = build(&case);
        let inputs = write_inputs(&fs, &h);
        let job = job(&case, inputs.clone(), target);
        let outcome =
            execute_tables_split(&fs, &job, &open_all(&fs, &inputs), parts, shared_namer()).unwrap();
        check_outcome(&fs, &case, &h, &inputs, &outcome)?;
        // The same entries as in one part, cut at other places.
        let whole = execute(&fs, &job, output_namer()).unwrap();
        let entries = |o: &CompactionOutcome| -> Vec<Version> {
            o.added.iter().flat_map(|t| read_table(&fs, t).0).collect()
        };
        prop_assert_eq!(entries(&whole), entries(&outcome));
        prop_assert_eq!(whole.stats.entries_out, outcome.stats.entries_out);
        // A range tombstone over several parts came in once, and went out
        // as the pieces the parts kept: with one table a part (these cases
        // stay under 1 MiB), the pieces their tables hold.
        prop_assert_eq!(whole.stats.range_tombstones_in, outcome.stats.range_tombstones_in);
        if target == 1 << 20 {
            prop_assert_eq!(outcome.stats.range_tombstones_out, tombstones_written(&outcome));
        }
    }
}

/// A history big enough for several output tables, with tombstones.
fn busy_case() -> Case {
    use common::Write;
    let mut writes = Vec::new();
    for i in 0..300u32 {
        let key = format!("k{:03}", i % 120).into_bytes();
        let write = match i % 29 {
            0 => Write::DeleteRange(key.clone(), format!("k{:03}", i % 120 + 5).into_bytes()),
            7 | 13 => Write::Delete(key),
            _ => Write::Put(key, i as u8),
        };
        writes.push((write, (i % 3) as usize));
    }
    Case {
        writes,
        snapshots: vec![150],
        bottommost: true,
        older_up_to: 0,
    }
}

/// The files in the directory, sorted.
fn listing(fs: &dyn Fs) -> Vec<String> {
    fs.list(Path::new(DIR)).unwrap()
}

#[test]
fn outputs_are_cut_at_the_target_size_between_user_keys() {
    let case = busy_case();
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let inputs = write_inputs(&fs, &build(&case));
    let outcome = execute(&fs, &job(&case, inputs, 512), output_namer()).unwrap();
    assert!(outcome.added.len() > 3, "{} outputs", outcome.added.len());
    for table in &outcome.added {
        assert!(table.meta.properties.num_entries > 0);
    }
    check_partition(&fs, &outcome).unwrap();
    assert!(outcome.stats.shadowed > 0 && outcome.stats.entries_out > 0);
}

#[test]
fn target_size_boundaries_one_table_per_user_key_or_one_in_all() {
    let case = Case {
        snapshots: vec![50, 150, 250],
        ..busy_case()
    };
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let inputs = write_inputs(&fs, &build(&case));
    // A table is full after its first block: every user key (all of its
    // versions, here up to four) starts a new one.
    let tiny = SstOptions::default().block_size(1).creation_time(0);
    let outcome = execute(
        &fs,
        &CompactionJob {
            table_options: tiny,
            ..job(&case, inputs.clone(), 1)
        },
        output_namer(),
    )
    .unwrap();
    let mut user_keys = 0;
    for table in &outcome.added {
        let (versions, _) = read_table(&fs, table);
        let first = &versions[0].user_key;
        assert!(
            versions.iter().all(|v| &v.user_key == first),
            "one user key per table"
        );
        user_keys += 1;
    }
    assert!(
        outcome.stats.entries_out > user_keys,
        "some keys kept several versions"
    );
    for table in &outcome.added {
        fs.remove(&table.meta.path).unwrap();
    }
    let outcome = execute(&fs, &job(&case, inputs, u64::MAX), output_namer()).unwrap();
    assert_eq!(outcome.added.len(), 1);
}

#[test]
fn a_compaction_that_keeps_nothing_writes_nothing() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    fs.create_dir_all(Path::new(DIR)).unwrap();
    let path = PathBuf::from(format!("{DIR}/in.sst"));
    let mut w = SstWriter::create(fs.clone(), &path, small_tables()).unwrap();
    w.delete(b"a", 2).unwrap();
    w.put(b"a", 1, b"x").unwrap();
    w.add_range_tombstone(&RangeTombstone::new(&b"a"[..], &b"z"[..], 3))
        .unwrap();
    w.finish().unwrap();
    let job = CompactionJob {
        inputs: vec![path.clone()],
        snapshots: Vec::new(),
        bottommost: true,
        target_file_size: 1 << 20,
        table_options: small_tables(),
        lower: Vec::new(),
        upper: None,
        filter: None,
        merge_operator: None,
    };
    let outcome = execute(&fs, &job, output_namer()).unwrap();
    assert!(outcome.added.is_empty());
    assert_eq!(outcome.removed, [path]);
    assert_eq!(listing(&*fs), ["in.sst"]);
}

#[test]
fn a_corrupt_input_fails_the_compaction_and_leaves_nothing() {
    let case = busy_case();
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let inputs = write_inputs(&fs, &build(&case));
    let victim = &inputs[1];
    let size = fs.size(victim).unwrap();
    // Flip a byte in the first data block.
    let mut bytes = vec![0u8; size as usize];
    fs.open(victim).unwrap().read_at(0, &mut bytes).unwrap();
    bytes[10] ^= 0xff;
    let mut f = fs.create(victim).unwrap();
    f.append(&bytes).unwrap();
    f.sync().unwrap();
    drop(f);
    let before = listing(&*fs);
    let error = execute(&fs, &job(&case, inputs, 512), output_namer()).unwrap_err();
    assert!(error.is_corruption(), "{error}");
    assert_eq!(listing(&*fs), before);
}

/// Fails the `n`-th call of `op` in a compaction and checks that the inputs
/// are intact and no output (or temporary file) is left.
/// With `parts` above 1, the compaction runs in that many parts.
fn fail_at(op: Op, n: u64, parts: usize) -> bool {
    let case = busy_case();
    let faults = FaultFs::new(MemFs::new());
    let fs: Arc<dyn Fs> = Arc::new(faults.clone());
    let inputs = write_inputs(&fs, &build(&case));
    let readers = open_all(&fs, &inputs);
    let before = listing(&*fs);
    let rule = faults.add(Rule::on(op).nth(n));
    let job = job(&case, inputs.clone(), 512);
    let result = if parts > 1 {
        execute_tables_split(&fs, &job, &readers, parts, shared_namer())
    } else {
        execute(&fs, &job, output_namer())
    };
    let fired = faults.fired(rule) > 0;
    faults.clear_rules();
    if fired {
        assert!(
            result.is_err(),
            "{op:?} #{n} failed but the compaction succeeded"
        );
        assert_eq!(listing(&*fs), before, "{op:?} #{n} left files behind");
    } else {
        let outcome = result.unwrap();
        for table in &outcome.added {
            fs.remove(&table.meta.path).unwrap();
        }
    }
    for path in &inputs {
        SstReader::open(&*fs, path.clone())
            .unwrap()
            .verify()
            .unwrap();
    }
    fired
}

#[test]
fn a_failure_at_any_write_sync_or_rename_leaves_inputs_and_no_output() {
    for parts in [1, 3] {
        for op in [Op::Create, Op::Append, Op::Sync, Op::Rename, Op::SyncDir] {
            let mut n = 1;
            while fail_at(op, n, parts) {
                n += 1;
            }
            assert!(n > 1, "the compaction never calls {op:?}");
        }
    }
}

#[test]
fn a_failure_at_a_read_of_an_input_leaves_no_output() {
    for parts in [1, 3] {
        for n in (1..).step_by(5) {
            if !fail_at(Op::Read, n, parts) {
                assert!(n > 1);
                break;
            }
        }
    }
}

#[test]
fn a_compaction_in_parts_cuts_its_outputs_at_the_parts_boundaries() {
    let case = busy_case();
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let inputs = write_inputs(&fs, &build(&case));
    // A target size no table reaches: one table per part.
    let job = job(&case, inputs.clone(), 1 << 30);
    let whole = execute(&fs, &job, output_namer()).unwrap();
    assert_eq!(whole.added.len(), 1);
    let split =
        execute_tables_split(&fs, &job, &open_all(&fs, &inputs), 3, shared_namer()).unwrap();
    assert_eq!(split.added.len(), 3, "{:?}", split.added);
    assert_eq!(split.stats.entries_out, whole.stats.entries_out);
    // Tombstones came in once; out counts the pieces each part kept, as
    // many as the split tables (one a part) hold.
    assert!(whole.stats.range_tombstones_in > 0);
    assert_eq!(
        split.stats.range_tombstones_in,
        whole.stats.range_tombstones_in
    );
    assert_eq!(split.stats.range_tombstones_out, tombstones_written(&split));
    let sizes: Vec<u64> = split
        .added
        .iter()
        .map(|t| t.meta.properties.num_entries)
        .collect();
    let most = *sizes.iter().max().unwrap();
    let least = *sizes.iter().min().unwrap();
    assert!(most <= 3 * least, "parts of uneven size: {sizes:?}");
}

#[test]
fn outputs_answer_for_the_jobs_key_range_and_cut_tombstones_at_it() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    fs.create_dir_all(Path::new(DIR)).unwrap();
    let path = PathBuf::from(format!("{DIR}/in.sst"));
    let mut w = SstWriter::create(fs.clone(), &path, small_tables()).unwrap();
    w.put(b"m", 1, b"x").unwrap();
    w.add_range_tombstone(&RangeTombstone::new(&b"a"[..], &b"z"[..], 2))
        .unwrap();
    w.finish().unwrap();
    let job = |lower: &[u8], upper: Option<&[u8]>| CompactionJob {
        inputs: vec![path.clone()],
        snapshots: vec![1],
        bottommost: false,
        target_file_size: 1 << 20,
        table_options: small_tables(),
        lower: lower.to_vec(),
        upper: upper.map(<[u8]>::to_vec),
        filter: None,
        merge_operator: None,
    };

    let outcome = execute(&fs, &job(b"l", Some(b"n")), output_namer()).unwrap();
    let [table] = &outcome.added[..] else {
        panic!("one output: {outcome:?}")
    };
    assert_eq!(
        (table.lower.as_slice(), table.upper.as_deref()),
        (&b"l"[..], Some(&b"n"[..]))
    );
    let (versions, tombstones) = read_table(&fs, table);
    assert_eq!(versions.len(), 1);
    assert_eq!(tombstones, [RangeTombstone::new(&b"l"[..], &b"n"[..], 2)]);
    fs.remove(&table.meta.path).unwrap();

    // A key outside the range is the caller's mistake: refused, nothing left.
    let before = listing(&*fs);
    for (lower, upper) in [(&b"n"[..], None), (&b""[..], Some(&b"m"[..]))] {
        let error = execute(&fs, &job(lower, upper), output_namer()).unwrap_err();
        assert!(
            matches!(error, lsmkit_compaction::Error::KeyOutOfBounds { .. }),
            "{error}"
        );
        assert_eq!(listing(&*fs), before);
    }
}
