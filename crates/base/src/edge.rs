//! The edge every binary shares with the person at the terminal: the error
//! printed once, with secrets out, and the answers to its questions.

use std::process::ExitCode;

use crate::error::{Error, Exit};

/// Ends a binary: prints the error (its whole chain, once, secrets out) on
/// stderr as `program: error`, hands that text to `log` unless it is a usage
/// error (nothing was done, so nothing to keep), and turns the result into
/// the contract's exit code.
pub fn finish(program: &str, result: Result<Exit, Error>, log: impl FnOnce(&str)) -> ExitCode {
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(error) => {
            let code = error.exit();
            let error = crate::redact::secrets(&error.to_string());
            eprintln!("{program}: {error}");
            if code != Exit::Usage {
                log(&error);
            }
            ExitCode::from(code as u8)
        }
    }
}

/// Writes `question` on stderr as it is and reads one line from stdin,
/// trimmed; end of input is a usage error (nothing was answered).
pub fn read_answer(question: &str) -> Result<String, Error> {
    use std::io::{BufRead, Write};
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer)? == 0 {
        return Err(Error::usage("no answer: interrupted"));
    }
    Ok(answer.trim().to_string())
}
