// The live event stream (GET /bitbucket/events): webhook deliveries for the
// signed-in tenant nudge the open tab to refresh.

import { webhookEvents } from './catalog.js';
import { refreshQuietly } from './nav.js';
import { pollNow } from './pipelines.js';
import * as state from './state.js';

// The gateway names an event without a key `event`; EventSource calls an
// unnamed one `message`. Neither is a Bitbucket key, so neither is in the catalogue.
const UNKEYED = ['event', 'message'];

let source = null;
// Bumped by every close, so a stream whose catalogue read outlived a sign-out is never opened.
let generation = 0;

export async function openEvents() {
  closeEvents();
  if (!('EventSource' in window)) return;
  const mine = generation;
  // An EventSource only hears the names it listens for: every key the component publishes.
  const keys = await webhookEvents();
  if (mine !== generation) return;
  source = new EventSource('/bitbucket/events');
  // It reconnects by itself; a dropped stream is nothing to tell a person about.
  source.onerror = () => {};
  for (const key of [...keys, ...UNKEYED]) source.addEventListener(key, onEvent);
  source.addEventListener('lagged', () => refreshQuietly(state.tab()));
}

export function closeEvents() {
  generation += 1;
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
