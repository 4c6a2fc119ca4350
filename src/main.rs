//! The `attune` command: a thin face over the library. Every error comes up here with `?` and
//! is printed once, with a non-zero exit; a closed pipe on stdout is not an error.

mod cli;

// Training allocates and frees many large temporaries per step; the system allocator returns
// them to the kernel and faults them back in (most of the system time in a profile).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    attune::kernels::init_process();
    let args = cli::Cli::parse();
    if !args.is_server() {
        restore_sigpipe();
    }
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(io) = e.downcast_io() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// A command whose output is piped into `head` stops quietly when the reader goes, as `cat`
/// does, instead of panicking in `println!` (Rust ignores SIGPIPE by default). Not for the
/// server, which must outlive any one client; sockets never raise SIGPIPE here (Rust sends
/// with MSG_NOSIGNAL).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread starts; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
