// Tab 2, Workspaces: the ones the credential can see, and switching between them.

import { $, badge, el, fill, fmtDate, loading } from './dom.js';
import { activate, reposSettled, selectWorkspace } from './nav.js';
import * as state from './state.js';

export const name = 'workspaces';

export async function load({ quiet = false } = {}) {
  const list = $('workspace-list');
  if (!quiet) loading(list, 4);
  await reposSettled();
  const current = state.ws();
  fill(list, state.workspaces().map((w) => el('li', {
    'data-testid': 'workspace-row', 'data-slug': w.slug, class: w.slug === current ? 'current' : '',
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
  }, w.slug === current ? 'Show repositories' : 'Use this workspace'),
  )), 'No workspaces: connect Bitbucket in Settings.');
}
