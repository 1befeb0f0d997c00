# Ce que montre le terminal : les questions, les réponses, l'état d'un dossier.
# Variables : $dir un dossier de cette machine, $file un fichier, $folder le
# nom d'un dossier sur le serveur.

yes-no = [o/N]
yes-letter = o
yes-word = oui
confirm-take-over = Reprendre le dossier ? Les modifications jamais envoyées depuis l'autre machine y seront mises de côté, pas apportées ici.
ask-remove-aside = Votre dossier tel qu'il était se trouve dans { $dir }. Le supprimer ?
removed-aside = { $dir } est supprimé.
kept-aside = Votre dossier tel qu'il était est gardé dans { $dir } ; supprimez-le quand vous n'en aurez plus besoin.
needs-confirmation = il faut votre accord : lancez la commande dans un terminal, ou ajoutez --yes
nothing-done = rien n'a été fait

status-head = { $dir } ({ $folder }), version { $version }
status-no-unsaved = Aucune modification non enregistrée.
status-unsaved = Modifications non enregistrées ({ $files ->
    [one] { $files } fichier
   *[other] { $files } fichiers
    }) :
file-new = nouveau
file-deleted = supprimé
file-changed = modifié
status-all-sent = Toutes les versions enregistrées sont sur le serveur.
status-unsent = { $versions ->
    [one] { $versions } version enregistrée n'est pas encore envoyée.
   *[other] { $versions } versions enregistrées ne sont pas encore envoyées.
    }
status-offline = Le serveur est injoignable.
status-server-nothing = Le serveur n'a rien de plus que cette machine.
status-server-ahead = Le serveur a { $versions ->
    [one] { $versions } version
   *[other] { $versions } versions
    } que cette machine n'a pas.
status-pending = En attente de votre choix (girofle-client resolve) :
status-newest = Dernières versions :
status-prepared = Préparées à l'avance, pas encore enregistrées (girofle-client prepared) : { $names }.
status-other-unsent = Pas encore envoyées : { $what }.

ask-keep = { $file } est différent. Garder le (v)ôtre, celui du (s)erveur, ou les (d)eux ?
keep-mine-letter = v
keep-server-letter = s
keep-both-letter = d
choose-each = Choisissez pour chacun : girofle-client resolve --keep mine|server|both FICHIER...

# A day of another month: "24 Nov 14:05".
month-short = { $month ->
    [1] janv.
    [2] févr.
    [3] mars
    [4] avr.
    [5] mai
    [6] juin
    [7] juil.
    [8] août
    [9] sept.
    [10] oct.
    [11] nov.
   *[12] déc.
    }

ask-autosync = Envoyer vos dossiers enregistrés d'eux-mêmes quand vous vous déconnectez ou éteignez, et toutes les 15 minutes ?
autosync-every-zero = --every doit valoir au moins 1 minute
autosync-on = Vos dossiers enregistrés seront envoyés d'eux-mêmes quand vous vous déconnectez ou éteignez, toutes les { $minutes } minutes, et quand une autre de vos machines le demande. Seul ce que vous avez enregistré est envoyé.
autosync-on-saving = Vos dossiers seront enregistrés et envoyés d'eux-mêmes quand vous vous déconnectez ou éteignez ; ce que vous avez enregistré est envoyé toutes les { $minutes } minutes, et quand une autre de vos machines le demande.
autosync-started = C'est en marche dès maintenant.
autosync-next-login = Cela démarrera à votre prochaine connexion.
autosync-off = Vos dossiers ne sont plus envoyés d'eux-mêmes.
autosync-was-off = Vos dossiers n'étaient pas envoyés d'eux-mêmes ; rien à retirer.
autosync-already = Déjà en marche sur cette machine.
autosync-running = En veille : vos dossiers enregistrés seront envoyés à votre départ.
autosync-leaving = Départ : envoi de ce qui a été enregistré...
status-then-sync = Pour les envoyer : girofle-client sync
status-then-resolve = Pour choisir : girofle-client resolve
status-then-bring = Pour les amener ici : girofle-client sync
