# The page's words (page-*: sent to the page's script, variables as they are).
page-refused = Cette page ne s'ouvre qu'à l'adresse affichée par girofle-client ui.
page-lost = La page a perdu le contact avec girofle-client : tourne-t-il toujours ?
page-none-here = Aucun de vos dossiers n'est encore sur cette machine. Appuyez sur Récupérer un dossier pour en apporter un ici.
page-open-mine = Ouvrir le mien
page-open-servers = Ouvrir celui du serveur
page-keep-mine = Garder le mien
page-keep-servers = Garder celui du serveur
page-keep-both = Garder les deux
page-choices-help = Ces fichiers ont été modifiés à la fois ici et sur le serveur. Pour chacun, choisissez lequel garder. « Garder les deux » garde celui du serveur sous son nom et le vôtre à côté, nommé d'après cette machine.
page-later = Plus tard
page-open-was = L'ouvrir tel qu'il était
page-open-now = L'ouvrir tel qu'il est maintenant
page-name-placeholder = un nom, par exemple les chiffres du budget
page-put = Mettre les modifications cochées dans cette version
page-ok = OK
page-rename = Renommer
page-remove = Retirer
page-review-help = Cochez des modifications, nommez une version (une nouvelle, ou l'une de celles ci-dessous), et mettez-les dedans. Les modifications laissées de côté sont retirées quand vous enregistrez, gardées d'abord dans une copie à côté du dossier.
page-no-change = Aucune modification depuis la dernière version.
page-versions-prepared = Versions préparées
page-none-yet = Aucune pour l'instant.
page-save-versions = Enregistrer ces versions
page-nothing-to-discard = Rien à jeter : toutes les modifications sont enregistrées.
page-cannot-undo = Ceci ne peut pas être annulé.
page-keep-them = Non, les garder
page-discarding = Les modifications sont jetées…
page-throw-away = Oui, les jeter
page-user-placeholder = son nom d'utilisateur
page-share-help = La personne que vous nommez pourra alors récupérer ce dossier sur ses machines, et en envoyer des versions.
page-asking = Question au serveur…
page-take-over-help = Vous pouvez aussi continuer sans ces modifications : elles restent de côté sur cette machine-là, jamais perdues, mais elles ne sont pas apportées ici.
page-go-on = Continuer sans elles
page-all-here = Tous vos dossiers sont déjà sur cette machine.
page-looking = Recherche…
page-syncing = Envoi et récupération…
page-saving = Enregistrement…
page-close = Fermer
page-button-save = Enregistrer
page-button-sync = Synchroniser
page-button-resolve = Réunir
page-button-review = Trier
page-button-discard = Jeter
page-button-share = Partager
page-button-get = Récupérer
page-who = { $person } sur { $machine } · { $server }
page-more = et { $count } de plus
page-looked = version { $version } · vu à { $checked }
page-resolve-title = Réunir : { $name }
page-review-title = Trier : { $name }
page-in-prepared =  dans « { $name } »
page-no-longer-applies = { $label } : ne s'applique plus, le fichier a changé depuis
page-prepared-saved = { $name } : les versions préparées sont enregistrées.
page-discard-title = Jeter : { $name }
page-discard-ask = Jeter les modifications de { $name } ?
page-discard-help = Ces modifications seront jetées, et le dossier remis tel qu'il était à la version { $version }, son dernier enregistrement :
page-share-title = Partager { $name }
page-bringing = { $name } arrive ici…
page-put-in = Les dossiers récupérés sont mis dans { $place }.
page-get-title = Récupérer un dossier
page-differs-marker = de ceux du serveur :
page-title = Vos dossiers
page-looking-folders = Vos dossiers sont examinés…
view-missing = Introuvable sur cette machine
view-missing-detail = Il était dans { $dir } : remettez-le là, ou appuyez sur Récupérer un dossier pour le refaire à partir des versions gardées ici.
view-error = Impossible à examiner pour l'instant
view-unsaved = { $files ->
    [one] { $files } fichier modifié
   *[other] { $files } fichiers modifiés
    } depuis le dernier enregistrement.
view-unsent = { $versions ->
    [one] { $versions } version enregistrée pas encore envoyée
   *[other] { $versions } versions enregistrées pas encore envoyées
    } au serveur.
view-prepared = { $versions ->
    [one] { $versions } version préparée à l'avance, pas encore enregistrée : appuyez sur Trier pour la voir.
   *[other] { $versions } versions préparées à l'avance, pas encore enregistrées : appuyez sur Trier pour les voir.
    }
view-differ = { $files ->
    [one] { $files } fichier diffère
   *[other] { $files } fichiers diffèrent
    } de ceux du serveur : appuyez sur Réunir pour choisir, fichier par fichier.
view-choices = Des fichiers attendent votre choix
view-both-detail = Appuyez sur Réunir pour rassembler les deux ; rien ne sera perdu.
view-both = Le serveur a des versions plus récentes, et cette machine a des modifications
view-behind-detail = { $versions ->
    [one] { $versions } version plus récente
   *[other] { $versions } versions plus récentes
    } de vos autres machines : appuyez sur Synchroniser pour les apporter ici.
view-behind = Le serveur a des versions plus récentes
view-state-unsaved = Modifications non enregistrées
view-state-unsent = Enregistré mais pas envoyé
view-clean = Tout est enregistré et envoyé
view-offline = Le serveur est injoignable pour l'instant : enregistrer fonctionne ; l'envoi attend qu'il le soit de nouveau.
page-the-page = la page
page-run = lancez `girofle-client { $action }`
page-press = appuyez sur { $button }
page-cli-until-save = tant que vous n'avez pas lancé `girofle-client prepared --save`
page-until-save = tant que vous n'avez pas appuyé sur Enregistrer ces versions
page-cli-remove-with = avec `girofle-client prepared --remove NOM`,
page-remove-with = avec son bouton Retirer,
page-cli-get-lists = `girofle-client get` sans nom les énumère
page-get-lists = Récupérer un dossier les énumère
cannot-watch = impossible de surveiller les dossiers : { $error }
page-change = { $what } : { $file }
page-title-unsent = ({ $count }) non envoyés : Vos dossiers
page-banner-unsent = Dossiers avec des modifications pas encore envoyées au serveur : { $count }. Appuyez sur le bouton en évidence de chacun (Enregistrer, puis Synchroniser) avant de partir.
