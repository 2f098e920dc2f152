//! `center`: see `center --help`.

fn main() -> std::process::ExitCode {
    center::cli::main()
}
