//! The `ferrodesk` binary: parse the command line and run it.

/// mimalloc instead of glibc's malloc: glibc gives each of the server's many threads (async
/// workers, one per SQLite connection) its own arena and holds freed memory there, which nearly
/// doubled the resident memory of a busy server in the benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = ferrodesk::cli::Cli::from_env();
    ferrodesk::cli::run(cli)
}
