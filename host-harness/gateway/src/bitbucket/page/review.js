// A pull request's review, below its detail: build statuses, the changed
// files (each diff loaded when its file is opened), comment threads, open
// tasks and what the review bundle left out. Diff and comment text is
// tenant data: it only ever becomes textContent.

import { badge, el, fill, fmtDate, label, loading, notice, row, ticket, who } from './dom.js';
import { api, enc, query, repoPath, showError } from './api.js';

// One file's diff when it is opened (the route takes 1 KiB to 4 MiB).
const FILE_DIFF_BYTES = 256 * 1024;

let serial = 0; // ids that tie each file's toggle to its diff box

const prPath = (id, suffix = '') => repoPath(`/pull-requests/${enc(id)}${suffix}`);

// GET R/pull-requests/{id}/review at the bundle's default budget.
export const fetchReview = (id) => api(prPath(id, '/review')).then((data) => data.review ?? {});

// Only http(s) links from Bitbucket become hrefs.
export function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

export function externalLink(url, text, testid) {
  const href = safeUrl(url);
  return href ? el('a', { href, target: '_blank', rel: 'noopener noreferrer', 'data-testid': testid }, text) : null;
}

export const cutText = (bytes) => `cut: ${bytes} bytes not shown`;
export const BINARY_TEXT = 'binary file, not shown';

// Fills `box` with the review of pull request `id` once `pending` (the
// bundle's request) answers; a newer pull request's review wins.
export async function showReview(box, id, pending) {
  const still = ticket('pr-review');
  box.setAttribute('aria-busy', 'true');
  box.replaceChildren(el('h3', { text: 'Review' }),
    ...[1, 2].map(() => el('div', { class: 'skeleton', 'aria-hidden': 'true' })));
  let bundle;
  try {
    bundle = await pending;
  } catch (error) {
    if (!still()) return;
    box.removeAttribute('aria-busy');
    box.replaceChildren(el('h3', { text: 'Review' }), el('p', { class: 'muted', text: 'Could not load the review of this pull request.' }));
    showError(error);
    return;
  }
  if (!still()) return;
  box.removeAttribute('aria-busy');
  box.replaceChildren(...[
    statusesPart(bundle.statuses ?? []),
    filesPart(id, bundle),
    threadsPart(id, bundle.unresolved_threads ?? []),
    tasksPart(id, bundle.open_tasks ?? []),
    cutsPart(bundle.cuts ?? []),
  ].flat().filter(Boolean));
}

// ------------------------------------------------------------ build statuses

const STATE_ORDER = { failed: 0, in_progress: 1, stopped: 2, successful: 3 };

function statusesPart(statuses) {
  const list = el('ul', { class: 'list compact', id: 'pr-statuses', 'data-testid': 'pr-statuses' });
  const sorted = statuses.slice().sort((a, b) => (STATE_ORDER[a.state] ?? 9) - (STATE_ORDER[b.state] ?? 9));
  fill(list, sorted.map((status) => row({
    testid: 'build-status',
    data: { state: status.state, key: status.key },
    title: status.name || status.key,
    badges: [badge(label(status.state), status.state, 'build-state')],
    extra: [externalLink(status.url, 'Details', 'build-link')],
    meta: [status.description, status.refname, fmtDate(status.updated_on || status.created_on)],
  })), 'No builds reported on the source branch.');
  return [el('h3', { text: 'Builds' }), list];
}

// ------------------------------------------------------------ files and diffs

const pathOf = (file) => file.new_path ?? file.old_path ?? '';

function filesPart(id, bundle) {
  const diffs = bundle.files ?? [];
  const binary = new Set(diffs.filter((f) => f.binary).map(pathOf));
  // The diffstat names every file; without one, the bundle's diffs do.
  const entries = (bundle.diffstat ?? []).length
    ? bundle.diffstat
    : diffs.map((f) => ({ change: f.change, old_path: f.old_path, new_path: f.new_path }));
  const added = entries.reduce((n, f) => n + (f.lines_added ?? 0), 0);
  const removed = entries.reduce((n, f) => n + (f.lines_removed ?? 0), 0);
  const list = el('ul', { class: 'list compact files', id: 'pr-files', 'data-testid': 'pr-files' });
  fill(list, entries.map((file) => fileRow(id, file, binary.has(pathOf(file)))), 'No changed files.');
  const count = `${entries.length} file${entries.length === 1 ? '' : 's'}`;
  return [el('h3', { 'data-testid': 'pr-files-title', text: `Files changed · ${count} · +${added} −${removed}` }), list];
}

function fileName(file) {
  if (file.change === 'renamed' && file.old_path && file.new_path && file.old_path !== file.new_path) {
    return `${file.old_path} → ${file.new_path}`;
  }
  return pathOf(file);
}

function fileRow(id, file, isBinary) {
  const path = pathOf(file);
  const boxId = `pr-diff-${++serial}`;
  const li = el('li', { class: 'file', 'data-testid': 'pr-file', 'data-path': path, 'data-change': file.change });
  const box = el('div', { class: 'diff', id: boxId, 'data-testid': 'pr-diff', hidden: true });
  const toggle = el('button', {
    type: 'button', class: 'file-toggle', 'aria-expanded': 'false', 'aria-controls': boxId,
    on: { click: () => toggleDiff(id, path, li, toggle, box) },
  }, el('span', { class: 'chevron', 'aria-hidden': 'true' }), el('span', { class: 'file-path', text: fileName(file) }));
  const stats = el('span', { class: 'file-stats' },
    badge(file.change, file.change, 'file-change'),
    file.lines_added != null ? el('span', { class: 'added', text: `+${file.lines_added}` }) : null,
    file.lines_removed != null ? el('span', { class: 'removed', text: `−${file.lines_removed}` }) : null);
  li.append(toggle, stats, box);
  if (isBinary) markBinary(li);
  return li;
}

function markBinary(li) {
  if (li.dataset.binary) return;
  li.dataset.binary = 'true';
  li.querySelector('.file-stats')?.append(badge('binary', 'other', 'file-binary'));
}

async function toggleDiff(id, path, li, toggle, box) {
  const open = toggle.getAttribute('aria-expanded') !== 'true';
  toggle.setAttribute('aria-expanded', String(open));
  box.hidden = !open;
  if (!open || box.dataset.loaded) return;
  box.dataset.loaded = 'loading';
  box.setAttribute('aria-busy', 'true');
  box.replaceChildren(el('p', { class: 'muted', text: 'Loading the diff…' }));
  try {
    const { diff } = await api(prPath(id, `/diff${query({ path, max_bytes: FILE_DIFF_BYTES })}`));
    renderDiff(box, li, path, diff ?? {});
    box.dataset.loaded = 'done';
  } catch (error) {
    delete box.dataset.loaded; // opening it again retries
    box.replaceChildren(el('p', { class: 'muted', text: 'Could not load this diff.' }));
    showError(error);
  } finally {
    box.removeAttribute('aria-busy');
  }
}

function renderDiff(box, li, path, diff) {
  const files = diff.files ?? [];
  const file = files.find((f) => f.new_path === path || f.old_path === path) ?? files[0];
  if (!file) {
    box.replaceChildren(el('p', { class: 'muted', text: 'Bitbucket shows no diff for this file.' }));
    return;
  }
  const parts = [];
  if (file.binary) {
    markBinary(li);
    parts.push(el('p', { class: 'diff-note', 'data-testid': 'diff-binary', text: BINARY_TEXT }));
  } else if (file.patch) {
    const lines = diffLines(file.patch);
    parts.push(el('div', { class: 'diff-scroll', tabindex: '0', role: 'region', 'aria-label': `Diff of ${path}` },
      el('div', { class: 'diff-lines' }, lines)));
  } else if (!file.truncated_bytes) {
    parts.push(el('p', { class: 'muted', text: 'No text changes.' }));
  }
  if (!file.binary && file.truncated_bytes > 0) {
    parts.push(el('p', { class: 'diff-note', 'data-testid': 'diff-cut', text: cutText(file.truncated_bytes) }));
  }
  box.replaceChildren(...parts);
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

// A unified diff as one element per line: file headers, hunk headers, and
// added, removed and context lines numbered on the side they belong to.
export function diffLines(patch) {
  const lines = patch.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const nodes = [];
  let inHunk = false;
  let oldLine = 0;
  let newLine = 0;
  const line = (kind, text, number) => el('div', { class: `diff-line ${kind}`, 'data-line': number }, text);
  for (const text of lines) {
    const hunk = HUNK.exec(text);
    if (hunk) {
      inHunk = true;
      oldLine = Number(hunk[1]);
      newLine = Number(hunk[2]);
      nodes.push(line('hunk', text));
    } else if (!inHunk || text.startsWith('diff --git ')) {
      inHunk = false;
      nodes.push(line('meta', text));
    } else if (text.startsWith('+')) {
      nodes.push(line('add', text, newLine++));
    } else if (text.startsWith('-')) {
      nodes.push(line('del', text, oldLine++));
    } else if (text.startsWith('\\')) {
      nodes.push(line('meta', text));
    } else {
      nodes.push(line('ctx', text || ' ', newLine));
      oldLine += 1;
      newLine += 1;
    }
  }
  return nodes;
}

// ------------------------------------------------------------ comments

function anchor(inline) {
  const at = inline.to_line ?? inline.from_line;
  return at != null ? `${inline.path}:${at}` : inline.path;
}

function commentNode(comment, isRoot) {
  return el('article', { class: 'comment', 'data-testid': 'comment', 'data-id': comment.id },
    el('p', { class: 'comment-head' },
      el('span', { class: 'who', text: who(comment.author) || 'Someone' }),
      isRoot && comment.inline ? el('code', { class: 'comment-anchor', 'data-testid': 'comment-anchor', text: anchor(comment.inline) }) : null,
      isRoot && comment.resolution ? badge('Resolved', 'resolved', 'thread-resolved') : null,
      comment.pending ? badge('Pending', 'other') : null,
      comment.created_on ? el('span', { class: 'when', text: fmtDate(comment.created_on) }) : null,
      externalLink(comment.web_url, 'Open', 'comment-link')),
    el('p', { class: 'comment-body', text: comment.deleted ? '(deleted)' : comment.content }));
}

function threadNode({ comment, replies = [] }) {
  return el('li', {
    class: 'thread', 'data-testid': 'comment-thread', 'data-id': comment.id,
    'data-resolved': comment.resolution ? 'true' : null,
  },
  commentNode(comment, true),
  replies.length ? el('ul', { class: 'replies' }, replies.map((reply) => el('li', {}, commentNode(reply, false)))) : null);
}

// A flat listing as threads: every comment under the root its parents lead to.
export function groupThreads(comments) {
  const byId = new Map(comments.map((c) => [c.id, c]));
  const rootOf = (comment) => {
    let at = comment;
    const seen = new Set();
    while (at.parent_id != null && byId.has(at.parent_id) && !seen.has(at.id)) {
      seen.add(at.id);
      at = byId.get(at.parent_id);
    }
    return at;
  };
  const threads = new Map();
  for (const comment of comments) {
    const root = rootOf(comment);
    if (!threads.has(root.id)) threads.set(root.id, { comment: root, replies: [] });
    if (root !== comment) threads.get(root.id).replies.push(comment);
  }
  return [...threads.values()];
}

function threadsPart(id, threads) {
  const title = el('h3', { id: 'pr-comments-title', 'data-testid': 'pr-comments-title', text: `Unresolved comments · ${threads.length}` });
  const list = el('ul', { class: 'list threads', id: 'pr-threads', 'data-testid': 'pr-threads' });
  fill(list, threads.map(threadNode), 'No unresolved comments.');
  const all = el('button', {
    type: 'button', class: 'ghost', id: 'pr-all-comments', 'data-testid': 'pr-all-comments',
    on: { click: () => showAllComments(id, title, list, all) },
  }, 'Show all comments');
  return [title, el('div', { class: 'review-tools' }, all), list];
}

async function showAllComments(id, title, list, button) {
  button.disabled = true;
  const before = [...list.children];
  loading(list, 2);
  try {
    const { comments = [] } = await api(prPath(id, `/comments${query({ all: 'true', size: 100 })}`));
    const threads = groupThreads(comments);
    fill(list, threads.map(threadNode), 'No comments.');
    title.textContent = `All comments · ${comments.length}`;
    list.dataset.scope = 'all';
    button.hidden = true;
  } catch (error) {
    list.removeAttribute('aria-busy');
    list.replaceChildren(...before);
    button.disabled = false;
    showError(error);
  }
}

// ------------------------------------------------------------ tasks

function taskNode(id, task) {
  const state = badge(label(task.state), task.state, 'task-state');
  const li = row({
    testid: 'pr-task',
    data: { id: task.id },
    title: task.content,
    badges: [state],
    meta: [who(task.creator) && `by ${who(task.creator)}`, fmtDate(task.created_on)],
  });
  if (task.state !== 'resolved') {
    const resolve = el('button', {
      type: 'button', class: 'ghost', 'data-testid': 'task-resolve',
      on: { click: () => resolveTask(id, task, state, resolve) },
    }, 'Resolve');
    state.after(resolve);
  }
  return li;
}

async function resolveTask(id, task, state, button) {
  button.disabled = true;
  try {
    const { task: done } = await api(prPath(id, `/tasks/${enc(task.id)}`), { method: 'PUT', body: { state: 'resolved' } });
    const now = done?.state ?? 'resolved';
    state.textContent = label(now);
    state.dataset.status = now;
    button.remove();
    notice('Task resolved.');
  } catch (error) {
    button.disabled = false;
    showError(error);
  }
}

function tasksPart(id, tasks) {
  const list = el('ul', { class: 'list compact', id: 'pr-tasks', 'data-testid': 'pr-tasks' });
  fill(list, tasks.map((task) => taskNode(id, task)), 'No open tasks.');
  return [el('h3', { text: `Open tasks · ${tasks.length}` }), list];
}

// ------------------------------------------------------------ cuts

function cutsPart(cuts) {
  if (!cuts.length) return [];
  const list = el('ul', { class: 'list compact', id: 'pr-cuts', 'data-testid': 'pr-cuts' },
    cuts.map((cut) => el('li', { 'data-testid': 'pr-cut', 'data-part': cut.part }, el('span', {
      class: 'title',
      text: [
        [cut.part, cut.path].filter(Boolean).join(' · '),
        cut.truncated_bytes > 0 ? `${cut.truncated_bytes} bytes left out` : null,
        cut.omitted_items > 0 ? `${cut.omitted_items} left out` : null,
      ].filter(Boolean).join(': '),
    }), cut.reason ? el('span', { class: 'meta', text: cut.reason }) : null)));
  return [el('h3', { text: 'Left out of this review' }), list];
}
