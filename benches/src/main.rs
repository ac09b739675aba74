//! `cargo run --release -p synack-bench -- [--quick] ...`: see `synack_bench::report`.
//! `cargo run --release -p synack-bench -- compare [--quick] [--only NAME]`: synack vs smoltcp.
//! `cargo run --release -p synack-bench -- tun [--quick] ...` (as root): see `synack_bench::tun`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.split_first() {
        Some((first, rest)) if first == "tun" => synack_bench::tun::run_cli(rest),
        Some((first, rest)) if first == "compare" => synack_bench::compare::run_cli(rest),
        Some((first, rest)) if first == "compare-rss" => synack_bench::compare::rss_child(rest),
        _ => synack_bench::run_cli(&args),
    };
    std::process::exit(code);
}
