not-a-folder = { $dir } is not a folder
too-wide = { $dir } is too wide to be one saved folder: choose a folder inside it
already-saved-folder = { $dir } is already a saved folder
inside-saved-folder = { $dir } is inside the saved folder { $other }: it is saved with it already
holds-saved-folder = { $dir } holds the saved folder { $other }: a saved folder cannot hold another
already-here-at = { $folder } is already on this machine at { $dir }
name-clash = You already have a folder named { $name } on the server: this one is { $folder } there.
new-sent = { $dir } is now a saved folder ({ $folder } on the server); its first version is sent.
new-offline = { $dir } is now a saved folder, but the server could not be reached to send its first version: run `girofle-client sync` later.
new-refused = the server did not take the first version ({ $why })
exists-elsewhere = you already have a folder named { $name } on the server ({ $folder }), not on this computer: bring it here with `girofle-client get { $path }`, or rename this folder
name-refused = the server would not make { $name } a saved folder: { $why }. Give the folder a simpler name and try again.
name-refused-why = it refused the name
too-many-named = you have many folders named { $name } on the server already: give this one another name
one-per-machine = { $folder } is already on this machine, at { $dir }: one folder per machine
not-empty = { $dir } exists already and is not empty: name another place
around-saved-folder = { $dir } would be inside or around the saved folder { $other }
unreachable-at = { $url }: the server cannot be reached
never-sent-yours = { $what } were never sent; sync there first
never-sent-theirs = { $what } were never sent; they must sync there first
or-take-over = (or take the folder over with --take-over: that work is then kept aside on that machine, never lost)
took-over = Took the folder over: { $what } will be kept aside there the next time the client runs on { $machine }.
unreachable = the server cannot be reached
take-over-raced = the other machine's state changed meanwhile: nothing was taken over; try again
got-here = { $folder } is here, in { $dir }.
remade = { $folder } was no longer at { $old }: it is remade in { $dir } with every version kept on this machine.
no-such-person = the server knows no person named { $person }
shared = { $who } may now get { $folder } and send versions to it.
shared-already = { $who } could already get { $folder }.
shared-now-sends = { $who } could already get { $folder } but not send versions to it; { $who } is now a Maintainer of it and may.
saved-on = Saved on { $machine }
saved-first = Saved the unsaved changes first ({ $files ->
    [one] { $files } file
   *[other] { $files } files
    }).
nothing-changed = Nothing changed since the last version.
saved-version = Saved a new version ({ $files ->
    [one] { $files } file
   *[other] { $files } files
    } changed).
saved-offline = The server cannot be reached: it will know of this version when this machine is back online.
unreachable-nothing-sent = the server cannot be reached: nothing was sent; your versions are safe here
brought-in = Brought in { $versions ->
    [one] { $versions } new version
   *[other] { $versions } new versions
    } from the server.
both-ahead = the server has { $versions ->
    [one] { $versions } version
   *[other] { $versions } versions
    } this machine lacks, and this machine has changes the server lacks: run `girofle-client resolve` to bring them together (nothing will be lost)
all-on-server = Everything is already on the server.
sent = Sent: the server has every version of this folder.
server-moved = the server received other versions meanwhile: run `girofle-client resolve`
sent-none-taken-over = nothing was sent: another machine took this folder over
sent-none-raced = nothing was sent: the server's record of this machine changed meanwhile; run `girofle-client sync` again
your-changes-since = your changes on { $machine } since { $since }
your-changes = your changes on { $machine }
their-changes-since = { $person }'s changes on { $machine } since { $since }
their-changes = { $person }'s changes on { $machine }
not-a-saved-folder = { $name } is on the server but is not a saved folder
no-access = the server refused: { $name } does not exist or you have no access to it
no-folder-named = you have no saved folder named { $name } (`girofle-client get` without a name lists them)
several-named = several folders are named { $name }: { $folders }; name one of them in full
another-machine = another machine
taken-over-at = { $by } took this folder over at { $at }, without the changes made here.
taken-over = { $by } took this folder over, without the changes made here.
still-pending = { $files ->
    [one] { $files } file still waits
   *[other] { $files } files still wait
    } for your choice: run `girofle-client resolve`
unwritable = the server's version of { $folder } holds { $files ->
    [one] { $files } file
   *[other] { $files } files
    } that cannot be put in a folder, so nothing of it was written and your folder is as it was: { $names }. Ask whoever sent it to remove { $files ->
    [one] it
   *[other] them
    }
token-refused = the server refused your access token (it may have expired): make a new one and run `girofle-client setup`
read-only = the server refused: you may read { $folder } but not send versions to it
access-refused = the server refused access to { $folder }: it does not exist any more, or it is not shared with you any more
not-in-saved-folder = { $dir } is not a saved folder: go into one (or name it with --folder), or make it one with `girofle-client new`
folder-missing = the saved folder { $dir } is missing: was it moved or renamed? Put it back where it was
kept-as-it-was = Your folder as it was is kept in { $dir }.
unplaced = { $files ->
    [one] { $files } file of yours could not be put back in the folder and is
   *[other] { $files } files of yours could not be put back in the folder and are
    } in the copy kept aside ({ $dir }): { $names }.
blocked-by-link = { $files ->
    [one] { $files } file of yours was
   *[other] { $files } files of yours were
    } not put back: in the server's version, { $link } is a link to { $to } instead of a folder, and nothing is ever written through a link. { $files ->
    [one] It is
   *[other] They are
    } in the copy kept aside: { $names }.
neither-files-nor-links = { $files ->
    [one] This is
   *[other] These are
    } neither files nor links (left in the copy kept aside): { $names }.
added-back = Added back { $files ->
    [one] { $files } file
   *[other] { $files } files
    } the server did not have: { $names }.
files-differ = { $files ->
    [one] { $files } file differs
   *[other] { $files } files differ
    } from the server's: choose for each with `girofle-client resolve` (yours, the server's, or both): { $names }
together-on = Brought together on { $machine }
all-chosen-saved = Every file is chosen; the result is saved. Run `girofle-client sync` to send it.
all-chosen-server = Every file is chosen; the folder is the server's version.
copy-stays = The copy { $dir } stays; remove it when you no longer need it.
unreachable-try-later = the server cannot be reached: try again when this machine is online
nothing-to-bring-together = Nothing to bring together: the server has no version this machine lacks.
no-choice-waiting = no file is waiting for a choice: nothing differs from the server's version
yours-not-put-back = { $file }: yours was not put back
kept-yours = { $file }: kept yours
kept-servers = { $file }: kept the server's
kept-both = { $file }: kept both (yours is { $other })
no-version-yet = this folder has no version yet
no-such-version = there is no version { $version }: versions go from 1 to { $last }
back-to-on = Back to version { $version }, on { $machine }
back-newest = The folder is back at version { $version }, its newest.
back-saved = The folder is back at version { $version }; that is saved as a new version.
first-version = First version
ask-server = Server address (e.g. https://gitlab.example.org):
server-needed = --server is needed
token-needed = --token-file or --token-stdin is needed
ask-token = Your access token (it is not shown):
ask-machine = This machine's name [{ $default }]:
set-up = Set up: { $person } on { $server }, this machine is { $machine } ({ $file }).
page-running = Your page is at the address above. Keep this running while you use it; Ctrl-C closes it.
browser-failed = The browser could not be opened: open the address above in it.
open-browser = Open the address above in your browser.
no-change = No change since the last version.
in-prepared = in "{ $name }"
how-to-prepare = Put changes into a prepared version with `girofle-client prepare "NAME" N...`.
no-prepared = No prepared version.
no-longer-applies = { $label }: no longer applies, the file changed since (kept here until you remove it)
cannot-read = cannot read { $file }: { $error }
token-is-needed = the access token is needed
token-empty = the access token is empty
with-git = , with git { $version }
no-change-any-more = there is no change { $number } any more
nothing-to-open-now = { $file } has nothing to open as it is now
nothing-to-open-was = { $file } has nothing to open as it was
no-change-since = there is no change since the last version
no-change-number = there is no change { $number }: `girofle-client review` lists them, from 1 to { $last }
put-in = { $changes ->
    [one] { $changes } change is
   *[other] { $changes } changes are
    } in the prepared version "{ $name }".
put-in-new = { $changes ->
    [one] { $changes } change is
   *[other] { $changes } changes are
    } in the prepared version "{ $name }" (new, placed last).
prepared-gone = The prepared version "{ $name }" held nothing else: it is gone.
folder-unchanged-until-save = Your folder is unchanged until you run `girofle-client prepared --save`.
prepared-removed = The prepared version "{ $name }" is removed; its { $changes ->
    [one] change is
   *[other] { $changes } changes are
    } left out again, still in your folder.
prepared-renamed = The prepared version "{ $old }" is now "{ $new }".
nothing-prepared = there is no prepared version to save: make one with `girofle-client prepare NAME N...`
stale-one = "{ $name }" ({ $file } changed since)
stale = nothing was saved and your folder is unchanged: { $changes ->
    [one] a prepared change no longer applies
   *[other] some prepared changes no longer apply
    } to the files as they are now: { $which }. Remove { $changes ->
    [one] its version
   *[other] their versions
    } with `girofle-client prepared --remove NAME`, then put { $changes ->
    [one] it
   *[other] them
    } in a version again
saved-prepared = Saved the version "{ $name }" ({ $changes ->
    [one] { $changes } change
   *[other] { $changes } changes
    }).
left-out-discarded = What was left out is discarded from your folder; your folder as it was is kept in { $dir }.
nothing-left-out = Nothing was left out.
label-part-at = { $file }, a part of the file (line { $line }: { $lines ->
    [one] { $lines } line
   *[other] { $lines } lines
    })
label-removed = { $file }, removed
label-whole = { $file }, the whole file
label-new = { $file }, new file
label-part = { $file }, part { $nth } of { $of }
prepared-needs-name = a prepared version needs a name
prepared-one-line = a prepared version's name fits on one line
prepared-needs-change = name at least one change to put in it
prepared-exists = there is already a prepared version named { $name }
no-prepared-named-none = there is no prepared version named { $name }; there is none
no-prepared-named = there is no prepared version named { $name }; there are: { $names }
no-longer-as-last = { $file } is no longer as in the last version
parts-overlap = two prepared parts of { $file } change the same lines
not-set-up = this machine is not set up yet ({ $file } does not exist): run `girofle-client setup`
cannot-read-file = cannot read { $file }
cannot-create = cannot create { $dir }
cannot-read-token = cannot read the access token in { $file }: { $error }
token-file-empty = the token file { $file } is empty
bad-machine-name = { $name } cannot be a machine name: use letters, digits, '.', '_' and '-'
no-home = HOME is not set: name the configuration with --config
api-offline = the server cannot be reached ({ $why })
api-certificate-unknown-authority = the server's certificate is signed by an authority this machine does not trust; if the server has an authority of its own, ask its administrator for that authority's certificate and give it with --ca-file
api-certificate-expired = the server's certificate has expired; its administrator must renew it
api-certificate-other-name = the server's certificate is made out to another name than the address given; check the address
api-certificate-unverified = the server's certificate cannot be verified ({ $why })
api-token-refused = the server refused the access token
api-no-access = the server refused: no access
api-not-found = the server knows no such thing, or gives no access to it
api-refused = the server refused: { $why }
api-error = the server answered with an error (HTTP status { $code })
api-bad = the server's answer was not understood ({ $why })
api-moved-odd = the server answered that it moved, to something that is not a plain web address: ask whoever runs it where it is now
api-moved = the server moved to { $to }; run `girofle-client setup --server { $to }` (only if you know that address to be your organisation's server: the access token goes wherever it is set up)
no-certificate = { $file } holds no certificate (a PEM file, -----BEGIN CERTIFICATE-----, is expected)
problem-link = { $path } is a link (to { $to }): nothing is read or written through a link
problem-name = { $name } is not a name a file can have in a folder
problem-special = { $path } is neither a file nor a link: it is left where it is
name-outside = it names a place outside the folder
name-bad-character = its name holds a character folders cannot hold on every system
name-reserved = its name is kept for the folder's history
copy-name = { $name } (copy { $stamp })
from-machine = { $name } (from { $machine })
cannot-move = cannot move { $dir } to { $to }
not-encrypted = { $server } is not encrypted (http://): your access token and your files would cross the network in clear, for anyone on the way to read or change. Give the server's https:// address; or, only on a network you trust entirely, add --insecure-http
not-an-address = { $server } is not a server address (it starts with https:// or http://)
not-waiting-none = { $file } is not waiting for a choice; these are: none
not-waiting = { $file } is not waiting for a choice; these are: { $names }
send-failed = sending to the server failed (details: { $details })
protected = the server refused your new versions of { $folder }: its settings on the server protect the folder's main copy from you. Your versions are safe on this machine; an administrator of the server can change that
rights-too-low = the server refused your new versions of { $folder }: your rights on this folder are too low to send versions to it (you may only read it). { $owner }, who owns it, can raise them by sharing the folder with you ({ $me }) again. Your versions are safe on this machine meanwhile
prepared-unreadable = the prepared versions in { $file } cannot be read ({ $error }); nothing was changed
kept-damaged = the kept copy { $file } is damaged; nothing was saved
git-missing = git is not installed: install it (for example: sudo apt install git), then try again
git-version-unreadable = the version of git could not be read ({ $text })
git-too-old = git { $version } is too old: girofle-client needs git { $oldest } or newer. Install a newer git, then try again
git-cannot-run = cannot run git: is it installed?
page-not-saved-here = { $dir } is not a saved folder on this machine
page-which-folder = which folder?
page-which-keep = keep mine, the server's, or both?
page-share-whom = share with whom? Type their user name
page-not-saved = not a saved folder
page-not-waiting = { $file } is not waiting for a choice
page-copy-gone = your copy is not kept any more
page-tick-first = tick at least one change first
page-changed-meanwhile = the folder changed since this screen was shown: look at the changes again (nothing was put in a prepared version)
page-which-action = remove, rename or save?
page-which-change = which change?
cannot-open = cannot open { $file }
cannot-lock = cannot lock { $file }
cannot-temp = cannot make a temporary folder in the history
cannot-copy-index = cannot copy the history's index
cannot-run-cp = cannot run cp
cannot-copy = cannot copy { $from } to { $to }: { $why }
cannot-listen = cannot listen on 127.0.0.1: { $error }
cannot-random = cannot read /dev/urandom: { $error }

# Sending without the person: when they leave, now and then, when asked.
saved-on-leaving = Saved on { $machine } when leaving
leave-offline = { $folder }: the server cannot be reached; nothing sent
leave-pending = { $folder }: files wait for your choice (girofle-client resolve); nothing sent
leave-unsaved-kept = { $folder }: { $files ->
    [one] { $files } file has
   *[other] { $files } files have
    } unsaved changes, left as they are (only what you save is sent)
leave-both = { $folder }: the server has newer versions too; nothing sent (girofle-client sync to bring both together)
leave-sent = { $folder }: { $versions ->
    [one] { $versions } saved version sent
   *[other] { $versions } saved versions sent
    }
leave-failed = { $dir }: { $error }
asked-by-other = { $folder }: another of your machines is waiting for this one's changes
asked-waiting = { $machines } was asked to send them and is on: waiting up to a minute...
asked-in-vain = { $machines } did not send them within a minute
asked-later = { $machines } was asked to send them: its girofle-client will, the next time it runs there
