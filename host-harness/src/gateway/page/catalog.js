// What the component publishes about itself (GET /v1/capabilities), read once
// after sign-in: the page lists no catalogue facts of its own, so it cannot
// fall out of step with the component it fronts.

import { api } from './api.js';

let published = null;

function capabilities() {
  if (!published) {
    const request = api('/v1/capabilities');
    // A failed read is asked again next time rather than remembered.
    request.catch(() => { if (published === request) published = null; });
    published = request;
  }
  return published;
}

export async function webhookEvents() {
  return (await capabilities()).webhook_events ?? [];
}
