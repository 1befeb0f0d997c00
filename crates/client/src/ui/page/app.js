'use strict';
// The page of girofle-client ui. Every action is a request to the program
// that served this page, on this machine; nothing is fetched from elsewhere.

// The page's key comes in the address's fragment (never sent anywhere), is
// kept in this tab's session storage (this origin's alone), taken out of the
// address bar, and sent in a header with each request: no other site can
// make the browser send it.
const key = (() => {
  const given = location.hash.slice(1);
  if (given) {
    sessionStorage.setItem('girofle-key', given);
    history.replaceState(null, '', location.pathname);
  }
  return sessionStorage.getItem('girofle-key') || '';
})();
// The page's words, in the browser's language: words.js, served with the
// page, sets them.
const WORDS = window.GIROFLE_WORDS || {};
function t(key, vars) {
  let text = WORDS[key] || key;
  for (const [name, value] of Object.entries(vars || {})) text = text.split(`{${name}}`).join(String(value));
  return text;
}
for (const node of document.querySelectorAll('[data-t]')) node.textContent = t(node.dataset.t);
document.title = t('page-title');
const REFUSED = t('page-refused');
let generation = -1;
let busy = false;
let lastState = null;
let refused = false;

function address(path, params) {
  return params ? path + '?' + new URLSearchParams(params) : path;
}

// A request of the page's, with its key; the answer, or why not.
async function request(path, options) {
  const answer = await fetch(path, Object.assign({ cache: 'no-store' }, options, {
    headers: Object.assign({ 'X-Girofle-Key': key }, (options || {}).headers),
  }));
  if (answer.status === 403) {
    refused = true;
    return { refused: true, answer };
  }
  return { answer };
}

async function ask(path, params) {
  const { refused: no, answer } = await request(address(path, params));
  return no ? { ok: false, lines: [REFUSED] } : answer.json();
}

async function act(path, body) {
  const { refused: no, answer } = await request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return no ? { ok: false, lines: [REFUSED] } : answer.json();
}

// One version of a file waiting for a choice, in a new tab (fetched with the
// key, then shown from memory: its address carries nothing).
const SHOWN = ['image/png', 'image/jpeg', 'image/gif', 'application/pdf', 'text/plain'];
function openFile(folder, file, side) {
  return openAt(address('/file', { folder: folder.dir, file, side }));
}

async function openAt(path) {
  const view = window.open('', '_blank');
  const { refused: no, answer } = await request(path);
  if (no || !answer.ok) {
    if (view) view.close();
    say({ ok: false, lines: [no ? REFUSED : (await answer.text()).trim()] });
    return;
  }
  const got = await answer.blob();
  const media = (answer.headers.get('Content-Type') || '').split(';')[0].trim();
  const type = SHOWN.includes(media) ? (media === 'text/plain' ? 'text/plain;charset=utf-8' : media)
    : 'application/octet-stream';
  const url = URL.createObjectURL(new Blob([got], { type }));
  if (view) view.location.href = url;
  else location.assign(url);
}

// An element with attributes and children (text is always text, never HTML).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function say(answer) {
  const box = document.getElementById('messages');
  box.replaceChildren(...(answer.lines || []).map((line) => el('p', {}, line)));
  box.className = answer.ok ? 'ok' : 'error';
}

function lines(answer) {
  return el('div', { class: answer.ok ? 'said' : 'error' },
    (answer.lines || []).map((line) => el('p', {}, line)));
}

async function poll() {
  if (!key) refused = true;
  if (refused) {
    say({ ok: false, lines: [REFUSED] });
    document.getElementById('folders').replaceChildren();
    return;
  }
  try {
    const state = await ask('/api/state');
    if (refused) return poll();
    if (state.generation !== generation) {
      generation = state.generation;
      lastState = state;
      render(state);
    }
  } catch (error) {
    say({ ok: false, lines: [t('page-lost')] });
  }
  setTimeout(poll, 1000);
}

// Folders holding changes the server does not have yet (unsaved or saved and
// not sent): counted in the tab's title and said above the folders, so that
// leaving without sending is hard to miss.
const NOT_SENT = ['unsaved', 'unsent', 'both'];
function showUnsent(folders) {
  const count = folders.filter((folder) => NOT_SENT.includes(folder.state)).length;
  document.title = count ? t('page-title-unsent', { count }) : t('page-title');
  const banner = document.getElementById('unsent');
  banner.textContent = count ? t('page-banner-unsent', { count }) : '';
  banner.hidden = count === 0;
}

function render(state) {
  document.getElementById('who').textContent =
    t('page-who', { person: state.person, machine: state.machine, server: state.server });
  const list = document.getElementById('folders');
  if (!state.ready) return;
  showUnsent(state.folders);
  if (state.folders.length === 0) {
    list.replaceChildren(el('p', { class: 'quiet' },
      t('page-none-here')));
    return;
  }
  list.replaceChildren(...state.folders.map(card));
  setBusy(busy);
}

function card(folder) {
  const changes = (folder.unsaved || []).slice(0, 12)
    .map((change) => el('li', {}, t('page-change', { what: change.what, file: change.file })));
  if ((folder.unsaved || []).length > 12) {
    changes.push(el('li', {}, t('page-more', { count: folder.unsaved.length - 12 })));
  }
  const button = (action, text, handler, main) =>
    el('button', { type: 'button', 'data-action': action, class: main ? 'main' : '', onclick: handler }, text);
  const main = {
    unsaved: 'save', unsent: 'sync', behind: 'sync', both: 'resolve', choices: 'resolve',
  }[folder.state];
  return el('section', {
    class: `folder state-${folder.state}`,
    'data-folder': folder.path,
    'data-dir': folder.dir,
    'data-state': folder.state,
  },
  el('span', { class: 'checked' }, folder.version ? t('page-looked', { version: folder.version, checked: folder.checked }) : ''),
  el('h2', {}, folder.name),
  el('p', { class: 'where' }, folder.dir),
  el('p', { class: 'state' }, folder.words),
  el('ul', { class: 'detail' }, (folder.detail || []).map((line) => el('li', {}, line))),
  changes.length ? el('ul', { class: 'changes' }, changes) : null,
  (folder.notes || []).length ? el('ul', { class: 'notes' }, folder.notes.map((n) => el('li', {}, n))) : null,
  el('div', { class: 'buttons' },
    button('save', t('page-button-save'), () => simple('/api/save', folder, t('page-saving')), main === 'save'),
    button('sync', t('page-button-sync'), () => simple('/api/sync', folder, t('page-syncing')), main === 'sync'),
    button('resolve', t('page-button-resolve'), () => resolve(folder), main === 'resolve'),
    button('review', t('page-button-review'), () => review(folder)),
    button('discard', t('page-button-discard'), () => discard(folder)),
    button('share', t('page-button-share'), () => share(folder))));
}

function setBusy(value) {
  busy = value;
  for (const node of document.querySelectorAll('.folder button, #get-button')) node.disabled = value;
}

async function simple(path, folder, doing) {
  setBusy(true);
  say({ ok: true, lines: [`${folder.name}: ${doing}`] });
  try {
    say(await act(path, { folder: folder.dir }));
  } catch (error) {
    say({ ok: false, lines: [t('page-lost')] });
  } finally {
    setBusy(false);
  }
}

function openDialog(name, ...children) {
  const dialog = document.getElementById('dialog');
  dialog.setAttribute('data-screen', name);
  dialog.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
  document.getElementById('overlay').hidden = false;
}

function closeDialog() {
  document.getElementById('overlay').hidden = true;
  document.getElementById('dialog').replaceChildren();
}

function closeButton(text) {
  return el('button', { type: 'button', class: 'cancel', onclick: closeDialog }, text || t('page-close'));
}

// Resolve: the files that differ, each with its three choices.
async function resolve(folder) {
  openDialog('resolve', el('h2', {}, t('page-resolve-title', { name: folder.name })), el('p', { class: 'quiet' }, t('page-looking')));
  setBusy(true);
  try {
    const answer = await act('/api/resolve', { folder: folder.dir });
    // What bringing the two together did (the copy kept aside, the files
    // added back), without the list of files the table shows anyway.
    const said = (answer.lines || []).filter((line) => !line.includes(t('page-differs-marker')));
    showChoices(folder, answer, answer.ok ? said : []);
  } finally {
    setBusy(false);
  }
}

function showChoices(folder, answer, said) {
  const pending = answer.pending || [];
  const heading = el('h2', {}, t('page-resolve-title', { name: folder.name }));
  if (!answer.ok) {
    openDialog('resolve', heading, lines(answer), el('div', { class: 'actions' }, closeButton()));
    return;
  }
  if (pending.length === 0) {
    openDialog('resolve', heading, lines({ ok: true, lines: said }),
      el('div', { class: 'actions' }, closeButton()));
    return;
  }
  const rows = pending.map((file) => {
    const open = (side, text) => el('button', {
      type: 'button', class: 'open', 'data-side': side, onclick: () => openFile(folder, file, side),
    }, text);
    const keep = (choice, text) => el('button', {
      type: 'button', 'data-keep': choice,
      onclick: async () => {
        for (const node of document.querySelectorAll('#dialog button')) node.disabled = true;
        const next = await act('/api/resolve', { folder: folder.dir, file, keep: choice });
        showChoices(folder, next, next.ok ? said.concat(next.lines || []) : said);
        if (!next.ok) say(next);
      },
    }, text);
    return el('tr', { 'data-file': file },
      el('td', { class: 'file' }, file),
      el('td', { class: 'open' }, open('mine', t('page-open-mine')), open('server', t('page-open-servers'))),
      el('td', { class: 'keep' }, keep('mine', t('page-keep-mine')), keep('server', t('page-keep-servers')),
        keep('both', t('page-keep-both'))));
  });
  openDialog('resolve', heading,
    el('p', {}, t('page-choices-help')),
    el('table', {}, el('tbody', {}, rows)),
    said.length ? lines({ ok: true, lines: said }) : null,
    el('div', { class: 'actions' }, closeButton(t('page-later'))));
}

// Review: each change since the last version, to tick and put into a
// version prepared ahead; the prepared versions as a line of boxes, in their
// order. Nothing in the folder changes until "Save these versions".
async function review(folder) {
  openDialog('review', el('h2', {}, t('page-review-title', { name: folder.name })), el('p', { class: 'quiet' }, t('page-looking')));
  showReview(folder, await ask('/api/review', { folder: folder.dir }));
}

function showReview(folder, answer) {
  const heading = el('h2', {}, t('page-review-title', { name: folder.name }));
  if (!answer.ok || answer.saved) {
    openDialog('review', heading, lines(answer), el('div', { class: 'actions' }, closeButton()));
    return;
  }
  const again = async (path, body) => {
    for (const node of document.querySelectorAll('#dialog button')) node.disabled = true;
    const next = await act(path, Object.assign({ folder: folder.dir }, body));
    if (next.ok) showReview(folder, next);
    else {
      showReview(folder, Object.assign({}, answer, { lines: [] }));
      document.getElementById('review-said').replaceChildren(lines(next));
    }
    return next;
  };
  const changes = answer.changes.map((change) => el('li', {
    class: 'change', 'data-number': change.number, 'data-label': change.label,
  },
  el('label', {}, el('input', { type: 'checkbox', 'data-number': change.number }), ' ',
    el('strong', {}, change.label),
    change.prepared ? el('span', { class: 'in' }, ` ${t('page-in-prepared', { name: change.prepared })}`) : null),
  change.lines.length ? el('pre', {}, change.lines.map(([mark, line]) =>
    el('span', { class: mark === '-' ? 'out' : mark === '+' ? 'put' : 'around' }, `${mark} ${line}\n`))) : null,
  change.before || change.after ? el('p', { class: 'open' },
    change.before ? el('button', { type: 'button', class: 'open', 'data-side': 'before',
      onclick: () => openAt(address('/review-file', { folder: folder.dir, number: change.number, side: 'before' })) },
    t('page-open-was')) : null, ' ',
    change.after ? el('button', { type: 'button', class: 'open', 'data-side': 'now',
      onclick: () => openAt(address('/review-file', { folder: folder.dir, number: change.number, side: 'now' })) },
    t('page-open-now')) : null) : null));
  const name = el('input', { type: 'text', id: 'version-name', list: 'version-names', placeholder: t('page-name-placeholder'), autocomplete: 'off' });
  const names = el('datalist', { id: 'version-names' }, answer.prepared.map((v) => el('option', { value: v.name })));
  const put = el('button', {
    type: 'button', class: 'main', 'data-action': 'prepare',
    onclick: () => {
      const ticked = [...document.querySelectorAll('#dialog li.change input:checked')].map((box) => {
        const item = box.closest('li.change');
        return { number: Number(item.dataset.number), label: item.dataset.label };
      });
      again('/api/prepare', { name: name.value, changes: ticked });
    },
  }, t('page-put'));
  const boxes = answer.prepared.map((version, index) => {
    const box = el('div', { class: 'box', 'data-version': version.name },
      el('div', { class: 'name' }, `${index + 1}. ${version.name}`),
      el('ul', {}, version.holds.map(([label, applies]) => el('li', { class: applies ? '' : 'stale' },
        applies ? label : t('page-no-longer-applies', { label })))));
    const rename = el('button', {
      type: 'button', 'data-action': 'rename',
      onclick: () => {
        const field = el('input', { type: 'text', class: 'rename', value: version.name });
        rename.replaceWith(field, el('button', {
          type: 'button', 'data-action': 'rename-ok',
          onclick: () => again('/api/prepared', { do: 'rename', name: version.name, to: field.value }),
        }, t('page-ok')));
        field.focus();
      },
    }, t('page-rename'));
    box.append(el('div', { class: 'box-buttons' }, rename, el('button', {
      type: 'button', 'data-action': 'remove',
      onclick: () => again('/api/prepared', { do: 'remove', name: version.name }),
    }, t('page-remove'))));
    return box;
  });
  openDialog('review', heading,
    answer.changes.length
      ? el('p', {}, t('page-review-help'))
      : el('p', {}, t('page-no-change')),
    el('ul', { class: 'review' }, changes),
    answer.changes.length ? el('p', {}, name, names, ' ', put) : null,
    el('div', { id: 'review-said' }, (answer.lines || []).length ? lines(answer) : null),
    el('h3', {}, t('page-versions-prepared')),
    boxes.length ? el('div', { class: 'prepared' }, boxes) : el('p', { class: 'quiet' }, t('page-none-yet')),
    el('div', { class: 'actions' },
      closeButton(),
      boxes.length ? el('button', {
        type: 'button', class: 'main confirm', 'data-action': 'save-prepared',
        onclick: async () => {
          const saved = await again('/api/prepared', { do: 'save' });
          if (saved.ok) say({ ok: true, lines: [t('page-prepared-saved', { name: folder.name })] });
        },
      }, t('page-save-versions')) : null));
}

// Discard: what will be thrown away, then a confirmation.
async function discard(folder) {
  openDialog('discard', el('h2', {}, t('page-discard-title', { name: folder.name })), el('p', { class: 'quiet' }, t('page-looking')));
  const answer = await ask('/api/discard', { folder: folder.dir });
  const heading = el('h2', {}, t('page-discard-ask', { name: folder.name }));
  if (!answer.ok) {
    openDialog('discard', heading, lines(answer), el('div', { class: 'actions' }, closeButton()));
    return;
  }
  if (answer.files.length === 0) {
    openDialog('discard', heading, el('p', {}, t('page-nothing-to-discard')),
      el('div', { class: 'actions' }, closeButton()));
    return;
  }
  openDialog('discard', heading,
    el('p', {}, t('page-discard-help', { version: answer.version })),
    el('ul', { class: 'throw' }, answer.files.map((f) => el('li', { 'data-file': f.file }, t('page-change', { what: f.what, file: f.file })))),
    el('p', {}, t('page-cannot-undo')),
    el('div', { class: 'actions' },
      closeButton(t('page-keep-them')),
      el('button', {
        type: 'button', class: 'danger confirm',
        onclick: async () => {
          closeDialog();
          await simple('/api/discard', folder, t('page-discarding'));
        },
      }, t('page-throw-away'))));
}

function share(folder) {
  const input = el('input', { type: 'text', id: 'person', placeholder: t('page-user-placeholder'), autocomplete: 'off' });
  const result = el('div', {});
  const go = async () => {
    result.replaceChildren(lines(await act('/api/share', { folder: folder.dir, person: input.value })));
  };
  openDialog('share', el('h2', {}, t('page-share-title', { name: folder.name })),
    el('p', {}, t('page-share-help')),
    el('p', {}, input, ' ', el('button', { type: 'button', class: 'main confirm', onclick: go }, t('page-button-share'))),
    result,
    el('div', { class: 'actions' }, closeButton()));
  input.focus();
}

// Get a folder: the person's folders that are not on this machine.
async function getFolder() {
  openDialog('get', el('h2', {}, t('page-get-title')), el('p', { class: 'quiet' }, t('page-asking')));
  const answer = await ask('/api/available');
  const heading = el('h2', {}, t('page-get-title'));
  if (!answer.ok) {
    openDialog('get', heading, lines(answer), el('div', { class: 'actions' }, closeButton()));
    return;
  }
  const result = el('div', {});
  const get = async (folder, takeOver) => {
    for (const node of document.querySelectorAll('#dialog button')) node.disabled = true;
    result.replaceChildren(el('p', { class: 'quiet' }, t('page-bringing', { name: folder.name })));
    const got = await act('/api/get', { name: folder.path, take_over: takeOver });
    for (const node of document.querySelectorAll('#dialog button')) node.disabled = false;
    if (got.ok) {
      closeDialog();
      say(got);
      return;
    }
    result.replaceChildren(lines(got));
    if (got.take_over) {
      result.append(
        el('p', {}, t('page-take-over-help')),
        el('button', { type: 'button', class: 'danger take-over', onclick: () => get(folder, true) },
          t('page-go-on')));
    }
  };
  const rows = answer.folders.map((folder) => el('tr', { 'data-folder': folder.path },
    el('td', { class: 'file' }, folder.name), el('td', { class: 'quiet' }, folder.path),
    el('td', { class: 'keep' }, el('button', { type: 'button', class: 'main', 'data-action': 'get',
      onclick: () => get(folder, false) }, t('page-button-get')))));
  openDialog('get', heading,
    rows.length
      ? el('p', {}, t('page-put-in', { place: answer.place }))
      : el('p', {}, t('page-all-here')),
    rows.length ? el('table', {}, el('tbody', {}, rows)) : null,
    result,
    el('div', { class: 'actions' }, closeButton()));
}

document.getElementById('get-button').addEventListener('click', getFolder);
document.getElementById('overlay').addEventListener('click', (event) => {
  if (event.target.id === 'overlay') closeDialog();
});
poll();
