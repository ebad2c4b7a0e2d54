// Tab 1, Overview: the connection, quick actions, the delivery dashboard
// (insights.js), the workspace's figures, recent repositories and open pull
// requests.

import { $, el, fill, fmtDate, guard, loading, on, row, ticket, who } from './dom.js';
import { api, query, repoPath, showError } from './api.js';
import { refreshHealth } from './health.js';
import { activate, reposSettled, requireRepo, setRepo } from './nav.js';
import { openRunForm } from './pipelines.js';
import { openNewIssueForm } from './issues.js';
import { openPr, openNewPrForm } from './pull-requests.js';
import { openRepoDetail } from './repositories.js';
import * as insights from './insights.js';
import * as state from './state.js';

export const name = 'overview';

export async function load({ quiet = false } = {}) {
  refreshHealth();
  if (!quiet) {
    loading($('overview-figures'), 4);
    loading($('recent-repos'), 3);
    loading($('recent-prs'), 3);
  }
  await reposSettled();
  renderRecentRepos();
  guard(loadRecentPrs)();
  // The dashboard fans out upstream; a quiet refresh keeps what it shows.
  if (!quiet) guard(insights.load)();
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
  if (state.ws()) {
    try {
      summary = (await api(`/bitbucket/analytics/summary${query({ workspace: state.ws() })}`)).summary;
    } catch (error) {
      if (still()) showError(error);
    }
  }
  if (!still()) return;
  const p = summary?.pipelines;
  const rate = p?.success_rate != null ? `${Math.round(p.success_rate * 100)}% successful` : '';
  fill(list, [
    stat('stat-workspaces', 'Workspaces', state.workspaces().length),
    stat('stat-repositories', 'Repositories', summary?.repositories ?? state.repos().length),
    summary && stat('stat-open-prs', 'Open pull requests', summary.open_pull_requests, `${summary.merged_last_week} merged last week`),
    p && stat('stat-pipelines', 'Pipeline runs', p.runs,
      `${p.successful} successful · ${p.failed} failed · ${p.error} error · ${p.stopped} stopped · ${p.in_progress} running${rate ? ` · ${rate}` : ''}`),
    summary?.open_issues != null && stat('stat-open-issues', 'Open issues', summary.open_issues),
  ].filter(Boolean));
}

function renderRecentRepos() {
  const recent = state.repos().slice()
    .sort((a, b) => String(b.updated_on || '').localeCompare(String(a.updated_on || '')))
    .slice(0, 5);
  fill($('recent-repos'), recent.map((r) => row({
    testid: 'recent-repo-row',
    data: { slug: r.slug },
    title: r.name || r.slug,
    onOpen: () => { setRepo(r.slug); activate('repositories'); return openRepoDetail(r.slug); },
    meta: [r.language, r.updated_on && `updated ${fmtDate(r.updated_on)}`],
  })), state.ws() ? 'No repositories.' : 'Choose a workspace.');
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
      onOpen: () => { activate('pull-requests'); return openPr(pr.id); },
      meta: [who(pr.author), `${pr.source_branch} → ${pr.destination_branch}`],
    })), `No open pull requests in ${state.repo()}.`);
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

export function wire() {
  on('qa-new-pr', 'click', () => quickAction('pull-requests', openNewPrForm));
  on('qa-run-pipeline', 'click', () => quickAction('pipelines', openRunForm));
  on('qa-new-issue', 'click', () => quickAction('issues', openNewIssueForm));
  insights.wire();
}
