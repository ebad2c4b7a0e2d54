// Element helpers and formatting. Tenant data only ever reaches the page as
// text (textContent / createElement), never as markup.

export const $ = (id) => document.getElementById(id);

// Where guard() sends what a handler threw: the banner, once app.js says so.
let report = (error) => console.error(error);

export function reportErrorsTo(fn) {
  report = fn;
}

// Runs a handler so that nothing escapes as an uncaught error: failures become the banner.
// The handler starts synchronously, so preventDefault() and currentTarget still work.
export function guard(fn) {
  return (...args) => {
    try {
      const result = fn(...args);
      if (result && typeof result.then === 'function') result.catch((error) => report(error));
    } catch (error) {
      report(error);
    }
  };
}

// Served under a CSP without inline handlers, so every listener is attached here.
export function on(id, type, fn) {
  $(id).addEventListener(type, guard(fn));
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'class') node.className = value;
    else if (key === 'on') for (const [type, fn] of Object.entries(value)) node.addEventListener(type, guard(fn));
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Words for the few values whose spelling is not one.
const LABELS = { wontfix: "Won't fix" };
export const label = (value) => LABELS[value] ?? `${value.charAt(0).toUpperCase()}${value.slice(1).replace(/_/g, ' ')}`;

// Fills a select with values the gateway publishes, after its blank ("Any")
// option if it has one; `chosen` is the default a form's reset returns to.
export function offer(select, values, chosen) {
  const blank = [...select.options].filter((option) => option.value === '');
  select.replaceChildren(...blank, ...values.map((value) => el('option', { value, text: label(value), selected: value === chosen })));
}

export function badge(text, status, testid) {
  return el('span', { class: 'badge', 'data-status': status, 'data-testid': testid, text });
}

// One list row: an opening button (when it opens something), badges, a meta line.
export function row({ testid, data = {}, title, onOpen, badges = [], meta = [], extra = [] }) {
  const li = el('li', { 'data-testid': testid });
  for (const [key, value] of Object.entries(data)) li.dataset[key] = String(value);
  li.append(onOpen
    ? el('button', { type: 'button', class: 'row-open', on: { click: onOpen } }, title)
    : el('span', { class: 'title' }, title));
  li.append(...badges.filter(Boolean), ...extra.filter(Boolean));
  const line = meta.filter((m) => m != null && m !== '').join(' · ');
  if (line) li.append(el('span', { class: 'meta', text: line }));
  return li;
}

// Grey placeholder rows while a request is in flight.
export function loading(list, rows = 3) {
  list.setAttribute('aria-busy', 'true');
  list.replaceChildren(...Array.from({ length: rows }, () => el('li', { class: 'skeleton', 'aria-hidden': 'true' })));
}

export function fill(list, nodes, emptyText = 'Nothing here yet.') {
  list.removeAttribute('aria-busy');
  list.replaceChildren(...(nodes.length ? nodes : [el('li', { class: 'empty', text: emptyText })]));
}

// A listing's last row while Bitbucket has more: "Load more" runs `more`,
// which appends the next page and draws the list again.
export function moreRow(list, more) {
  const button = el('button', { type: 'button', class: 'ghost', 'data-testid': 'load-more' }, 'Load more');
  button.addEventListener('click', guard(async () => {
    button.disabled = true;
    try {
      await more();
    } finally {
      button.disabled = false;
    }
  }));
  list.append(el('li', { class: 'more' }, button));
}

export function markSelected(list, key, value) {
  for (const li of list.children) li.classList.toggle('selected', li.dataset[key] === String(value));
}

// On one column the detail sits below a long list; bring it to the reader.
export function reveal(detail) {
  if (window.matchMedia('(max-width: 899px)').matches) detail.scrollIntoView({ block: 'start' });
}

export function fmtDate(value) {
  if (!value) return '';
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

export function fmtDuration(seconds) {
  if (seconds == null) return '';
  const m = Math.floor(seconds / 60);
  return m ? `${m}m ${seconds % 60}s` : `${seconds}s`;
}

const pad = (n) => String(n).padStart(2, '0');
export const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
export const short = (hash) => (hash || '').slice(0, 7);
export const who = (account) => account?.display_name || account?.nickname || '';
export const firstLine = (text) => (text || '').split('\n')[0];

// Each loader takes a ticket; an answer whose ticket is no longer the latest
// (the person moved on) is dropped instead of overwriting newer data.
const tickets = new Map();
export function ticket(name) {
  const n = (tickets.get(name) || 0) + 1;
  tickets.set(name, n);
  return () => tickets.get(name) === n;
}

let noticeTimer = 0;
export function notice(text) {
  const box = $('notice');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { box.hidden = true; }, 5000);
}

// A <dialog> rather than window.confirm: styled, keyboard-friendly, Escape cancels.
export function confirmDialog(title, message, okLabel) {
  const dialog = $('confirm-dialog');
  if (dialog.open) return Promise.resolve(false);
  $('confirm-title').textContent = title;
  $('confirm-message').textContent = message;
  $('confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

export function showForm(formId) {
  const form = $(formId);
  form.hidden = false;
  document.querySelector(`[aria-controls="${formId}"]`)?.setAttribute('aria-expanded', 'true');
  return form;
}

export function hideForm(formId) {
  $(formId).hidden = true;
  document.querySelector(`[aria-controls="${formId}"]`)?.setAttribute('aria-expanded', 'false');
}

// A form's button toggles it open and closed.
export function toggleForm(formId, open) {
  return () => ($(formId).hidden ? open() : hideForm(formId));
}

export function wireForms() {
  for (const button of document.querySelectorAll('[data-close-form]')) {
    button.addEventListener('click', () => hideForm(button.dataset.closeForm));
  }
  // Escape also folds an open form away, as it closes the dialog.
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || $('confirm-dialog').open) return;
    const form = event.target.closest?.('form.form');
    if (form && form.id !== 'new-webhook-form' && form.id !== 'signin-form') hideForm(form.id);
  });
}
