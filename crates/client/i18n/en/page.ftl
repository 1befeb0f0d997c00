# The page's words (page-*: sent to the page's script, variables as they are).
page-refused = This page opens only from the address girofle-client ui printed.
page-lost = The page lost contact with girofle-client: is it still running?
page-none-here = None of your folders is on this machine yet. Press Get a folder to bring one here.
page-open-mine = Open mine
page-open-servers = Open the server's
page-keep-mine = Keep mine
page-keep-servers = Keep the server's
page-keep-both = Keep both
page-choices-help = These files were changed both here and on the server. For each, choose which to keep. "Keep both" keeps the server's under its name and yours beside it, named after this machine.
page-later = Later
page-open-was = Open it as it was
page-open-now = Open it as it is now
page-name-placeholder = a name, e.g. the budget figures
page-put = Put the ticked changes in this version
page-ok = OK
page-rename = Rename
page-remove = Remove
page-review-help = Tick changes, name a version (a new one, or one of those below), and put them in it. Changes you leave out are thrown away when you save, kept first in a copy beside the folder.
page-no-change = No change since the last version.
page-versions-prepared = Versions prepared
page-none-yet = None yet.
page-save-versions = Save these versions
page-nothing-to-discard = Nothing to throw away: every change is saved.
page-cannot-undo = This cannot be undone.
page-keep-them = No, keep them
page-discarding = Throwing the changes away…
page-throw-away = Yes, throw them away
page-user-placeholder = their user name
page-share-help = The person you name may then get this folder on their machines, and send versions of it.
page-asking = Asking the server…
page-take-over-help = You can also go on without those changes: they stay set aside on that machine, never lost, but they are not brought here.
page-go-on = Go on without them
page-all-here = Every folder of yours is on this machine already.
page-looking = Looking…
page-syncing = Sending and bringing in…
page-saving = Saving…
page-close = Close
page-button-save = Save
page-button-sync = Sync
page-button-resolve = Resolve
page-button-review = Review
page-button-discard = Discard
page-button-share = Share
page-button-get = Get
page-who = { $person } on { $machine } · { $server }
page-more = and { $count } more
page-looked = version { $version } · looked at { $checked }
page-resolve-title = Resolve: { $name }
page-review-title = Review: { $name }
page-in-prepared =  in "{ $name }"
page-no-longer-applies = { $label }: no longer applies, the file changed since
page-prepared-saved = { $name }: the prepared versions are saved.
page-discard-title = Discard: { $name }
page-discard-ask = Discard changes in { $name }?
page-discard-help = These changes will be thrown away, and the folder put back as it was at version { $version }, its last save:
page-share-title = Share { $name }
page-bringing = Bringing { $name } here…
page-put-in = Folders you get are put in { $place }.
page-get-title = Get a folder
page-differs-marker = from the server's:
page-title = Your folders
page-looking-folders = Looking at your folders…
view-missing = Not found on this machine
view-missing-detail = It was in { $dir }: put it back there, or press Get a folder to remake it from the versions kept here.
view-error = Cannot be looked at just now
view-unsaved = { $files ->
    [one] { $files } file
   *[other] { $files } files
    } changed since the last save.
view-unsent = { $versions ->
    [one] { $versions } saved version
   *[other] { $versions } saved versions
    } not sent to the server yet.
view-prepared = { $versions ->
    [one] { $versions } version prepared ahead, not saved yet: press Review to see it.
   *[other] { $versions } versions prepared ahead, not saved yet: press Review to see them.
    }
view-differ = { $files ->
    [one] { $files } file differs
   *[other] { $files } files differ
    } from the server's: press Resolve to choose, file by file.
view-choices = Some files wait for your choice
view-both-detail = Press Resolve to bring both together; nothing will be lost.
view-both = The server has newer versions, and this machine has changes
view-behind-detail = { $versions ->
    [one] { $versions } newer version
   *[other] { $versions } newer versions
    } from your other machines: press Sync to bring them here.
view-behind = The server has newer versions
view-state-unsaved = Changes not saved
view-state-unsent = Saved but not sent
view-clean = All saved and sent
view-offline = The server cannot be reached just now: saving works; sending waits until it can.
page-the-page = the page
page-run = run `girofle-client { $action }`
page-press = press { $button }
page-cli-until-save = until you run `girofle-client prepared --save`
page-until-save = until you press Save these versions
page-cli-remove-with = with `girofle-client prepared --remove NAME`,
page-remove-with = with its Remove button,
page-cli-get-lists = `girofle-client get` without a name lists them
page-get-lists = Get a folder lists them
cannot-watch = cannot watch the folders: { $error }
page-change = { $what }: { $file }
page-title-unsent = ({ $count }) not sent: Your folders
page-banner-unsent = Folders with changes not sent to the server yet: { $count }. Press each one's highlighted button (Save, then Sync) before you leave.
