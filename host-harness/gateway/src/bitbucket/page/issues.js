// Tab 6, Issues: the list by state, kind and priority, and the new issue
// form, for as long as Bitbucket still keeps the repository's tracker.

import { $, badge, fill, fmtDate, hideForm, loading, moreRow, notice, offer, on, row, showForm, ticket, toggleForm, who } from './dom.js';
import { api, clearError, query, repoPath, setBanner, showError } from './api.js';
import { choices } from './catalog.js';
import { needRepo, reposSettled, requireRepo } from './nav.js';

export const name = 'issues';

const RETIRED_ISSUES = 'Bitbucket has retired Issues for this repository';

let gone = false;
let issues = [];
let next = null; // the listing's cursor while Bitbucket has more

// Each select's values come from the operation it feeds; the new issue form
// starts as a major task.
const CHOICES = [
  [() => $('issue-state'), 'list-issues', 'state'],
  [() => $('issue-kind'), 'list-issues', 'kind'],
  [() => $('issue-priority'), 'list-issues', 'priority'],
  [() => $('new-issue-form').elements.kind, 'create-issue', 'kind', 'task'],
  [() => $('new-issue-form').elements.priority, 'create-issue', 'priority', 'major'],
];

export function signedIn() {
  Promise.all(CHOICES.map(([select, operation, property, chosen]) =>
    choices(operation, property).then((values) => offer(select(), values, chosen)))).catch(showError);
}

// Bitbucket is sunsetting its issue tracker: a 410, or a 404 about the tracker, means "gone here".
function trackerGone(error) {
  const { code, message = '' } = error?.info ?? {};
  return code === 'retired_upstream' || (code === 'not_found' && /tracker|disabled/i.test(message));
}

function setIssuesGone(isGone, error) {
  gone = isGone;
  $('new-issue-button').disabled = isGone;
  if (isGone) {
    hideForm('new-issue-form');
    setBanner(`${RETIRED_ISSUES} — ${error?.info?.message || ''}`.replace(/ — $/, ''), error?.info?.code || 'retired_upstream');
  }
}

export async function load({ quiet = false } = {}) {
  const list = $('issue-list');
  if (!quiet) loading(list, 4);
  await reposSettled();
  if (!requireRepo(list)) return;
  const still = ticket('issues');
  // Newest first, as a person looks for what just happened.
  const params = {
    state: $('issue-state').value, kind: $('issue-kind').value, priority: $('issue-priority').value,
    sort: '-created_on', size: 50,
  };
  try {
    const data = await api(repoPath(`/issues${query(params)}`));
    if (!still()) return;
    setIssuesGone(false);
    issues = data.issues ?? [];
    next = data.next_cursor ?? null;
    renderIssues();
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

function renderIssues() {
  const list = $('issue-list');
  fill(list, issues.map((issue) => row({
    testid: 'issue-row',
    data: { id: issue.id },
    title: `#${issue.id} ${issue.title}`,
    badges: [badge(issue.state, issue.state, 'issue-state'), badge(issue.kind, 'other'), badge(issue.priority, issue.priority)],
    meta: [issue.assignee && `assigned to ${who(issue.assignee)}`, issue.reporter && `reported by ${who(issue.reporter)}`,
      `${issue.votes ?? 0} votes`, issue.updated_on && `updated ${fmtDate(issue.updated_on)}`],
  })), 'No issues match.');
  if (next) moreRow(list, loadMore);
}

// The cursor carries the listing's filters and order.
async function loadMore() {
  const from = next;
  try {
    const data = await api(repoPath(`/issues${query({ cursor: from })}`));
    if (next !== from) return; // reloaded meanwhile
    issues = [...issues, ...(data.issues ?? [])];
    next = data.next_cursor ?? null;
    renderIssues();
  } catch (error) {
    showError(error);
  }
}

export function openNewIssueForm() {
  if (gone || !needRepo()) return;
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
    await load({ quiet: true });
  } catch (error) {
    if (trackerGone(error)) setIssuesGone(true, error);
    else showError(error);
  } finally {
    button.disabled = false;
  }
}

export function repoChanged() {
  hideForm('new-issue-form');
}

export function wire() {
  for (const id of ['issue-state', 'issue-kind', 'issue-priority']) on(id, 'change', () => load());
  on('new-issue-button', 'click', toggleForm('new-issue-form', openNewIssueForm));
  on('new-issue-form', 'submit', createIssue);
}
