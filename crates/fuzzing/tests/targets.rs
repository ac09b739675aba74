//! The stable runner: every fuzz target over its seed corpus, its regression inputs, and inputs
//! from a seeded generator (random bytes, and corpus entries mutated by bit flips, byte writes,
//! splices, truncation and duplication). CI runs this on stable; `cargo fuzz` on nightly runs
//! the same target functions under libFuzzer (see fuzz/README.md).
//!
//! `FUZZ_ITERS=N` sets the generated inputs per target; `FUZZ_SEED=S` changes the generator's
//! seed. A failure prints the seed, the iteration and the input in hex, so it replays:
//! save the bytes to fuzz/regressions/<target>/ and they run on every test from then on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;
use synack_fuzzing::corpus::random_bytes;
use synack_tests::SplitMix64;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every file under `dir`, sorted (none if the directory does not exist).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            let bytes = std::fs::read(e.path()).expect("corpus file readable");
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    out.sort();
    out
}

/// The generator seed unless `FUZZ_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x5eed_f022;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| {
        s.strip_prefix("0x")
            .map_or_else(|| s.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `target` on `input`, turning a panic into a failure that says how to replay it.
fn run_one(name: &str, target: fn(&[u8]), what: &str, input: &[u8]) {
    if let Err(e) = catch_unwind(AssertUnwindSafe(|| target(input))) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!(
            "{name} failed on {what} ({} bytes): {msg}\ninput hex: {}",
            input.len(),
            hex(input)
        );
    }
}

/// A mutation of one or two corpus entries, libFuzzer-style.
fn mutate(rng: &mut SplitMix64, corpus: &[Vec<u8>]) -> Vec<u8> {
    let pick = |rng: &mut SplitMix64| {
        corpus
            .get(rng.below(corpus.len() as u64) as usize)
            .cloned()
            .unwrap_or_default()
    };
    let mut input = pick(rng);
    for _ in 0..1 + rng.below(4) {
        let len = input.len() as u64;
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len) as usize;
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len) as usize;
                input[i] = rng.next_u64() as u8;
            }
            2 => {
                // Splice: our head, another entry's tail.
                let other = pick(rng);
                let cut = rng.below(len + 1) as usize;
                let from = rng.below(other.len() as u64 + 1) as usize;
                input.truncate(cut);
                input.extend_from_slice(other.get(from..).unwrap_or(&[]));
            }
            3 => input.truncate(rng.below(len + 1) as usize),
            4 if len > 0 => {
                // Duplicate a run of bytes in place (repeats an operation).
                let start = rng.below(len) as usize;
                let end = (start + 1 + rng.below(64) as usize).min(input.len());
                let run = input[start..end].to_vec();
                input.splice(start..start, run);
            }
            _ => {
                let n = 1 + rng.below(16) as usize;
                input.extend(random_bytes(rng, n));
            }
        }
    }
    input
}

/// Corpus, regressions, then `default_iters` generated inputs (scaled by `FUZZ_ITERS`).
fn run_target(name: &str, default_iters: u64) {
    let target = synack_fuzzing::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .expect("a known target");
    let corpus = files(&fuzz_dir().join("corpus").join(name));
    assert!(
        !corpus.is_empty(),
        "no seed corpus in fuzz/corpus/{name}: run `cargo run -p synack-fuzzing --bin make-corpus`"
    );
    let started = Instant::now();
    for (file, input) in &corpus {
        run_one(name, target, &format!("corpus file {file}"), input);
    }
    let regressions = files(&fuzz_dir().join("regressions").join(name));
    for (file, input) in &regressions {
        run_one(name, target, &format!("regression file {file}"), input);
    }
    let seed = env_u64("FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let iters = env_u64("FUZZ_ITERS").unwrap_or(default_iters);
    let inputs: Vec<Vec<u8>> = corpus.into_iter().map(|(_, b)| b).collect();
    let mut rng = SplitMix64(seed ^ name.len() as u64);
    for i in 0..iters {
        let input = if rng.below(4) == 0 {
            {
                let len = rng.below(2048) as usize;
                random_bytes(&mut rng, len)
            }
        } else {
            mutate(&mut rng, &inputs)
        };
        run_one(
            name,
            target,
            &format!("generated input {i} of FUZZ_SEED={seed:#x}"),
            &input,
        );
    }
    eprintln!(
        "{name}: {} corpus + {} regression + {iters} generated inputs (FUZZ_SEED={seed:#x}) in {:.1?}",
        inputs.len(),
        regressions.len(),
        started.elapsed()
    );
}

/// Iterations that take a few seconds in release; debug builds run a fiftieth.
fn iters(release: u64) -> u64 {
    if cfg!(debug_assertions) {
        release / 50
    } else {
        release
    }
}

#[test]
fn parse_packet_survives_arbitrary_bytes() {
    run_target("parse_packet", iters(1_000_000));
}

#[test]
fn live_stack_keeps_its_invariants() {
    run_target("live_stack", iters(15_000));
}

#[test]
fn two_stacks_deliver_the_sent_stream() {
    run_target("two_stacks", iters(15_000));
}

/// The live-stack target must reach the states it claims to test, not bounce off the listener:
/// long random inputs (about 300 operations each) drive connections through Figure 5.
#[test]
fn live_stack_reaches_deep_states() {
    use synack_core::State;
    let seed = env_u64("FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let mut rng = SplitMix64(seed);
    let mut reached = std::collections::HashSet::new();
    let cases = iters(2_000).max(100);
    for i in 0..cases {
        let input = random_bytes(&mut rng, 4096);
        let Ok(transitions) = catch_unwind(|| synack_fuzzing::live_stack_transitions(&input))
        else {
            panic!(
                "live_stack failed on depth input {i} of FUZZ_SEED={seed:#x}\ninput hex: {}",
                hex(&input)
            );
        };
        reached.extend(transitions.into_iter().map(|(_, to)| to));
    }
    for state in [
        State::SynRcvd,
        State::SynSent,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::LastAck,
        State::TimeWait,
        State::Closed,
    ] {
        assert!(
            reached.contains(&state),
            "no input reached {state}: {reached:?}"
        );
    }
}

#[test]
fn seed_corpus_on_disk_is_the_generated_one() {
    for (name, _) in synack_fuzzing::TARGETS {
        let on_disk: Vec<Vec<u8>> = files(&fuzz_dir().join("corpus").join(name))
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        let generated = synack_fuzzing::corpus::seeds(name);
        assert!(
            generated.len() >= 10,
            "{name}: only {} seeds generated",
            generated.len()
        );
        // Name the seeds that differ, not their bytes.
        let differing: Vec<usize> = (0..on_disk.len().max(generated.len()))
            .filter(|&i| on_disk.get(i) != generated.get(i))
            .collect();
        assert!(
            differing.is_empty(),
            "fuzz/corpus/{name} differs from the generator at seeds {differing:?} ({} on disk, {} \
             generated): rerun `cargo run --release -p synack-fuzzing --bin make-corpus`",
            on_disk.len(),
            generated.len()
        );
    }
}
