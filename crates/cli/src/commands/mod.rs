//! One module per subcommand group.

pub mod bench;
pub mod sst;
pub mod wal;
