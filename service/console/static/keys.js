// User Profile → API Keys: the list of keys, Create new API Key (the key
// is shown once), and Actions → Withdraw.

import {
  actionsMenu, api, confirmDialog, errorText, field, formError, h, listAll, say, showError, statusRegion, time, uid,
} from './lib.js';

const statusLabels = { active: 'Active', revoked: 'Withdrawn', expired: 'Expired' };

// apiKeysSection fills section with the API Keys screen.
export async function apiKeysSection(ctx, section) {
  const active = ctx.me.subscription_status === 'active';
  const heading = h('h2', { id: 'api-keys-heading', tabindex: '-1' }, 'API Keys');
  const createButton = active ? h('button', { type: 'button', class: 'button-primary' }, 'Create new API Key') : null;
  const status = statusRegion();
  const panel = h('div', { class: 'key-panel' });
  const listArea = h('div', { class: 'key-list' }, h('p', { class: 'muted' }, 'Loading API keys…'));
  const notice = active
    ? []
    : [h(
      'div',
      { class: 'notice', id: 'subscription-needed' },
      h('p', null, h('strong', null, 'An active subscription is needed to create API keys.')),
      h('p', null, 'While your subscription is inactive, your keys are refused. You can still see and withdraw them here.'),
    )];
  section.append(
    h('div', { class: 'section-head' }, heading, createButton),
    h(
      'p',
      { class: 'muted' },
      'Integrations such as a PMS or a revenue manager send an API key in the user-api-key header. A key reaches all of your properties or only the ones you choose.',
    ),
    ...notice,
    panel,
    status,
    listArea,
  );

  let properties = new Map(); // id → title, for the Access column and the picker

  async function refresh() {
    const [keys, options] = await Promise.all([
      listAll('/api_keys'),
      api('GET', '/properties/options'),
    ]);
    properties = new Map(((options && options.data) || []).map((p) => [p.id, p.attributes.title]));
    listArea.replaceChildren(keyTable(keys));
  }

  function keyTable(keys) {
    if (keys.length === 0) return h('p', { class: 'empty' }, 'No API keys yet.');
    return h(
      'table',
      { class: 'table keys' },
      h('caption', { class: 'visually-hidden' }, 'API keys'),
      h(
        'thead',
        null,
        h('tr', null, ['Name', 'Access', 'Status', 'Created', 'Last used', 'Actions'].map((c) => h('th', { scope: 'col' }, c))),
      ),
      h('tbody', null, keys.map(keyRow)),
    );
  }

  function scope(key) {
    if (key.all_properties) return 'All properties';
    const ids = key.property_ids || [];
    if (ids.length === 0) return 'No properties';
    return ids.map((id) => properties.get(id) || 'A property you can no longer reach').join(', ');
  }

  // access is the scope, then the key's limits (§7) when it has any.
  function access(key) {
    const cell = h('td', { 'data-label': 'Access' }, h('span', { class: 'scope' }, scope(key)));
    const limits = [];
    if (key.access === 'read_only') limits.push('Read-only');
    if (key.allowed_ips && key.allowed_ips.length) limits.push(`Only from ${key.allowed_ips.join(', ')}`);
    if (limits.length) cell.append(h('span', { class: 'limits' }, limits.join(' · ')));
    return cell;
  }

  function keyRow(item) {
    const key = item.attributes;
    const state = key.status || 'active';
    const withdrawn = state === 'revoked';
    const statusCell = h('td', { 'data-label': 'Status' }, h('span', { class: `badge badge-${state}` }, statusLabels[state] || state));
    if (withdrawn && key.revoked_at) statusCell.append(h('span', { class: 'when' }, 'on ', time(key.revoked_at)));
    else if (key.expires_at) statusCell.append(h('span', { class: 'when' }, state === 'expired' ? 'since ' : 'until ', time(key.expires_at)));
    if (key.rolled_to) statusCell.append(h('span', { class: 'when' }, 'Rolled over to a new key'));
    const lastUsed = h('td', { 'data-label': 'Last used' }, time(key.last_used_at, 'Never'));
    if (key.last_used_at && key.last_used_ip) lastUsed.append(h('span', { class: 'when' }, `from ${key.last_used_ip}`));
    const actions = [];
    if (state === 'active') actions.push({ label: 'Roll over', run: (button) => roll(key, button) });
    actions.push({ label: 'Withdraw', danger: true, run: (button) => withdraw(key, button) });
    return h(
      'tr',
      { class: withdrawn ? 'is-withdrawn' : null, 'data-key-id': item.id, 'data-status': state },
      h('th', { scope: 'row', 'data-label': 'Name' }, key.name),
      access(key),
      statusCell,
      h('td', { 'data-label': 'Created' }, time(key.created_at)),
      lastUsed,
      h(
        'td',
        { 'data-label': 'Actions', class: 'cell-actions' },
        withdrawn ? h('span', { class: 'muted' }, 'None') : actionsMenu(`Actions for ${key.name}`, actions),
      ),
    );
  }

  async function withdraw(key, button) {
    const ok = await confirmDialog({
      title: `Withdraw “${key.name}”?`,
      message: 'Integrations that use this key stop working at once. The key stays listed as withdrawn. This cannot be undone.',
      action: 'Withdraw',
    });
    if (!ok) {
      button.focus();
      return;
    }
    try {
      await api('DELETE', `/api_keys/${encodeURIComponent(key.id)}`);
      await refresh();
      say(status, `The key “${key.name}” has been withdrawn.`);
      heading.focus();
    } catch (err) {
      if (!err.handled) say(status, errorText(err));
    }
  }

  // roll replaces a key by a new one with the same name, access and
  // limits; the old one keeps working for a day, so the integration can
  // switch over without downtime.
  async function roll(key, button) {
    const ok = await confirmDialog({
      title: `Roll over “${key.name}”?`,
      message: 'A new key with the same name, access and limits is created and shown once. The current key keeps working for 24 more hours, then expires.',
      action: 'Roll over',
    });
    if (!ok) {
      button.focus();
      return;
    }
    let rolled;
    try {
      rolled = await api('POST', `/api_keys/${encodeURIComponent(key.id)}/roll`, { roll: { expires_in_seconds: 86400 } });
    } catch (err) {
      if (!err.handled) say(status, errorText(err));
      return;
    }
    showNewKey(rolled.data.attributes);
    refresh().catch((err) => {
      if (!err.handled) say(status, errorText(err));
    });
  }

  function openCreateForm() {
    const name = h('input', { type: 'text', name: 'name', maxlength: '255', required: true, autocomplete: 'off' });
    const all = h('input', { type: 'checkbox', name: 'all_properties', id: uid('all'), checked: true });
    const picks = [...properties].map(([id, title]) => {
      const box = h('input', { type: 'checkbox', name: 'property_ids', value: id, id: uid('p') });
      return h('div', { class: 'check' }, box, h('label', { for: box.id }, title));
    });
    const picker = h(
      'fieldset',
      { class: 'field picker', 'data-field': 'property_ids', hidden: true },
      h('legend', null, 'Properties this key can reach'),
      picks.length ? picks : h('p', { class: 'muted' }, 'You have no properties yet.'),
      h('p', { class: 'field-error', hidden: true }),
    );
    all.addEventListener('change', () => {
      picker.hidden = all.checked;
    });
    const readOnly = h('input', { type: 'checkbox', name: 'access', id: uid('ro') });
    const expires = h('input', { type: 'datetime-local', name: 'expires_at' });
    const ips = h('textarea', { name: 'allowed_ips', rows: '3', autocomplete: 'off', spellcheck: 'false' });
    const limits = h(
      'details',
      { class: 'limits-form' },
      h('summary', null, 'Limits (optional)'),
      h(
        'div',
        { class: 'field check', 'data-field': 'access' },
        readOnly,
        h('label', { for: readOnly.id }, 'Read-only: the key may only read'),
        h('p', { class: 'field-error', hidden: true }),
      ),
      field('expires_at', 'Expires', expires, 'Leave empty for a key that does not expire.'),
      field('allowed_ips', 'Allowed addresses', ips, 'One IPv4 or IPv6 address or CIDR range a line, e.g. 203.0.113.0/24. Empty: from anywhere.'),
    );
    const submit = h('button', { type: 'submit', class: 'button-primary' }, 'Create');
    const cancel = h('button', { type: 'button', class: 'button-quiet' }, 'Cancel');
    const titleID = uid('create-title');
    const form = h(
      'form',
      { class: 'panel', 'aria-labelledby': titleID, novalidate: true },
      h('h3', { id: titleID }, 'Create new API Key'),
      formError(),
      field('name', 'Name', name, 'For example the integration that will use it.'),
      h(
        'div',
        { class: 'field check', 'data-field': 'all_properties' },
        all,
        h('label', { for: all.id }, 'Access to all properties'),
        h('p', { class: 'field-error', hidden: true }),
      ),
      picker,
      limits,
      h('div', { class: 'actions' }, cancel, submit),
    );
    cancel.addEventListener('click', () => {
      panel.replaceChildren();
      createButton.hidden = false;
      createButton.focus();
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      submit.disabled = true;
      const body = { name: name.value.trim(), all_properties: all.checked };
      if (!all.checked) body.property_ids = [...picker.querySelectorAll('input:checked')].map((b) => b.value);
      if (readOnly.checked) body.access = 'read_only';
      if (expires.value) {
        const when = new Date(expires.value); // local time, as the control shows it
        body.expires_at = Number.isNaN(when.getTime()) ? expires.value : when.toISOString();
      }
      const addresses = ips.value.split(/[\s,]+/).filter(Boolean);
      if (addresses.length) body.allowed_ips = addresses;
      let created;
      try {
        created = await api('POST', '/api_keys', { api_key: body });
      } catch (err) {
        submit.disabled = false;
        showError(form, err);
        return;
      }
      showNewKey(created.data.attributes);
      refresh().catch((err) => {
        if (!err.handled) say(status, errorText(err));
      });
    });
    createButton.hidden = true;
    panel.replaceChildren(form);
    name.focus();
  }

  // showNewKey shows the plaintext key, the only time it is ever shown.
  // It lives in this panel only: Done, leaving the page or reloading it
  // removes it for good.
  function showNewKey(key) {
    const titleID = uid('new-key-title');
    const value = h('code', { class: 'secret-value', id: 'new-key-value' }, key.api_key);
    const copyStatus = statusRegion();
    const copy = h('button', { type: 'button', class: 'button-primary' }, 'Copy');
    const done = h('button', { type: 'button', class: 'button-quiet' }, 'Done');
    copy.addEventListener('click', async () => {
      say(copyStatus, (await copyText(value)) ? 'Copied to the clipboard.' : 'Could not copy: select the key and copy it yourself.');
    });
    done.addEventListener('click', () => {
      panel.replaceChildren();
      createButton.hidden = false;
      createButton.focus();
    });
    panel.replaceChildren(
      h(
        'section',
        { class: 'panel new-key', 'aria-labelledby': titleID },
        h('h3', { id: titleID, tabindex: '-1' }, `Your new API key “${key.name}”`),
        h(
          'p',
          { class: 'warning' },
          h('strong', null, 'Copy this key now. It will not be shown again. '),
          'keygate keeps only a fingerprint of it. If it is lost, withdraw it and create a new one.',
        ),
        h('div', { class: 'secret' }, value, copy),
        copyStatus,
        h('div', { class: 'actions' }, done),
      ),
    );
    panel.querySelector('h3').focus();
  }

  if (createButton) createButton.addEventListener('click', openCreateForm);
  try {
    await refresh();
  } catch (err) {
    if (!err.handled) listArea.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
  }
}

// copyText copies the text of el, through the Clipboard API where the page
// may use it, else by selecting it and asking the browser to copy.
async function copyText(el) {
  const value = el.textContent;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(value);
      return true;
    }
  } catch {
    // fall through to the selection
  }
  const range = document.createRange();
  range.selectNodeContents(el);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  }
}
