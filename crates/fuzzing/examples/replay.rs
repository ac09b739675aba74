//! Replays input files through a target and prints, per file, "ok" or the first two lines of
//! the panic: `cargo run --release -p synack-fuzzing --example replay -- <target> <file>...`.
#![forbid(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, files)) = args.split_first() else {
        eprintln!("usage: replay <target> <file>...");
        std::process::exit(2);
    };
    let target = synack_fuzzing::TARGETS
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| *t)
        .expect("known target");
    std::panic::set_hook(Box::new(|_| {}));
    for file in files {
        let input = std::fs::read(file).expect("readable input");
        let outcome = match catch_unwind(AssertUnwindSafe(|| target(&input))) {
            Ok(()) => "ok".to_string(),
            Err(e) => e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
                .lines()
                .take(2)
                .collect::<Vec<_>>()
                .join(" | "),
        };
        println!("{file}: {outcome}");
    }
}
