//! Exit codes, the same for every command (documented in the README):
//! 0 ok; 1 something was detected or a check failed; 2 usage or input error;
//! 3 runtime or connectivity error; 4 a gate that cannot decide yet.

/// A process exit code with a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Everything is fine.
    Ok = 0,
    /// Something was detected, or a check failed.
    Detected = 1,
    /// Bad usage or bad input (a file that cannot be read, malformed data).
    Input = 2,
    /// A runtime or connectivity error.
    Runtime = 3,
    /// A gate that cannot decide yet (`warden rollout gate`: hold).
    Hold = 4,
}

impl From<Code> for std::process::ExitCode {
    fn from(code: Code) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

/// A command that could not do its work, and the exit code that says why.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: Code,
    /// What went wrong, with context.
    pub error: anyhow::Error,
}

impl Failure {
    /// Bad usage or input.
    pub fn input(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: Code::Input,
            error: error.into(),
        }
    }

    /// A runtime or connectivity problem.
    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: Code::Runtime,
            error: error.into(),
        }
    }
}
