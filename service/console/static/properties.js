// The Properties page: a paginated list; a form to create a property or
// edit one (a partial update that sends only what changed); sharing a
// property with another account; deleting one.

import {
  actionsMenu, api, blank, clearErrors, confirmDialog, errorText, field, formError, h, listAll, say, showError, statusRegion, text, time,
} from './lib.js';

const pageSize = 10;

const propertyTypes = [
  'apart_hotel', 'apartment', 'boat', 'camping', 'capsule_hotel', 'chalet', 'country_house', 'farm_stay',
  'guest_house', 'holiday_home', 'holiday_park', 'homestay', 'hostel', 'hotel', 'inn', 'lodge', 'motel',
  'resort', 'riad', 'ryokan', 'tent', 'villa',
];

function typeLabel(t) {
  const s = t.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// The attributes the form edits, by their REST paths, in groups.
const groups = [
  ['Basics', [
    { path: 'title', label: 'Title', required: true, maxlength: 255 },
    { path: 'currency', label: 'Currency', required: true, maxlength: 3, hint: 'ISO 4217 code, e.g. EUR' },
    { path: 'property_type', label: 'Property type', select: propertyTypes },
  ]],
  ['Contact', [
    { path: 'email', label: 'Email', type: 'email' },
    { path: 'phone', label: 'Phone', type: 'tel', maxlength: 32 },
    { path: 'website', label: 'Website', type: 'url', hint: 'https://…' },
    { path: 'logo_url', label: 'Logo URL', type: 'url', hint: 'https://…' },
  ]],
  ['Location', [
    { path: 'address', label: 'Address', maxlength: 255 },
    { path: 'city', label: 'City', maxlength: 255 },
    { path: 'state', label: 'State or region', maxlength: 255 },
    { path: 'zip_code', label: 'Postcode', maxlength: 32 },
    { path: 'country', label: 'Country', maxlength: 2, hint: 'Two letters (ISO 3166-1), e.g. PT' },
    { path: 'timezone', label: 'Time zone', hint: 'e.g. Europe/Lisbon' },
    { path: 'latitude', label: 'Latitude', inputmode: 'decimal' },
    { path: 'longitude', label: 'Longitude', inputmode: 'decimal' },
  ]],
  ['Description', [
    { path: 'content.description', label: 'Description', textarea: true },
  ]],
];
const fields = groups.flatMap(([, list]) => list);

// read returns the attribute at a dotted path as a form value: unset
// (null or "") is "".
function read(attrs, path) {
  let v = attrs;
  for (const part of path.split('.')) v = v === null || v === undefined ? undefined : v[part];
  return blank(v) ? '' : String(v);
}

// put sets a dotted path in obj, creating the nested objects.
function put(obj, path, value) {
  const parts = path.split('.');
  let o = obj;
  for (const part of parts.slice(0, -1)) o = o[part] = o[part] || {};
  o[parts[parts.length - 1]] = value;
}

function control(f, value) {
  if (f.select) {
    return h(
      'select',
      { name: f.path },
      h('option', { value: '' }, 'Not set'),
      f.select.map((t) => h('option', { value: t, selected: t === value }, typeLabel(t))),
    );
  }
  const props = { name: f.path, required: f.required, maxlength: f.maxlength, inputmode: f.inputmode, autocomplete: 'off' };
  if (f.textarea) return h('textarea', { ...props, rows: '5' }, value);
  return h('input', { ...props, type: f.type || 'text', value });
}

// propertiesPage lists the properties, a page at a time.
export async function propertiesPage(ctx, pageNumber) {
  const container = ctx.page('Properties');
  const status = statusRegion();
  const listArea = h('div', null, h('p', { class: 'muted' }, 'Loading properties…'));
  container.append(
    h(
      'div',
      { class: 'section-head' },
      h('p', { class: 'muted' }, 'Your properties and the ones shared with you.'),
      h('a', { class: 'button button-primary', href: '#/properties/new' }, 'Create property'),
    ),
    status,
    listArea,
  );

  async function load() {
    const q = `pagination%5Bpage%5D=${pageNumber}&pagination%5Blimit%5D=${pageSize}`;
    const body = await api('GET', `/properties?${q}`);
    if (!ctx.isCurrent()) return;
    const items = body.data || [];
    const total = (body.meta && body.meta.total) || 0;
    const pages = Math.max(1, Math.ceil(total / pageSize));
    if (items.length === 0 && pageNumber > 1) {
      ctx.go(`#/properties?page=${Math.min(pageNumber - 1, pages)}`);
      return;
    }
    listArea.replaceChildren(
      items.length === 0
        ? h('p', { class: 'empty' }, 'No properties yet.')
        : h(
          'table',
          { class: 'table properties' },
          h('caption', { class: 'visually-hidden' }, `Properties, page ${pageNumber} of ${pages}`),
          h('thead', null, h('tr', null, ['Title', 'Currency', 'City', 'Country', 'Created', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', null, items.map(row)),
        ),
      pager(pageNumber, pages, total),
    );
  }

  function row(item) {
    const p = item.attributes;
    const href = `#/properties/${encodeURIComponent(item.id)}`;
    return h(
      'tr',
      { 'data-property-id': item.id },
      h('th', { scope: 'row', 'data-label': 'Title' }, h('a', { href }, p.title)),
      h('td', { 'data-label': 'Currency' }, text(p.currency)),
      h('td', { 'data-label': 'City' }, text(p.city)),
      h('td', { 'data-label': 'Country' }, text(p.country)),
      h('td', { 'data-label': 'Created' }, time(p.created_at)),
      h(
        'td',
        { 'data-label': 'Actions', class: 'cell-actions' },
        actionsMenu(`Actions for ${p.title}`, [
          { label: 'Edit', run: () => ctx.go(href) },
          { label: 'Share', run: () => ctx.go(`${href}/share`) },
          {
            label: 'Delete',
            danger: true,
            run: async (button) => {
              if (!(await deleteProperty(item.id, p.title))) {
                button.focus();
                return;
              }
              ctx.setFlash(`The property “${p.title}” has been deleted.`);
              ctx.go(`#/properties?page=${pageNumber}`);
            },
          },
        ]),
      ),
    );
  }

  // deleteProperty asks, deletes, and says whether it did.
  async function deleteProperty(id, title) {
    const ok = await confirmDialog({
      title: `Delete “${title}”?`,
      message: 'The property is deleted for everyone who can reach it, and API keys lose access to it. This cannot be undone.',
      action: 'Delete',
    });
    if (!ok) return false;
    try {
      await api('DELETE', `/properties/${encodeURIComponent(id)}`);
      return true;
    } catch (err) {
      if (!err.handled) say(status, errorText(err));
      return false;
    }
  }

  try {
    await load();
  } catch (err) {
    if (!err.handled) listArea.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
  }
}

function pager(current, pages, total) {
  const link = (n, label, rel) => h('a', { href: `#/properties?page=${n}`, rel, class: 'button button-quiet' }, label);
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    current > 1 ? link(current - 1, 'Previous page', 'prev') : null,
    h('span', null, `Page ${current} of ${pages} · ${total} ${total === 1 ? 'property' : 'properties'}`),
    current < pages ? link(current + 1, 'Next page', 'next') : null,
  );
}

// propertyPage shows the form for a new property (id null) or an existing
// one, with its sharing and deletion.
export async function propertyPage(ctx, id, focusSharing) {
  let original = {};
  if (id) {
    try {
      original = (await api('GET', `/properties/${encodeURIComponent(id)}`)).data.attributes;
    } catch (err) {
      if (!err.handled) ctx.page('Property').append(h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
      return;
    }
    if (!ctx.isCurrent()) return;
  }
  const container = ctx.page(id ? original.title : 'New property');
  const heading = container.querySelector('h1');
  container.prepend(h('p', { class: 'crumbs' }, h('a', { href: '#/properties' }, '← All properties')));

  const status = statusRegion();
  const submit = h('button', { type: 'submit', class: 'button-primary' }, id ? 'Save changes' : 'Create property');
  const controls = new Map();
  const form = h('form', { class: 'card property-form', novalidate: true, 'aria-label': 'Property details' }, formError());
  for (const [legend, list] of groups) {
    const set = h('fieldset', { class: 'group' }, h('legend', null, legend));
    for (const f of list) {
      const c = control(f, read(original, f.path));
      controls.set(f.path, c);
      set.append(field(f.path, f.required ? `${f.label} (required)` : f.label, c, f.hint));
    }
    form.append(set);
  }
  form.append(h('div', { class: 'actions' }, submit), status);
  container.append(form);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    for (const f of fields) {
      const value = controls.get(f.path).value.trim();
      if (!id) {
        if (value !== '') put(body, f.path, value);
      } else if (value !== read(original, f.path)) {
        // Only what changed is sent; an emptied attribute is cleared.
        put(body, f.path, value === '' ? null : value);
      }
    }
    if (id && Object.keys(body).length === 0) {
      say(status, 'Nothing has changed.');
      return;
    }
    submit.disabled = true;
    say(status, 'Saving…');
    try {
      const saved = await api(id ? 'PUT' : 'POST', id ? `/properties/${encodeURIComponent(id)}` : '/properties', { property: body });
      if (!id) {
        ctx.setFlash(`The property “${saved.data.attributes.title}” has been created.`);
        ctx.go(`#/properties/${encodeURIComponent(saved.data.id)}`);
        return;
      }
      original = saved.data.attributes;
      for (const f of fields) controls.get(f.path).value = read(original, f.path);
      heading.textContent = original.title;
      document.title = `${original.title} · keygate`;
      say(status, 'Saved.');
    } catch (err) {
      say(status, '');
      showError(form, err);
    } finally {
      submit.disabled = false;
    }
  });

  if (!id) {
    controls.get('title').focus();
    return;
  }
  const sharing = h('section', { class: 'card', 'aria-labelledby': 'sharing-heading' });
  container.append(sharing);
  await sharingSection(ctx, id, sharing);
  if (focusSharing) sharing.querySelector('h2').focus();

  const remove = h('button', { type: 'button', class: 'button-danger' }, 'Delete property');
  const removeStatus = statusRegion();
  remove.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: `Delete “${original.title}”?`,
      message: 'The property is deleted for everyone who can reach it, and API keys lose access to it. This cannot be undone.',
      action: 'Delete',
    });
    if (!ok) {
      remove.focus();
      return;
    }
    try {
      await api('DELETE', `/properties/${encodeURIComponent(id)}`);
      ctx.setFlash(`The property “${original.title}” has been deleted.`);
      ctx.go('#/properties');
    } catch (err) {
      if (!err.handled) say(removeStatus, errorText(err));
    }
  });
  container.append(
    h(
      'section',
      { class: 'card danger-zone', 'aria-labelledby': 'delete-heading' },
      h('h2', { id: 'delete-heading' }, 'Delete this property'),
      h('p', { class: 'muted' }, 'Only owners can delete a property.'),
      remove,
      removeStatus,
    ),
  );
}

const roleLabels = { owner: 'Owner', user: 'User' };

// sharingSection lists who can reach the property and invites others by
// email (POST /api/v1/property_users).
async function sharingSection(ctx, propertyID, section) {
  const heading = h('h2', { id: 'sharing-heading', tabindex: '-1' }, 'Sharing');
  const status = statusRegion();
  const listArea = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const email = h('input', { type: 'email', name: 'user_email', autocomplete: 'off', required: true });
  const role = h('select', { name: 'role' }, h('option', { value: 'user' }, 'User'), h('option', { value: 'owner' }, 'Owner'));
  const invite = h('button', { type: 'submit', class: 'button-primary' }, 'Invite');
  const form = h(
    'form',
    { class: 'invite', novalidate: true, 'aria-label': 'Invite someone' },
    formError(),
    field('user_email', 'Email of the person to invite', email),
    field('role', 'Role', role, 'Owners can also delete the property and change who has access.'),
    h('div', { class: 'actions' }, invite),
  );
  section.append(
    heading,
    h('p', { class: 'muted' }, 'People with access can see and edit this property; their all-properties API keys reach it too.'),
    listArea,
    h('h3', null, 'Invite someone'),
    form,
    status,
  );

  async function refresh() {
    const people = await listAll(`/property_users?filter%5Bproperty_id%5D=${encodeURIComponent(propertyID)}`);
    listArea.replaceChildren(
      h(
        'table',
        { class: 'table people' },
        h('caption', { class: 'visually-hidden' }, 'People with access'),
        h('thead', null, h('tr', null, ['Email', 'Role', 'Status', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, people.map(person)),
      ),
    );
  }

  function person(item) {
    const a = item.attributes;
    const user = item.relationships && item.relationships.user && item.relationships.user.data;
    const address = a.user_email || (user && user.email) || '—';
    const self = a.user_id && a.user_id === ctx.me.id;
    const remove = h('button', { type: 'button', class: 'button-quiet', 'aria-label': `Remove access for ${address}` }, self ? 'Leave' : 'Remove access');
    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: self ? 'Leave this property?' : `Remove access for ${address}?`,
        message: self
          ? 'You will no longer see this property, and your API keys lose access to it.'
          : 'They will no longer see this property, and their API keys lose access to it.',
        action: self ? 'Leave' : 'Remove access',
      });
      if (!ok) {
        remove.focus();
        return;
      }
      try {
        await api('DELETE', `/property_users/${encodeURIComponent(item.id)}`);
        if (self) {
          ctx.setFlash('You have left the property.');
          ctx.go('#/properties');
          return;
        }
        await refresh();
        say(status, `Access for ${address} has been removed.`);
        heading.focus();
      } catch (err) {
        if (!err.handled) say(status, errorText(err));
      }
    });
    return h(
      'tr',
      null,
      h('th', { scope: 'row', 'data-label': 'Email' }, address, self ? ' (you)' : ''),
      h('td', { 'data-label': 'Role' }, roleLabels[a.role] || text(a.role)),
      h('td', { 'data-label': 'Status' }, a.status === 'pending' ? 'Invitation pending' : 'Active'),
      h('td', { 'data-label': 'Actions', class: 'cell-actions' }, remove),
    );
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    invite.disabled = true;
    try {
      await api('POST', '/property_users', {
        invite: { property_id: propertyID, user_email: email.value.trim(), role: role.value },
      });
      const who = email.value.trim();
      email.value = '';
      clearErrors(form);
      await refresh();
      say(status, `${who} has been invited.`);
    } catch (err) {
      showError(form, err);
    } finally {
      invite.disabled = false;
    }
  });

  try {
    await refresh();
  } catch (err) {
    if (!err.handled) listArea.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
  }
}
