// Where the person is: the tab, the workspace and repository pickers, and the
// URL hash that keeps them across reloads.

import { $, el, fill, guard, on, ticket } from './dom.js';
import { api, clearError, query, repoPath, setBanner, showError } from './api.js';
import * as state from './state.js';

// The tab modules by name (see app.js); each has `load` and may have
// `repoChanged` and `signedOut`.
let tabs = new Map();

export function useTabs(modules) {
  tabs = new Map(modules.map((module) => [module.name, module]));
}

export const everyTab = () => [...tabs.values()];

export function readHash() {
  const raw = location.hash.slice(1);
  const at = raw.indexOf('?');
  const tab = at < 0 ? raw : raw.slice(0, at);
  const params = new URLSearchParams(at < 0 ? '' : raw.slice(at + 1));
  return { tab: tabs.has(tab) ? tab : 'overview', ws: params.get('ws') || '', repo: params.get('repo') || '' };
}

// replaceState does not fire hashchange, so writing never loops back into reading.
function writeHash() {
  const params = new URLSearchParams();
  if (state.ws()) params.set('ws', state.ws());
  if (state.repo()) params.set('repo', state.repo());
  const s = params.toString();
  const hash = `#${state.tab()}${s ? `?${s}` : ''}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

function onHashChange() {
  if (!state.tenant()) return;
  const wanted = readHash();
  if (wanted.ws && wanted.ws !== state.ws()) {
    selectWorkspace(wanted.ws, wanted.repo);
  } else if (wanted.repo && wanted.repo !== state.repo() && state.repos().some((r) => r.slug === wanted.repo)) {
    setRepo(wanted.repo);
  }
  activate(wanted.tab);
}

function tabButtons() {
  return [...document.querySelectorAll('[role="tab"]')];
}

export function activate(tab, { focus = false } = {}) {
  state.setTab(tab);
  for (const button of tabButtons()) {
    const selected = button.dataset.tab === tab;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    if (selected && focus) button.focus();
    if (selected) button.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }
  for (const name of tabs.keys()) $(`tab-${name}`).hidden = name !== tab;
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

export function load(tab, options = {}) {
  guard(tabs.get(tab).load)(options);
}

export function refreshQuietly(tab) {
  load(tab, { quiet: true });
}

// ------------------------------------------------------------------ pickers

export async function loadWorkspaces(preferred) {
  const select = $('workspace-select');
  select.disabled = true;
  select.replaceChildren(el('option', { value: '', text: 'Loading…' }));
  let workspaces = [];
  try {
    workspaces = (await api('/bitbucket/workspaces?all=true&size=100')).workspaces ?? [];
  } catch (error) {
    showError(error);
  }
  state.setWorkspaces(workspaces);
  select.replaceChildren(...workspaces.map((w) => el('option', { value: w.slug, text: `${w.name} (${w.slug})` })));
  if (!workspaces.length) select.append(el('option', { value: '', text: 'No workspaces' }));
  select.disabled = !workspaces.length;
  const found = workspaces.find((w) => w.slug === preferred);
  state.setWorkspace(found ? found.slug : (workspaces[0]?.slug ?? ''));
  select.value = state.ws();
  writeHash();
}

export async function loadRepos(preferred) {
  const still = ticket('repos');
  const select = $('repo-select');
  select.disabled = true;
  select.replaceChildren(el('option', { value: '', text: 'Loading…' }));
  let repos = [];
  if (state.ws()) {
    try {
      repos = (await api(`/bitbucket/repositories${query({ workspace: state.ws(), all: 'true', size: 100 })}`)).repositories ?? [];
    } catch (error) {
      if (still()) showError(error);
    }
  }
  if (!still()) return;
  const sorted = repos.slice().sort((a, b) => (a.name || a.slug).localeCompare(b.name || b.slug));
  state.setRepos(sorted);
  select.replaceChildren(...sorted.map((r) => el('option', { value: r.slug, text: r.name || r.slug })));
  if (!sorted.length) select.append(el('option', { value: '', text: 'No repositories' }));
  select.disabled = !sorted.length;
  const found = sorted.find((r) => r.slug === preferred);
  setRepo(found ? found.slug : (latest(repos)?.slug ?? ''));
}

// With no choice yet, the repository that moved last: the first screen shows
// activity rather than whichever name sorts first.
function latest(repos) {
  const when = (r) => Date.parse(r.updated_on ?? '') || 0;
  return repos.reduce((best, r) => (best && when(best) >= when(r) ? best : r), null);
}

export function selectWorkspace(ws, preferredRepo = '') {
  state.setWorkspace(ws);
  $('workspace-select').value = ws;
  setRepo(preferredRepo);
  state.setReposReady(loadRepos(preferredRepo));
  return state.reposReady();
}

// Changes the selected repository without reloading the tab; callers decide that.
export function setRepo(slug) {
  if (slug !== state.repo()) for (const tab of tabs.values()) tab.repoChanged?.();
  state.setRepo(slug);
  if (slug) $('repo-select').value = slug;
  writeHash();
}

function onWorkspacePicked() {
  clearError();
  selectWorkspace($('workspace-select').value);
  load(state.tab());
}

function onRepoPicked() {
  clearError();
  setRepo($('repo-select').value);
  load(state.tab());
}

// Waits for the pickers, also when the workspace changed while waiting.
export async function reposSettled() {
  let pending;
  do {
    pending = state.reposReady();
    await pending;
  } while (pending !== state.reposReady());
}

// Per-repository tabs say so when there is nothing to show them for.
export function requireRepo(list) {
  if (state.repo()) return true;
  fill(list, [], state.ws() ? 'This workspace has no repositories.' : 'Choose a workspace first.');
  return false;
}

// Forms that act on a repository refuse to open without one.
export function needRepo() {
  if (state.repo()) return true;
  setBanner('Choose a repository first.', 'validation');
  return false;
}

export function getBranches() {
  return state.branches(() => api(`${repoPath('/branches')}?all=true&size=100`).then((d) => d.branches ?? []));
}

// Fills branch selects; the defaults follow what a person usually wants.
export async function fillBranchSelect(select, preferred) {
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

export function wire() {
  on('workspace-select', 'change', onWorkspacePicked);
  on('repo-select', 'change', onRepoPicked);
  window.addEventListener('hashchange', guard(onHashChange));
  for (const button of tabButtons()) {
    button.tabIndex = -1;
    button.setAttribute('aria-selected', 'false');
    button.addEventListener('click', guard(() => activate(button.dataset.tab)));
  }
  document.querySelector('[role="tablist"]').addEventListener('keydown', onTabKey);
}
