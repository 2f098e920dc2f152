#![allow(clippy::unwrap_used)]
//! The `bag` fuzz target's corpus and regressions, run in the normal test suite.

use std::path::Path;

#[test]
fn bag_texts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut n = 0;
    for dir in ["corpus/bag", "regressions/bag"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries {
            let data = std::fs::read(e.unwrap().path()).unwrap();
            jilu_bag::fuzzing::bag(&data);
            jilu_bag::fuzzing::bag(&data[..data.len() / 2]);
            n += 1;
        }
    }
    assert!(n > 0, "no corpus under fuzz/corpus/bag");
}
