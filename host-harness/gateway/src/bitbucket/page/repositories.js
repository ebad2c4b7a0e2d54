// Tab 3, Repositories: the workspace's repositories, filtered and sorted here,
// and one repository's source (source.js), branches and recent commits.

import { $, badge, el, fill, firstLine, fmtDate, guard, loading, markSelected, on, reveal, row, short, ticket, who } from './dom.js';
import { api, query, repoPath, showError } from './api.js';
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
  const branches = $('branch-list');
  const commits = $('commit-list');
  loading(branches, 3);
  loading(commits, 4);
  guard(source.openSource)();
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

export function signedOut() {
  detailOf = null;
  $('repo-detail').hidden = true;
  source.closeSource();
}

export function wire() {
  on('repo-filter', 'input', renderRepoList);
  on('repo-sort', 'change', renderRepoList);
  source.wire();
}
