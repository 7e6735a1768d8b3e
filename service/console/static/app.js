// The console's shell: sign-in, the header, sign-out and the routes
// (#/profile/api-keys, #/properties, #/properties/new, #/properties/<id>).

import { api, field, formError, h, onUnauthorized, session, showError, statusRegion, say } from './lib.js';
import { apiKeysSection } from './keys.js';
import { propertiesPage, propertyPage } from './properties.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const account = document.getElementById('account');
const accountEmail = document.getElementById('account-email');

// The signed-in user ({id, email, name, subscription_status}), read from
// GET /api/v1/me after sign-in and after a reload.
let me = null;
// A message for the next screen (e.g. why the user is back at sign-in).
let flash = '';

function setFlash(message) {
  flash = message;
}

function takeFlash() {
  const m = flash;
  flash = '';
  return m;
}

onUnauthorized(() => {
  session.clear();
  me = null;
  flash = 'Your session has ended. Sign in again.';
  go('#/sign-in');
});

// go navigates to hash, rendering even when it is the current one.
function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function setHeader(route) {
  const signedIn = Boolean(me);
  nav.hidden = !signedIn;
  account.hidden = !signedIn;
  accountEmail.textContent = signedIn ? me.email : '';
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.route === route) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

document.getElementById('sign-out').addEventListener('click', async () => {
  try {
    await api('POST', '/sign_out');
  } catch {
    // The session is dropped here either way.
  }
  session.clear();
  me = null;
  flash = 'You have signed out.';
  go('#/sign-in');
});

// page starts a new screen: a fresh container in <main> whose heading
// takes the focus, so keyboard and screen-reader users land on it.
function page(title) {
  const heading = h('h1', { tabindex: '-1' }, title);
  const container = h('div', { class: 'page' }, heading);
  const message = takeFlash();
  if (message) container.append(h('p', { class: 'flash', role: 'status' }, message));
  main.replaceChildren(container);
  document.title = `${title} · keygate`;
  heading.focus();
  return container;
}

function parse(hash) {
  const [path, query] = hash.replace(/^#/, '').split('?');
  return { parts: path.split('/').filter(Boolean), query: new URLSearchParams(query || '') };
}

let renders = 0;

async function render() {
  const current = ++renders;
  const { parts, query } = parse(location.hash);
  if (!session.token) {
    me = null;
    setHeader('');
    if (parts[0] !== 'sign-in') history.replaceState(null, '', '#/sign-in');
    signIn();
    return;
  }
  try {
    // Read on every screen: the subscription may have changed.
    me = (await api('GET', '/me')).data.attributes.user;
  } catch (err) {
    if (!err.handled) page('keygate').append(h('p', { class: 'form-error', role: 'alert' }, err.message));
    return;
  }
  if (current !== renders) return;
  const ctx = { me, go, setFlash, page, isCurrent: () => current === renders };
  if (parts[0] === 'properties') {
    setHeader('properties');
    if (parts[1]) await propertyPage(ctx, parts[1] === 'new' ? null : parts[1], parts[2] === 'share');
    else await propertiesPage(ctx, Math.max(1, parseInt(query.get('page') || '1', 10) || 1));
    return;
  }
  if (parts[0] !== 'profile') {
    history.replaceState(null, '', '#/profile/api-keys');
  }
  setHeader('profile');
  await profile(ctx);
}

async function profile(ctx) {
  const container = page('User Profile');
  container.append(
    h(
      'dl',
      { class: 'profile' },
      h('div', null, h('dt', null, 'Name'), h('dd', null, me.name || '—')),
      h('div', null, h('dt', null, 'Email'), h('dd', null, me.email)),
      h('div', null, h('dt', null, 'Subscription'), h('dd', null, me.subscription_status === 'active' ? 'Active' : 'Inactive')),
    ),
  );
  const section = h('section', { class: 'card', 'aria-labelledby': 'api-keys-heading' });
  container.append(section);
  await apiKeysSection(ctx, section);
}

function signIn() {
  const container = page('Sign in to keygate');
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'button-primary' }, 'Sign in');
  const status = statusRegion();
  const form = h(
    'form',
    { class: 'card sign-in', novalidate: true },
    formError(),
    field('email', 'Email', email),
    field('password', 'Password', password),
    h('div', { class: 'actions' }, submit),
    status,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    say(status, 'Signing in…');
    try {
      const body = await api('POST', '/sign_in', { user: { email: email.value.trim(), password: password.value } });
      session.set(body.data.attributes.token);
      me = body.data.attributes.user;
      password.value = '';
      go('#/profile/api-keys');
    } catch (err) {
      say(status, '');
      showError(form, err);
      submit.disabled = false;
    }
  });
  container.append(form);
  email.focus();
}

window.addEventListener('hashchange', render);
render();
