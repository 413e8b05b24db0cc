//! One module per subcommand group.

pub mod bench;
pub mod checkpoint;
pub mod db;
pub mod sst;
pub mod wal;
