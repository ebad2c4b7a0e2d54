// The gateway: requests with the session's cookie and CSRF token, and the
// banner that turns its typed errors into sentences.

import { $, el, clock } from './dom.js';
import { ws, repo } from './state.js';

let csrf = null; // only in memory: a reload reads it again from GET /v1/session

// What the page does when the session ends under it, and when the banner's
// "Open Settings" is pressed; app.js supplies both (they live above this module).
const hooks = { sessionLost: () => {}, reconnect: () => {} };

export function configure({ onSessionLost, onReconnect }) {
  hooks.sessionLost = onSessionLost;
  hooks.reconnect = onReconnect;
}

export function useCsrf(token) {
  csrf = token ?? null;
}

export class ApiError extends Error {
  constructor(status, info, retryAfter) {
    super(info?.message || `HTTP ${status}`);
    this.status = status;
    this.info = info || {};
    this.retryAfter = retryAfter;
    this.handled = false;
  }
}

export async function api(path, { method = 'GET', body, headers = {} } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (method !== 'GET') {
    // The gateway wants JSON and the session's CSRF token on anything that changes state.
    init.headers['Content-Type'] = 'application/json';
    if (csrf) init.headers['X-CSRF-Token'] = csrf;
    init.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { code: 'network', message: 'The gateway could not be reached.' });
  }
  const text = await response.text().catch(() => '');
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (response.ok) return data ?? {};
  const info = data?.error ?? { code: 'internal', message: data?.detail || `HTTP ${response.status}` };
  const error = new ApiError(response.status, info, response.headers.get('Retry-After'));
  // The gateway's own 401 (no session) says WWW-Authenticate; Bitbucket refusing the
  // stored credential does not, and that one means "reconnect", not "sign in".
  const sessionGone = response.status === 401 && /bearer/i.test(response.headers.get('WWW-Authenticate') || '');
  if (sessionGone && !path.startsWith('/v1/session')) {
    error.handled = true;
    hooks.sessionLost();
    setBanner('Your session has ended: sign in again.', 'auth_invalid');
  }
  throw error;
}

export const enc = encodeURIComponent;

export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value != null && value !== '') q.set(key, String(value));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const repoPath = (suffix = '') => `/bitbucket/repositories/${enc(ws())}/${enc(repo())}${suffix}`;

export function setBanner(text, code, { reconnect = false } = {}) {
  const banner = $('error-banner');
  banner.dataset.code = code || '';
  banner.replaceChildren(...[
    el('span', { class: 'banner-text', 'data-testid': 'error-message', text }),
    reconnect && ' ',
    reconnect && el('button', {
      type: 'button', class: 'link', 'data-testid': 'error-reconnect', on: { click: () => hooks.reconnect() },
    }, 'Open Settings'),
    // The × is drawn by CSS, so the banner's text stays the message alone.
    el('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', on: { click: clearError } }),
  ].filter(Boolean));
  banner.hidden = false;
}

export function clearError() {
  $('error-banner').hidden = true;
}

export function showError(error, { retired = 'Bitbucket has retired this feature', signin = false } = {}) {
  if (error?.handled) return;
  const info = error instanceof ApiError ? error.info : { code: 'internal', message: String(error?.message ?? error) };
  const code = info.code || 'internal';
  const message = info.message || 'Something went wrong.';
  if (signin) return setBanner(`Sign-in failed: ${message}`, code);
  switch (code) {
    case 'auth_expired':
    case 'auth_invalid':
      return setBanner(`Reconnect needed: ${message}`, code, { reconnect: true });
    case 'rate_limited': {
      const header = error?.retryAfter != null ? Number(error.retryAfter) : NaN;
      const seconds = info.retry_after_seconds ?? header;
      return setBanner(Number.isFinite(seconds)
        ? `Rate-limited until ${clock(new Date(Date.now() + seconds * 1000))}`
        : `Rate-limited: ${message}`, code);
    }
    case 'not_found':
      return setBanner(`Not found: ${message}`, code);
    case 'retired_upstream':
      return setBanner(`${retired} — ${message}`, code);
    case 'outcome_unknown':
      return setBanner(`Not known whether this happened — check Bitbucket before trying again: ${message}`, code);
    default:
      return setBanner(message, code);
  }
}

// Disables a form's submit while its request runs, so a double click sends once.
export async function submitting(form, work) {
  const button = form.querySelector('[type="submit"]');
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}
