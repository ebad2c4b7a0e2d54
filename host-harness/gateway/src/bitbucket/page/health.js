// The Bitbucket connection as the gateway reports it: the top bar's pill and
// the facts Overview and Settings both show.

import { $, badge, fmtDate, who } from './dom.js';
import { ApiError, api, showError } from './api.js';
import { tenant } from './state.js';

const KIND_LABELS = { oauth2: 'OAuth 2.0', access_token: 'Access token', api_token: 'API token' };

let request = null;

// Several tabs ask at once after sign-in; they share one request.
export function refreshHealth() {
  request ??= fetchHealth().finally(() => { request = null; });
  return request;
}

async function fetchHealth() {
  let health;
  try {
    health = await api('/bitbucket/health');
  } catch (error) {
    if (!tenant()) return;
    health = { status: 'error', error: error.info?.message };
    showError(error);
  }
  if (!tenant()) return;
  renderHealth(health);
}

function renderHealth(health) {
  const report = health.report || {};
  const healthy = health.status === 'healthy';
  setPill(healthy);
  const status = () => badge(healthy ? 'Connected' : (health.error || health.status || 'Unknown'), health.status);
  const kind = report.credential_kind ? `${KIND_LABELS[report.credential_kind] || report.credential_kind} (${report.credential_kind})` : 'None';
  const user = health.user || who(report.account) || '—';
  $('ov-status').replaceChildren(status());
  $('ov-user').textContent = user;
  $('ov-kind').textContent = kind;
  $('set-status').replaceChildren(status());
  $('set-user').textContent = user;
  $('set-kind').textContent = kind;
  $('set-kind').dataset.kind = report.credential_kind || '';
  $('set-scopes').textContent = report.scopes?.length ? report.scopes.join(', ') : 'None reported';
  $('set-expiry').textContent = report.expires_at ? fmtDate(report.expires_at) : 'No expiry reported';
  $('oauth-connect').textContent = healthy ? 'Reconnect' : 'Connect with Bitbucket';
  // A typed failure of the health call itself (e.g. auth_expired) deserves the banner's advice.
  if (health.status === 'error' && health.code) {
    showError(new ApiError(0, { code: health.code, message: health.error }));
  }
}

export function setPill(connected) {
  const pill = $('connection-status');
  pill.dataset.state = connected ? 'connected' : 'disconnected';
  pill.textContent = connected ? 'Connected' : 'Disconnected';
}
