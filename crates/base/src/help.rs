//! What `--help` says after the options: the environment a binary honours,
//! its exit codes and two examples; and the shell completions and man pages
//! generated from the same clap definitions. Each crate keeps its own pages
//! (the variables it honours are its own); the shape is one.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap_complete::Shell;

/// An environment variable as a help page describes it.
pub trait Variable: Copy {
    /// The variable's name, and what it means with its default.
    fn describe(self) -> (&'static str, String);
}

/// What the help of one binary says after its options.
#[derive(Debug, Clone, Copy)]
pub struct Page<V: 'static> {
    /// The binary's name.
    pub program: &'static str,
    /// The environment variables it honours.
    pub vars: &'static [V],
    /// What exit 1 means besides a failure, if anything.
    pub one: Option<&'static str>,
    /// What exit 3 means for this binary, when it can be partly done.
    pub partial: Option<&'static str>,
    /// Two examples: the command line and what it does.
    pub examples: [(&'static str, &'static str); 2],
}

impl<V: Variable> Page<V> {
    /// The text `--help` shows after the options.
    pub fn render(&self) -> String {
        let mut text = String::from("Environment:\n");
        for var in self.vars {
            let (name, meaning) = var.describe();
            text.push_str(&format!("  {name}\n          {meaning}\n"));
        }
        text.push_str("\nExit codes:\n  0  done\n");
        text.push_str(
            "  1  the operation failed (stderr says what failed and in what state it left things)\n",
        );
        if let Some(one) = self.one {
            text.push_str(&format!("     {one}\n"));
        }
        text.push_str("  2  usage error or bad input (nothing was changed)\n");
        if let Some(partial) = self.partial {
            text.push_str(&format!("  3  partly done: {partial}\n"));
        }
        text.push_str("\nExamples:\n");
        for (line, what) in self.examples {
            text.push_str(&format!("  {line}\n          {what}\n"));
        }
        text
    }

    /// `command` with this page after the options of `--help` (the long
    /// help only: `-h` stays short).
    pub fn decorate(&self, command: clap::Command) -> clap::Command {
        command.after_long_help(self.render())
    }
}

/// What `--generate` makes.
pub const GENERATED: &[&str] = &[
    "completion-bash",
    "completion-zsh",
    "completion-fish",
    "man",
];

/// Writes the completion or man page `what` of `command` to `out`.
pub fn generate(command: clap::Command, what: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let shell = match what {
        "completion-bash" => Shell::Bash,
        "completion-zsh" => Shell::Zsh,
        "completion-fish" => Shell::Fish,
        "man" => return clap_mangen::Man::new(command).render(out),
        other => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("cannot generate {other:?}: one of {}", GENERATED.join(", ")),
            ));
        }
    };
    let mut command = command;
    let name = command.get_name().to_string();
    clap_complete::generate(shell, &mut command, name, out);
    Ok(())
}

/// Handles `BINARY --generate WHAT` before the normal parse, and the exit it
/// ends with; `None` for every other command line.
///
/// The option is hidden and handled here, outside clap's parse, on purpose:
/// the operations' required arguments would otherwise reject it, and it
/// would show in the very completions and man pages it generates. It lives
/// in the binaries themselves so that install.sh can install completions and
/// man pages on a host that has only the prebuilt binaries (no Rust).
pub fn generate_if_asked(command: &clap::Command) -> Option<ExitCode> {
    generate_for(command, std::env::args_os().skip(1).collect())
}

fn generate_for(command: &clap::Command, words: Vec<OsString>) -> Option<ExitCode> {
    if words.first().is_none_or(|word| word != "--generate") {
        return None;
    }
    let program = command.get_name().to_string();
    let what = match words.as_slice() {
        [_, what] => what.to_string_lossy().into_owned(),
        _ => {
            eprintln!(
                "{program}: --generate takes one of {}",
                GENERATED.join(", ")
            );
            return Some(ExitCode::from(2));
        }
    };
    let mut out = Vec::new();
    if let Err(error) = generate(command.clone(), &what, &mut out) {
        eprintln!("{program}: {error}");
        return Some(ExitCode::from(2));
    }
    match std::io::stdout().write_all(&out) {
        Ok(()) => Some(ExitCode::SUCCESS),
        Err(error) => {
            eprintln!("{program}: {error}");
            Some(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    struct Only;

    impl Variable for Only {
        fn describe(self) -> (&'static str, String) {
            ("ONLY", "the one variable".to_string())
        }
    }

    #[test]
    fn a_page_names_its_variables_exit_codes_and_examples() {
        let page = Page {
            program: "girofle-x",
            vars: &[Only],
            one: None,
            partial: Some("some items failed"),
            examples: [("girofle-x a", "does a"), ("girofle-x b", "does b")],
        };
        let text = page.render();
        assert!(text.starts_with("Environment:\n  ONLY\n          the one variable\n"));
        assert!(text.contains("\n  2  usage error"));
        assert!(text.contains("\n  3  partly done: some items failed\n"));
        assert!(text.contains("  girofle-x b\n          does b\n"));
    }

    #[test]
    fn only_the_generate_option_is_taken_before_the_parse() {
        let command = clap::Command::new("girofle-x");
        assert!(generate_for(&command, vec!["--help".into()]).is_none());
        assert!(generate_for(&command, vec![]).is_none());
        assert_eq!(
            generate_for(&command, vec!["--generate".into()]),
            Some(ExitCode::from(2))
        );
        assert_eq!(
            generate_for(
                &command,
                vec!["--generate".into(), "completion-tcsh".into()]
            ),
            Some(ExitCode::from(2))
        );
    }
}
