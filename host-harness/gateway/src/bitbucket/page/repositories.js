// Tab 3, Repositories: the workspace's repositories, filtered and sorted here,
// and one repository's source (source.js), branches and tags (made and
// deleted here) and recent commits.

import {
  $, badge, confirmDialog, el, fill, firstLine, fmtDate, guard, loading, markSelected, notice, on, reveal, row, short,
  ticket, who,
} from './dom.js';
import { api, clearError, enc, query, repoPath, showError, submitting } from './api.js';
import { getBranches, reposSettled, requireRepo, setRepo } from './nav.js';
import * as source from './source.js';
import * as state from './state.js';

export const name = 'repositories';

let detailOf = null; // `ws/slug` whose detail is open

export async function load({ quiet = false } = {}) {
  if (!quiet) loading($('repo-list'), 5);
  await reposSettled();
  renderRepoList();
  // Keep the detail panel in step with the repository picker.
  const here = `${state.ws()}/${state.repo()}`;
  if (detailOf && state.repo() && detailOf !== here) openRepoDetail(state.repo());
  if (detailOf && !state.repo()) { $('repo-detail').hidden = true; detailOf = null; }
}

function renderRepoList() {
  const list = $('repo-list');
  if (!requireRepo(list)) { $('repo-count').textContent = ''; return; }
  const all = state.repos();
  const needle = $('repo-filter').value.trim().toLowerCase();
  const byUpdated = $('repo-sort').value === 'updated';
  const shown = all
    .filter((r) => !needle || [r.name, r.slug, r.description].some((s) => (s || '').toLowerCase().includes(needle)))
    .sort(byUpdated
      ? (a, b) => String(b.updated_on || '').localeCompare(String(a.updated_on || ''))
      : (a, b) => (a.name || a.slug).localeCompare(b.name || b.slug));
  $('repo-count').textContent = needle
    ? `${shown.length} of ${all.length} repositories`
    : `${all.length} repositories`;
  fill(list, shown.map((r) => row({
    testid: 'repo-row',
    data: { slug: r.slug },
    title: r.name || r.slug,
    onOpen: () => openRepoDetail(r.slug),
    badges: [badge(r.is_private ? 'Private' : 'Public', 'other')],
    meta: [r.description, r.language, r.updated_on && `updated ${fmtDate(r.updated_on)}`],
  })), 'No repository matches the filter.');
  if (detailOf) markSelected(list, 'slug', state.repo());
}

export async function openRepoDetail(slug) {
  setRepo(slug);
  detailOf = `${state.ws()}/${slug}`;
  markSelected($('repo-list'), 'slug', slug);
  const repo = state.currentRepo();
  $('repo-detail').hidden = false;
  reveal($('repo-detail'));
  $('repo-detail-title').textContent = repo?.full_name || `${state.ws()}/${slug}`;
  $('repo-detail-meta').textContent = [
    repo?.description, repo?.main_branch && `main branch ${repo.main_branch}`, repo?.language,
  ].filter(Boolean).join(' · ');
  const commits = $('commit-list');
  loading(commits, 4);
  guard(source.openSource)();
  $('new-branch-form').elements.target.value = repo?.main_branch || '';
  const still = ticket('repo-detail');
  const [, , c] = await Promise.allSettled([
    loadBranches(), loadTags(), api(repoPath(`/commits${query({ size: 20 })}`)),
  ]);
  if (!still()) return;
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

// A delete button for a branch or tag row.
function deleteButton(kind, refName, onClick) {
  return el('button', {
    type: 'button', class: 'ghost', 'data-testid': `${kind}-delete`, 'aria-label': `Delete ${kind} ${refName}`,
    on: { click: guard(onClick) },
  }, 'Delete');
}

async function loadBranches({ quiet = false } = {}) {
  const list = $('branch-list');
  if (!quiet) loading(list, 3);
  const main = state.currentRepo()?.main_branch;
  const still = ticket('branches');
  try {
    const branches = await getBranches();
    if (!still()) return;
    fill(list, branches.map((branch) => row({
      testid: 'branch-row',
      data: { name: branch.name },
      title: branch.name,
      badges: [branch.name === main && badge('main', 'open')],
      // Bitbucket refuses to delete the main branch: no button for it.
      extra: branch.name === main ? [] : [deleteButton('branch', branch.name, () => deleteRef('branch', branch.name))],
      meta: [short(branch.target_hash), firstLine(branch.target_message), fmtDate(branch.target_date)],
    })), 'No branches.');
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not load branches.');
    showError(error);
  }
}

async function loadTags({ quiet = false } = {}) {
  const list = $('tag-list');
  if (!quiet) loading(list, 2);
  const still = ticket('tags');
  try {
    const tags = (await api(repoPath(`/tags${query({ sort: '-name', size: 50 })}`))).tags ?? [];
    if (!still()) return;
    fill(list, tags.map((tag) => row({
      testid: 'tag-row',
      data: { name: tag.name },
      title: tag.name,
      badges: [tag.message && badge('annotated', 'other')],
      extra: [deleteButton('tag', tag.name, () => deleteRef('tag', tag.name))],
      meta: [short(tag.target_hash), firstLine(tag.message || tag.target_message), fmtDate(tag.date || tag.target_date)],
    })), 'No tags.');
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not load tags.');
    showError(error);
  }
}

// Branches and tags are made the same way: a name and where it starts.
async function createRef(kind, event) {
  event.preventDefault();
  clearError();
  const form = event.currentTarget;
  const body = { name: form.elements.name.value.trim(), target: form.elements.target.value.trim() };
  if (form.elements.message?.value.trim()) body.message = form.elements.message.value.trim();
  await submitting(form, async () => {
    await api(repoPath(`/${kind === 'branch' ? 'branches' : 'tags'}`), { method: 'POST', body });
    form.elements.name.value = '';
    if (form.elements.message) form.elements.message.value = '';
    notice(`${kind === 'branch' ? 'Branch' : 'Tag'} ${body.name} created.`);
    await reloadRefs(kind);
  });
}

async function deleteRef(kind, refName) {
  clearError();
  const lost = kind === 'branch'
    ? 'Commits only on this branch become unreachable.'
    : 'A release or deployment may name this tag.';
  if (!await confirmDialog(`Delete ${kind} ${refName}?`, lost, `Delete ${kind}`)) return;
  try {
    // Names may hold `/`: one encoded path segment.
    await api(repoPath(`/${kind === 'branch' ? 'branches' : 'tags'}/${enc(refName)}`), { method: 'DELETE', body: {} });
    notice(`${kind === 'branch' ? 'Branch' : 'Tag'} ${refName} deleted.`);
  } catch (error) {
    showError(error);
  }
  await reloadRefs(kind);
}

async function reloadRefs(kind) {
  if (kind === 'tag') return loadTags({ quiet: true });
  // Every tab and form that offers branches asks again.
  state.forgetBranches();
  return loadBranches({ quiet: true });
}

export function signedOut() {
  detailOf = null;
  $('repo-detail').hidden = true;
  source.closeSource();
}

export function wire() {
  on('repo-filter', 'input', renderRepoList);
  on('repo-sort', 'change', renderRepoList);
  on('new-branch-form', 'submit', (event) => createRef('branch', event));
  on('new-tag-form', 'submit', (event) => createRef('tag', event));
  source.wire();
}
