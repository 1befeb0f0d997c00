//! The client for people who are not IT technicians: a folder of theirs is kept
//! safe on a Girofle GitLab instance and behaves as one folder across their
//! machines, without a git word.
//!
//! What lives where:
//! - on the server (GitLab, through its documented REST API v4 and git over
//!   HTTP): a folder is a project with the topic `girofle`; the person's folders
//!   are their projects with that topic; sharing is project membership; each
//!   machine's state for a folder (clean at a version, or changes never sent
//!   since a time) is the ref `refs/girofle/machines/<person>/<machine>`, which
//!   points to a small commit describing it and is only ever moved with a
//!   compare-and-swap (`--force-with-lease`), so two machines cannot both win;
//! - on the machine: `client.toml` (server, token file, machine name), and a
//!   data directory with the list of folders bound here and, for each, the
//!   history kept apart from the folder (so the folder holds only the person's
//!   files).
//!
//! Nothing here prints or reads the terminal but [`dialogue`], the binary's
//! conversation with the person.

#![warn(missing_docs)]

/// The actions behind the subcommands.
pub mod actions;
/// Talking to GitLab's REST API v4.
pub mod api;
/// The user service that sends the saved folders by itself.
pub mod autosync;
/// Every file operation under a saved folder, never through a link.
pub mod beneath;
/// `client.toml` and where the client keeps its data.
pub mod config;
/// The command line, the questions asked on a terminal, what is printed.
pub mod dialogue;
/// The folders bound on this machine.
pub mod folders;
/// The `git` program, run with an argument list and the token kept out of sight.
pub mod git;
/// The person's language: the catalogues of every sentence shown.
pub mod lang;
/// Project names and paths GitLab takes, made from any folder name.
pub mod names;
/// A text file's changes cut into parts, and parts put back.
pub mod parts;
/// Percent-encoding for addresses, refs and headers.
pub mod percent;
/// Versions prepared ahead from the folder's changes.
pub mod prepared;
/// A configured client, and what its actions report.
pub mod session;
/// A machine's state for a folder, as recorded on the server.
pub mod state;
/// Walking, comparing and copying the person's files.
pub mod tree;
/// `girofle-client ui`: the local page with the buttons.
pub mod ui;
/// Times and names in plain words.
pub mod words;
/// One folder being worked on: its history, the server's copy, the states.
mod work;
