// Tab 4, Pull Requests: the list by state, one pull request's participants,
// actions and review (review.js), and the new pull request form.

import {
  $, badge, confirmDialog, el, fill, fmtDate, guard, hideForm, label, loading, markSelected, moreRow, notice, offer, on, reveal,
  row, showForm, ticket, toggleForm, who,
} from './dom.js';
import { api, clearError, enc, query, repoPath, showError, submitting } from './api.js';
import { choices } from './catalog.js';
import { fillBranchSelect, getBranches, needRepo, refreshQuietly, reposSettled, requireRepo } from './nav.js';
import { externalLink, fetchReview, showReview } from './review.js';
import { currentRepo } from './state.js';

export const name = 'pull-requests';

let prs = [];
let next = null; // the listing's cursor while Bitbucket has more
let selected = null; // the id whose detail is open (or about to be)
let strategies = []; // the merge strategies the component takes
// The state filter's options arriving; the list waits for them.
let ready = Promise.resolve();

export function signedIn() {
  ready = Promise.all([
    choices('list-pull-requests', 'states').then((states) => offer($('pr-state'), states, 'open')),
    choices('merge-pull-request', 'strategy').then((list) => { strategies = list; }),
  ]).catch(showError);
}

export async function load({ quiet = false } = {}) {
  const list = $('pr-list');
  if (!quiet) loading(list, 4);
  await Promise.all([reposSettled(), ready]);
  if (!requireRepo(list)) return;
  const still = ticket('prs');
  const wanted = $('pr-state').value;
  try {
    const data = await api(repoPath(`/pull-requests${query({ state: wanted.toUpperCase(), sort: '-created_on', size: 50 })}`));
    if (!still()) return;
    prs = data.pull_requests ?? [];
    next = data.next_cursor ?? null;
    renderPrList();
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not load pull requests.');
    showError(error);
  }
  if (selected != null && $('pr-detail').hidden) openPr(selected);
}

function renderPrList() {
  const list = $('pr-list');
  fill(list, prs.map((pr) => row({
    testid: 'pr-row',
    data: { id: pr.id },
    title: `#${pr.id} ${pr.title}`,
    onOpen: () => openPr(pr.id),
    badges: [badge(pr.state, pr.state, 'pr-state'), pr.draft && badge('draft', 'other')],
    meta: [who(pr.author), `${pr.source_branch} → ${pr.destination_branch}`,
      pr.updated_on && `updated ${fmtDate(pr.updated_on)}`, `${pr.comment_count ?? 0} comments`],
  })), `No ${$('pr-state').value} pull requests.`);
  if (next) moreRow(list, loadMore);
  markSelected(list, 'id', selected);
}

// The cursor carries the listing's state and order.
async function loadMore() {
  const from = next;
  try {
    const data = await api(repoPath(`/pull-requests${query({ cursor: from })}`));
    if (next !== from) return; // reloaded meanwhile
    prs = [...prs, ...(data.pull_requests ?? [])];
    next = data.next_cursor ?? null;
    renderPrList();
  } catch (error) {
    showError(error);
  }
}

export async function openPr(id) {
  selected = id;
  markSelected($('pr-list'), 'id', id);
  const detail = $('pr-detail');
  detail.hidden = false;
  reveal(detail);
  detail.setAttribute('aria-busy', 'true');
  detail.replaceChildren(...[1, 2, 3].map(() => el('div', { class: 'skeleton', 'aria-hidden': 'true' })));
  const still = ticket('pr-detail');
  // The review bundle is asked for at once, beside the pull request; if the
  // pull request fails, its failure is the one shown.
  const review = fetchReview(id);
  review.catch(() => {});
  try {
    const { pull_request: pr } = await api(repoPath(`/pull-requests/${enc(id)}`));
    if (still()) renderPrDetail(pr, review);
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

function renderPrDetail(pr, review = fetchReview(pr.id)) {
  const detail = $('pr-detail');
  detail.removeAttribute('aria-busy');
  detail.dataset.id = String(pr.id);
  const participants = pr.participants ?? [];
  const approvals = participants.filter((p) => p.approved).length;
  const open = pr.state === 'open';
  const webLink = externalLink(pr.web_url, 'Open on Bitbucket', 'pr-web-link');
  const reviewBox = el('section', { class: 'review', id: 'pr-review', 'data-testid': 'pr-review', 'aria-label': 'Review' });
  const waitBox = el('section', { class: 'merge-wait', 'data-testid': 'merge-wait', 'aria-label': 'Merge when green', hidden: true });
  const strategy = el('select', { name: 'strategy', 'data-testid': 'merge-strategy', 'aria-label': 'Merge strategy' },
    strategies.map((value) => el('option', { value, text: label(value) })));
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
    webLink && el('p', {}, webLink),
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
      action('Merge when green', 'pr-merge-when-green', 'when-green'),
      action('Decline', 'pr-decline', 'decline', 'danger')),
    waitBox,
    reviewBox,
  ].filter(Boolean));
  strategy.disabled = !open;
  guard(showWait)(waitBox, pr);
  guard(showReview)(reviewBox, pr.id, review);
}

// What a merge-when-green wait is held up by, in words.
const BLOCKERS = {
  no_build_yet: 'no build has reported yet',
  builds_running: 'a build is running',
  builds_missing: 'more successful builds are required',
  approvals_missing: 'more approvals are required',
  tasks_open: 'tasks are open',
  draft: 'it is a draft',
  build_failed: 'a build failed',
  changes_requested: 'changes were requested',
  closed: 'it was declined',
  merged_already: 'it was merged already',
};

function waitSummary(wait) {
  const why = (wait.blockers ?? []).map((b) => BLOCKERS[b] ?? b).join(', ');
  const checks = wait.last?.checks;
  const counts = checks ? ` · builds ${checks.builds_successful}/${checks.builds_required}, approvals ${checks.approvals}/${checks.approvals_required}` : '';
  const error = wait.last?.error?.message;
  switch (wait.state) {
    case 'waiting': return `Waiting to merge when green${why ? `: ${why}` : ''}${counts}. Gives up ${fmtDate(wait.deadline)}.`;
    case 'done': return 'Merged when green.';
    case 'ended': return `Merge when green ended: ${error || why || 'it will not become ready'}.`;
    case 'cancelled': return 'Merge when green was cancelled.';
    case 'expired': return 'Merge when green gave up: the deadline passed.';
    default: return wait.state;
  }
}

// The newest merge-when-green wait for this pull request, with Cancel while it waits.
async function showWait(box, pr) {
  const { waits = [] } = await api('/bitbucket/merge-waits');
  const here = repoPath().toLowerCase();
  const wait = waits.find((w) => w.pull_request_id === pr.id
    && `/bitbucket/repositories/${enc(w.workspace)}/${enc(w.repo_slug)}`.toLowerCase() === here);
  if (!wait) { box.hidden = true; return; }
  box.hidden = false;
  box.dataset.state = wait.state;
  box.replaceChildren(
    el('p', { 'data-testid': 'merge-wait-status', role: 'status', text: waitSummary(wait) }),
    wait.state === 'waiting' ? el('button', {
      type: 'button', 'data-testid': 'merge-wait-cancel',
      on: { click: () => cancelWait(pr, wait) },
    }, 'Cancel merge when green') : null,
  );
}

async function cancelWait(pr, wait) {
  clearError();
  try {
    await api(`/bitbucket/merge-waits/${enc(wait.id)}`, { method: 'DELETE' });
    notice(`Merge when green of #${pr.id} cancelled.`);
  } catch (error) {
    showError(error);
  }
  await openPr(pr.id);
}

async function prAction(pr, kind, strategy) {
  clearError();
  const paths = {
    approve: '/approve', changes: '/request-changes', merge: '/merge', 'when-green': '/merge-when-green', decline: '/decline',
  };
  if (kind === 'merge' && !await confirmDialog('Merge pull request?',
    `Merge #${pr.id} “${pr.title}” from ${pr.source_branch} into ${pr.destination_branch}${strategy ? ` (${strategy.replace(/_/g, ' ')})` : ''}.`, 'Merge')) return;
  if (kind === 'when-green' && !await confirmDialog('Merge when green?',
    `Merge #${pr.id} into ${pr.destination_branch} once its builds pass and it has the approvals its branch requires${strategy ? ` (${strategy.replace(/_/g, ' ')})` : ''}. A failed build or a change request ends the wait.`, 'Merge when green')) return;
  if (kind === 'decline' && !await confirmDialog('Decline pull request?',
    `Decline #${pr.id} “${pr.title}”? It cannot be reopened.`, 'Decline')) return;
  const buttons = $('pr-detail').querySelectorAll('.actions button');
  for (const b of buttons) b.disabled = true;
  try {
    await api(repoPath(`/pull-requests/${enc(pr.id)}${paths[kind]}`), {
      // Without a strategy to name, Bitbucket uses the destination branch's default.
      method: 'POST', body: (kind === 'merge' || kind === 'when-green') && strategy ? { strategy } : {},
    });
    const done = {
      approve: 'approved', changes: 'marked as needing changes', merge: 'merged', 'when-green': 'will be merged when green', decline: 'declined',
    };
    notice(`Pull request #${pr.id} ${done[kind]}.`);
  } catch (error) {
    showError(error);
  }
  await openPr(pr.id);
  // The buttons were redrawn; keep keyboard focus in the panel rather than on <body>.
  $('pr-detail').querySelector('h2')?.focus();
  refreshQuietly(name);
}

export async function openNewPrForm() {
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
    selected = pr.id;
    await load({ quiet: true });
    // A read cached just before the write could miss it; the answer is authoritative.
    if (!prs.some((p) => p.id === pr.id)) {
      prs.unshift(pr);
      renderPrList();
    }
    renderPrDetail(pr);
    $('pr-detail').hidden = false;
  });
}

export function repoChanged() {
  selected = null;
  $('pr-detail').hidden = true;
  hideForm('new-pr-form');
}

export function signedOut() {
  prs = [];
  selected = null;
  $('pr-detail').hidden = true;
}

export function wire() {
  on('pr-state', 'change', () => { selected = null; $('pr-detail').hidden = true; return load(); });
  on('new-pr-button', 'click', toggleForm('new-pr-form', openNewPrForm));
  on('new-pr-form', 'submit', createPr);
}
