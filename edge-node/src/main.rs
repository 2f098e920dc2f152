//! `edge-node`: see `edge-node --help`.

fn main() -> std::process::ExitCode {
    edge_node::cli::main()
}
