//! AFL++ target: [`lsmkit_fuzz::manifest`].
fn main() {
    afl::fuzz!(|data: &[u8]| lsmkit_fuzz::manifest(data));
}
