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
const REFUSED = 'This page opens only from the address girofle-client ui printed.';
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
    say({ ok: false, lines: ['The page lost contact with girofle-client: is it still running?'] });
  }
  setTimeout(poll, 1000);
}

function render(state) {
  document.getElementById('who').textContent =
    `${state.person} on ${state.machine} · ${state.server}`;
  const list = document.getElementById('folders');
  if (!state.ready) return;
  if (state.folders.length === 0) {
    list.replaceChildren(el('p', { class: 'quiet' },
      'None of your folders is on this machine yet. Press Get a folder to bring one here.'));
    return;
  }
  list.replaceChildren(...state.folders.map(card));
  setBusy(busy);
}

function card(folder) {
  const changes = (folder.unsaved || []).slice(0, 12)
    .map((change) => el('li', {}, `${change.what}: ${change.file}`));
  if ((folder.unsaved || []).length > 12) {
    changes.push(el('li', {}, `and ${folder.unsaved.length - 12} more`));
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
  el('span', { class: 'checked' }, folder.version ? `version ${folder.version} · looked at ${folder.checked}` : ''),
  el('h2', {}, folder.name),
  el('p', { class: 'where' }, folder.dir),
  el('p', { class: 'state' }, folder.words),
  el('ul', { class: 'detail' }, (folder.detail || []).map((line) => el('li', {}, line))),
  changes.length ? el('ul', { class: 'changes' }, changes) : null,
  (folder.notes || []).length ? el('ul', { class: 'notes' }, folder.notes.map((n) => el('li', {}, n))) : null,
  el('div', { class: 'buttons' },
    button('save', 'Save', () => simple('/api/save', folder, 'Saving…'), main === 'save'),
    button('sync', 'Sync', () => simple('/api/sync', folder, 'Sending and bringing in…'), main === 'sync'),
    button('resolve', 'Resolve', () => resolve(folder), main === 'resolve'),
    button('review', 'Review', () => review(folder)),
    button('discard', 'Discard', () => discard(folder)),
    button('share', 'Share', () => share(folder))));
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
    say({ ok: false, lines: ['The page lost contact with girofle-client: is it still running?'] });
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
  return el('button', { type: 'button', class: 'cancel', onclick: closeDialog }, text || 'Close');
}

// Resolve: the files that differ, each with its three choices.
async function resolve(folder) {
  openDialog('resolve', el('h2', {}, `Resolve: ${folder.name}`), el('p', { class: 'quiet' }, 'Looking…'));
  setBusy(true);
  try {
    const answer = await act('/api/resolve', { folder: folder.dir });
    // What bringing the two together did (the copy kept aside, the files
    // added back), without the list of files the table shows anyway.
    const said = (answer.lines || []).filter((line) => !/differs? from the server/.test(line));
    showChoices(folder, answer, answer.ok ? said : []);
  } finally {
    setBusy(false);
  }
}

function showChoices(folder, answer, said) {
  const pending = answer.pending || [];
  const heading = el('h2', {}, `Resolve: ${folder.name}`);
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
      el('td', { class: 'open' }, open('mine', 'Open mine'), open('server', 'Open the server\'s')),
      el('td', { class: 'keep' }, keep('mine', 'Keep mine'), keep('server', 'Keep the server\'s'),
        keep('both', 'Keep both')));
  });
  openDialog('resolve', heading,
    el('p', {}, 'These files were changed both here and on the server. For each, choose which to keep. ' +
      '"Keep both" keeps the server\'s under its name and yours beside it, named after this machine.'),
    el('table', {}, el('tbody', {}, rows)),
    said.length ? lines({ ok: true, lines: said }) : null,
    el('div', { class: 'actions' }, closeButton('Later')));
}

// Review: each change since the last version, to tick and put into a
// version prepared ahead; the prepared versions as a line of boxes, in their
// order. Nothing in the folder changes until "Save these versions".
async function review(folder) {
  openDialog('review', el('h2', {}, `Review: ${folder.name}`), el('p', { class: 'quiet' }, 'Looking…'));
  showReview(folder, await ask('/api/review', { folder: folder.dir }));
}

function showReview(folder, answer) {
  const heading = el('h2', {}, `Review: ${folder.name}`);
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
    change.prepared ? el('span', { class: 'in' }, ` in "${change.prepared}"`) : null),
  change.lines.length ? el('pre', {}, change.lines.map(([mark, line]) =>
    el('span', { class: mark === '-' ? 'out' : mark === '+' ? 'put' : 'around' }, `${mark} ${line}\n`))) : null,
  change.before || change.after ? el('p', { class: 'open' },
    change.before ? el('button', { type: 'button', class: 'open', 'data-side': 'before',
      onclick: () => openAt(address('/review-file', { folder: folder.dir, number: change.number, side: 'before' })) },
    'Open it as it was') : null, ' ',
    change.after ? el('button', { type: 'button', class: 'open', 'data-side': 'now',
      onclick: () => openAt(address('/review-file', { folder: folder.dir, number: change.number, side: 'now' })) },
    'Open it as it is now') : null) : null));
  const name = el('input', { type: 'text', id: 'version-name', list: 'version-names', placeholder: 'a name, e.g. the budget figures', autocomplete: 'off' });
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
  }, 'Put the ticked changes in this version');
  const boxes = answer.prepared.map((version, index) => {
    const box = el('div', { class: 'box', 'data-version': version.name },
      el('div', { class: 'name' }, `${index + 1}. ${version.name}`),
      el('ul', {}, version.holds.map(([label, applies]) => el('li', { class: applies ? '' : 'stale' },
        applies ? label : `${label}: no longer applies, the file changed since`))));
    const rename = el('button', {
      type: 'button', 'data-action': 'rename',
      onclick: () => {
        const field = el('input', { type: 'text', class: 'rename', value: version.name });
        rename.replaceWith(field, el('button', {
          type: 'button', 'data-action': 'rename-ok',
          onclick: () => again('/api/prepared', { do: 'rename', name: version.name, to: field.value }),
        }, 'OK'));
        field.focus();
      },
    }, 'Rename');
    box.append(el('div', { class: 'box-buttons' }, rename, el('button', {
      type: 'button', 'data-action': 'remove',
      onclick: () => again('/api/prepared', { do: 'remove', name: version.name }),
    }, 'Remove')));
    return box;
  });
  openDialog('review', heading,
    answer.changes.length
      ? el('p', {}, 'Tick changes, name a version (a new one, or one of those below), and put them in it. ' +
        'Changes you leave out are thrown away when you save, kept first in a copy beside the folder.')
      : el('p', {}, 'No change since the last version.'),
    el('ul', { class: 'review' }, changes),
    answer.changes.length ? el('p', {}, name, names, ' ', put) : null,
    el('div', { id: 'review-said' }, (answer.lines || []).length ? lines(answer) : null),
    el('h3', {}, 'Versions prepared'),
    boxes.length ? el('div', { class: 'prepared' }, boxes) : el('p', { class: 'quiet' }, 'None yet.'),
    el('div', { class: 'actions' },
      closeButton(),
      boxes.length ? el('button', {
        type: 'button', class: 'main confirm', 'data-action': 'save-prepared',
        onclick: async () => {
          const saved = await again('/api/prepared', { do: 'save' });
          if (saved.ok) say({ ok: true, lines: [`${folder.name}: the prepared versions are saved.`] });
        },
      }, 'Save these versions') : null));
}

// Discard: what will be thrown away, then a confirmation.
async function discard(folder) {
  openDialog('discard', el('h2', {}, `Discard: ${folder.name}`), el('p', { class: 'quiet' }, 'Looking…'));
  const answer = await ask('/api/discard', { folder: folder.dir });
  const heading = el('h2', {}, `Discard changes in ${folder.name}?`);
  if (!answer.ok) {
    openDialog('discard', heading, lines(answer), el('div', { class: 'actions' }, closeButton()));
    return;
  }
  if (answer.files.length === 0) {
    openDialog('discard', heading, el('p', {}, 'Nothing to throw away: every change is saved.'),
      el('div', { class: 'actions' }, closeButton()));
    return;
  }
  openDialog('discard', heading,
    el('p', {}, `These changes will be thrown away, and the folder put back as it was at version ${answer.version}, ` +
      'its last save:'),
    el('ul', { class: 'throw' }, answer.files.map((f) => el('li', { 'data-file': f.file }, `${f.what}: ${f.file}`))),
    el('p', {}, 'This cannot be undone.'),
    el('div', { class: 'actions' },
      closeButton('No, keep them'),
      el('button', {
        type: 'button', class: 'danger confirm',
        onclick: async () => {
          closeDialog();
          await simple('/api/discard', folder, 'Throwing the changes away…');
        },
      }, 'Yes, throw them away')));
}

function share(folder) {
  const input = el('input', { type: 'text', id: 'person', placeholder: 'their user name', autocomplete: 'off' });
  const result = el('div', {});
  const go = async () => {
    result.replaceChildren(lines(await act('/api/share', { folder: folder.dir, person: input.value })));
  };
  openDialog('share', el('h2', {}, `Share ${folder.name}`),
    el('p', {}, 'The person you name may then get this folder on their machines, and send versions of it.'),
    el('p', {}, input, ' ', el('button', { type: 'button', class: 'main confirm', onclick: go }, 'Share')),
    result,
    el('div', { class: 'actions' }, closeButton()));
  input.focus();
}

// Get a folder: the person's folders that are not on this machine.
async function getFolder() {
  openDialog('get', el('h2', {}, 'Get a folder'), el('p', { class: 'quiet' }, 'Asking the server…'));
  const answer = await ask('/api/available');
  const heading = el('h2', {}, 'Get a folder');
  if (!answer.ok) {
    openDialog('get', heading, lines(answer), el('div', { class: 'actions' }, closeButton()));
    return;
  }
  const result = el('div', {});
  const get = async (folder, takeOver) => {
    for (const node of document.querySelectorAll('#dialog button')) node.disabled = true;
    result.replaceChildren(el('p', { class: 'quiet' }, `Bringing ${folder.name} here…`));
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
        el('p', {}, 'You can also go on without those changes: they stay set aside on that machine, ' +
          'never lost, but they are not brought here.'),
        el('button', { type: 'button', class: 'danger take-over', onclick: () => get(folder, true) },
          `Go on without them`));
    }
  };
  const rows = answer.folders.map((folder) => el('tr', { 'data-folder': folder.path },
    el('td', { class: 'file' }, folder.name), el('td', { class: 'quiet' }, folder.path),
    el('td', { class: 'keep' }, el('button', { type: 'button', class: 'main', 'data-action': 'get',
      onclick: () => get(folder, false) }, 'Get'))));
  openDialog('get', heading,
    rows.length
      ? el('p', {}, `Folders you get are put in ${answer.place}.`)
      : el('p', {}, 'Every folder of yours is on this machine already.'),
    rows.length ? el('table', {}, el('tbody', {}, rows)) : null,
    result,
    el('div', { class: 'actions' }, closeButton()));
}

document.getElementById('get-button').addEventListener('click', getFolder);
document.getElementById('overlay').addEventListener('click', (event) => {
  if (event.target.id === 'overlay') closeDialog();
});
poll();
