// Tab 8, Settings: the Bitbucket connection, the webhook intake URL, and the
// repository's webhooks with a form offering every event the component publishes.

import { $, badge, confirmDialog, el, fill, fmtDate, guard, loading, notice, on, row, ticket } from './dom.js';
import { ApiError, api, clearError, enc, repoPath, setBanner, showError, submitting } from './api.js';
import { webhookEvents } from './catalog.js';
import { refreshHealth } from './health.js';
import { activate, reposSettled, requireRepo } from './nav.js';
import * as state from './state.js';

export const name = 'settings';

// The form's starting choice, not a catalogue fact: offered only if published.
const DEFAULT_EVENT = 'repo:push';

export async function load({ quiet = false } = {}) {
  refreshHealth();
  await reposSettled();
  $('webhook-repo').textContent = state.repo() ? `${state.ws()}/${state.repo()}` : 'no repository';
  await loadWebhooks({ quiet });
}

export function signedIn(tenant) {
  $('intake-url').textContent = `${location.origin}/bitbucket/webhooks/${enc(tenant)}`;
  guard(offerEvents)();
  oauthReturn();
}

// Words for the codes the OAuth callback sends the browser back with.
const OAUTH_ERRORS = {
  permission_denied: 'Bitbucket did not grant access, or this browser did not start that login. Connect again from here.',
  validation: 'That login link expired or was already used. Connect again from here.',
};

// The OAuth callback sends the browser back here with how it went, once.
function oauthReturn() {
  const params = new URLSearchParams(location.search);
  const connected = params.get('oauth') === 'connected';
  const failed = params.get('oauth_error');
  if (!connected && !failed) return;
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  if (connected) {
    notice('Connected to Bitbucket.');
    oauthNote('Connected to Bitbucket.');
  } else {
    oauthNote(OAUTH_ERRORS[failed] ?? `Connecting to Bitbucket failed (${failed}). Connect again from here.`);
  }
}

// Beside the buttons, where the person is looking, not in a banner.
function oauthNote(text) {
  const note = $('oauth-note');
  note.textContent = text;
  note.hidden = !text;
}

async function offerEvents() {
  const keys = await webhookEvents();
  // `checked` as an attribute is the default form.reset() returns to.
  $('webhook-events').replaceChildren(...keys.map((key) => el('label', { class: 'check' },
    el('input', { type: 'checkbox', name: 'events', value: key, checked: key === DEFAULT_EVENT }), ` ${key}`)));
}

// The banner's way to a refused credential.
export function showConnect() {
  activate(name);
  $('oauth-connect').focus();
}

async function loadWebhooks({ quiet = false } = {}) {
  const list = $('webhook-list');
  if (!quiet) loading(list, 2);
  if (!requireRepo(list)) return;
  const still = ticket('webhooks');
  try {
    const hooks = (await api(repoPath('/webhooks'))).webhooks ?? [];
    if (!still()) return;
    fill(list, hooks.map((hook) => row({
      testid: 'webhook-row',
      data: { uuid: hook.uuid },
      title: hook.url,
      badges: [badge(hook.active ? 'active' : 'inactive', hook.active ? 'successful' : 'other'),
        hook.secret_set && badge('signed', 'other')],
      extra: [el('button', {
        type: 'button', class: 'ghost', 'data-testid': 'webhook-delete', 'aria-label': `Delete webhook ${hook.url}`,
        on: { click: () => deleteWebhook(hook) },
      }, 'Delete')],
      meta: [hook.description, (hook.events ?? []).join(', '), hook.created_at && `created ${fmtDate(hook.created_at)}`],
    })), 'No webhooks on this repository.');
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not load webhooks.');
    showError(error);
  }
}

async function createWebhook(event) {
  event.preventDefault();
  clearError();
  const form = event.currentTarget;
  const events = [...form.querySelectorAll('[name="events"]:checked')].map((box) => box.value);
  if (!events.length) {
    setBanner('Choose at least one event for the webhook.', 'validation');
    return;
  }
  const body = { url: form.elements.url.value.trim(), events };
  if (form.elements.secret.value) body.secret = form.elements.secret.value;
  await submitting(form, async () => {
    await api(repoPath('/webhooks'), { method: 'POST', body });
    form.reset();
    notice('Webhook added.');
    await loadWebhooks({ quiet: true });
  });
}

async function deleteWebhook(hook) {
  clearError();
  if (!await confirmDialog('Delete this webhook?', `Bitbucket stops sending events to ${hook.url}.`, 'Delete webhook')) return;
  try {
    // The uuid comes with braces: encode it as one path segment.
    await api(repoPath(`/webhooks/${enc(hook.uuid)}`), { method: 'DELETE', body: {} });
    notice('Webhook deleted.');
  } catch (error) {
    showError(error);
  }
  await loadWebhooks({ quiet: true });
}

async function connectBitbucket() {
  clearError();
  oauthNote('');
  const button = $('oauth-connect');
  button.disabled = true;
  let configured = true;
  try {
    const { authorization_url: url } = await api('/bitbucket/oauth/start');
    // Only a web address may take the page away; anything else is a broken answer.
    if (!/^https?:\/\//i.test(url || '')) throw new ApiError(0, { code: 'internal', message: 'The gateway gave no authorization URL.' });
    window.location.assign(url);
  } catch (error) {
    if (error.handled) return;
    // 409: this gateway has no OAuth client; its message says what to do instead.
    configured = error.status !== 409;
    oauthNote(error.info?.message || error.message);
  } finally {
    button.disabled = !configured;
  }
}

async function disconnect() {
  clearError();
  if (!await confirmDialog('Disconnect from Bitbucket?',
    'The gateway forgets this tenant\'s Bitbucket credential; nothing works until it connects again.', 'Disconnect')) return;
  try {
    await api('/bitbucket/oauth/connection', { method: 'DELETE', body: {} });
    oauthNote('Disconnected: the gateway holds no Bitbucket credential for this tenant.');
    notice('Disconnected from Bitbucket.');
  } catch (error) {
    showError(error);
  }
  refreshHealth();
}

async function copyIntake() {
  const text = $('intake-url').textContent;
  try {
    await navigator.clipboard.writeText(text);
    notice('Intake URL copied.');
  } catch {
    // No clipboard (e.g. plain HTTP on a non-local host): select it for a manual copy.
    const range = document.createRange();
    range.selectNodeContents($('intake-url'));
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    notice('Press Ctrl+C (⌘C) to copy the selected URL.');
  }
}

export function wire() {
  on('oauth-connect', 'click', connectBitbucket);
  on('oauth-disconnect', 'click', disconnect);
  on('copy-intake', 'click', copyIntake);
  on('new-webhook-form', 'submit', createWebhook);
}
