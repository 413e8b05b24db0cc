//! AFL++ target: [`lsmkit_fuzz::sstable`].
fn main() {
    afl::fuzz!(|data: &[u8]| lsmkit_fuzz::sstable(data));
}
