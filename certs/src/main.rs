//! `certs`: Jilu's certificate authority for operators; see `certs --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
