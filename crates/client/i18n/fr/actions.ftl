not-a-folder = { $dir } n'est pas un dossier
too-wide = { $dir } est trop vaste pour être un seul dossier enregistré : choisissez un dossier à l'intérieur
already-saved-folder = { $dir } est déjà un dossier enregistré
inside-saved-folder = { $dir } est à l'intérieur du dossier enregistré { $other } : il est déjà enregistré avec lui
holds-saved-folder = { $dir } contient le dossier enregistré { $other } : un dossier enregistré ne peut pas en contenir un autre
already-here-at = { $folder } est déjà sur cette machine, dans { $dir }
name-clash = Vous avez déjà un dossier nommé { $name } sur le serveur : celui-ci y est { $folder }.
new-sent = { $dir } est maintenant un dossier enregistré ({ $folder } sur le serveur) ; sa première version est envoyée.
new-offline = { $dir } est maintenant un dossier enregistré, mais le serveur était injoignable pour recevoir sa première version : lancez `girofle-client sync` plus tard.
new-refused = le serveur n'a pas accepté la première version ({ $why })
exists-elsewhere = vous avez déjà un dossier nommé { $name } sur le serveur ({ $folder }), pas sur cet ordinateur : récupérez-le ici avec `girofle-client get { $path }`, ou renommez ce dossier
name-refused = le serveur n'a pas voulu faire de { $name } un dossier enregistré : { $why }. Donnez au dossier un nom plus simple et réessayez.
name-refused-why = il a refusé le nom
too-many-named = vous avez déjà de nombreux dossiers nommés { $name } sur le serveur : donnez un autre nom à celui-ci
one-per-machine = { $folder } est déjà sur cette machine, dans { $dir } : un seul exemplaire par machine
not-empty = { $dir } existe déjà et n'est pas vide : indiquez un autre endroit
around-saved-folder = { $dir } serait à l'intérieur ou autour du dossier enregistré { $other }
unreachable-at = { $url } : le serveur est injoignable
never-sent-yours = { $what } n'ont jamais été envoyées ; synchronisez d'abord là-bas
never-sent-theirs = { $what } n'ont jamais été envoyées ; il faut d'abord synchroniser là-bas
or-take-over = (ou reprenez le dossier avec --take-over : ce travail est alors mis de côté sur cette machine-là, jamais perdu)
took-over = Dossier repris : { $what } seront mises de côté là-bas la prochaine fois que le client fonctionnera sur { $machine }.
unreachable = le serveur est injoignable
take-over-raced = l'état de l'autre machine a changé entre-temps : rien n'a été repris ; réessayez
got-here = { $folder } est ici, dans { $dir }.
remade = { $folder } n'était plus dans { $old } : il est refait dans { $dir } avec toutes les versions gardées sur cette machine.
no-such-person = le serveur ne connaît personne nommé { $person }
shared = { $who } peut maintenant récupérer { $folder } et lui envoyer des versions.
shared-already = { $who } pouvait déjà récupérer { $folder }.
shared-now-sends = { $who } pouvait déjà récupérer { $folder } mais pas lui envoyer de versions ; c'est maintenant possible.
saved-on = Enregistrée sur { $machine }
saved-first = Les modifications non enregistrées sont d'abord enregistrées ({ $files ->
    [one] { $files } fichier
   *[other] { $files } fichiers
    }).
nothing-changed = Rien n'a changé depuis la dernière version.
saved-version = Nouvelle version enregistrée ({ $files ->
    [one] { $files } fichier modifié
   *[other] { $files } fichiers modifiés
    }).
saved-offline = Le serveur est injoignable : il connaîtra cette version quand cette machine sera de nouveau en ligne.
unreachable-nothing-sent = le serveur est injoignable : rien n'a été envoyé ; vos versions sont en sécurité ici
brought-in = { $versions ->
    [one] { $versions } nouvelle version récupérée
   *[other] { $versions } nouvelles versions récupérées
    } depuis le serveur.
both-ahead = le serveur a { $versions ->
    [one] { $versions } version
   *[other] { $versions } versions
    } que cette machine n'a pas, et cette machine a des modifications que le serveur n'a pas : lancez `girofle-client resolve` pour les réunir (rien ne sera perdu)
all-on-server = Tout est déjà sur le serveur.
sent = Envoyé : le serveur a toutes les versions de ce dossier.
server-moved = le serveur a reçu d'autres versions entre-temps : lancez `girofle-client resolve`
sent-none-taken-over = rien n'a été envoyé : une autre machine a repris ce dossier
sent-none-raced = rien n'a été envoyé : ce que le serveur sait de cette machine a changé entre-temps ; relancez `girofle-client sync`
your-changes-since = vos modifications sur { $machine } depuis { $since }
your-changes = vos modifications sur { $machine }
their-changes-since = les modifications de { $person } sur { $machine } depuis { $since }
their-changes = les modifications de { $person } sur { $machine }
not-a-saved-folder = { $name } est sur le serveur mais n'est pas un dossier enregistré
no-access = le serveur a refusé : { $name } n'existe pas ou vous n'y avez pas accès
no-folder-named = vous n'avez aucun dossier enregistré nommé { $name } (`girofle-client get` sans nom les énumère)
several-named = plusieurs dossiers sont nommés { $name } : { $folders } ; indiquez le nom complet de l'un d'eux
another-machine = une autre machine
taken-over-at = { $by } a repris ce dossier à { $at }, sans les modifications faites ici.
taken-over = { $by } a repris ce dossier, sans les modifications faites ici.
still-pending = { $files ->
    [one] { $files } fichier attend
   *[other] { $files } fichiers attendent
    } encore votre choix : lancez `girofle-client resolve`
unwritable = la version du serveur de { $folder } contient { $files ->
    [one] { $files } fichier qui ne peut pas être mis
   *[other] { $files } fichiers qui ne peuvent pas être mis
    } dans un dossier : rien n'en a été écrit et votre dossier est tel qu'il était : { $names }. Demandez à la personne qui l'a envoyée de { $files ->
    [one] le retirer
   *[other] les retirer
    }
token-refused = le serveur a refusé votre jeton d'accès (il a peut-être expiré) : créez-en un nouveau et lancez `girofle-client setup`
read-only = le serveur a refusé : vous pouvez lire { $folder } mais pas lui envoyer de versions
access-refused = le serveur a refusé l'accès à { $folder } : il n'existe plus, ou il n'est plus partagé avec vous
not-in-saved-folder = { $dir } n'est pas un dossier enregistré : placez-vous dans l'un d'eux (ou indiquez-le avec --folder), ou faites-en un avec `girofle-client new`
folder-missing = le dossier enregistré { $dir } est introuvable : a-t-il été déplacé ou renommé ? Remettez-le où il était
