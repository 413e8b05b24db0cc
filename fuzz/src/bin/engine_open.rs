//! AFL++ target: [`lsmkit_fuzz::engine_open`].
fn main() {
    afl::fuzz!(|data: &[u8]| lsmkit_fuzz::engine_open(data));
}
