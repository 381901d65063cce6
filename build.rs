//! Relinks jig when the startup function order changes: script/build-release passes
//! script/startup-order.txt to the linker, a file cargo does not otherwise track.
fn main() {
    println!("cargo:rerun-if-changed=script/startup-order.txt");
}
