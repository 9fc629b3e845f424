//! The command line's one error type. Its kind decides the exit code, as documented: 2 for
//! bad input (a parameter, a file, a directory the user gave), 3 when no configuration exists
//! (an unroutable target), 4 when a time budget ran out, 1 for everything else — a failed
//! cross-check, a tool that broke; a closed standard output ends the command quietly. Library
//! code returns its own typed errors; they become `Failed` with `?` unless the caller says the
//! input was bad (`bad`).

use std::fmt;

pub enum Error {
    BadInput(String),
    Unroutable(String),
    Timeout(String),
    Failed(anyhow::Error),
    /// Standard output was closed (`plume … | head`): the command ends quietly, exit 0.
    Quiet,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Quiet => 0,
            Error::Failed(_) => 1,
            Error::BadInput(_) => 2,
            Error::Unroutable(_) => 3,
            Error::Timeout(_) => 4,
        }
    }

    /// Adds what was being done to a failure (`cannot write x: <cause>`).
    pub fn context(self, what: impl fmt::Display) -> Error {
        match self {
            Error::Failed(e) => Error::Failed(e.context(what.to_string())),
            Error::BadInput(m) => Error::BadInput(format!("{what}: {m}")),
            other => other,
        }
    }
}

/// Bad input: one line on stderr, exit 2.
pub fn bad(msg: impl fmt::Display) -> Error {
    Error::BadInput(msg.to_string())
}

/// A failure that is not the user's input: exit 1.
pub fn failed(msg: impl fmt::Display) -> Error {
    Error::Failed(anyhow::anyhow!("{msg}"))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadInput(m) | Error::Unroutable(m) | Error::Timeout(m) => f.write_str(m),
            Error::Failed(e) => write!(f, "{e:#}"),
            Error::Quiet => Ok(()),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} (exit {})", self.exit_code())
    }
}

// `Error` is not a `std::error::Error` (as with anyhow's own type), so every error type —
// anyhow's included — converts with `?`.
impl<E: Into<anyhow::Error>> From<E> for Error {
    fn from(e: E) -> Error {
        Error::Failed(e.into())
    }
}

/// `.or_bad()`: the error came from what the user gave.
pub trait OrBad<T> {
    fn or_bad(self) -> Result<T>;
}

impl<T, E: fmt::Display> OrBad<T> for std::result::Result<T, E> {
    fn or_bad(self) -> Result<T> {
        self.map_err(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_error_has_its_documented_exit_code() {
        assert_eq!(bad("x").exit_code(), 2);
        assert_eq!(Error::Unroutable("x".into()).exit_code(), 3);
        assert_eq!(Error::Timeout("x".into()).exit_code(), 4);
        let io: Error = std::io::Error::other("disk").into();
        assert_eq!(io.exit_code(), 1);
        assert_eq!(
            io.context("cannot write f").to_string(),
            "cannot write f: disk"
        );
        assert_eq!(
            Err::<(), _>("ports 12").or_bad().unwrap_err().to_string(),
            "ports 12"
        );
    }
}
