# What the terminal shows: questions, answers, the status of a folder.
# Variables: $dir a folder on this machine, $file a file, $folder a folder's
# name on the server.

yes-no = [y/N]
yes-letter = y
yes-word = yes
confirm-take-over = Take the folder over? Changes never sent from the other machine will be kept aside there, not brought here.
ask-remove-aside = Your folder as it was is in { $dir }. Remove it?
removed-aside = Removed { $dir }.
kept-aside = Your folder as it was is kept in { $dir }; remove it when you no longer need it.
needs-confirmation = this needs your confirmation: run it on a terminal, or add --yes
nothing-done = nothing was done

status-head = { $dir } ({ $folder }), version { $version }
status-no-unsaved = No unsaved changes.
status-unsaved = Unsaved changes ({ $files ->
    [one] { $files } file
   *[other] { $files } files
    }):
file-new = new
file-deleted = deleted
file-changed = changed
status-all-sent = Every saved version is on the server.
status-unsent = { $versions ->
    [one] { $versions } saved version
   *[other] { $versions } saved versions
    } not sent yet.
status-offline = The server cannot be reached.
status-server-nothing = The server has nothing this machine lacks.
status-server-ahead = The server has { $versions ->
    [one] { $versions } version
   *[other] { $versions } versions
    } this machine lacks.
status-pending = Waiting for your choice (girofle-client resolve):
status-newest = Newest versions:
status-prepared = Prepared ahead, not saved yet (girofle-client prepared): { $names }.
status-other-unsent = Not sent yet: { $what }.

ask-keep = { $file } differs. Keep (m)ine, the (s)erver's, or (b)oth?
keep-mine-letter = m
keep-server-letter = s
keep-both-letter = b
choose-each = Choose for each: girofle-client resolve --keep mine|server|both FILE...

# A day of another month: "24 Nov 14:05".
month-short = { $month ->
    [1] Jan
    [2] Feb
    [3] Mar
    [4] Apr
    [5] May
    [6] Jun
    [7] Jul
    [8] Aug
    [9] Sep
    [10] Oct
    [11] Nov
   *[12] Dec
    }

ask-autosync = Send your saved folders by themselves when you log out or shut down, and every 15 minutes?
autosync-every-zero = --every must be at least 1 minute
autosync-on = Your saved folders will be sent by themselves when you log out or shut down, every { $minutes } minutes, and when another of your machines asks. Only what you saved is sent.
autosync-on-saving = Your folders will be saved and sent by themselves when you log out or shut down; what you saved is sent every { $minutes } minutes, and when another of your machines asks.
autosync-started = It runs now.
autosync-next-login = It starts the next time you log in.
autosync-off = Your folders are no longer sent by themselves.
autosync-was-off = Your folders were not sent by themselves; nothing to remove.
autosync-already = Already running on this machine.
autosync-running = Watching: your saved folders will be sent when you leave.
autosync-leaving = Leaving: sending what was saved...
status-then-sync = To send them: girofle-client sync
status-then-resolve = To choose: girofle-client resolve
status-then-bring = To bring them here: girofle-client sync
