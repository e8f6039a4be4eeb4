//! `glint`: the image service's one binary.
//!
//! `glint serve` runs the Glance v2 API. With no configuration it keeps
//! everything under `./glint-data` (a SQLite database and a file store) and
//! listens on 127.0.0.1:9292 without authentication. `glint db` manages
//! the database (`sync`, `version`, `purge`), `glint policy` the
//! authorization rules, `glint scrub` removes the data of images deleted
//! with `delayed_delete` (or restores one).

mod cache;
mod db;
mod logging;
mod metadefs;
mod metrics;
mod policy;
mod remote_policy;
mod scrub;
mod serve;
mod stores;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use glint::config;

/// Request handling allocates many small, short-lived buffers (rows, JSON
/// views); mimalloc serves them markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "glint",
    version,
    about = "OpenStack Image service (Glance v2 API)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API server.
    Serve {
        /// A glance-api.conf to read; repeat to merge several, later ones win.
        #[arg(long = "config-file", value_name = "PATH")]
        config_files: Vec<PathBuf>,
    },
    /// Scrub images deleted with `delayed_delete`, or restore one
    /// (glance-scrubber).
    ///
    /// Removes the data of images left `pending_delete` once they have
    /// waited `scrub_time`: in one sweep, or every `wakeup_time` with
    /// --daemon. --restore brings one back to active instead.
    Scrub(scrub::ScrubArgs),
    /// Manage the catalogue database: migrate it, show its schema version,
    /// purge what deleted images left in it.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Show and try the authorization rules (Glance's defaults with the
    /// configured policy file applied).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
}

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    return_freed_memory_promptly();
    let cli = Cli::parse();
    let result = match cli.command {
        // `serve` and `scrub` set up logging once they have read `log_format`.
        Command::Serve { config_files } => serve::run(&config_files).map(|()| ExitCode::SUCCESS),
        Command::Scrub(args) => scrub::run(args).map(|()| ExitCode::SUCCESS),
        Command::Db(command) => {
            logging::init(config::LogFormat::Text);
            db::run(command, &mut std::io::stdout().lock()).map(|()| ExitCode::SUCCESS)
        }
        Command::Policy(command) => {
            logging::init(config::LogFormat::Text);
            policy::run(command, &mut std::io::stdout().lock()).map(|all_passed| {
                if all_passed {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(2)
                }
            })
        }
    };
    match result {
        Ok(code) => code,
        // `glint policy list | head` closing the pipe early is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("glint: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// mimalloc maps its arenas so that the kernel may back them with 2 MiB
/// transparent huge pages; an idle server then keeps megabytes resident for
/// the few kilobytes it uses (12 MiB of huge pages at idle, measured). Opt
/// this process out, as `MIMALLOC_ALLOW_THP=0` would; it costs nothing
/// measurable on the request path, which reuses small blocks.
#[allow(unsafe_code, reason = "one prctl call, see the SAFETY note")]
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a flag
    // of this process; no memory is passed to the kernel.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// The index of mimalloc's `purge_delay` option in its C API (`mi_option_e`
/// of the mimalloc 3 that libmimalloc-sys builds; its Rust constants do not
/// name it). A test checks it against the option's documented default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long mimalloc keeps freed memory before returning it to the system,
/// in milliseconds (mimalloc 2's default).
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// mimalloc 3 keeps memory freed by the program committed for a second
/// (`purge_delay`, 1000 ms) and returns it only when a thread that owns it
/// calls into the allocator again. An upload's buffers come and go on
/// several threads (the connection's, the hash threads, the store's), and a
/// 1 GiB S3 upload left glint 25–35 MiB above what it held at any moment,
/// and kept it afterwards. [`PURGE_DELAY_MS`] returns it within a few
/// milliseconds; returned at once (0), memory that an rbd download frees
/// and takes again chunk after chunk was faulted in anew each time, and the
/// download ran 15–20 % slower. `MIMALLOC_PURGE_DELAY` still overrides
/// this when set.
#[allow(unsafe_code, reason = "one mimalloc option, see the SAFETY note")]
fn return_freed_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set stores an integer in mimalloc's option table;
    // the index is in range (checked by the test below) and no memory is
    // passed.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

/// Raises this process's soft limit of open files to its hard limit and
/// returns the limit now in force. Every client connection holds a file
/// descriptor, and services often start with a soft limit of 1024 or less
/// (with 256, three hundred idle sockets left no descriptor for anyone
/// else), while the hard limit is usually far higher.
#[allow(unsafe_code, reason = "getrlimit and setrlimit, see the SAFETY notes")]
pub(crate) fn raise_open_file_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into the struct passed, which
    // lives on this stack frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the `rlimit` passed, which lives on
        // this stack frame.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code, reason = "reads mimalloc options")]
    fn the_purge_delay_index_names_mimallocs_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: mi_option_get reads one entry of mimalloc's option table.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(get(), 1000, "mimalloc 3's default purge delay, in ms");
        return_freed_memory_promptly();
        assert_eq!(get(), PURGE_DELAY_MS);
    }
}
