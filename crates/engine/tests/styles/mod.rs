//! What the tests that run under both compaction styles share: a leveled
//! tree small enough that its compactions (L0 into the base level, moves
//! between levels) happen within a test's few kilobytes.
#![allow(dead_code)]

use lsmkit_engine::{CompactionStyle, LeveledOptions};

/// Two L0 runs, three levels of ratio 2, a 2 KiB base level, 1 KiB tables.
pub fn tiny_leveled() -> LeveledOptions {
    LeveledOptions {
        l0_trigger: 2,
        num_levels: 3,
        size_ratio: 2,
        base_level_size: 2 << 10,
        target_file_size: 1 << 10,
    }
}

/// The style a database is reopened under to switch.
pub fn other(style: CompactionStyle) -> CompactionStyle {
    match style {
        CompactionStyle::Tiered => CompactionStyle::Leveled,
        _ => CompactionStyle::Tiered,
    }
}
