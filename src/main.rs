//! The `plume` command: the registry builds it (`plume::cli`). Bad input ends with one line on
//! stderr and exit code 2, an unroutable target with 3, an exhausted time budget with 4, a
//! failed check with 1; no command leaves a partial output file behind.

fn main() -> std::process::ExitCode {
    plume::cli::main()
}
