// Tab 7, Code Search: the workspace's code, a page of files at a time.

import { $, el, fill, loading, on, ticket } from './dom.js';
import { api, clearError, query, showError } from './api.js';
import { reposSettled } from './nav.js';
import { ws } from './state.js';

export const name = 'code-search';

let search = null; // { query, ws, cursor, shown } of the search on screen

export async function load() {
  await reposSettled();
  $('search-ws').textContent = ws() || '—';
}

function renderHit(hit) {
  return el('li', { class: 'hit', 'data-testid': 'search-hit', 'data-path': hit.path },
    el('span', { class: 'repo', 'data-testid': 'search-hit-repo', text: hit.repository || search?.ws || '' }),
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
  if (!text || !ws()) return;
  search = { query: text, ws: ws(), cursor: null, shown: 0 };
  loading($('search-results'), 3);
  $('search-more').hidden = true;
  $('search-summary').textContent = '';
  await searchPage(false);
}

async function searchPage(append) {
  const current = search;
  if (!current) return;
  const list = $('search-results');
  const more = $('search-more');
  more.disabled = true;
  const still = ticket('search');
  try {
    const data = await api(`/bitbucket/search/code${query({
      workspace: current.ws, query: current.query, size: 20, cursor: append ? current.cursor : null,
    })}`);
    if (!still() || search !== current) return;
    const hits = (data.results ?? []).map(renderHit);
    if (append) list.append(...hits); else fill(list, hits, `Nothing found for “${current.query}”.`);
    current.shown += hits.length;
    current.cursor = data.next_cursor ?? null;
    more.hidden = !current.cursor;
    $('search-summary').textContent = `${current.shown} file${current.shown === 1 ? '' : 's'} in ${current.ws}${current.cursor ? ', more available' : ''}.`;
  } catch (error) {
    if (!still()) return;
    if (!append) fill(list, [], 'The search failed.');
    showError(error);
  } finally {
    more.disabled = false;
  }
}

export function signedOut() {
  search = null;
}

export function wire() {
  on('code-search-form', 'submit', searchCode);
  on('search-more', 'click', () => searchPage(true));
}
