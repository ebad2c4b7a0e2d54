// What the component publishes about itself, read once after sign-in: the
// webhook event keys (GET /v1/capabilities) and the values its operations'
// parameters take (GET /v1/operations). The page lists no catalogue facts of
// its own, so it cannot fall out of step with the component it fronts.

import { api } from './api.js';

const reads = new Map();

function read(path) {
  if (!reads.has(path)) {
    const request = api(path);
    // A failed read is asked again next time rather than remembered.
    request.catch(() => { if (reads.get(path) === request) reads.delete(path); });
    reads.set(path, request);
  }
  return reads.get(path);
}

export async function webhookEvents() {
  return (await read('/v1/capabilities')).webhook_events ?? [];
}

// The values `property` of `operation`'s parameters may take, from the JSON
// Schema the operation publishes.
export async function choices(operation, property) {
  const operations = await read('/v1/operations');
  const schema = (Array.isArray(operations) ? operations : []).find((op) => op.name === operation)?.parameters_schema;
  let node = schema?.properties?.[property];
  // Down through optionals (anyOf with null), lists and $refs to the enum.
  for (let depth = 0; node && !node.enum && depth < 8; depth += 1) {
    if (node.$ref) node = schema.$defs?.[node.$ref.split('/').pop()];
    else if (node.items) node = node.items;
    else node = (node.anyOf ?? node.oneOf)?.find((n) => n.type !== 'null');
  }
  return node?.enum ?? [];
}
