//! Everything plume writes, in one place: standard output, output files and directories, and
//! scratch space — so that no command panics on a closed pipe or a full disk, leaves a
//! half-written or clobbered file, or leaves its staging and scratch files behind.
//!
//! * Standard output goes through `outln!` / `out!`: a closed pipe ends the command quietly
//!   (`Error::Quiet`, exit 0, as `rg | head` does); any other write error is one line, exit 1.
//! * Output paths are checked before any work starts (`file_target`, `dir_target`): a
//!   directory where a file is wanted, a file in a directory that does not exist, a path
//!   under a file, a folder that cannot be written are bad input (exit 2), as is a write that
//!   fails later (a full disk). Directory outputs create their missing parents.
//! * Regular files and directories are written beside the destination and renamed into
//!   place, all or nothing. Special files (devices, FIFOs) and `-` (standard output) are
//!   written in place: plume never renames over them.
//! * Staging paths and scratch directories are registered while they exist; SIGINT, SIGTERM
//!   and SIGHUP remove them before plume exits (`install_signal_cleanup`). Staging left by a
//!   process that died some other way is swept the next time the same output is written,
//!   and stale scratch directories when a new one is made.

use crate::error::{bad, Error, Result};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

// ---- standard output -----------------------------------------------------------------------

/// Prints a line on standard output; `?` on it ends the command quietly on a closed pipe.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::output::stdout_text(format_args!("{}\n", format_args!($($t)*)))?
    };
}

/// Prints on standard output without a newline.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => {
        $crate::output::stdout_text(format_args!($($t)*))?
    };
}

pub fn stdout_text(args: fmt::Arguments) -> Result<()> {
    let mut o = io::stdout().lock();
    o.write_fmt(args)
        .and_then(|_| o.flush())
        .map_err(stdout_error)
}

fn stdout_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Error::Quiet
    } else {
        crate::error::failed(format!("cannot write to standard output: {e}"))
    }
}

// ---- cleanup on signals ----------------------------------------------------------------------

/// Staging paths and scratch directories that exist right now, removed if plume is stopped.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn hold(p: &Path) {
    if let Ok(mut v) = LIVE.lock() {
        v.push(p.to_path_buf());
    }
}

fn release(p: &Path) {
    if let Ok(mut v) = LIVE.lock() {
        v.retain(|q| q != p);
    }
}

fn remove_any(p: &Path) {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            let _ = fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = fs::remove_file(p);
        }
        Err(_) => {}
    }
}

/// On SIGINT, SIGTERM or SIGHUP: remove every registered staging path and scratch directory,
/// then exit with 128 + the signal's number, as a shell reports a killed command.
pub fn install_signal_cleanup() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            if let Ok(v) = LIVE.lock() {
                for p in v.iter() {
                    remove_any(p);
                }
            }
            std::process::exit(128 + sig);
        }
    });
}

/// Whether process `pid` is gone (so whatever it left behind is stale).
fn dead(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks whether the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Removes entries of `dir` named `<prefix><pid><rest>` whose process is gone.
fn sweep(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(pid) = digits.parse::<u32>() {
            if pid != std::process::id() && dead(pid) {
                remove_any(&e.path());
            }
        }
    }
}

// ---- scratch directories ---------------------------------------------------------------------

/// A scratch directory (`$TMPDIR/plume-<tag>-<pid>-<nanos>`), removed on drop, on the signals
/// above, or — if plume died otherwise — by the next plume that makes one.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> anyhow::Result<TempDir> {
        let tmp = std::env::temp_dir();
        sweep_scratch(&tmp);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = tmp.join(format!("plume-{tag}-{}-{nanos}", std::process::id()));
        hold(&p);
        if let Err(e) = fs::create_dir_all(&p) {
            release(&p);
            anyhow::bail!("cannot create {}: {e}", p.display());
        }
        Ok(TempDir(p))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
        release(&self.0);
    }
}

/// Scratch directories `plume-<tag>-<pid>-…` of processes that are gone.
fn sweep_scratch(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix("plume-") else {
            continue;
        };
        // plume-<tag>-<pid>-<nanos>: the pid is the second field from the end.
        let mut fields = rest.rsplit('-');
        let (Some(nanos), Some(pid)) = (fields.next(), fields.next()) else {
            continue;
        };
        if nanos.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(pid) = pid.parse::<u32>() {
                if pid != std::process::id() && dead(pid) {
                    remove_any(&e.path());
                }
            }
        }
    }
}

// ---- output files ----------------------------------------------------------------------------

/// Where a file output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileTarget {
    /// A regular file (new or replaced): written beside it and renamed into place.
    Regular(PathBuf),
    /// A device, FIFO or socket: written in place, never renamed over.
    Special(PathBuf),
    /// `-`: standard output.
    Stdout,
}

impl FileTarget {
    pub fn path(&self) -> &Path {
        match self {
            FileTarget::Regular(p) | FileTarget::Special(p) => p,
            FileTarget::Stdout => Path::new("-"),
        }
    }
}

fn is_special(t: &fs::FileType) -> bool {
    t.is_char_device() || t.is_block_device() || t.is_fifo() || t.is_socket()
}

/// Whether the current user may write into directory `d` (for root, only a read-only file
/// system says no).
fn writable(d: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(d.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access only reads the NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// Whether a file can really be made in directory `d`: permission bits say little to root,
/// so a probe file is created and removed.
fn probe(d: &Path) -> bool {
    if !writable(d) {
        return false;
    }
    let p = d.join(format!(".plume-probe-{}", std::process::id()));
    match fs::OpenOptions::new().write(true).create_new(true).open(&p) {
        Ok(_) => {
            let _ = fs::remove_file(&p);
            true
        }
        Err(e) => e.kind() == io::ErrorKind::AlreadyExists,
    }
}

/// The nearest existing ancestor of `p` must be a directory plume may write into (`p` and
/// the directories between are created on writing); with `parents` false, `p`'s own directory
/// must exist (a file output never creates directories: a mistyped path is an error).
fn check_parent(p: &Path, what: &str, parents: bool) -> Result<()> {
    let mut a = p.parent();
    let mut missing: Option<&Path> = None;
    while let Some(d) = a {
        let d = if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        };
        match fs::metadata(d) {
            Ok(m) if m.is_dir() => {
                return if probe(d) {
                    Ok(())
                } else {
                    Err(bad(match missing {
                        Some(m) => format!(
                            "cannot create {} for {what} {}: {} is not writable",
                            m.display(),
                            p.display(),
                            d.display()
                        ),
                        None => format!(
                            "cannot write {what} {}: {} is not writable",
                            p.display(),
                            d.display()
                        ),
                    }))
                };
            }
            Ok(_) => {
                return Err(bad(format!(
                    "cannot write {what} {}: {} is not a directory",
                    p.display(),
                    d.display()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && !parents => {
                return Err(bad(format!(
                    "cannot create {} ({what}): directory {} does not exist",
                    p.display(),
                    d.display()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing = Some(d);
                a = d.parent();
            }
            Err(e) => return Err(bad(format!("cannot write {what} {}: {e}", p.display()))),
        }
    }
    Ok(())
}

/// Checks a file output before any work: `what` names it in messages ("waveform", "SVG").
pub fn file_target(path: &Path, what: &str) -> Result<FileTarget> {
    if path == Path::new("-") {
        return Ok(FileTarget::Stdout);
    }
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(bad(format!(
            "cannot write {what} {}: it is a directory",
            path.display()
        ))),
        Ok(m) if is_special(&m.file_type()) => Ok(FileTarget::Special(path.to_path_buf())),
        _ => {
            check_parent(path, what, false)?;
            Ok(FileTarget::Regular(path.to_path_buf()))
        }
    }
}

/// `dest` with `.plume-partial-<pid>` appended: where a regular file is staged.
fn staging_file(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(format!(".plume-partial-{}", std::process::id()));
    PathBuf::from(s)
}

fn sweep_file_staging(dest: &Path) {
    if let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        sweep(dir, &format!("{}.plume-partial-", name.to_string_lossy()));
    }
}

fn write_error(path: &Path, e: impl fmt::Display) -> Error {
    bad(format!("cannot write {}: {e}", path.display()))
}

/// Writes a whole file output.
pub fn write_file(target: &FileTarget, bytes: &[u8]) -> Result<()> {
    match target {
        FileTarget::Stdout => {
            let mut o = io::stdout().lock();
            o.write_all(bytes)
                .and_then(|_| o.flush())
                .map_err(stdout_error)
        }
        FileTarget::Special(p) => fs::OpenOptions::new()
            .write(true)
            .open(p)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(|e| write_error(p, e)),
        FileTarget::Regular(p) => {
            let mut w = StagedFile::create(target)?;
            w.file().write_all(bytes).map_err(|e| write_error(p, e))?;
            w.commit()
        }
    }
}

/// A file output written over time (a waveform): staged beside a regular destination and
/// renamed into place by `commit`; removed if dropped uncommitted. Special files are written
/// in place.
pub struct StagedFile {
    dest: PathBuf,
    staging: Option<PathBuf>,
    file: Option<fs::File>,
}

impl StagedFile {
    pub fn create(target: &FileTarget) -> Result<StagedFile> {
        match target {
            FileTarget::Stdout => Err(bad("this output cannot go to standard output")),
            FileTarget::Special(p) => {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .map_err(|e| write_error(p, e))?;
                Ok(StagedFile {
                    dest: p.clone(),
                    staging: None,
                    file: Some(f),
                })
            }
            FileTarget::Regular(p) => {
                sweep_file_staging(p);
                let s = staging_file(p);
                hold(&s);
                let f = fs::File::create(&s).map_err(|e| {
                    release(&s);
                    write_error(p, e)
                })?;
                Ok(StagedFile {
                    dest: p.clone(),
                    staging: Some(s),
                    file: Some(f),
                })
            }
        }
    }

    /// Where the content goes while it is written (the staging path, or the special file).
    pub fn path(&self) -> &Path {
        self.staging.as_deref().unwrap_or(&self.dest)
    }

    pub fn file(&mut self) -> &mut fs::File {
        self.file.as_mut().expect("open until committed")
    }

    /// Flushes and moves the file into place.
    pub fn commit(mut self) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all()
                .or_else(|e| {
                    if self.staging.is_none() {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| write_error(&self.dest, e))?;
        }
        if let Some(s) = self.staging.take() {
            let r = fs::rename(&s, &self.dest).map_err(|e| write_error(&self.dest, e));
            if r.is_err() {
                let _ = fs::remove_file(&s);
            }
            release(&s);
            r?;
        }
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if let Some(s) = self.staging.take() {
            let _ = fs::remove_file(&s);
            release(&s);
        }
    }
}

// ---- output directories ----------------------------------------------------------------------

/// Whether `dir` exists and is not an empty directory (an unreadable one counts as not empty).
pub fn holds_anything(dir: &Path) -> bool {
    dir.exists()
        && fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
}

/// Checks a directory output before any work: it must not exist, or be an empty directory
/// (`replaceable` lets the caller accept a non-empty one it recognises).
pub fn dir_target(dir: &Path, replaceable: impl Fn(&Path) -> bool) -> Result<()> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(bad(format!(
            "output directory {} exists and is not a directory",
            dir.display()
        ))),
        Ok(_) if holds_anything(dir) && !replaceable(dir) => Err(bad(format!(
            "output directory {} exists and is not empty",
            dir.display()
        ))),
        Ok(_) if !probe(dir) => Err(bad(format!(
            "cannot write into {}: it is not writable",
            dir.display()
        ))),
        _ => check_parent(dir, "output directory", true),
    }
}

fn dir_parts(dir: &Path) -> Result<(PathBuf, String)> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = dir
        .file_name()
        .ok_or_else(|| bad(format!("output directory {} has no name", dir.display())))?
        .to_string_lossy()
        .to_string();
    Ok((parent, name))
}

/// Writes files into `dir` all or nothing: into a sibling staging directory first, renamed
/// into place only when every file is written. An existing non-empty `dir` is refused.
/// File names may contain directories.
pub fn write_dir(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    dir_target(dir, |_| false)?;
    replace_dir(dir, files)
}

/// Like `write_dir`, but a non-empty `dir` is replaced whole (the caller decided it may be):
/// the old directory is moved aside, the new one renamed in, the old one removed.
pub fn replace_dir(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    let (parent, name) = dir_parts(dir)?;
    fs::create_dir_all(&parent).map_err(|e| write_error(&parent, e))?;
    sweep(&parent, &format!(".{name}.plume-partial-"));
    sweep(&parent, &format!(".{name}.plume-old-"));
    let staging = parent.join(format!(".{name}.plume-partial-{}", std::process::id()));
    let old = parent.join(format!(".{name}.plume-old-{}", std::process::id()));
    hold(&staging);
    hold(&old);
    let _ = fs::remove_dir_all(&staging);
    let result = (|| -> io::Result<()> {
        for (f, bytes) in files {
            let p = staging.join(f);
            fs::create_dir_all(p.parent().unwrap_or(&staging))?;
            fs::write(&p, bytes)?;
        }
        let previous = dir.exists();
        if previous {
            fs::rename(dir, &old)?;
        }
        if let Err(e) = fs::rename(&staging, dir) {
            if previous {
                let _ = fs::rename(&old, dir);
            }
            return Err(e);
        }
        if previous {
            let _ = fs::remove_dir_all(&old);
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    release(&staging);
    release(&old);
    result.map_err(|e| write_error(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_empty_output_directory_and_leaves_nothing_behind() {
        let t = TempDir::new("atomic").unwrap();
        let d = t.path().join("out");
        write_dir(&d, &[("a.txt".into(), b"1".to_vec())]).unwrap();
        let e = write_dir(&d, &[("b.txt".into(), b"2".to_vec())]).unwrap_err();
        assert!(e.to_string().contains("exists and is not empty"));
        assert_eq!(e.exit_code(), 2);
        assert!(!d.join("b.txt").exists());
        let names: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn special_files_are_written_in_place_and_paths_under_files_refused() {
        let t = FileTarget::Special(PathBuf::from("/dev/null"));
        assert_eq!(file_target(Path::new("/dev/null"), "x").unwrap(), t);
        write_file(&t, b"nothing").unwrap();
        assert!(fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
        let e = file_target(Path::new("/dev/null/x.vcd"), "waveform").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot write waveform /dev/null/x.vcd: /dev/null is not a directory"
        );
        let e = file_target(Path::new("/"), "SVG").unwrap_err();
        assert_eq!(e.to_string(), "cannot write SVG /: it is a directory");
    }

    #[test]
    fn staging_of_a_dead_process_is_swept_when_the_output_is_written_again() {
        let t = TempDir::new("sweep").unwrap();
        let dest = t.path().join("w.vcd");
        // A pid far above pid_max is never alive.
        let stale = t.path().join("w.vcd.plume-partial-999999999");
        let stale_dir = t.path().join(".out.plume-partial-999999999");
        fs::write(&stale, "half").unwrap();
        fs::create_dir(&stale_dir).unwrap();
        write_file(&FileTarget::Regular(dest.clone()), b"whole").unwrap();
        replace_dir(&t.path().join("out"), &[("f".into(), b"x".to_vec())]).unwrap();
        assert!(!stale.exists() && !stale_dir.exists());
        assert_eq!(fs::read(&dest).unwrap(), b"whole");
    }
}
