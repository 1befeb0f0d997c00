//! `setup`: this machine's configuration, once the server knows the token.

use std::path::{Path, PathBuf};

use girofle_base::error::{Error, Result};

use crate::api::Api;
use crate::config::{self, Config, Location};
use crate::tr;

/// What `setup` is given.
#[derive(Debug, Default)]
pub struct SetupArgs {
    /// The server's URL.
    pub server: String,
    /// The token itself, to be stored in a file of the client's (0600).
    pub token: Option<String>,
    /// Or a file already holding it.
    pub token_file: Option<PathBuf>,
    /// This machine's name (the host name by default).
    pub machine: Option<String>,
    /// A certificate authority (PEM) to trust for the server.
    pub ca_file: Option<PathBuf>,
    /// Accept a plain `http://` address of another machine.
    pub insecure_http: bool,
}

/// Writes `client.toml` after checking the token with the server.
pub fn setup(location: &Location, args: &SetupArgs) -> Result<Config> {
    let server = args.server.trim().trim_end_matches('/').to_string();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(Error::usage(tr!(
            "not-an-address",
            server = format!("{server:?}")
        )));
    }
    config::check_server(&server, args.insecure_http)?;
    let ca_file = args.ca_file.as_deref().map(config::absolute).transpose()?;
    let machine = args
        .machine
        .clone()
        .unwrap_or_else(config::default_machine_name);
    config::check_machine_name(&machine)?;
    crate::git::check_version()?;
    let config_dir = location
        .file
        .parent()
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    let (token, token_file) = match (&args.token, &args.token_file) {
        (Some(token), _) => (token.trim().to_string(), config_dir.join("token")),
        (None, Some(file)) => {
            let file = config::absolute(file)?;
            let text = std::fs::read_to_string(&file).map_err(|error| {
                Error::usage(tr!(
                    "cannot-read",
                    file = file.display().to_string(),
                    error = error.to_string()
                ))
            })?;
            (text.trim().to_string(), file)
        }
        (None, None) => return Err(Error::usage(tr!("token-is-needed"))),
    };
    if token.is_empty() {
        return Err(Error::usage(tr!("token-empty")));
    }
    let user = Api::new(&server, &token, ca_file.as_deref())?
        .current_user()
        .map_err(|error| Error::failed(format!("{server}: {error}")))?;
    std::fs::create_dir_all(&config_dir)?;
    if args.token.is_some() {
        girofle_base::atomic::write(&token_file, format!("{token}\n").as_bytes(), 0o600)?;
    }
    let config = Config {
        server,
        token_file,
        machine,
        email: user
            .email
            .clone()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| format!("{}@girofle.invalid", user.username)),
        name: if user.name.is_empty() {
            user.username.clone()
        } else {
            user.name.clone()
        },
        person: user.username,
        data_dir: None,
        ca_file,
    };
    config.save(location)?;
    Ok(config)
}
