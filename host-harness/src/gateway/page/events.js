// The live event stream (GET /bitbucket/events): webhook deliveries for the
// signed-in tenant nudge the open tab to refresh.

import { refreshQuietly } from './nav.js';
import { pollNow } from './pipelines.js';
import * as state from './state.js';

// The gateway names each server-sent event by its Bitbucket event key, and an
// EventSource only hears names it listens for, so all known keys are listed.
const EVENT_KEYS = [
  'repo:push', 'repo:fork', 'repo:updated', 'repo:created', 'repo:deleted', 'repo:imported', 'repo:transfer',
  'repo:commit_comment_created', 'repo:commit_status_created', 'repo:commit_status_updated',
  'pullrequest:created', 'pullrequest:updated', 'pullrequest:push', 'pullrequest:approved', 'pullrequest:unapproved',
  'pullrequest:changes_request_created', 'pullrequest:changes_request_removed', 'pullrequest:fulfilled',
  'pullrequest:rejected', 'pullrequest:comment_created', 'pullrequest:comment_updated', 'pullrequest:comment_deleted',
  'pullrequest:comment_resolved', 'pullrequest:comment_reopened', 'issue:created', 'issue:updated',
  'issue:comment_created', 'project:updated', 'pipeline:span_created', 'event', 'message',
];

let source = null;

export function openEvents() {
  closeEvents();
  if (!('EventSource' in window)) return;
  source = new EventSource('/bitbucket/events');
  // It reconnects by itself; a dropped stream is nothing to tell a person about.
  source.onerror = () => {};
  for (const key of EVENT_KEYS) source.addEventListener(key, onEvent);
  source.addEventListener('lagged', () => refreshQuietly(state.tab()));
}

export function closeEvents() {
  source?.close();
  source = null;
}

function onEvent(message) {
  let event;
  try { event = JSON.parse(message.data); } catch { return; }
  const here = `${state.ws()}/${state.repo()}`.toLowerCase();
  if (event.repository && String(event.repository).toLowerCase() !== here) return;
  const key = event.event_key || message.type;
  const tab = state.tab();
  if (key === 'repo:push') state.forgetBranches();
  if (event.pipeline || key.startsWith('pipeline:') || key.startsWith('repo:commit_status')) {
    pollNow();
    if (tab === 'pipelines') refreshQuietly('pipelines');
  } else if (key.startsWith('pullrequest:')) {
    if (tab === 'pull-requests') refreshQuietly('pull-requests');
    if (tab === 'overview') refreshQuietly('overview');
  } else if (key.startsWith('issue:') && tab === 'issues') {
    refreshQuietly('issues');
  }
}
