//! One module per subcommand group.

pub mod bench;
pub mod checkpoint;
pub mod create;
pub mod db;
pub mod dump;
pub mod ingest;
pub mod keyspace;
pub mod load;
pub mod sst;
pub mod wal;
