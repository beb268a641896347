//! The `ferrodesk` binary: parse the command line and run it.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = ferrodesk::cli::Cli::parse();
    ferrodesk::cli::run(cli)
}
