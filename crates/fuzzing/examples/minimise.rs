//! Shrinks a failing input while the panic message keeps containing a given text:
//! `cargo run --release -p synack-fuzzing --example minimise -- <target> <file> <text>`.
#![forbid(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};

fn fails(target: synack_fuzzing::Target, input: &[u8], text: &str) -> bool {
    match catch_unwind(AssertUnwindSafe(|| target(input))) {
        Ok(()) => false,
        Err(e) => e
            .downcast_ref::<String>()
            .map(|s| s.contains(text))
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.contains(text)))
            .unwrap_or(false),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, name, file, text] = args.as_slice() else {
        eprintln!("usage: minimise <target> <file> <text>");
        std::process::exit(2);
    };
    let target = synack_fuzzing::TARGETS
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| *t)
        .expect("known target");
    let mut input = std::fs::read(file).expect("readable input");
    std::panic::set_hook(Box::new(|_| {}));
    assert!(
        fails(target, &input, text),
        "the input does not fail that way"
    );
    // Remove chunks, halving their size; then zero single bytes.
    let mut chunk = input.len().max(1);
    while chunk > 0 {
        let mut i = 0;
        while i < input.len() {
            let mut shorter = input.clone();
            shorter.drain(i..(i + chunk).min(input.len()));
            if fails(target, &shorter, text) {
                input = shorter;
            } else {
                i += chunk;
            }
        }
        chunk /= 2;
    }
    for i in 0..input.len() {
        if input[i] != 0 {
            let mut zeroed = input.clone();
            zeroed[i] = 0;
            if fails(target, &zeroed, text) {
                input = zeroed;
            }
        }
    }
    std::fs::write(file, &input).expect("writable input");
    println!(
        "{} bytes: {}",
        input.len(),
        input.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
}
