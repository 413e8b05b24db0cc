//! AFL++ target: [`lsmkit_fuzz::block`].
fn main() {
    afl::fuzz!(|data: &[u8]| lsmkit_fuzz::block(data));
}
