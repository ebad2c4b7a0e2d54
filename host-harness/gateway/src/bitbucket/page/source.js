// A repository's source at a branch, in its detail panel (repositories.js):
// a directory listing to walk down and back up, and one file shown as text.
// File contents are tenant data: they only ever become textContent.

import { $, badge, el, fill, loading, markSelected, on, row, ticket } from './dom.js';
import { api, query, repoPath, showError } from './api.js';
import { fillBranchSelect } from './nav.js';
import { cutText, BINARY_TEXT, externalLink } from './review.js';
import { currentRepo } from './state.js';

// A file's text is read up to this much (the route takes 1 byte to 1 MiB).
const FILE_BYTES = 256 * 1024;

let dir = ''; // the directory listed, '' for the root
let shownFile = null; // the path shown in #src-file

const branch = () => $('src-branch').value || currentRepo()?.main_branch || '';

// The detail panel opened on a repository: its main branch's root.
export async function openSource() {
  dir = '';
  shownFile = null;
  hideFile();
  crumbs();
  loading($('src-list'), 3);
  const still = ticket('src-branches');
  await fillBranchSelect($('src-branch'), [currentRepo()?.main_branch, 'main', 'master']);
  if (still()) await listDir('');
}

function hideFile() {
  const box = $('src-file');
  box.hidden = true;
  box.replaceChildren();
}

const parentOf = (path) => path.split('/').slice(0, -1).join('/');

// The entry's name within the listed directory (Bitbucket answers paths from the root).
function nameIn(directory, path) {
  const clean = path.replace(/\/+$/, '');
  if (directory && clean.startsWith(`${directory}/`)) return clean.slice(directory.length + 1);
  return clean.split('/').pop() || clean;
}

function fmtSize(bytes) {
  if (bytes == null) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

// The breadcrumb: the repository's root, then each directory down to `dir`.
function crumbs() {
  const nav = $('src-crumbs');
  const parts = dir ? dir.split('/') : [];
  const root = currentRepo()?.slug || 'root';
  const items = [{ name: root, path: '' }, ...parts.map((name, i) => ({ name, path: parts.slice(0, i + 1).join('/') }))];
  nav.replaceChildren(el('ol', {}, items.map((item, i) => el('li', {},
    i === items.length - 1
      ? el('span', { 'aria-current': 'location', text: item.name })
      : el('button', { type: 'button', class: 'link', 'data-path': item.path, on: { click: () => listDir(item.path) } }, item.name)))));
}

const KIND_ORDER = { directory: 0, submodule: 1, link: 2, file: 3 };

async function listDir(path) {
  const list = $('src-list');
  dir = path;
  crumbs();
  const revision = branch();
  if (!revision) {
    fill(list, [], 'No branch to browse.');
    return;
  }
  loading(list, 4);
  const still = ticket('src-list');
  try {
    const data = await api(repoPath(`/src${query({ revision, path, all: 'true', size: 100 })}`));
    if (!still()) return;
    const entries = (data.entries ?? []).slice().sort((a, b) => (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9)
      || nameIn(path, a.path).localeCompare(nameIn(path, b.path)));
    const up = path
      ? [el('li', { 'data-testid': 'src-up', class: 'src-up' },
        el('button', { type: 'button', class: 'row-open', 'aria-label': 'Up to the parent directory', on: { click: () => listDir(parentOf(path)) } }, '..'))]
      : [];
    fill(list, [...up, ...entries.map((entry) => entryRow(path, entry))], 'This directory is empty.');
    if (data.truncated) list.append(el('li', { class: 'empty', text: 'Only the first entries are shown.' }));
    if (shownFile) markSelected(list, 'path', shownFile);
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not list this directory.');
    showError(error);
  }
}

function entryRow(directory, entry) {
  const name = nameIn(directory, entry.path);
  const path = entry.path.replace(/\/+$/, '');
  const opens = { directory: () => listDir(path), file: () => showFile(path) }[entry.kind];
  return row({
    testid: 'src-entry',
    data: { path, kind: entry.kind },
    title: entry.kind === 'directory' ? `${name}/` : name,
    onOpen: opens,
    badges: [entry.kind === 'link' || entry.kind === 'submodule' ? badge(entry.kind, 'other') : null],
    meta: entry.kind === 'file' ? [fmtSize(entry.size), entry.mimetype] : [],
  });
}

async function showFile(path) {
  const box = $('src-file');
  shownFile = path;
  markSelected($('src-list'), 'path', path);
  box.hidden = false;
  box.setAttribute('aria-busy', 'true');
  box.replaceChildren(el('h4', { class: 'file-head', text: path }), el('div', { class: 'skeleton', 'aria-hidden': 'true' }));
  const still = ticket('src-file');
  try {
    const { file } = await api(repoPath(`/file${query({ revision: branch(), path, max_bytes: FILE_BYTES })}`));
    if (!still()) return;
    renderFile(box, path, file ?? {});
  } catch (error) {
    if (!still()) return;
    box.replaceChildren(el('h4', { class: 'file-head', text: path }), el('p', { class: 'muted', text: 'Could not load this file.' }));
    showError(error);
  } finally {
    if (still()) box.removeAttribute('aria-busy');
  }
}

function renderFile(box, path, file) {
  const meta = [fmtSize(file.size), file.mimetype, file.commit && `at ${file.commit.slice(0, 7)}`].filter(Boolean).join(' · ');
  const parts = [
    el('h4', { class: 'file-head', 'data-testid': 'src-file-path', text: file.path || path }),
    el('p', { class: 'muted' }, meta, meta && ' ', externalLink(file.web_url, 'Open on Bitbucket', 'src-web-link')),
  ];
  if (file.binary) {
    parts.push(el('p', { class: 'diff-note', 'data-testid': 'src-binary', text: BINARY_TEXT }));
  } else {
    parts.push(el('pre', {
      class: 'code', id: 'src-file-content', 'data-testid': 'src-file-content', tabindex: '0', 'aria-label': `Contents of ${path}`,
    }, file.content ?? ''));
    if (file.truncated_bytes > 0) parts.push(el('p', { class: 'diff-note', 'data-testid': 'src-cut', text: cutText(file.truncated_bytes) }));
  }
  box.replaceChildren(...parts);
}

export function closeSource() {
  dir = '';
  shownFile = null;
  hideFile();
}

export function wire() {
  // Another branch: back to its root, as the directory may not exist there.
  on('src-branch', 'change', () => {
    shownFile = null;
    hideFile();
    return listDir('');
  });
}
