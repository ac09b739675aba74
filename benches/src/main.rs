//! `cargo run --release -p synack-bench -- [--quick] ...`: see `synack_bench::report`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(synack_bench::run_cli(&args));
}
