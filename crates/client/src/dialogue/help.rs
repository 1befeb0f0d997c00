//! What `girofle-client --help` says after its options.

use girofle_base::help::{Page, Variable};

/// An environment variable the client honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// `GIROFLE_CLIENT_CONFIG`.
    ClientConfig,
    /// `XDG_CONFIG_HOME`.
    XdgConfig,
    /// `XDG_DATA_HOME`.
    XdgData,
}

impl Variable for Var {
    fn describe(self) -> (&'static str, String) {
        match self {
            Var::ClientConfig => (
                "GIROFLE_CLIENT_CONFIG",
                "the settings file, when --config is not given \
                 [default: $XDG_CONFIG_HOME/girofle/client.toml]"
                    .to_string(),
            ),
            Var::XdgConfig => (
                "XDG_CONFIG_HOME",
                "where the settings file is looked for [default: ~/.config]".to_string(),
            ),
            Var::XdgData => (
                "XDG_DATA_HOME",
                "where the client keeps its data [default: ~/.local/share]".to_string(),
            ),
        }
    }
}

/// The client's page.
pub const PAGE: Page<Var> = Page {
    program: "girofle-client",
    vars: &[Var::ClientConfig, Var::XdgConfig, Var::XdgData],
    one: None,
    partial: None,
    examples: [
        (
            "girofle-client setup --server https://gitlab.example.org --token-file ~/token.txt",
            "sets this machine up with the server and your access token",
        ),
        (
            "girofle-client new ~/Documents/thesis",
            "keeps that folder safe on the server from now on",
        ),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_clients_variables_and_two_examples_of_its_own() {
        let text = PAGE.render();
        for var in PAGE.vars {
            assert!(text.contains(var.describe().0));
        }
        assert!(!text.contains("GIROFLE_HOME"));
        assert!(!text.contains("\n  3  "));
        for (line, _) in PAGE.examples {
            assert!(line.starts_with("girofle-client "), "{line}");
        }
    }
}
