// Signing in and out: the API key is traded for a session cookie (and a CSRF
// token kept only in memory); nothing of the tenant outlives signing out.

import { $, guard, on } from './dom.js';
import { api, clearError, showError, useCsrf } from './api.js';
import { closeEvents, openEvents } from './events.js';
import { setPill, refreshHealth } from './health.js';
import { activate, everyTab, loadRepos, loadWorkspaces, readHash } from './nav.js';
import * as state from './state.js';

export async function boot() {
  try {
    // No session answers {tenant: null}, not an error: nothing to log on a first visit.
    const session = await api('/v1/session');
    if (!session.tenant) return showSignIn();
    await signedIn(session);
  } catch (error) {
    showSignIn();
    if (error.status !== 401) showError(error);
  }
}

function showSignIn() {
  $('signin').hidden = false;
  $('app').hidden = true;
  $('sign-out').hidden = true;
  $('tenant-name').textContent = '';
  setPill(false);
  $('api-key').focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = $('api-key');
  const key = input.value.trim();
  input.value = ''; // the key is traded for a cookie and not kept anywhere
  if (!key) return;
  const button = $('signin-submit');
  button.disabled = true;
  try {
    const session = await api('/v1/session', { method: 'POST', headers: { Authorization: `Bearer ${key}` }, body: {} });
    clearError();
    await signedIn(session);
  } catch (error) {
    showError(error, { signin: true });
  } finally {
    button.disabled = false;
  }
}

async function signedIn(session) {
  state.setTenant(session.tenant);
  useCsrf(session.csrf_token);
  $('tenant-name').textContent = session.tenant;
  $('sign-out').hidden = false;
  $('signin').hidden = true;
  $('app').hidden = false;
  for (const tab of everyTab()) tab.signedIn?.(session.tenant);
  guard(openEvents)();
  refreshHealth();
  const wanted = readHash();
  // Until the pickers are filled, the hash's choice stands, so the URL keeps it.
  state.setWorkspace(wanted.ws);
  state.setRepo(wanted.repo);
  state.setReposReady(loadWorkspaces(wanted.ws).then(() => loadRepos(wanted.repo)));
  activate(wanted.tab);
}

async function signOut() {
  try {
    await api('/v1/session', { method: 'DELETE', body: {} });
  } catch (error) {
    if (error.status !== 401) showError(error);
  }
  signedOut();
}

export function signedOut() {
  closeEvents();
  useCsrf(null);
  state.forgetTenant();
  for (const tab of everyTab()) tab.signedOut?.();
  // Nothing of the tenant stays on screen for whoever signs in next.
  for (const list of document.querySelectorAll('#app ul, #app select[id$="-select"]')) list.replaceChildren();
  showSignIn();
}

export function wire() {
  on('signin-form', 'submit', signIn);
  on('sign-out', 'click', signOut);
}

