// ATOM · Bitbucket page: the seed's eight tabs over the gateway's /bitbucket/* routes.
//
// Served under `Content-Security-Policy: default-src 'self'`, so everything is
// wired here (no inline handlers) and tenant data only ever reaches the page as
// text (textContent / createElement), never as markup.

const TABS = ['overview', 'workspaces', 'repositories', 'pull-requests', 'pipelines', 'issues', 'code-search', 'settings'];
const MOVING = new Set(['pending', 'running']);
const POLL_MS = 1500;
const RETIRED_ISSUES = 'Bitbucket has retired Issues for this repository';
const KIND_LABELS = { oauth2: 'OAuth 2.0', access_token: 'Access token', api_token: 'API token' };
// The gateway names each server-sent event by its Bitbucket event key, and an
// EventSource only hears names it listens for, so all known keys are listed.
const EVENT_KEYS = [
  'repo:push', 'repo:fork', 'repo:updated', 'repo:created', 'repo:deleted', 'repo:imported', 'repo:transfer',
  'repo:commit_comment_created', 'repo:commit_status_created', 'repo:commit_status_updated',
  'pullrequest:created', 'pullrequest:updated', 'pullrequest:push', 'pullrequest:approved', 'pullrequest:unapproved',
  'pullrequest:changes_request_created', 'pullrequest:changes_request_removed', 'pullrequest:fulfilled',
  'pullrequest:rejected', 'pullrequest:comment_created', 'pullrequest:comment_updated', 'pullrequest:comment_deleted',
  'pullrequest:comment_resolved', 'pullrequest:comment_reopened', 'issue:created', 'issue:updated',
  'issue:comment_created', 'project:updated', 'pipeline:span_created', 'event', 'message',
];

const state = {
  tenant: null,
  csrf: null, // only in memory: a reload reads it again from GET /v1/session
  tab: 'overview',
  ws: '',
  repo: '',
  workspaces: [],
  repos: [],
  reposReady: Promise.resolve(),
  health: null,
  healthRequest: null,
  branches: null, // { key, promise } for the selected repository
  prs: [],
  selectedPr: null,
  pipelines: [],
  selectedPipeline: null,
  follow: null, // the pipeline run being polled
  repoDetail: null,
  issuesGone: false,
  search: null,
  events: null,
};

// ------------------------------------------------------------------ DOM helpers

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
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

function badge(text, status, testid) {
  return el('span', { class: 'badge', 'data-status': status, 'data-testid': testid, text });
}

// One list row: an opening button (when it opens something), badges, a meta line.
function row({ testid, data = {}, title, onOpen, badges = [], meta = [], extra = [] }) {
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
function loading(list, rows = 3) {
  list.setAttribute('aria-busy', 'true');
  list.replaceChildren(...Array.from({ length: rows }, () => el('li', { class: 'skeleton', 'aria-hidden': 'true' })));
}

function fill(list, nodes, emptyText = 'Nothing here yet.') {
  list.removeAttribute('aria-busy');
  list.replaceChildren(...(nodes.length ? nodes : [el('li', { class: 'empty', text: emptyText })]));
}

function markSelected(list, key, value) {
  for (const li of list.children) li.classList.toggle('selected', li.dataset[key] === String(value));
}

// On one column the detail sits below a long list; bring it to the reader.
function reveal(detail) {
  if (window.matchMedia('(max-width: 899px)').matches) detail.scrollIntoView({ block: 'start' });
}

function fmtDate(value) {
  if (!value) return '';
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

function fmtDuration(seconds) {
  if (seconds == null) return '';
  const m = Math.floor(seconds / 60);
  return m ? `${m}m ${seconds % 60}s` : `${seconds}s`;
}

const pad = (n) => String(n).padStart(2, '0');
const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
const short = (hash) => (hash || '').slice(0, 7);
const who = (account) => account?.display_name || account?.nickname || '';
const firstLine = (text) => (text || '').split('\n')[0];

// Runs a handler so that nothing escapes as an uncaught error: failures become the banner.
// The handler starts synchronously, so preventDefault() and currentTarget still work.
function guard(fn) {
  return (...args) => {
    try {
      const result = fn(...args);
      if (result && typeof result.then === 'function') result.catch((error) => showError(error));
    } catch (error) {
      showError(error);
    }
  };
}

// Each loader takes a ticket; an answer whose ticket is no longer the latest
// (the person moved on) is dropped instead of overwriting newer data.
const tickets = new Map();
function ticket(name) {
  const n = (tickets.get(name) || 0) + 1;
  tickets.set(name, n);
  return () => tickets.get(name) === n;
}

// ------------------------------------------------------------------ the gateway

class ApiError extends Error {
  constructor(status, info, retryAfter) {
    super(info?.message || `HTTP ${status}`);
    this.status = status;
    this.info = info || {};
    this.retryAfter = retryAfter;
    this.handled = false;
  }
}

async function api(path, { method = 'GET', body, headers = {} } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (method !== 'GET') {
    // The gateway wants JSON and the session's CSRF token on anything that changes state.
    init.headers['Content-Type'] = 'application/json';
    if (state.csrf) init.headers['X-CSRF-Token'] = state.csrf;
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
    signedOut();
    setBanner('Your session has ended: sign in again.', 'auth_invalid');
  }
  throw error;
}

const enc = encodeURIComponent;

function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value != null && value !== '') q.set(key, String(value));
  const s = q.toString();
  return s ? `?${s}` : '';
}

const repoPath = (suffix = '') => `/bitbucket/repositories/${enc(state.ws)}/${enc(state.repo)}${suffix}`;

// ------------------------------------------------------------------ banners

function setBanner(text, code, { reconnect = false } = {}) {
  const banner = $('error-banner');
  banner.dataset.code = code || '';
  banner.replaceChildren(...[
    el('span', { class: 'banner-text', 'data-testid': 'error-message', text }),
    reconnect && ' ',
    reconnect && el('button', {
      type: 'button', class: 'link', 'data-testid': 'error-reconnect',
      on: { click: () => { activate('settings'); $('oauth-connect').focus(); } },
    }, 'Open Settings'),
    // The × is drawn by CSS, so the banner's text stays the message alone.
    el('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', on: { click: clearError } }),
  ].filter(Boolean));
  banner.hidden = false;
}

function clearError() {
  $('error-banner').hidden = true;
}

function showError(error, { retired = 'Bitbucket has retired this feature', signin = false } = {}) {
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

let noticeTimer = 0;
function notice(text) {
  const box = $('notice');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { box.hidden = true; }, 5000);
}

// A <dialog> rather than window.confirm: styled, keyboard-friendly, Escape cancels.
function confirmDialog(title, message, okLabel) {
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

// ------------------------------------------------------------------ session

async function boot() {
  wire();
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
  state.tenant = session.tenant;
  state.csrf = session.csrf_token;
  $('tenant-name').textContent = session.tenant;
  $('sign-out').hidden = false;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('intake-url').textContent = `${location.origin}/bitbucket/webhooks/${enc(session.tenant)}`;
  openEvents();
  refreshHealth();
  const wanted = readHash();
  // Until the pickers are filled, the hash's choice stands, so the URL keeps it.
  state.ws = wanted.ws;
  state.repo = wanted.repo;
  state.reposReady = loadWorkspaces(wanted.ws).then(() => loadRepos(wanted.repo));
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

function signedOut() {
  closeEvents();
  stopFollow();
  Object.assign(state, {
    tenant: null, csrf: null, workspaces: [], repos: [], health: null, branches: null,
    prs: [], selectedPr: null, pipelines: [], selectedPipeline: null, repoDetail: null, search: null,
  });
  // Nothing of the tenant stays on screen for whoever signs in next.
  for (const list of document.querySelectorAll('#app ul, #app select[id$="-select"]')) list.replaceChildren();
  for (const id of ['pr-detail', 'pipeline-detail', 'repo-detail']) $(id).hidden = true;
  $('step-log').textContent = '';
  showSignIn();
}

// ------------------------------------------------------------------ live events

function openEvents() {
  closeEvents();
  if (!('EventSource' in window)) return;
  const source = new EventSource('/bitbucket/events');
  // It reconnects by itself; a dropped stream is nothing to tell a person about.
  source.onerror = () => {};
  for (const key of EVENT_KEYS) source.addEventListener(key, onEvent);
  source.addEventListener('lagged', () => refreshQuietly(state.tab));
  state.events = source;
}

function closeEvents() {
  state.events?.close();
  state.events = null;
}

function onEvent(message) {
  let event;
  try { event = JSON.parse(message.data); } catch { return; }
  const here = `${state.ws}/${state.repo}`.toLowerCase();
  if (event.repository && String(event.repository).toLowerCase() !== here) return;
  const key = event.event_key || message.type;
  if (key === 'repo:push') state.branches = null;
  if (event.pipeline || key.startsWith('pipeline:') || key.startsWith('repo:commit_status')) {
    if (state.follow) pollNow();
    if (state.tab === 'pipelines') refreshQuietly('pipelines');
  } else if (key.startsWith('pullrequest:')) {
    if (state.tab === 'pull-requests') refreshQuietly('pull-requests');
    if (state.tab === 'overview') refreshQuietly('overview');
  } else if (key.startsWith('issue:') && state.tab === 'issues') {
    refreshQuietly('issues');
  }
}

// ------------------------------------------------------------------ hash and tabs

function readHash() {
  const raw = location.hash.slice(1);
  const at = raw.indexOf('?');
  const tab = at < 0 ? raw : raw.slice(0, at);
  const params = new URLSearchParams(at < 0 ? '' : raw.slice(at + 1));
  return { tab: TABS.includes(tab) ? tab : 'overview', ws: params.get('ws') || '', repo: params.get('repo') || '' };
}

// replaceState does not fire hashchange, so writing never loops back into reading.
function writeHash() {
  const params = new URLSearchParams();
  if (state.ws) params.set('ws', state.ws);
  if (state.repo) params.set('repo', state.repo);
  const s = params.toString();
  const hash = `#${state.tab}${s ? `?${s}` : ''}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

function onHashChange() {
  if (!state.tenant) return;
  const wanted = readHash();
  if (wanted.ws && wanted.ws !== state.ws) {
    selectWorkspace(wanted.ws, wanted.repo);
  } else if (wanted.repo && wanted.repo !== state.repo && state.repos.some((r) => r.slug === wanted.repo)) {
    setRepo(wanted.repo);
  }
  activate(wanted.tab);
}

function tabButtons() {
  return [...document.querySelectorAll('[role="tab"]')];
}

function activate(tab, { focus = false } = {}) {
  state.tab = tab;
  for (const button of tabButtons()) {
    const selected = button.dataset.tab === tab;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    if (selected && focus) button.focus();
    if (selected) button.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }
  for (const name of TABS) $(`tab-${name}`).hidden = name !== tab;
  writeHash();
  clearError();
  load(tab);
}

// The WAI-ARIA tabs pattern: arrows move (and select), Home/End jump.
function onTabKey(event) {
  const buttons = tabButtons();
  const at = buttons.indexOf(document.activeElement);
  if (at < 0) return;
  const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: buttons.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const next = (moves[event.key] + buttons.length) % buttons.length;
  activate(buttons[next].dataset.tab, { focus: true });
}

const LOADERS = {
  overview: loadOverview,
  workspaces: loadWorkspacesTab,
  repositories: loadRepositoriesTab,
  'pull-requests': loadPullRequests,
  pipelines: loadPipelines,
  issues: loadIssues,
  'code-search': loadSearchTab,
  settings: loadSettings,
};

function load(tab, options = {}) {
  guard(LOADERS[tab])(options);
}

function refreshQuietly(tab) {
  load(tab, { quiet: true });
}

// ------------------------------------------------------------------ pickers

async function loadWorkspaces(preferred) {
  const select = $('workspace-select');
  select.disabled = true;
  select.replaceChildren(el('option', { value: '', text: 'Loading…' }));
  try {
    const data = await api('/bitbucket/workspaces?all=true&size=100');
    state.workspaces = data.workspaces ?? [];
  } catch (error) {
    state.workspaces = [];
    showError(error);
  }
  select.replaceChildren(...state.workspaces.map((w) => el('option', { value: w.slug, text: `${w.name} (${w.slug})` })));
  if (!state.workspaces.length) select.append(el('option', { value: '', text: 'No workspaces' }));
  select.disabled = !state.workspaces.length;
  const found = state.workspaces.find((w) => w.slug === preferred);
  state.ws = found ? found.slug : (state.workspaces[0]?.slug ?? '');
  select.value = state.ws;
  writeHash();
}

async function loadRepos(preferred) {
  const still = ticket('repos');
  const select = $('repo-select');
  select.disabled = true;
  select.replaceChildren(el('option', { value: '', text: 'Loading…' }));
  let repos = [];
  if (state.ws) {
    try {
      repos = (await api(`/bitbucket/repositories${query({ workspace: state.ws, all: 'true', size: 100 })}`)).repositories ?? [];
    } catch (error) {
      if (still()) showError(error);
    }
  }
  if (!still()) return;
  state.repos = repos.slice().sort((a, b) => (a.name || a.slug).localeCompare(b.name || b.slug));
  select.replaceChildren(...state.repos.map((r) => el('option', { value: r.slug, text: r.name || r.slug })));
  if (!state.repos.length) select.append(el('option', { value: '', text: 'No repositories' }));
  select.disabled = !state.repos.length;
  const found = state.repos.find((r) => r.slug === preferred);
  setRepo(found ? found.slug : (state.repos[0]?.slug ?? ''));
}

function selectWorkspace(ws, preferredRepo = '') {
  state.ws = ws;
  $('workspace-select').value = ws;
  setRepo(preferredRepo);
  state.reposReady = loadRepos(preferredRepo);
  return state.reposReady;
}

// Changes the selected repository without reloading the tab; callers decide that.
function setRepo(slug) {
  if (slug !== state.repo) {
    state.branches = null;
    state.selectedPr = null;
    state.selectedPipeline = null;
    stopFollow();
    for (const id of ['pr-detail', 'pipeline-detail']) $(id).hidden = true;
    for (const id of ['new-pr-form', 'run-pipeline-form', 'new-issue-form']) hideForm(id);
  }
  state.repo = slug;
  if (slug) $('repo-select').value = slug;
  writeHash();
}

function onWorkspacePicked() {
  clearError();
  selectWorkspace($('workspace-select').value);
  load(state.tab);
}

function onRepoPicked() {
  clearError();
  setRepo($('repo-select').value);
  load(state.tab);
}

// Waits for the pickers, also when the workspace changed while waiting.
async function reposSettled() {
  let pending;
  do {
    pending = state.reposReady;
    await pending;
  } while (pending !== state.reposReady);
}

// Per-repository tabs say so when there is nothing to show them for.
function requireRepo(list) {
  if (state.repo) return true;
  fill(list, [], state.ws ? 'This workspace has no repositories.' : 'Choose a workspace first.');
  return false;
}

function getBranches() {
  const key = `${state.ws}/${state.repo}`;
  if (state.branches?.key !== key) {
    const promise = api(`${repoPath('/branches')}?all=true&size=100`).then((d) => d.branches ?? []);
    promise.catch(() => { if (state.branches?.promise === promise) state.branches = null; });
    state.branches = { key, promise };
  }
  return state.branches.promise;
}

function currentRepo() {
  return state.repos.find((r) => r.slug === state.repo);
}

// Fills branch selects; the defaults follow what a person usually wants.
async function fillBranchSelect(select, preferred) {
  select.replaceChildren(el('option', { value: '', text: 'Loading branches…' }));
  select.disabled = true;
  let branches = [];
  try {
    branches = await getBranches();
  } catch (error) {
    showError(error);
  }
  select.replaceChildren(...branches.map((b) => el('option', { value: b.name, text: b.name })));
  select.disabled = false;
  const names = branches.map((b) => b.name);
  const pick = preferred.find((name) => name && names.includes(name));
  if (pick) select.value = pick;
}

// ------------------------------------------------------------------ forms

function showForm(formId) {
  const form = $(formId);
  form.hidden = false;
  document.querySelector(`[aria-controls="${formId}"]`)?.setAttribute('aria-expanded', 'true');
  return form;
}

function hideForm(formId) {
  $(formId).hidden = true;
  document.querySelector(`[aria-controls="${formId}"]`)?.setAttribute('aria-expanded', 'false');
}

// Disables a form's submit while its request runs, so a double click sends once.
async function submitting(form, work) {
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

// ------------------------------------------------------------------ 1. overview

async function loadOverview({ quiet = false } = {}) {
  refreshHealth();
  if (!quiet) {
    loading($('overview-figures'), 4);
    loading($('recent-repos'), 3);
    loading($('recent-prs'), 3);
  }
  await reposSettled();
  renderRecentRepos();
  guard(loadRecentPrs)();
  await loadFigures();
}

function stat(testid, label, value, sub) {
  return el('li', { 'data-testid': testid },
    el('span', { class: 'value', text: value ?? '—' }),
    el('span', { class: 'label', text: label }),
    sub ? el('span', { class: 'meta muted', text: sub }) : null);
}

async function loadFigures() {
  const list = $('overview-figures');
  const still = ticket('figures');
  let summary = null;
  if (state.ws) {
    try {
      summary = (await api(`/bitbucket/analytics/summary${query({ workspace: state.ws })}`)).summary;
    } catch (error) {
      if (still()) showError(error);
    }
  }
  if (!still()) return;
  const p = summary?.pipelines;
  const rate = p?.success_rate != null ? `${Math.round(p.success_rate * 100)}% successful` : '';
  fill(list, [
    stat('stat-workspaces', 'Workspaces', state.workspaces.length),
    stat('stat-repositories', 'Repositories', summary?.repositories ?? state.repos.length),
    summary && stat('stat-open-prs', 'Open pull requests', summary.open_pull_requests, `${summary.merged_last_week} merged last week`),
    p && stat('stat-pipelines', 'Pipeline runs', p.runs,
      `${p.successful} successful · ${p.failed} failed · ${p.error} error · ${p.stopped} stopped · ${p.in_progress} running${rate ? ` · ${rate}` : ''}`),
    summary?.open_issues != null && stat('stat-open-issues', 'Open issues', summary.open_issues),
  ].filter(Boolean));
}

function renderRecentRepos() {
  const recent = state.repos.slice()
    .sort((a, b) => String(b.updated_on || '').localeCompare(String(a.updated_on || '')))
    .slice(0, 5);
  fill($('recent-repos'), recent.map((r) => row({
    testid: 'recent-repo-row',
    data: { slug: r.slug },
    title: r.name || r.slug,
    onOpen: () => { setRepo(r.slug); activate('repositories'); return openRepoDetail(r.slug); },
    meta: [r.language, r.updated_on && `updated ${fmtDate(r.updated_on)}`],
  })), state.ws ? 'No repositories.' : 'Choose a workspace.');
}

async function loadRecentPrs() {
  const list = $('recent-prs');
  if (!requireRepo(list)) return;
  const still = ticket('recent-prs');
  try {
    const prs = (await api(repoPath(`/pull-requests${query({ state: 'OPEN', size: 5 })}`))).pull_requests ?? [];
    if (!still()) return;
    fill(list, prs.slice(0, 5).map((pr) => row({
      testid: 'recent-pr-row',
      data: { id: pr.id },
      title: `#${pr.id} ${pr.title}`,
      onOpen: () => { state.selectedPr = pr.id; activate('pull-requests'); return openPr(pr.id); },
      meta: [who(pr.author), `${pr.source_branch} → ${pr.destination_branch}`],
    })), `No open pull requests in ${state.repo}.`);
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not load pull requests.');
    showError(error);
  }
}

function quickAction(tab, open) {
  activate(tab);
  guard(open)();
}

// ------------------------------------------------------------------ connection health

// Several tabs ask at once after sign-in; they share one request.
function refreshHealth() {
  state.healthRequest ??= fetchHealth().finally(() => { state.healthRequest = null; });
  return state.healthRequest;
}

async function fetchHealth() {
  let health;
  try {
    health = await api('/bitbucket/health');
  } catch (error) {
    if (!state.tenant) return;
    health = { status: 'error', error: error.info?.message };
    showError(error);
  }
  if (!state.tenant) return;
  state.health = health;
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

function setPill(connected) {
  const pill = $('connection-status');
  pill.dataset.state = connected ? 'connected' : 'disconnected';
  pill.textContent = connected ? 'Connected' : 'Disconnected';
}

// ------------------------------------------------------------------ 2. workspaces

async function loadWorkspacesTab({ quiet = false } = {}) {
  const list = $('workspace-list');
  if (!quiet) loading(list, 4);
  await reposSettled();
  fill(list, state.workspaces.map((w) => el('li', {
    'data-testid': 'workspace-row', 'data-slug': w.slug, class: w.slug === state.ws ? 'current' : '',
  },
  el('strong', { text: w.name }),
  el('code', { text: w.slug }),
  el('span', { class: 'actions' },
    w.administrator != null && badge(w.administrator ? 'Administrator' : 'Member', w.administrator ? 'approved' : 'other'),
    w.is_private != null && badge(w.is_private ? 'Private' : 'Public', 'other')),
  w.created_on && el('span', { class: 'muted', text: `Created ${fmtDate(w.created_on)}` }),
  el('button', {
    type: 'button', 'data-testid': 'workspace-open',
    on: { click: () => { selectWorkspace(w.slug); activate('repositories'); } },
  }, w.slug === state.ws ? 'Show repositories' : 'Use this workspace'),
  )), 'No workspaces: connect Bitbucket in Settings.');
}

// ------------------------------------------------------------------ 3. repositories

async function loadRepositoriesTab({ quiet = false } = {}) {
  if (!quiet) loading($('repo-list'), 5);
  await reposSettled();
  renderRepoList();
  // Keep the detail panel in step with the repository picker.
  if (state.repoDetail && state.repo && state.repoDetail !== `${state.ws}/${state.repo}`) openRepoDetail(state.repo);
  if (state.repoDetail && !state.repo) { $('repo-detail').hidden = true; state.repoDetail = null; }
}

function renderRepoList() {
  const list = $('repo-list');
  if (!requireRepo(list)) { $('repo-count').textContent = ''; return; }
  const needle = $('repo-filter').value.trim().toLowerCase();
  const byUpdated = $('repo-sort').value === 'updated';
  const shown = state.repos
    .filter((r) => !needle || [r.name, r.slug, r.description].some((s) => (s || '').toLowerCase().includes(needle)))
    .sort(byUpdated
      ? (a, b) => String(b.updated_on || '').localeCompare(String(a.updated_on || ''))
      : (a, b) => (a.name || a.slug).localeCompare(b.name || b.slug));
  $('repo-count').textContent = needle
    ? `${shown.length} of ${state.repos.length} repositories`
    : `${state.repos.length} repositories`;
  fill(list, shown.map((r) => row({
    testid: 'repo-row',
    data: { slug: r.slug },
    title: r.name || r.slug,
    onOpen: () => openRepoDetail(r.slug),
    badges: [badge(r.is_private ? 'Private' : 'Public', 'other')],
    meta: [r.description, r.language, r.updated_on && `updated ${fmtDate(r.updated_on)}`],
  })), 'No repository matches the filter.');
  if (state.repoDetail) markSelected(list, 'slug', state.repo);
}

async function openRepoDetail(slug) {
  setRepo(slug);
  state.repoDetail = `${state.ws}/${slug}`;
  markSelected($('repo-list'), 'slug', slug);
  const repo = currentRepo();
  $('repo-detail').hidden = false;
  reveal($('repo-detail'));
  $('repo-detail-title').textContent = repo?.full_name || `${state.ws}/${slug}`;
  $('repo-detail-meta').textContent = [
    repo?.description, repo?.main_branch && `main branch ${repo.main_branch}`, repo?.language,
  ].filter(Boolean).join(' · ');
  const branches = $('branch-list');
  const commits = $('commit-list');
  loading(branches, 3);
  loading(commits, 4);
  const still = ticket('repo-detail');
  const [b, c] = await Promise.allSettled([getBranches(), api(repoPath(`/commits${query({ size: 20 })}`))]);
  if (!still()) return;
  if (b.status === 'fulfilled') {
    fill(branches, b.value.map((branch) => row({
      testid: 'branch-row',
      data: { name: branch.name },
      title: branch.name,
      badges: [branch.name === repo?.main_branch && badge('main', 'open')],
      meta: [short(branch.target_hash), firstLine(branch.target_message), fmtDate(branch.target_date)],
    })), 'No branches.');
  } else {
    fill(branches, [], 'Could not load branches.');
    showError(b.reason);
  }
  if (c.status === 'fulfilled') {
    fill(commits, (c.value.commits ?? []).map((commit) => row({
      testid: 'commit-row',
      data: { hash: commit.hash },
      title: firstLine(commit.message),
      extra: [el('code', { text: short(commit.hash) })],
      meta: [who(commit.author) || commit.author_raw, fmtDate(commit.date)],
    })), 'No commits.');
  } else {
    fill(commits, [], 'Could not load commits.');
    showError(c.reason);
  }
}

// ------------------------------------------------------------------ 4. pull requests

async function loadPullRequests({ quiet = false } = {}) {
  const list = $('pr-list');
  if (!quiet) loading(list, 4);
  await reposSettled();
  if (!requireRepo(list)) return;
  const still = ticket('prs');
  const wanted = $('pr-state').value;
  try {
    const data = await api(repoPath(`/pull-requests${query({ state: wanted.toUpperCase(), size: 50 })}`));
    if (!still()) return;
    state.prs = data.pull_requests ?? [];
    renderPrList();
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not load pull requests.');
    showError(error);
  }
  if (state.selectedPr != null && $('pr-detail').hidden) openPr(state.selectedPr);
}

function renderPrList() {
  const list = $('pr-list');
  fill(list, state.prs.map((pr) => row({
    testid: 'pr-row',
    data: { id: pr.id },
    title: `#${pr.id} ${pr.title}`,
    onOpen: () => openPr(pr.id),
    badges: [badge(pr.state, pr.state, 'pr-state'), pr.draft && badge('draft', 'other')],
    meta: [who(pr.author), `${pr.source_branch} → ${pr.destination_branch}`,
      pr.updated_on && `updated ${fmtDate(pr.updated_on)}`, `${pr.comment_count ?? 0} comments`],
  })), `No ${$('pr-state').value} pull requests.`);
  markSelected(list, 'id', state.selectedPr);
}

async function openPr(id) {
  state.selectedPr = id;
  markSelected($('pr-list'), 'id', id);
  const detail = $('pr-detail');
  detail.hidden = false;
  reveal(detail);
  detail.setAttribute('aria-busy', 'true');
  detail.replaceChildren(...[1, 2, 3].map(() => el('div', { class: 'skeleton', 'aria-hidden': 'true' })));
  const still = ticket('pr-detail');
  try {
    const { pull_request: pr } = await api(repoPath(`/pull-requests/${enc(id)}`));
    if (still()) renderPrDetail(pr);
  } catch (error) {
    if (!still()) return;
    detail.removeAttribute('aria-busy');
    detail.replaceChildren(el('p', { class: 'muted', text: 'Could not load this pull request.' }));
    showError(error);
  }
}

function reviewBadge(p) {
  if (p.approved) return badge('Approved', 'approved', 'participant-status');
  if (p.state === 'changes_requested') return badge('Changes requested', 'changes_requested', 'participant-status');
  return badge('No review yet', 'other', 'participant-status');
}

function renderPrDetail(pr) {
  const detail = $('pr-detail');
  detail.removeAttribute('aria-busy');
  detail.dataset.id = String(pr.id);
  const participants = pr.participants ?? [];
  const approvals = participants.filter((p) => p.approved).length;
  const open = pr.state === 'open';
  const strategy = el('select', { name: 'strategy', 'data-testid': 'merge-strategy', 'aria-label': 'Merge strategy' },
    el('option', { value: 'merge_commit', text: 'Merge commit' }),
    el('option', { value: 'squash', text: 'Squash' }),
    el('option', { value: 'fast_forward', text: 'Fast forward' }));
  const action = (label, testid, kind, cls) => el('button', {
    type: 'button', class: cls, 'data-testid': testid, disabled: !open,
    on: { click: () => prAction(pr, kind, strategy.value) },
  }, label);
  detail.replaceChildren(...[
    el('h2', { 'data-testid': 'pr-title', tabindex: '-1' }, `#${pr.id} ${pr.title}`),
    el('p', {}, badge(pr.state, pr.state, 'pr-detail-state'), ' ', pr.draft ? badge('draft', 'other') : null),
    el('p', { class: 'muted', text: [
      who(pr.author) && `by ${who(pr.author)}`, `${pr.source_branch} → ${pr.destination_branch}`,
      pr.created_on && `opened ${fmtDate(pr.created_on)}`, pr.updated_on && `updated ${fmtDate(pr.updated_on)}`,
      `${pr.comment_count ?? 0} comments`,
    ].filter(Boolean).join(' · ') }),
    pr.reason ? el('p', { text: `Declined: ${pr.reason}` }) : null,
    pr.description ? el('p', { class: 'description', text: pr.description }) : null,
    el('h3', { 'data-testid': 'pr-approvals', text: `Participants · ${approvals} approval${approvals === 1 ? '' : 's'}` }),
    el('ul', { class: 'list compact participants', 'data-testid': 'participant-list' },
      participants.length
        ? participants.map((p) => el('li', { 'data-testid': 'participant-row' },
          el('span', { class: 'who', text: who(p.user) }),
          badge(p.role, 'other'),
          reviewBadge(p)))
        : el('li', { class: 'empty', text: 'No participants yet.' })),
    el('div', { class: 'actions' },
      action('Approve', 'pr-approve', 'approve'),
      action('Request changes', 'pr-request-changes', 'changes'),
      strategy,
      action('Merge', 'pr-merge', 'merge', 'primary'),
      action('Decline', 'pr-decline', 'decline', 'danger')),
  ].filter(Boolean));
  strategy.disabled = !open;
}

async function prAction(pr, kind, strategy) {
  clearError();
  const paths = { approve: '/approve', changes: '/request-changes', merge: '/merge', decline: '/decline' };
  if (kind === 'merge' && !await confirmDialog('Merge pull request?',
    `Merge #${pr.id} “${pr.title}” from ${pr.source_branch} into ${pr.destination_branch} (${strategy.replace(/_/g, ' ')}).`, 'Merge')) return;
  if (kind === 'decline' && !await confirmDialog('Decline pull request?',
    `Decline #${pr.id} “${pr.title}”? It cannot be reopened.`, 'Decline')) return;
  const buttons = $('pr-detail').querySelectorAll('.actions button');
  for (const b of buttons) b.disabled = true;
  try {
    await api(repoPath(`/pull-requests/${enc(pr.id)}${paths[kind]}`), {
      method: 'POST', body: kind === 'merge' ? { strategy } : {},
    });
    const done = { approve: 'approved', changes: 'marked as needing changes', merge: 'merged', decline: 'declined' };
    notice(`Pull request #${pr.id} ${done[kind]}.`);
  } catch (error) {
    showError(error);
  }
  await openPr(pr.id);
  // The buttons were redrawn; keep keyboard focus in the panel rather than on <body>.
  $('pr-detail').querySelector('h2')?.focus();
  refreshQuietly('pull-requests');
}

function needRepo() {
  if (state.repo) return true;
  setBanner('Choose a repository first.', 'validation');
  return false;
}

async function openNewPrForm() {
  if (!needRepo()) return;
  const form = showForm('new-pr-form');
  form.elements.title.focus();
  const main = currentRepo()?.main_branch || 'main';
  const branches = await getBranches().catch(() => []);
  const feature = branches.find((b) => b.name !== main)?.name;
  await Promise.all([
    fillBranchSelect(form.elements.source_branch, [feature, main]),
    fillBranchSelect(form.elements.destination_branch, [main]),
  ]);
}

async function createPr(event) {
  event.preventDefault();
  clearError();
  const form = event.currentTarget;
  const fields = form.elements;
  const body = { title: fields.title.value.trim(), source_branch: fields.source_branch.value };
  if (fields.destination_branch.value) body.destination_branch = fields.destination_branch.value;
  if (fields.description.value.trim()) body.description = fields.description.value;
  const reviewers = fields.reviewers.value.split(/[\s,]+/).filter(Boolean);
  if (reviewers.length) body.reviewers = reviewers;
  await submitting(form, async () => {
    const { pull_request: pr } = await api(repoPath('/pull-requests'), { method: 'POST', body });
    form.reset();
    hideForm('new-pr-form');
    notice(`Pull request #${pr.id} created.`);
    $('pr-state').value = 'open';
    state.selectedPr = pr.id;
    await loadPullRequests({ quiet: true });
    // A read cached just before the write could miss it; the answer is authoritative.
    if (!state.prs.some((p) => p.id === pr.id)) {
      state.prs.unshift(pr);
      renderPrList();
    }
    renderPrDetail(pr);
    $('pr-detail').hidden = false;
  });
}

// ------------------------------------------------------------------ 5. pipelines

async function loadPipelines({ quiet = false } = {}) {
  const list = $('pipeline-list');
  if (!quiet) loading(list, 5);
  await reposSettled();
  if (!requireRepo(list)) return;
  const still = ticket('pipelines');
  try {
    const data = await api(repoPath(`/pipelines${query({ sort: '-created_on', size: 30 })}`));
    if (!still()) return;
    const fresh = data.pipelines ?? [];
    // A run just triggered may not be in a cached listing yet; keep it on top.
    const kept = state.pipelines.filter((p) => p.justTriggered && !fresh.some((f) => f.uuid === p.uuid));
    state.pipelines = [...kept, ...fresh];
    renderPipelineList();
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not load pipelines.');
    showError(error);
  }
}

function renderPipelineList() {
  const list = $('pipeline-list');
  fill(list, state.pipelines.map((p) => row({
    testid: 'pipeline-row',
    data: { uuid: p.uuid, status: p.status },
    title: `#${p.build_number}`,
    onOpen: () => openPipeline(p.uuid),
    badges: [badge(p.status, p.status, 'pipeline-badge')],
    meta: [p.target?.ref_name, p.trigger, short(p.target?.commit_hash), fmtDate(p.created_on), fmtDuration(p.duration_seconds)],
  })), 'No pipeline runs yet.');
  markSelected(list, 'uuid', state.selectedPipeline);
}

function upsertPipeline(pipeline) {
  const at = state.pipelines.findIndex((p) => p.uuid === pipeline.uuid);
  if (at >= 0) state.pipelines[at] = { ...state.pipelines[at], ...pipeline };
  else state.pipelines.unshift(pipeline);
  renderPipelineList();
}

async function openPipeline(uuid, known) {
  stopFollow();
  state.selectedPipeline = uuid;
  markSelected($('pipeline-list'), 'uuid', uuid);
  $('pipeline-detail').hidden = false;
  reveal($('pipeline-detail'));
  $('step-log').hidden = true;
  $('step-log-title').hidden = true;
  const still = ticket('pipeline-detail');
  let pipeline = known;
  if (!pipeline) {
    loading($('step-list'), 2);
    try {
      pipeline = (await api(repoPath(`/pipelines/${enc(uuid)}`))).pipeline;
    } catch (error) {
      if (still()) { fill($('step-list'), [], 'Could not load this run.'); showError(error); }
      return;
    }
    if (!still()) return;
  }
  renderPipelineHeader(pipeline);
  loadSteps(pipeline);
  if (MOVING.has(pipeline.status)) follow(pipeline);
}

function renderPipelineHeader(p) {
  $('pipeline-detail').dataset.uuid = p.uuid;
  $('pipeline-detail-title').textContent = `Pipeline #${p.build_number}`;
  const status = $('pipeline-status');
  status.dataset.status = p.status;
  status.textContent = p.status;
  $('pipeline-stop').hidden = !(MOVING.has(p.status) || p.status === 'paused');
  $('pipeline-detail-meta').textContent = [
    p.target?.ref_name && `on ${p.target.ref_name}`, p.trigger, short(p.target?.commit_hash),
    who(p.creator) && `by ${who(p.creator)}`, fmtDate(p.created_on),
    p.duration_seconds != null && `took ${fmtDuration(p.duration_seconds)}`,
    p.state_name, p.result_name,
  ].filter(Boolean).join(' · ');
}

// Follows a moving run every POLL_MS until it settles; server-sent events only hurry it.
function follow(pipeline) {
  stopFollow();
  const run = { uuid: pipeline.uuid, status: pipeline.status, timer: 0 };
  state.follow = run;
  const tick = async () => {
    // An event can ask while a poll is already out; one request at a time is enough.
    if (state.follow !== run || run.busy) return;
    run.busy = true;
    clearTimeout(run.timer);
    try {
      // A moving run must be read fresh, not from the gateway's short read cache.
      const p = (await api(repoPath(`/pipelines/${enc(run.uuid)}`), { headers: { 'Cache-Control': 'no-cache' } })).pipeline;
      if (state.follow !== run) return;
      if (!p) throw new ApiError(0, { code: 'internal', message: 'The gateway answered without the pipeline.' });
      renderPipelineHeader(p);
      upsertPipeline(p);
      if (p.status !== run.status) loadSteps(p, { quiet: true });
      run.status = p.status;
      if (MOVING.has(p.status)) {
        run.timer = setTimeout(tick, POLL_MS);
      } else {
        state.follow = null;
        notice(`Pipeline #${p.build_number} ${p.status}.`);
      }
    } catch (error) {
      if (state.follow !== run) return;
      showError(error);
      run.timer = setTimeout(tick, POLL_MS * 4); // keep following, more gently
    } finally {
      run.busy = false;
    }
  };
  run.tick = tick;
  run.timer = setTimeout(tick, POLL_MS);
}

function pollNow() {
  const run = state.follow;
  if (!run) return;
  run.tick();
}

function stopFollow() {
  if (state.follow) clearTimeout(state.follow.timer);
  state.follow = null;
}

async function loadSteps(pipeline, { quiet = false } = {}) {
  const list = $('step-list');
  if (!quiet) loading(list, 2);
  const still = ticket('steps');
  try {
    const steps = (await api(repoPath(`/pipelines/${enc(pipeline.uuid)}/steps`))).steps ?? [];
    if (!still()) return;
    fill(list, steps.map((s) => row({
      testid: 'step-row',
      data: { uuid: s.uuid, status: s.status },
      title: s.name || 'Step',
      badges: [badge(s.status, s.status, 'step-status')],
      extra: [el('button', {
        type: 'button', class: 'ghost', 'data-testid': 'step-log-button',
        on: { click: () => loadLog(pipeline.uuid, s) },
      }, 'View log')],
      meta: [fmtDuration(s.duration_seconds), s.started_on && `started ${fmtDate(s.started_on)}`],
    })), MOVING.has(pipeline.status) ? 'Waiting for steps…' : 'No steps.');
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not load steps.');
    showError(error);
  }
}

async function loadLog(pipelineUuid, step) {
  const pre = $('step-log');
  $('step-log-title').hidden = false;
  $('step-log-title').textContent = `Log · ${step.name || 'step'}`;
  pre.hidden = false;
  pre.setAttribute('aria-busy', 'true');
  pre.textContent = 'Loading log…';
  const still = ticket('log');
  try {
    const { log } = await api(repoPath(`/pipelines/${enc(pipelineUuid)}/steps/${enc(step.uuid)}/log`));
    if (!still()) return;
    pre.textContent = log?.content || '(empty log)';
    pre.dataset.totalSize = String(log?.total_size ?? '');
  } catch (error) {
    if (!still()) return;
    pre.textContent = 'No log available.';
    showError(error);
  } finally {
    if (still()) pre.removeAttribute('aria-busy');
  }
}

async function stopPipeline() {
  const uuid = state.selectedPipeline;
  if (!uuid) return;
  clearError();
  try {
    const { pipeline } = await api(repoPath(`/pipelines/${enc(uuid)}/stop`), { method: 'POST', body: {} });
    notice('Stop requested.');
    renderPipelineHeader(pipeline);
    upsertPipeline(pipeline);
    if (MOVING.has(pipeline.status)) follow(pipeline); else stopFollow();
  } catch (error) {
    showError(error);
  }
}

function addVariableRow(key = '', value = '') {
  const line = el('div', { class: 'var-row', 'data-testid': 'variable-row' },
    el('input', { name: 'variable_key', placeholder: 'NAME', 'aria-label': 'Variable name', pattern: '[A-Za-z_][A-Za-z0-9_]*', value: key }),
    el('input', { name: 'variable_value', placeholder: 'value', 'aria-label': 'Variable value', value }));
  line.append(el('button', {
    type: 'button', class: 'ghost', 'data-testid': 'variable-remove', 'aria-label': 'Remove variable',
    on: { click: () => line.remove() },
  }, 'Remove'));
  $('variable-rows').append(line);
  line.querySelector('input').focus();
}

async function openRunForm() {
  if (!needRepo()) return;
  const form = showForm('run-pipeline-form');
  await fillBranchSelect(form.elements.branch, [currentRepo()?.main_branch, 'main']);
  form.elements.branch.focus();
}

async function triggerPipeline(event) {
  event.preventDefault();
  clearError();
  const form = event.currentTarget;
  const body = { branch: form.elements.branch.value };
  const variables = {};
  for (const line of $('variable-rows').querySelectorAll('[data-testid="variable-row"]')) {
    const key = line.querySelector('[name="variable_key"]').value.trim();
    if (key) variables[key] = line.querySelector('[name="variable_value"]').value;
  }
  if (Object.keys(variables).length) body.variables = variables;
  await submitting(form, async () => {
    const { pipeline } = await api(repoPath('/pipelines/trigger'), { method: 'POST', body });
    hideForm('run-pipeline-form');
    $('variable-rows').replaceChildren();
    notice(`Pipeline #${pipeline.build_number} started on ${body.branch}.`);
    upsertPipeline({ ...pipeline, justTriggered: true });
    await openPipeline(pipeline.uuid, pipeline);
  });
}

// ------------------------------------------------------------------ 6. issues

// Bitbucket is sunsetting its issue tracker: a 410, or a 404 about the tracker, means "gone here".
function trackerGone(error) {
  const { code, message = '' } = error?.info ?? {};
  return code === 'retired_upstream' || (code === 'not_found' && /tracker|disabled/i.test(message));
}

function setIssuesGone(gone, error) {
  state.issuesGone = gone;
  $('new-issue-button').disabled = gone;
  if (gone) {
    hideForm('new-issue-form');
    setBanner(`${RETIRED_ISSUES} — ${error?.info?.message || ''}`.replace(/ — $/, ''), error?.info?.code || 'retired_upstream');
  }
}

async function loadIssues({ quiet = false } = {}) {
  const list = $('issue-list');
  if (!quiet) loading(list, 4);
  await reposSettled();
  if (!requireRepo(list)) return;
  const still = ticket('issues');
  const params = {
    state: $('issue-state').value, kind: $('issue-kind').value, priority: $('issue-priority').value, size: 50,
  };
  try {
    const issues = (await api(repoPath(`/issues${query(params)}`))).issues ?? [];
    if (!still()) return;
    setIssuesGone(false);
    fill(list, issues.map((issue) => row({
      testid: 'issue-row',
      data: { id: issue.id },
      title: `#${issue.id} ${issue.title}`,
      badges: [badge(issue.state, issue.state, 'issue-state'), badge(issue.kind, 'other'), badge(issue.priority, issue.priority)],
      meta: [issue.assignee && `assigned to ${who(issue.assignee)}`, issue.reporter && `reported by ${who(issue.reporter)}`,
        `${issue.votes ?? 0} votes`, issue.updated_on && `updated ${fmtDate(issue.updated_on)}`],
    })), 'No issues match.');
  } catch (error) {
    if (!still()) return;
    if (trackerGone(error)) {
      setIssuesGone(true, error);
      fill(list, [], 'Issues are not available for this repository.');
    } else {
      fill(list, [], 'Could not load issues.');
      showError(error);
    }
  }
}

function openNewIssueForm() {
  if (state.issuesGone || !needRepo()) return;
  showForm('new-issue-form').elements.title.focus();
}

async function createIssue(event) {
  event.preventDefault();
  clearError();
  const form = event.currentTarget;
  const f = form.elements;
  const body = { title: f.title.value.trim(), kind: f.kind.value, priority: f.priority.value };
  if (f.content.value.trim()) body.content = f.content.value;
  if (f.assignee.value.trim()) body.assignee_account_id = f.assignee.value.trim();
  const button = form.querySelector('[type="submit"]');
  button.disabled = true;
  try {
    const { issue } = await api(repoPath('/issues'), { method: 'POST', body });
    form.reset();
    hideForm('new-issue-form');
    notice(`Issue #${issue.id} created.`);
    await loadIssues({ quiet: true });
  } catch (error) {
    if (trackerGone(error)) setIssuesGone(true, error);
    else showError(error);
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------ 7. code search

async function loadSearchTab() {
  await reposSettled();
  $('search-ws').textContent = state.ws || '—';
}

function renderHit(hit) {
  return el('li', { class: 'hit', 'data-testid': 'search-hit', 'data-path': hit.path },
    el('span', { class: 'repo', 'data-testid': 'search-hit-repo', text: hit.repository || state.search?.ws || '' }),
    el('span', { class: 'path', 'data-testid': 'search-hit-path', text: hit.path }),
    el('span', { class: 'meta', text: `${hit.match_count} match${hit.match_count === 1 ? '' : 'es'}` }),
    el('ul', { class: 'lines' }, (hit.lines ?? []).map((line) => el('li', {},
      el('span', { class: 'ln', text: line.line }),
      // Matches become <mark> elements around text nodes, so file content stays text.
      el('span', { class: 'code' }, (line.segments ?? []).map((s) => (s.is_match ? el('mark', { text: s.text }) : s.text))))),
    ));
}

async function searchCode(event) {
  event.preventDefault();
  clearError();
  const text = $('search-query').value.trim();
  if (!text || !state.ws) return;
  state.search = { query: text, ws: state.ws, cursor: null, shown: 0 };
  loading($('search-results'), 3);
  $('search-more').hidden = true;
  $('search-summary').textContent = '';
  await searchPage(false);
}

async function searchPage(append) {
  const search = state.search;
  if (!search) return;
  const list = $('search-results');
  const more = $('search-more');
  more.disabled = true;
  const still = ticket('search');
  try {
    const data = await api(`/bitbucket/search/code${query({
      workspace: search.ws, query: search.query, size: 20, cursor: append ? search.cursor : null,
    })}`);
    if (!still() || state.search !== search) return;
    const hits = (data.results ?? []).map(renderHit);
    if (append) list.append(...hits); else fill(list, hits, `Nothing found for “${search.query}”.`);
    search.shown += hits.length;
    search.cursor = data.next_cursor ?? null;
    more.hidden = !search.cursor;
    $('search-summary').textContent = `${search.shown} file${search.shown === 1 ? '' : 's'} in ${search.ws}${search.cursor ? ', more available' : ''}.`;
  } catch (error) {
    if (!still()) return;
    if (!append) fill(list, [], 'The search failed.');
    showError(error);
  } finally {
    more.disabled = false;
  }
}

// ------------------------------------------------------------------ 8. settings

async function loadSettings({ quiet = false } = {}) {
  refreshHealth();
  await reposSettled();
  $('webhook-repo').textContent = state.repo ? `${state.ws}/${state.repo}` : 'no repository';
  await loadWebhooks({ quiet });
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
  const button = $('oauth-connect');
  button.disabled = true;
  try {
    const { authorization_url: url } = await api('/bitbucket/oauth/start');
    // Only a web address may take the page away; anything else is a broken answer.
    if (!/^https?:\/\//i.test(url || '')) throw new ApiError(0, { code: 'internal', message: 'The gateway gave no authorization URL.' });
    window.location.assign(url);
  } finally {
    button.disabled = false;
  }
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

// ------------------------------------------------------------------ wiring

function on(id, type, fn) {
  $(id).addEventListener(type, guard(fn));
}

function wire() {
  on('signin-form', 'submit', signIn);
  on('sign-out', 'click', signOut);
  on('workspace-select', 'change', onWorkspacePicked);
  on('repo-select', 'change', onRepoPicked);
  window.addEventListener('hashchange', guard(onHashChange));

  const tablist = document.querySelector('[role="tablist"]');
  for (const button of tabButtons()) {
    button.tabIndex = -1;
    button.setAttribute('aria-selected', 'false');
    button.addEventListener('click', guard(() => activate(button.dataset.tab)));
  }
  tablist.addEventListener('keydown', onTabKey);

  on('qa-new-pr', 'click', () => quickAction('pull-requests', openNewPrForm));
  on('qa-run-pipeline', 'click', () => quickAction('pipelines', openRunForm));
  on('qa-new-issue', 'click', () => quickAction('issues', openNewIssueForm));

  on('repo-filter', 'input', renderRepoList);
  on('repo-sort', 'change', renderRepoList);

  on('pr-state', 'change', () => { state.selectedPr = null; $('pr-detail').hidden = true; return loadPullRequests(); });
  on('new-pr-button', 'click', () => ($('new-pr-form').hidden ? openNewPrForm() : hideForm('new-pr-form')));
  on('new-pr-form', 'submit', createPr);

  on('run-pipeline-button', 'click', () => ($('run-pipeline-form').hidden ? openRunForm() : hideForm('run-pipeline-form')));
  on('pipelines-refresh', 'click', () => loadPipelines());
  on('variable-add', 'click', () => addVariableRow());
  on('run-pipeline-form', 'submit', triggerPipeline);
  on('pipeline-stop', 'click', stopPipeline);

  for (const id of ['issue-state', 'issue-kind', 'issue-priority']) on(id, 'change', () => loadIssues());
  on('new-issue-button', 'click', () => ($('new-issue-form').hidden ? openNewIssueForm() : hideForm('new-issue-form')));
  on('new-issue-form', 'submit', createIssue);

  on('code-search-form', 'submit', searchCode);
  on('search-more', 'click', () => searchPage(true));

  on('oauth-connect', 'click', connectBitbucket);
  on('copy-intake', 'click', copyIntake);
  on('new-webhook-form', 'submit', createWebhook);

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

boot().catch((error) => showError(error));
