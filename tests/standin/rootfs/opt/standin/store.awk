# The stand-in's small slice of GitLab's database and REST API (v4): users with
# personal access tokens, projects in their owners' namespaces, with topics,
# and project members. Run by /opt/standin/api under its lock, as
#   awk -v op=OP -v data=DIR ... -f store.awk
# op=http     answers one REST request (method, route, query, uid, ctype, body)
# op=whoami   prints "uid username" for the token digest `digest`
# op=access   prints "project_id visibility access_level" for ns/path and uid
# op=create   creates the project ns/path owned by uid (git push-to-create)
# op=sync     adds or updates the users listed in `users` ("name:token ...")
# Tables are tab-separated files under `data`:
#   users     id username name token_sha256 created_at
#   projects  id namespace path name visibility topics(comma) created_at creator_id description
#   members   project_id user_id access_level created_at

function load(   line, f, n) {
	nusers = 0
	while ((getline line < (data "/users")) > 0) {
		n = split(line, f, "\t")
		if (n < 5) continue
		nusers++
		uid_of[f[2]] = f[1]; uname[f[1]] = f[2]; uful[f[1]] = f[3]; udig[f[1]] = f[4]; ucre[f[1]] = f[5]
		if (f[1] + 0 > maxuser) maxuser = f[1] + 0
	}
	close(data "/users")
	nprojects = 0
	while ((getline line < (data "/projects")) > 0) {
		n = split(line, f, "\t")
		if (n < 8) continue
		nprojects++
		porder[nprojects] = f[1]
		pns[f[1]] = f[2]; ppath[f[1]] = f[3]; pname[f[1]] = f[4]; pvis[f[1]] = f[5]
		ptop[f[1]] = f[6]; pcre[f[1]] = f[7]; pcreator[f[1]] = f[8]; pdesc[f[1]] = n >= 9 ? f[9] : ""
		pid_of[f[2] "/" f[3]] = f[1]
		if (f[1] + 0 > maxproject) maxproject = f[1] + 0
	}
	close(data "/projects")
	nmembers = 0
	while ((getline line < (data "/members")) > 0) {
		n = split(line, f, "\t")
		if (n < 4) continue
		nmembers++
		mp[nmembers] = f[1]; mu[nmembers] = f[2]; mlevel[f[1] SUBSEP f[2]] = f[3]; mcre[f[1] SUBSEP f[2]] = f[4]
	}
	close(data "/members")
}

function append(table, line) {
	print line >> (data "/" table)
	close(data "/" table)
}

function level(pid, u) {
	if (u == "" || u == 0) return 0
	return (pid SUBSEP u) in mlevel ? mlevel[pid SUBSEP u] + 0 : 0
}

# GitLab's visibility rules: members see a project; anyone signed in sees an
# internal one; everyone sees a public one.
function visible(pid, u) {
	if (level(pid, u) > 0) return 1
	if (pvis[pid] == "public") return 1
	if (pvis[pid] == "internal" && u + 0 > 0) return 1
	return 0
}

# ---- JSON and form input ----------------------------------------------------

function hexval(h,   i, v, c) {
	v = 0
	h = tolower(h)
	for (i = 1; i <= length(h); i++) {
		c = index("0123456789abcdef", substr(h, i, 1))
		if (c == 0) return -1
		v = v * 16 + c - 1
	}
	return v
}

function utf8(code) {
	if (code < 128) return sprintf("%c", code)
	if (code < 2048) return sprintf("%c%c", 192 + rshift(code, 6), 128 + and(code, 63))
	return sprintf("%c%c%c", 224 + rshift(code, 12), 128 + and(rshift(code, 6), 63), 128 + and(code, 63))
}

function urldecode(s,   out, i, c, v) {
	gsub(/\+/, " ", s)
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "%" && (v = hexval(substr(s, i + 1, 2))) >= 0 && length(substr(s, i + 1, 2)) == 2) {
			out = out sprintf("%c", v)
			i += 2
		} else out = out c
	}
	return out
}

# Fills param[] from a query string or a form body; "key[]=a&key[]=b" gives
# param["key"] = "a,b", as GitLab reads array parameters.
function parse_form(s,   n, i, kv, eq, k, v) {
	n = split(s, kv, "&")
	for (i = 1; i <= n; i++) {
		if (kv[i] == "") continue
		eq = index(kv[i], "=")
		if (eq == 0) { k = urldecode(kv[i]); v = "" }
		else { k = urldecode(substr(kv[i], 1, eq - 1)); v = urldecode(substr(kv[i], eq + 1)) }
		if (k ~ /\[\]$/) {
			k = substr(k, 1, length(k) - 2)
			param[k] = (k in param && param[k] != "") ? param[k] "," v : v
		} else param[k] = v
	}
}

function jws() { while (jpos <= jlen && index(" \t\r\n", substr(js, jpos, 1))) jpos++ }

function jstring(   out, c) {
	jpos++
	out = ""
	while (jpos <= jlen) {
		c = substr(js, jpos, 1)
		if (c == "\"") { jpos++; return out }
		if (c == "\\") {
			jpos++
			c = substr(js, jpos, 1)
			if (c == "n") out = out "\n"
			else if (c == "t") out = out "\t"
			else if (c == "r") out = out "\r"
			else if (c == "b" || c == "f") out = out " "
			else if (c == "u") { out = out utf8(hexval(substr(js, jpos + 1, 4))); jpos += 4 }
			else out = out c
			jpos++
			continue
		}
		out = out c
		jpos++
	}
	jerr = 1
	return out
}

# A scalar (string, number, true, false, null), an array of scalars (joined
# with commas) or a nested object (skipped: the stand-in reads none).
function jvalue(   c, start, out, v, depth) {
	jws()
	c = substr(js, jpos, 1)
	if (c == "\"") return jstring()
	if (c == "[") {
		jpos++
		out = ""
		jws()
		if (substr(js, jpos, 1) == "]") { jpos++; return "" }
		while (jpos <= jlen) {
			v = jvalue()
			out = out == "" ? v : out "," v
			jws()
			c = substr(js, jpos, 1)
			jpos++
			if (c == "]") return out
			if (c != ",") { jerr = 1; return out }
		}
		jerr = 1
		return out
	}
	if (c == "{") {
		depth = 0
		while (jpos <= jlen) {
			c = substr(js, jpos, 1)
			if (c == "\"") { jstring(); continue }
			if (c == "{" || c == "[") depth++
			if (c == "}" || c == "]") depth--
			jpos++
			if (depth == 0) return ""
		}
		jerr = 1
		return ""
	}
	start = jpos
	while (jpos <= jlen && index(",}] \t\r\n", substr(js, jpos, 1)) == 0) jpos++
	v = substr(js, start, jpos - start)
	if (v == "null") return ""
	if (v !~ /^(true|false|-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)$/) jerr = 1
	return v
}

function parse_json(s,   k, c) {
	js = s; jlen = length(s); jpos = 1; jerr = 0
	jws()
	if (substr(js, jpos, 1) != "{") { jerr = 1; return }
	jpos++
	jws()
	if (substr(js, jpos, 1) == "}") return
	while (jpos <= jlen) {
		jws()
		if (substr(js, jpos, 1) != "\"") { jerr = 1; return }
		k = jstring()
		jws()
		if (substr(js, jpos, 1) != ":") { jerr = 1; return }
		jpos++
		param[k] = jvalue()
		jws()
		c = substr(js, jpos, 1)
		jpos++
		if (c == "}") return
		if (c != ",") { jerr = 1; return }
	}
	jerr = 1
}

# ---- JSON output -------------------------------------------------------------

# A JSON string. Every other control character (ESC, BEL... which anyone may
# put in a description) is written \u00XX, as GitLab's JSON writes it: a raw
# one is not JSON, and a client would refuse the whole answer.
function q(s,   i, c) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	gsub(/\n/, "\\n", s)
	gsub(/\r/, "\\r", s)
	gsub(/\t/, "\\t", s)
	if (s ~ /[\001-\037]/)
		for (i = 1; i < 32; i++) {
			c = sprintf("%c", i)
			if (index(s, c)) gsub(c, sprintf("\\u%04x", i), s)
		}
	return "\"" s "\""
}

function qn(s) { return s == "" ? "null" : q(s) }

function user_json(u, full,   s) {
	s = "{\"id\":" u ",\"username\":" q(uname[u]) ",\"name\":" q(uful[u]) ",\"state\":\"active\",\"locked\":false,\"avatar_url\":null,\"web_url\":" q(base "/" uname[u])
	if (full) s = s ",\"created_at\":" q(ucre[u]) ",\"bio\":\"\",\"public_email\":null,\"email\":" q(uname[u] "@example.com") ",\"bot\":false,\"two_factor_enabled\":false"
	return s "}"
}

function member_json(pid, u) {
	return substr(user_json(u, 0), 1, length(user_json(u, 0)) - 1) ",\"access_level\":" mlevel[pid SUBSEP u] ",\"created_at\":" q(mcre[pid SUBSEP u]) ",\"expires_at\":null,\"membership_state\":\"active\"}"
}

function topics_json(t,   n, a, i, out) {
	n = split(t, a, ",")
	out = ""
	for (i = 1; i <= n; i++) out = out (i > 1 ? "," : "") q(a[i])
	return "[" out "]"
}

function repo_dir(pid) { return repos "/" pns[pid] "/" ppath[pid] ".git" }

function default_branch(pid,   line, file) {
	file = repo_dir(pid) "/HEAD"
	line = ""
	getline line < file
	close(file)
	if (line ~ /^ref: refs\/heads\//) return substr(line, 17)
	return ""
}

function empty_repo(pid,   cmd, line) {
	cmd = "git --git-dir='" repo_dir(pid) "' for-each-ref --count=1 --format=x refs/heads 2>/dev/null"
	line = ""
	cmd | getline line
	close(cmd)
	return line == "" ? "true" : "false"
}

# The full project, or with `simple` GitLab's BasicProjectDetails only
# (no visibility, owner, permissions, empty_repo...).
function project_json(pid, u, simple,   owner, ns, lv, s) {
	ns = pns[pid]
	owner = uid_of[ns]
	lv = level(pid, u)
	s = "{\"id\":" pid ",\"description\":" qn(pdesc[pid]) ",\"name\":" q(pname[pid]) ",\"name_with_namespace\":" q(uful[owner] " / " pname[pid]) \
		",\"path\":" q(ppath[pid]) ",\"path_with_namespace\":" q(ns "/" ppath[pid]) ",\"created_at\":" q(pcre[pid]) \
		",\"default_branch\":" qn(default_branch(pid)) ",\"tag_list\":" topics_json(ptop[pid]) ",\"topics\":" topics_json(ptop[pid]) \
		",\"ssh_url_to_repo\":" q("git@" host ":" ns "/" ppath[pid] ".git") ",\"http_url_to_repo\":" q(base "/" ns "/" ppath[pid] ".git") \
		",\"web_url\":" q(base "/" ns "/" ppath[pid]) ",\"readme_url\":null,\"forks_count\":0,\"avatar_url\":null,\"star_count\":0" \
		",\"last_activity_at\":" q(pcre[pid]) ",\"namespace\":{\"id\":" owner ",\"name\":" q(uful[owner]) ",\"path\":" q(ns) \
		",\"kind\":\"user\",\"full_path\":" q(ns) ",\"parent_id\":null,\"avatar_url\":null,\"web_url\":" q(base "/" ns) "}"
	if (simple) return s "}"
	s = s ",\"empty_repo\":" empty_repo(pid) ",\"archived\":false,\"visibility\":" q(pvis[pid]) ",\"owner\":" user_json(owner, 0) \
		",\"creator_id\":" pcreator[pid] ",\"wiki_enabled\":true"
	if (u + 0 > 0)
		s = s ",\"permissions\":{\"project_access\":" (lv > 0 ? "{\"access_level\":" lv ",\"notification_level\":3}" : "null") ",\"group_access\":null}"
	return s "}"
}

# ---- HTTP --------------------------------------------------------------------

function reply(status, body, extra) {
	printf "HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n%s", status, length(body), extra, body
	exit 0
}

function not_found(what) { reply("404 Not Found", "{\"message\":\"404 " what " Not Found\"}") }
function unauthorized() { reply("401 Unauthorized", "{\"message\":\"401 Unauthorized\"}") }
function forbidden() { reply("403 Forbidden", "{\"message\":\"403 Forbidden\"}") }
function bad(message) { reply("400 Bad Request", message) }

# GitLab's pagination: page and per_page (20 by default, 100 at most), and
# the X-* and Link headers. `items` holds the JSON of every item in order.
function paginate(n,   page, per, pages, first, last, i, out, extra, link, prefix, m, kept) {
	page = param["page"] ~ /^[0-9]+$/ && param["page"] + 0 > 0 ? param["page"] + 0 : 1
	per = param["per_page"] ~ /^[0-9]+$/ && param["per_page"] + 0 > 0 ? param["per_page"] + 0 : 20
	if (per > 100) per = 100
	pages = n == 0 ? 1 : int((n + per - 1) / per)
	first = (page - 1) * per + 1
	last = page * per
	if (last > n) last = n
	out = ""
	for (i = first; i <= last; i++) out = out (i > first ? "," : "") items[i]
	# The links keep the request's other parameters, as GitLab's do.
	prefix = ""
	m = split(query, kept, "&")
	for (i = 1; i <= m; i++) if (kept[i] != "" && kept[i] !~ /^(page|per_page)=/) prefix = prefix kept[i] "&"
	prefix = base "/api/v4" route "?" prefix "per_page=" per "&page="
	link = "<" prefix "1>; rel=\"first\", <" prefix pages ">; rel=\"last\""
	if (page < pages) link = "<" prefix (page + 1) ">; rel=\"next\", " link
	if (page > 1) link = "<" prefix (page - 1) ">; rel=\"prev\", " link
	extra = "X-Page: " page "\r\nX-Per-Page: " per "\r\nX-Total: " n "\r\nX-Total-Pages: " pages \
		"\r\nX-Next-Page: " (page < pages ? page + 1 : "") "\r\nX-Prev-Page: " (page > 1 ? page - 1 : "") "\r\nLink: " link "\r\n"
	reply("200 OK", "[" out "]", extra)
}

function find_project(ref,   id) {
	ref = urldecode(ref)
	if (ref ~ /^[0-9]+$/) id = (ref in pns) ? ref : ""
	else id = (ref in pid_of) ? pid_of[ref] : ""
	if (id == "" || !visible(id, uid)) not_found("Project")
	return id
}

# ProjectsFinder#by_topics: each topic by Projects::Topic.find_by_name, an
# exact match: `girofle` does not find a topic stored as `Girofle`.
function has_topics(pid, wanted,   n, w, i, have, m, a, j) {
	if (wanted == "") return 1
	m = split(ptop[pid], a, ",")
	for (j = 1; j <= m; j++) have[a[j]] = 1
	n = split(wanted, w, ",")
	for (i = 1; i <= n; i++) if (w[i] != "" && !(w[i] in have)) return 0
	return 1
}

function truthy(v) { return v == "true" || v == "1" || v == "yes" }

# GitLab's order: order_by (id, name, path, created_at, updated_at,
# last_activity_at; created_at by default), sort (desc by default).
function sort_key(pid, by) {
	if (by == "name") return tolower(pname[pid])
	if (by == "path") return tolower(ppath[pid])
	return sprintf("%012d", pid)
}

function list_projects(   i, j, pid, n, m, by, desc, order, key, t) {
	by = param["order_by"]
	if (by !~ /^(id|name|path|created_at|updated_at|last_activity_at|similarity|star_count)?$/)
		bad("{\"error\":\"order_by does not have a valid value\"}")
	if (param["sort"] !~ /^(asc|desc)?$/) bad("{\"error\":\"sort does not have a valid value\"}")
	desc = param["sort"] != "asc"
	m = 0
	for (i = 1; i <= nprojects; i++) {
		pid = porder[i]
		key = sort_key(pid, by)
		for (j = m; j >= 1 && (desc ? sort_key(order[j], by) < key : sort_key(order[j], by) > key); j--) order[j + 1] = order[j]
		order[j + 1] = pid
		m++
	}
	n = 0
	for (i = 1; i <= m; i++) {
		pid = order[i]
		if (!visible(pid, uid)) continue
		if (truthy(param["membership"]) && level(pid, uid) == 0) continue
		if (truthy(param["owned"]) && uid_of[pns[pid]] != uid) continue
		if ("visibility" in param && param["visibility"] != "" && pvis[pid] != param["visibility"]) continue
		if (!has_topics(pid, param["topic"])) continue
		if ("search" in param && param["search"] != "" && index(tolower(pname[pid] " " ppath[pid]), tolower(param["search"])) == 0) continue
		items[++n] = project_json(pid, uid, truthy(param["simple"]))
	}
	paginate(n)
}

# Rails' `parameterize`, as GitLab derives a path from a name that is not one.
function slug(name,   s) {
	s = tolower(name)
	gsub(/[^a-z0-9_-]+/, "-", s)
	gsub(/-+/, "-", s)
	gsub(/^-|-$/, "", s)
	return s
}

# GitLab stores a topic once, in the case of whoever first used it: a later
# `girofle` on another project is that topic (Projects::Topic, found by
# lower(name)), and comes back spelled as it was first.
function clean_topics(t,   n, a, i, out, seen, v, p, m, b, j, found) {
	n = split(t, a, ",")
	out = ""
	for (i = 1; i <= n; i++) {
		v = a[i]
		gsub(/^[ \t]+|[ \t]+$/, "", v)
		gsub(/\t/, " ", v)
		if (v == "" || (tolower(v) in seen)) continue
		seen[tolower(v)] = 1
		found = ""
		for (p = 1; p <= maxproject && found == ""; p++) {
			if (!(p in ptop)) continue
			m = split(ptop[p], b, ",")
			for (j = 1; j <= m; j++) if (tolower(b[j]) == tolower(v)) { found = b[j]; break }
		}
		if (found != "") v = found
		out = out == "" ? v : out "," v
	}
	return out
}

# ---- GitLab's rules for names and paths (lib/gitlab/regex.rb, path_regex.rb)

function init_bytes(   i) { for (i = 1; i < 256; i++) byte_of[sprintf("%c", i)] = i }

# Gitlab::Regex.project_name_regex, code point by code point:
#   \A[\p{Alnum}\u{00A9}-\u{1f9ff}_][\p{Alnum}\p{Pd}\u{002B}\u{00A9}-\u{1f9ff}_\. ]*\z
# Above U+1F9FF only letters and digits pass (the supplementary ideographs);
# newer emoji (U+1FA00 and up) do not, nor ASCII punctuation but `_ . + -`.
function name_char(cp, first) {
	if ((cp >= 48 && cp <= 57) || (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || cp == 95) return 1
	if (cp >= 169 && cp <= 129535) return 1
	if (cp >= 131072 && cp <= 205743) return 1
	if (first) return 0
	return cp == 45 || cp == 43 || cp == 46 || cp == 32
}

function valid_name(s,   i, n, b, c, cp, len, k, first) {
	n = length(s)
	if (n == 0) return 0
	first = 1
	for (i = 1; i <= n; i += len) {
		b = byte_of[substr(s, i, 1)]
		if (b < 128) { cp = b; len = 1 }
		else if (b >= 194 && b < 224) { cp = b - 192; len = 2 }
		else if (b >= 224 && b < 240) { cp = b - 224; len = 3 }
		else if (b >= 240 && b < 245) { cp = b - 240; len = 4 }
		else return 0
		for (k = 1; k < len; k++) {
			c = byte_of[substr(s, i + k, 1)]
			if (c < 128 || c >= 192) return 0
			cp = cp * 64 + c - 128
		}
		if (!name_char(cp, first)) return 0
		first = 0
	}
	return 1
}

# ILLEGAL_PROJECT_PATH_WORDS (PROJECT_WILDCARD_ROUTES), refused in any case.
function init_reserved(   n, w, i) {
	n = split("- badges blame blob builds commits create create_dir edit environments/folders files find_file gitlab-lfs/objects info/lfs/objects new preview raw refs tree update wikis", w, " ")
	for (i = 1; i <= n; i++) reserved[w[i]] = 1
}

# Gitlab::PathRegex.project_path_format_regex (ProjectPathValidator).
function path_format_ok(path) {
	return path ~ /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/ && path !~ /\.(git|atom)$/
}

# The errors of Project's path validations, in GitLab's order and words:
# ProjectPathValidator (format, else reserved name), then
# Gitlab::Regex.oci_repository_path_regex (no special character first, last,
# or twice in a row).
function path_errors(path,   e) {
	e = ""
	if (!path_format_ok(path))
		e = "\"can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'\""
	else if (tolower(path) in reserved)
		e = q(path " is a reserved name")
	if (length(path) > 255) e = (e == "" ? "" : e ",") "\"is too long (maximum is 255 characters)\""
	if (path !~ /^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$/)
		e = (e == "" ? "" : e ",") "\"must not start or end with a special character and must not contain consecutive special characters.\""
	return e
}

function make_repository(ns, path,   dir) {
	dir = repos "/" ns "/" path ".git"
	system("if [ ! -d '" dir "' ]; then mkdir -p '" dir "' && git init -q --bare --template= '" dir "' && git --git-dir='" dir "' symbolic-ref HEAD refs/heads/main; fi; chown -R 998:998 '" repos "/" ns "'")
}

function add_project(ns, path, name, vis, topics, owner, description,   pid) {
	pid = maxproject + 1
	gsub(/[\t\r\n]/, " ", description)
	append("projects", pid "\t" ns "\t" path "\t" name "\t" vis "\t" topics "\t" now "\t" owner "\t" description)
	append("members", pid "\t" owner "\t50\t" now)
	pns[pid] = ns; ppath[pid] = path; pname[pid] = name; pvis[pid] = vis; ptop[pid] = topics
	pcre[pid] = now; pcreator[pid] = owner; pid_of[ns "/" path] = pid; maxproject = pid; pdesc[pid] = description
	mlevel[pid SUBSEP owner] = 50; mcre[pid SUBSEP owner] = now
	make_repository(ns, path)
	return pid
}

function create_project(   name, path, vis, ns, errors, pid, i, taken, e) {
	if (uid == 0) unauthorized()
	name = param["name"]; path = param["path"]
	if (name == "" && path == "") bad("{\"error\":\"name, path are missing, at least one parameter must be provided\"}")
	# Projects::CreateService: the path is the name when that is a valid
	# path, else the name parameterized; the name is the path when absent.
	if (path == "") path = path_format_ok(name) ? name : slug(name)
	if (name == "") name = path
	vis = "visibility" in param && param["visibility"] != "" ? param["visibility"] : "private"
	if (vis != "private" && vis != "internal" && vis != "public") bad("{\"error\":\"visibility does not have a valid value\"}")
	if (length(param["description"]) > 2000) bad("{\"message\":{\"description\":[\"is too long (maximum is 2000 characters)\"]}}")
	ns = uname[uid]
	if ("namespace_id" in param && param["namespace_id"] != "" && param["namespace_id"] != uid && param["namespace_id"] != ns)
		not_found("Namespace")
	init_bytes()
	init_reserved()
	errors = ""
	e = ""
	if (length(name) > 255) e = "\"is too long (maximum is 255 characters)\""
	if (!valid_name(name))
		e = (e == "" ? "" : e ",") "\"can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. It must start with a letter, digit, emoji, or '_'.\""
	for (i in pname) if (pns[i] == ns && pname[i] == name) { e = (e == "" ? "" : e ",") "\"has already been taken\""; break }
	if (e != "") errors = errors ",\"name\":[" e "]"
	e = path_errors(path)
	# Routes are unique whatever the case.
	taken = 0
	for (i in ppath) if (pns[i] == ns && tolower(ppath[i]) == tolower(path)) taken = 1
	if (taken) e = (e == "" ? "" : e ",") "\"has already been taken\""
	if (e != "") errors = errors ",\"path\":[" e "]"
	if (errors != "") bad("{\"message\":{" substr(errors, 2) "}}")
	pid = add_project(ns, path, name, vis, clean_topics(param["topics"] != "" ? param["topics"] : param["tag_list"]), uid, param["description"])
	reply("201 Created", project_json(pid, uid))
}

function list_members(pid, one,   i, n) {
	if (one != "") {
		if (!((pid SUBSEP one) in mlevel)) not_found("Member")
		reply("200 OK", member_json(pid, one))
	}
	n = 0
	for (i = 1; i <= nmembers; i++) if (mp[i] == pid) items[++n] = member_json(pid, mu[i])
	paginate(n)
}

function add_member(pid,   u, lv, missing) {
	missing = ""
	if (param["user_id"] == "" && param["username"] == "") missing = "user_id, username are missing, exactly one parameter must be provided"
	else if (param["access_level"] == "") missing = "access_level is missing"
	if (missing != "") bad("{\"error\":\"" missing "\"}")
	lv = param["access_level"]
	if (lv !~ /^(5|10|15|20|30|40|50)$/) bad("{\"error\":\"access_level does not have a valid value\"}")
	if (level(pid, uid) < 40 || (lv == 50 && level(pid, uid) < 50)) forbidden()
	u = param["user_id"] != "" ? param["user_id"] : uid_of[param["username"]]
	if (u == "" || !(u in uname)) not_found("User")
	if ((pid SUBSEP u) in mlevel) reply("409 Conflict", "{\"message\":\"Member already exists\"}")
	append("members", pid "\t" u "\t" lv "\t" now)
	mlevel[pid SUBSEP u] = lv; mcre[pid SUBSEP u] = now
	mp[++nmembers] = pid; mu[nmembers] = u
	reply("201 Created", member_json(pid, u))
}

# PUT /projects/:id/members/:user_id (API::Members): a Maintainer changes
# another member's access; only an Owner gives or changes Owner.
function update_member(pid, u,   lv, i, line, file) {
	if (param["access_level"] == "") bad("{\"error\":\"access_level is missing\"}")
	lv = param["access_level"]
	if (lv !~ /^(5|10|15|20|30|40|50)$/) bad("{\"error\":\"access_level does not have a valid value\"}")
	if (!((pid SUBSEP u) in mlevel)) not_found("Member")
	if (level(pid, uid) < 40 || ((lv == 50 || mlevel[pid SUBSEP u] == 50) && level(pid, uid) < 50)) forbidden()
	mlevel[pid SUBSEP u] = lv
	file = data "/members.new"
	printf "" > file
	for (i = 1; i <= nmembers; i++) print mp[i] "\t" mu[i] "\t" mlevel[mp[i] SUBSEP mu[i]] "\t" mcre[mp[i] SUBSEP mu[i]] > file
	close(file)
	system("mv '" file "' '" data "/members'")
	reply("200 OK", member_json(pid, u))
}

function list_users(   i, n, u) {
	n = 0
	for (i = 1; i <= maxuser; i++) {
		if (!(i in uname)) continue
		if (param["username"] != "" && tolower(uname[i]) != tolower(param["username"])) continue
		items[++n] = user_json(i, 0)
	}
	paginate(n)
}

function http(   seg, n, body, line) {
	parse_form(query)
	body = ""
	if (bodyfile != "") {
		while ((getline line < bodyfile) > 0) body = body line "\n"
		close(bodyfile)
	}
	if (method == "POST" || method == "PUT") {
		if (ctype ~ /^application\/json/) {
			if (body ~ /[^ \t\r\n]/) parse_json(body)
			if (jerr) bad("{\"error\":\"The provided content-type 'application/json' is not supported or the body is not valid JSON.\"}")
		} else {
			sub(/\n$/, "", body)
			parse_form(body)
		}
	}
	n = split(substr(route, 2), seg, "/")
	if (method == "GET" && route == "/user") {
		if (uid == 0) unauthorized()
		reply("200 OK", user_json(uid, 1))
	}
	if (method == "GET" && route == "/users") list_users()
	if (method == "GET" && n == 2 && seg[1] == "users") {
		if (!(seg[2] in uname)) not_found("User")
		reply("200 OK", user_json(seg[2], 0))
	}
	if (route == "/projects" && method == "GET") list_projects()
	if (route == "/projects" && method == "POST") create_project()
	if (seg[1] == "projects" && n >= 2) {
		if (method == "GET" && n == 2) reply("200 OK", project_json(find_project(seg[2]), uid))
		if (seg[3] == "members" && n == 3 && method == "POST") {
			if (uid == 0) unauthorized()
			add_member(find_project(seg[2]))
		}
		if (seg[3] == "members" && n == 4 && seg[4] ~ /^[0-9]+$/ && method == "PUT") {
			if (uid == 0) unauthorized()
			update_member(find_project(seg[2]), seg[4])
		}
		if (seg[3] == "members" && method == "GET") {
			if (n == 3 || (n == 4 && seg[4] == "all")) list_members(find_project(seg[2]), "")
			if (n == 4 && seg[4] ~ /^[0-9]+$/) list_members(find_project(seg[2]), seg[4])
			if (n == 5 && seg[4] == "all" && seg[5] ~ /^[0-9]+$/) list_members(find_project(seg[2]), seg[5])
		}
	}
	reply("404 Not Found", "{\"error\":\"404 Not Found\"}")
}

function sync(   n, e, i, f, name, dig, cmd, changed, line, u) {
	n = split(users, e, /[ \t\n]+/)
	for (i = 1; i <= n; i++) {
		if (e[i] == "") continue
		if (split(e[i], f, ":") != 2 || f[1] !~ /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/ || f[2] !~ /^[A-Za-z0-9_.-]+$/) {
			print "STANDIN_USERS: ignoring " e[i] " (want username:token)" > "/dev/stderr"
			continue
		}
		cmd = "printf '%s' '" f[2] "' | sha256sum"
		cmd | getline dig
		close(cmd)
		sub(/ .*/, "", dig)
		if (f[1] in uid_of) {
			if (udig[uid_of[f[1]]] != dig) { udig[uid_of[f[1]]] = dig; changed = 1 }
			continue
		}
		u = ++maxuser
		uid_of[f[1]] = u; uname[u] = f[1]; udig[u] = dig; ucre[u] = now
		uful[u] = toupper(substr(f[1], 1, 1)) substr(f[1], 2)
		changed = 1
	}
	if (!changed) exit 0
	line = data "/users.new"
	printf "" > line
	for (u = 1; u <= maxuser; u++) if (u in uname) print u "\t" uname[u] "\t" uful[u] "\t" udig[u] "\t" ucre[u] > line
	close(line)
	system("mv '" line "' '" data "/users'")
}

BEGIN {
	load()
	uid += 0
	if (op == "http") http()
	if (op == "whoami") {
		for (u in udig) if (udig[u] == digest) { print u, uname[u]; exit 0 }
		exit 1
	}
	if (op == "access") {
		if (!((ns "/" path) in pid_of)) exit 1
		p = pid_of[ns "/" path]
		print p, pvis[p], level(p, uid)
		exit 0
	}
	if (op == "create") {
		# Two pushes may race to create it: the second finds it made.
		if ((ns "/" path) in pid_of) { p = pid_of[ns "/" path]; print p, pvis[p], level(p, uid); exit 0 }
		p = add_project(ns, path, path, "private", "", uid, "")
		print p, "private", 50
		exit 0
	}
	if (op == "sync") sync()
	exit 0
}
