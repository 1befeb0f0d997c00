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
sent-none-raced = rien n'a été envoyé : ce que le serveur sait de cette machine a changé entre-temps ; lancez `girofle-client sync` de nouveau
your-changes-since = vos modifications sur { $machine } depuis { $since }
your-changes = vos modifications sur { $machine }
their-changes-since = les modifications de { $person } sur { $machine } depuis { $since }
their-changes = les modifications de { $person } sur { $machine }
not-a-saved-folder = { $name } est sur le serveur mais n'est pas un dossier enregistré
no-access = le serveur a refusé : { $name } n'existe pas ou vous n'y avez pas accès
no-folder-named = vous n'avez aucun dossier enregistré nommé { $name } (`girofle-client get` sans nom les énumère)
several-named = plusieurs dossiers sont nommés { $name } : { $folders } ; indiquez le nom complet de l'un d'eux
another-machine = une autre machine
taken-over-at = { $by } a repris ce dossier ({ $at }), sans les modifications faites ici.
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
kept-as-it-was = Votre dossier tel qu'il était est gardé dans { $dir }.
unplaced = { $files ->
    [one] { $files } de vos fichiers n'a pas pu être remis dans le dossier et se trouve
   *[other] { $files } de vos fichiers n'ont pas pu être remis dans le dossier et se trouvent
    } dans la copie mise de côté ({ $dir }) : { $names }.
blocked-by-link = { $files ->
    [one] { $files } de vos fichiers n'a pas été remis
   *[other] { $files } de vos fichiers n'ont pas été remis
    } : dans la version du serveur, { $link } est un lien vers { $to } au lieu d'un dossier, et rien n'est jamais écrit à travers un lien. { $files ->
    [one] Il se trouve
   *[other] Ils se trouvent
    } dans la copie mise de côté : { $names }.
neither-files-nor-links = { $files ->
    [one] Ceci n'est
   *[other] Ce ne sont
    } ni des fichiers ni des liens (laissés dans la copie mise de côté) : { $names }.
added-back = { $files ->
    [one] { $files } fichier remis, que le serveur n'avait pas
   *[other] { $files } fichiers remis, que le serveur n'avait pas
    } : { $names }.
files-differ = { $files ->
    [one] { $files } fichier diffère
   *[other] { $files } fichiers diffèrent
    } de ceux du serveur : choisissez pour chacun avec `girofle-client resolve` (le vôtre, celui du serveur, ou les deux) : { $names }
together-on = Modifications réunies sur { $machine }
all-chosen-saved = Chaque fichier est choisi ; le résultat est enregistré. Lancez `girofle-client sync` pour l'envoyer.
all-chosen-server = Chaque fichier est choisi ; le dossier est la version du serveur.
copy-stays = La copie { $dir } reste ; supprimez-la quand vous n'en aurez plus besoin.
unreachable-try-later = le serveur est injoignable : réessayez quand cette machine sera en ligne
nothing-to-bring-together = Rien à réunir : le serveur n'a aucune version que cette machine n'a pas.
no-choice-waiting = aucun fichier n'attend de choix : rien ne diffère de la version du serveur
yours-not-put-back = { $file } : le vôtre n'a pas été remis
kept-yours = { $file } : le vôtre est gardé
kept-servers = { $file } : celui du serveur est gardé
kept-both = { $file } : les deux sont gardés (le vôtre est { $other })
no-version-yet = ce dossier n'a encore aucune version
no-such-version = il n'y a pas de version { $version } : les versions vont de 1 à { $last }
back-to-on = Retour à la version { $version }, sur { $machine }
back-newest = Le dossier est revenu à la version { $version }, la plus récente.
back-saved = Le dossier est revenu à la version { $version } ; cela est enregistré comme une nouvelle version.
first-version = Première version
ask-server = Adresse du serveur (par exemple https://gitlab.example.org) :
server-needed = il faut --server
token-needed = il faut --token-file ou --token-stdin
ask-token = Votre jeton d'accès (il ne s'affiche pas) :
ask-machine = Nom de cette machine [{ $default }] :
set-up = Prêt : { $person } sur { $server }, cette machine est { $machine } ({ $file }).
page-running = Votre page est à l'adresse ci-dessus. Laissez ceci tourner pendant que vous l'utilisez ; Ctrl-C la ferme.
browser-failed = Le navigateur n'a pas pu être ouvert : ouvrez-y l'adresse ci-dessus.
open-browser = Ouvrez l'adresse ci-dessus dans votre navigateur.
no-change = Aucune modification depuis la dernière version.
in-prepared = dans « { $name } »
how-to-prepare = Mettez des modifications dans une version préparée avec `girofle-client prepare "NOM" N...`.
no-prepared = Aucune version préparée.
no-longer-applies = { $label } : ne s'applique plus, le fichier a changé depuis (gardé ici jusqu'à ce que vous le retiriez)
cannot-read = impossible de lire { $file } : { $error }
token-is-needed = il faut le jeton d'accès
token-empty = le jeton d'accès est vide
with-git = , avec git { $version }
no-change-any-more = il n'y a plus de modification { $number }
nothing-to-open-now = { $file } n'a rien à ouvrir tel qu'il est maintenant
nothing-to-open-was = { $file } n'a rien à ouvrir tel qu'il était
no-change-since = il n'y a aucune modification depuis la dernière version
no-change-number = il n'y a pas de modification { $number } : `girofle-client review` les énumère, de 1 à { $last }
put-in = { $changes ->
    [one] { $changes } modification est
   *[other] { $changes } modifications sont
    } dans la version préparée « { $name } ».
put-in-new = { $changes ->
    [one] { $changes } modification est
   *[other] { $changes } modifications sont
    } dans la version préparée « { $name } » (nouvelle, placée en dernier).
prepared-gone = La version préparée « { $name } » ne contenait rien d'autre : elle disparaît.
folder-unchanged-until-save = Votre dossier ne change pas tant que vous n'avez pas lancé `girofle-client prepared --save`.
prepared-removed = La version préparée « { $name } » est retirée ; { $changes ->
    [one] sa modification est de nouveau laissée de côté
   *[other] ses { $changes } modifications sont de nouveau laissées de côté
    }, toujours dans votre dossier.
prepared-renamed = La version préparée « { $old } » s'appelle maintenant « { $new } ».
nothing-prepared = il n'y a aucune version préparée à enregistrer : créez-en une avec `girofle-client prepare NOM N...`
stale-one = « { $name } » ({ $file } a changé depuis)
stale = rien n'a été enregistré et votre dossier n'a pas changé : { $changes ->
    [one] une modification préparée ne s'applique plus
   *[other] des modifications préparées ne s'appliquent plus
    } aux fichiers tels qu'ils sont maintenant : { $which }. Retirez { $changes ->
    [one] sa version
   *[other] leurs versions
    } avec `girofle-client prepared --remove NOM`, puis remettez-{ $changes ->
    [one] la
   *[other] les
    } dans une version
saved-prepared = Version « { $name } » enregistrée ({ $changes ->
    [one] { $changes } modification
   *[other] { $changes } modifications
    }).
left-out-discarded = Ce qui a été laissé de côté est retiré de votre dossier ; votre dossier tel qu'il était est gardé dans { $dir }.
nothing-left-out = Rien n'a été laissé de côté.
label-part-at = { $file }, une partie du fichier (ligne { $line } : { $lines ->
    [one] { $lines } ligne
   *[other] { $lines } lignes
    })
label-removed = { $file }, supprimé
label-whole = { $file }, le fichier entier
label-new = { $file }, nouveau fichier
label-part = { $file }, partie { $nth } sur { $of }
prepared-needs-name = une version préparée a besoin d'un nom
prepared-one-line = le nom d'une version préparée tient sur une ligne
prepared-needs-change = indiquez au moins une modification à y mettre
prepared-exists = il existe déjà une version préparée nommée { $name }
no-prepared-named-none = il n'y a pas de version préparée nommée { $name } ; il n'y en a aucune
no-prepared-named = il n'y a pas de version préparée nommée { $name } ; il y a : { $names }
no-longer-as-last = { $file } n'est plus comme dans la dernière version
parts-overlap = deux parties préparées de { $file } changent les mêmes lignes
not-set-up = cette machine n'est pas encore prête ({ $file } n'existe pas) : lancez `girofle-client setup`
cannot-read-file = impossible de lire { $file }
cannot-create = impossible de créer { $dir }
cannot-read-token = impossible de lire le jeton d'accès dans { $file } : { $error }
token-file-empty = le fichier du jeton { $file } est vide
bad-machine-name = { $name } ne peut pas être un nom de machine : utilisez des lettres, des chiffres, '.', '_' et '-'
no-home = HOME n'est pas défini : indiquez le fichier de réglages avec --config
api-offline = le serveur est injoignable ({ $why })
api-certificate-unknown-authority = le certificat du serveur est signé par une autorité que cette machine ne reconnaît pas ; si le serveur a sa propre autorité, demandez le certificat de cette autorité à son administrateur et donnez-le avec --ca-file
api-certificate-expired = le certificat du serveur a expiré ; son administrateur doit le renouveler
api-certificate-other-name = le certificat du serveur est établi pour un autre nom que l'adresse donnée ; vérifiez l'adresse
api-certificate-unverified = le certificat du serveur ne peut pas être vérifié ({ $why })
api-token-refused = le serveur a refusé le jeton d'accès
api-no-access = le serveur a refusé : pas d'accès
api-not-found = le serveur ne connaît rien de tel, ou n'y donne pas accès
api-refused = le serveur a refusé : { $why }
api-error = le serveur a répondu par une erreur (code HTTP { $code })
api-bad = la réponse du serveur n'a pas été comprise ({ $why })
api-moved-odd = le serveur a répondu qu'il a déménagé, vers quelque chose qui n'est pas une simple adresse web : demandez à la personne qui s'en occupe où il se trouve maintenant
api-moved = le serveur a déménagé vers { $to } ; lancez `girofle-client setup --server { $to }` (seulement si vous savez que cette adresse est bien le serveur de votre organisation : le jeton d'accès part là où il est réglé)
no-certificate = { $file } ne contient aucun certificat (un fichier PEM, -----BEGIN CERTIFICATE-----, est attendu)
problem-link = { $path } est un lien (vers { $to }) : rien n'est lu ni écrit à travers un lien
problem-name = { $name } n'est pas un nom qu'un fichier peut avoir dans un dossier
problem-special = { $path } n'est ni un fichier ni un lien : il est laissé où il est
name-outside = il désigne un endroit hors du dossier
name-bad-character = son nom contient un caractère que les dossiers ne peuvent pas contenir sur tous les systèmes
name-reserved = son nom est réservé à l'historique du dossier
copy-name = { $name } (copie du { $stamp })
from-machine = { $name } (de { $machine })
cannot-move = impossible de déplacer { $dir } vers { $to }
not-encrypted = { $server } n'est pas chiffré (http://) : votre jeton d'accès et vos fichiers traverseraient le réseau en clair, lisibles et modifiables par n'importe qui sur le chemin. Donnez l'adresse https:// du serveur ; ou, seulement sur un réseau auquel vous vous fiez entièrement, ajoutez --insecure-http
not-an-address = { $server } n'est pas une adresse de serveur (elle commence par https:// ou http://)
not-waiting-none = { $file } n'attend pas de choix ; aucun fichier n'en attend
not-waiting = { $file } n'attend pas de choix ; ceux qui en attendent : { $names }
send-failed = l'envoi au serveur a échoué (détails : { $details })
protected = le serveur a refusé vos nouvelles versions de { $folder } : ses réglages sur le serveur protègent de vous l'exemplaire principal du dossier. Vos versions sont en sécurité sur cette machine ; un administrateur du serveur peut changer cela
rights-too-low = le serveur a refusé vos nouvelles versions de { $folder } : vos droits sur ce dossier ne suffisent pas pour lui envoyer des versions (vous pouvez seulement le lire). { $owner }, qui en est propriétaire, peut les augmenter en partageant de nouveau le dossier avec vous ({ $me }). Vos versions restent en sécurité sur cette machine en attendant
prepared-unreadable = les versions préparées de { $file } ne peuvent pas être lues ({ $error }) ; rien n'a été changé
kept-damaged = la copie gardée { $file } est abîmée ; rien n'a été enregistré
git-missing = git n'est pas installé : installez-le (par exemple : sudo apt install git), puis réessayez
git-version-unreadable = la version de git n'a pas pu être lue ({ $text })
git-too-old = git { $version } est trop ancien : girofle-client a besoin de git { $oldest } ou plus récent. Installez un git plus récent, puis réessayez
git-cannot-run = impossible de lancer git : est-il installé ?
page-not-saved-here = { $dir } n'est pas un dossier enregistré sur cette machine
page-which-folder = quel dossier ?
page-which-keep = garder le mien, celui du serveur, ou les deux ?
page-share-whom = partager avec qui ? Tapez son nom d'utilisateur
page-not-saved = ce n'est pas un dossier enregistré
page-not-waiting = { $file } n'attend pas de choix
page-copy-gone = votre exemplaire n'est plus gardé
page-tick-first = cochez d'abord au moins une modification
page-changed-meanwhile = le dossier a changé depuis l'affichage de cet écran : regardez de nouveau les modifications (rien n'a été mis dans une version préparée)
page-which-action = retirer, renommer ou enregistrer ?
page-which-change = quelle modification ?
cannot-open = impossible d'ouvrir { $file }
cannot-lock = impossible de verrouiller { $file }
cannot-temp = impossible de créer un dossier temporaire dans l'historique
cannot-copy-index = impossible de copier l'index de l'historique
cannot-run-cp = impossible de lancer cp
cannot-copy = impossible de copier { $from } vers { $to } : { $why }
cannot-listen = impossible d'écouter sur 127.0.0.1 : { $error }
cannot-random = impossible de lire /dev/urandom : { $error }

# Envoyer sans la personne : quand elle part, de temps en temps, quand on le demande.
saved-on-leaving = Enregistrée sur { $machine } au départ
leave-offline = { $folder } : le serveur est injoignable ; rien n'a été envoyé
leave-pending = { $folder } : des fichiers attendent votre choix (girofle-client resolve) ; rien n'a été envoyé
leave-unsaved-kept = { $folder } : { $files ->
    [one] { $files } fichier a
   *[other] { $files } fichiers ont
    } des modifications non enregistrées, laissées telles quelles (seul ce que vous enregistrez est envoyé)
leave-both = { $folder } : le serveur a aussi de nouvelles versions ; rien n'a été envoyé (girofle-client sync pour réunir les deux)
leave-sent = { $folder } : { $versions ->
    [one] { $versions } version enregistrée envoyée
   *[other] { $versions } versions enregistrées envoyées
    }
leave-failed = { $dir } : { $error }
asked-by-other = { $folder } : une autre de vos machines attend les modifications de celle-ci
asked-waiting = { $machines } a été priée de les envoyer et est allumée : attente d'une minute au plus...
asked-in-vain = { $machines } ne les a pas envoyées en une minute
asked-later = { $machines } a été priée de les envoyer : son girofle-client le fera la prochaine fois qu'il y tournera
