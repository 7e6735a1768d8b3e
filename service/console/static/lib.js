// Shared pieces of the console: building elements, calling the REST API,
// showing its errors next to form controls, menus and confirmations.
//
// Every value that comes from the API reaches the page as text
// (textContent, text nodes, attribute values), never as markup.

// h builds an element. props: "class", "text", "on<event>" listeners, and
// attributes (true sets an empty attribute; false, null and undefined are
// skipped). Children are nodes or strings; strings become text nodes.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') el.className = value;
    else if (name === 'text') el.textContent = value;
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

let lastID = 0;
// uid returns an element id unique within the page.
export function uid(prefix) {
  lastID += 1;
  return `${prefix}-${lastID}`;
}

// blank treats null, undefined and "" alike: the API writes unset
// attributes as null.
export function blank(v) {
  return v === null || v === undefined || v === '';
}

// text returns a value for display, with a dash for unset ones.
export function text(v) {
  return blank(v) ? '—' : String(v);
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

// time renders an RFC 3339 timestamp, or `none` when unset.
export function time(value, none = '—') {
  if (blank(value)) return document.createTextNode(none);
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return document.createTextNode(String(value));
  return h('time', { datetime: value }, dateFormat.format(d));
}

// --- session ---------------------------------------------------------------

// The session token lives in sessionStorage: it survives a reload of the
// tab, ends with the tab, is never shared with other tabs, and never goes
// into a URL, a cookie or localStorage.
const tokenKey = 'keygate.session';

export const session = {
  get token() {
    return sessionStorage.getItem(tokenKey);
  },
  set(token) {
    sessionStorage.setItem(tokenKey, token);
  },
  clear() {
    sessionStorage.removeItem(tokenKey);
  },
};

// --- the REST API ------------------------------------------------------------

// ApiError is a failed call: the HTTP status and the API's error object
// ({code, title, details}).
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.errors) || {};
    super(typeof e.details === 'string' ? e.details : e.title || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || '';
    this.title = e.title || '';
    this.details = e.details;
  }
}

let unauthorized = () => {};

// onUnauthorized sets what happens when a signed-in call gets 401: the
// session is over (expired, or signed out elsewhere).
export function onUnauthorized(fn) {
  unauthorized = fn;
}

// api calls /api/v1 + path with the session token and returns the parsed
// JSON body, or throws an ApiError.
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, init);
  } catch {
    throw new ApiError(0, {
      errors: { title: 'Network error', details: 'keygate could not be reached. Check the connection and try again.' },
    });
  }
  const raw = await res.text();
  let data = null;
  if (raw) {
    try {
      data = JSON.parse(raw);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && token) {
      err.handled = true;
      unauthorized(err);
    }
    throw err;
  }
  return data;
}

// listAll fetches every page of a paginated list (100 at a time).
export async function listAll(path) {
  const sep = path.includes('?') ? '&' : '?';
  const out = [];
  for (let page = 1; ; page += 1) {
    const body = await api('GET', `${path}${sep}pagination%5Bpage%5D=${page}&pagination%5Blimit%5D=100`);
    const data = (body && body.data) || [];
    out.push(...data);
    const meta = body && body.meta;
    if (!meta || data.length === 0 || page * (meta.limit || 100) >= meta.total) return out;
  }
}

// --- forms -----------------------------------------------------------------

// field builds a labelled control with a place for its error. The
// wrapper's data-field is the attribute path the API uses in 422 details.
export function field(path, label, control, hint) {
  const id = control.id || uid('f');
  control.id = id;
  const errorID = `${id}-error`;
  const described = [errorID];
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    described.unshift(hintEl.id);
  }
  control.setAttribute('aria-describedby', described.join(' '));
  return h(
    'div',
    { class: 'field', 'data-field': path },
    h('label', { for: id }, label),
    hintEl,
    control,
    h('p', { class: 'field-error', id: errorID, hidden: true }),
  );
}

// formError is the place for errors that no single control is to blame for.
export function formError() {
  return h('div', { class: 'form-error', role: 'alert', hidden: true });
}

// clearErrors removes the errors shown in container.
export function clearErrors(container) {
  for (const el of container.querySelectorAll('.field-error, .form-error')) {
    el.textContent = '';
    el.hidden = true;
  }
  for (const el of container.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

function sentence(msg) {
  const s = String(msg);
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// showError shows err in container: a 422's details next to the controls
// they name (data-field), the rest in the container's .form-error, and
// moves focus to the first control in error.
export function showError(container, err) {
  clearErrors(container);
  if (err && err.handled) return;
  const general = container.querySelector('.form-error');
  const rest = [];
  let first = null;
  const details = err && err.details;
  if (details && typeof details === 'object' && !Array.isArray(details)) {
    for (const [path, messages] of Object.entries(details)) {
      const list = (Array.isArray(messages) ? messages : [messages]).map(sentence);
      // "allowed_ips[2]" or "allowed_ips.2" belongs to the allowed_ips control.
      const wrap = container.querySelector(`[data-field="${CSS.escape(path)}"]`)
        || container.querySelector(`[data-field="${CSS.escape(path.replace(/(\[\d+\]|\.\d+)$/, ''))}"]`);
      const slot = wrap && wrap.querySelector('.field-error');
      if (!slot) {
        rest.push(`${path}: ${list.join('; ')}`);
        continue;
      }
      slot.textContent = list.join('; ');
      slot.hidden = false;
      const control = wrap.querySelector('input, select, textarea');
      if (control) {
        for (const c of wrap.querySelectorAll('input, select, textarea')) c.setAttribute('aria-invalid', 'true');
        first = first || control;
      }
    }
    if (rest.length || !first) rest.unshift(err.title || 'The request was refused.');
  } else {
    rest.push(errorText(err));
  }
  if (general && rest.length) {
    general.replaceChildren(...rest.map((line) => h('p', null, line)));
    general.hidden = false;
  }
  if (first) first.focus();
  else if (general) general.focus();
}

// errorText puts an error in words.
export function errorText(err) {
  if (!(err instanceof ApiError)) return 'Something went wrong in the console. Reload the page and try again.';
  if (err.status === 403) return `Not allowed: ${err.message}`;
  if (err.status === 404) return 'Not found: it may have been deleted, or you no longer have access to it.';
  if (err.status === 429) return `Too many attempts: ${err.message}. Wait a moment and try again.`;
  return err.message;
}

// --- status messages ---------------------------------------------------------

// statusRegion is a polite live region for the outcome of an action.
export function statusRegion() {
  return h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
}

export function say(region, message) {
  region.textContent = message;
}

// --- menus -----------------------------------------------------------------

let openMenu = null;

function closeOpenMenu(focusButton) {
  if (!openMenu) return;
  const { button, list } = openMenu;
  openMenu = null;
  list.hidden = true;
  button.setAttribute('aria-expanded', 'false');
  if (focusButton) button.focus();
}

document.addEventListener('click', (e) => {
  if (openMenu && !openMenu.wrap.contains(e.target)) closeOpenMenu(false);
});

// actionsMenu builds an "Actions" button with a menu of items
// [{label, run}], operable with the mouse and the keyboard (Enter or
// Space opens, arrows move, Escape closes).
export function actionsMenu(label, items) {
  const listID = uid('menu');
  const button = h(
    'button',
    { type: 'button', class: 'menu-button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': listID, 'aria-label': label },
    'Actions',
  );
  const entries = items.map((item) =>
    h('button', { type: 'button', role: 'menuitem', tabindex: '-1', class: item.danger ? 'danger' : null }, item.label),
  );
  const list = h('ul', { role: 'menu', id: listID, class: 'menu', hidden: true }, entries.map((b) => h('li', { role: 'none' }, b)));
  const wrap = h('div', { class: 'menu-wrap' }, button, list);
  const open = () => {
    closeOpenMenu(false);
    list.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    openMenu = { button, list, wrap };
    entries[0].focus();
  };
  button.addEventListener('click', () => (list.hidden ? open() : closeOpenMenu(true)));
  button.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      open();
    }
  });
  entries.forEach((entry, i) => {
    entry.addEventListener('click', () => {
      closeOpenMenu(false);
      items[i].run(button);
    });
    entry.addEventListener('keydown', (e) => {
      const move = { ArrowDown: 1, ArrowUp: -1 }[e.key];
      if (move) {
        e.preventDefault();
        entries[(i + move + entries.length) % entries.length].focus();
      } else if (e.key === 'Escape') {
        e.preventDefault();
        closeOpenMenu(true);
      } else if (e.key === 'Tab') {
        closeOpenMenu(false);
      }
    });
  });
  return wrap;
}

// --- confirmation ------------------------------------------------------------

// confirmDialog asks a question in a modal dialog and resolves to true when
// the action is confirmed. Focus starts on Cancel; Escape cancels.
export function confirmDialog({ title, message, action }) {
  return new Promise((resolve) => {
    const titleID = uid('dialog-title');
    const cancel = h('button', { type: 'button', class: 'button-quiet', autofocus: true }, 'Cancel');
    const confirm = h('button', { type: 'button', class: 'button-danger' }, action);
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': titleID },
      h('h2', { id: titleID }, title),
      h('p', null, message),
      h('div', { class: 'actions' }, cancel, confirm),
    );
    let answer = false;
    cancel.addEventListener('click', () => dialog.close());
    confirm.addEventListener('click', () => {
      answer = true;
      dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
