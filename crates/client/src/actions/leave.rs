//! Sending without the person: when they leave (logout, shutdown), now and
//! then while online, and when another of their machines asks.

use std::path::PathBuf;

use girofle_base::error::Result;

use crate::folders::Locked;
use crate::session::{Client, Notes};
use crate::tr;

impl Client {
    /// The folders bound on this machine, where they are.
    fn bound_dirs(&self) -> Result<Vec<PathBuf>> {
        Ok(Locked::open(&self.data_dir)?
            .registry
            .folders
            .into_iter()
            .map(|folder| folder.dir)
            .collect())
    }

    /// Sends what was saved in every folder bound here (saving first only
    /// when `save_first`: the person chose so). A folder that cannot be sent
    /// is said in the notes; the others are still sent.
    pub fn send_all(&self, save_first: bool) -> Result<Notes> {
        let mut notes = Notes::default();
        for dir in self.bound_dirs()? {
            let done = self.work(Some(&dir)).and_then(|mut work| {
                if work.catch_up(&mut notes)? {
                    return Ok(());
                }
                work.send_saved(save_first, &mut notes)
            });
            if let Err(error) = done {
                notes.say(tr!(
                    "leave-failed",
                    dir = dir.display().to_string(),
                    error = error.to_string()
                ));
            }
        }
        Ok(notes)
    }

    /// Looks at the server for every folder bound here and sends what was
    /// saved where another machine asked for it (a `get` refused there),
    /// then removes the request. With `listening`, marks this machine as
    /// one that answers (`Some(true)`) or no longer (`Some(false)`).
    pub fn answer_requests(&self, listening: Option<bool>) -> Result<Notes> {
        let mut notes = Notes::default();
        for dir in self.bound_dirs()? {
            let done = self.work(Some(&dir)).and_then(|mut work| {
                if work.catch_up(&mut notes)? || !work.online {
                    return Ok(());
                }
                if let Some(on) = listening {
                    work.set_listening(on)?;
                }
                if let Some(request) = work.request_to_me()? {
                    notes.say(tr!("asked-by-other", folder = work.folder.path.clone()));
                    work.send_saved(false, &mut notes)?;
                    // Cleared only once nothing saved is left unsent: a
                    // request whose sending did not happen (changes waiting
                    // for a choice, the server ahead) stays for the next look.
                    if work.local()?.unsent == 0 {
                        work.clear_request(&request)?;
                    }
                }
                Ok(())
            });
            if let Err(error) = done {
                notes.say(tr!(
                    "leave-failed",
                    dir = dir.display().to_string(),
                    error = error.to_string()
                ));
            }
        }
        Ok(notes)
    }
}
