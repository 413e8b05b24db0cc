//! AFL++ target: [`lsmkit_fuzz::wal`].
fn main() {
    afl::fuzz!(|data: &[u8]| lsmkit_fuzz::wal(data));
}
