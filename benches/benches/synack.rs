//! `cargo bench -p synack-bench [-- --quick ...]`: the same program as the `synack-bench` binary.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(synack_bench::run_cli(&args));
}
