//! Every integration test of the client, in one binary (one link): the
//! command line against the stand-in GitLab (`client`) and the page in a
//! headless Chromium (`client_ui`), over one harness (`tests/common`).

#[path = "../common/mod.rs"]
mod common;

mod client;
mod client_ui;
