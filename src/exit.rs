//! Exit codes, as documented in the README and relied on by schedulers.

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The run completed and nothing matched `--fail-on`.
    Success = 0,
    /// The run completed and findings matched `--fail-on`.
    Findings = 1,
    /// The run could not be done: bad usage, unreadable or invalid input, unwritable output.
    Failure = 2,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_numbers() {
        assert_eq!(ExitCode::Success as u8, 0);
        assert_eq!(ExitCode::Findings as u8, 1);
        assert_eq!(ExitCode::Failure as u8, 2);
    }
}
