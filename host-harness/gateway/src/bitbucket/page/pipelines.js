// Tab 5, Pipelines: the runs, one run's steps and logs, following a moving
// run until it settles, and the run form.

import {
  $, badge, el, fill, fmtDate, fmtDuration, hideForm, loading, markSelected, moreRow, notice, on, reveal, row, short, showForm,
  ticket, toggleForm, who,
} from './dom.js';
import { ApiError, api, clearError, enc, query, repoPath, showError, submitting } from './api.js';
import { fillBranchSelect, needRepo, reposSettled, requireRepo } from './nav.js';
import { currentRepo } from './state.js';

export const name = 'pipelines';

const MOVING = new Set(['pending', 'running']);
const POLL_MS = 1500;

let pipelines = [];
let selected = null; // the uuid whose detail is open
let following = null; // the run being polled
let next = null; // the listing's cursor while Bitbucket has more

export async function load({ quiet = false } = {}) {
  const list = $('pipeline-list');
  if (!quiet) loading(list, 5);
  await reposSettled();
  if (!requireRepo(list)) return;
  const still = ticket('pipelines');
  loadEnvironments(quiet);
  try {
    const data = await api(repoPath(`/pipelines${query({ sort: '-created_on', size: 30 })}`));
    if (!still()) return;
    next = data.next_cursor ?? null;
    const fresh = data.pipelines ?? [];
    // A run just triggered may not be in a cached listing yet; keep it on top.
    const kept = pipelines.filter((p) => p.justTriggered && !fresh.some((f) => f.uuid === p.uuid));
    pipelines = [...kept, ...fresh];
    renderPipelineList();
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not load pipelines.');
    showError(error);
  }
}

// Each environment with its latest deployment: what runs where, and whether it worked.
async function loadEnvironments(quiet) {
  const list = $('environment-list');
  if (!quiet) loading(list, 3);
  const still = ticket('environments');
  try {
    const [envs, deps] = await Promise.all([
      api(repoPath('/environments?all=true')),
      api(repoPath(`/deployments${query({ size: 100 })}`)),
    ]);
    if (!still()) return;
    const deployments = deps.deployments ?? [];
    fill(list, (envs.environments ?? []).map((env) => {
      const mine = deployments.filter((d) => d.environment_uuid === env.uuid);
      const latest = mine[0];
      const status = latest ? (latest.status_name ?? latest.state_name).toLowerCase() : 'none';
      const release = latest?.release;
      return el('li', { 'data-testid': 'environment-row', 'data-environment': env.name, 'data-status': status },
        el('span', { class: 'title', text: env.name }),
        badge(latest ? status.replace(/_/g, ' ') : 'never deployed', status, 'deployment-status'),
        el('span', { class: 'muted', text: latest ? [
          release?.build_number != null ? `#${release.build_number}` : release?.name,
          short(release?.commit_hash),
          fmtDate(latest.completed_on ?? latest.started_on),
          `${mine.length} deployment${mine.length === 1 ? '' : 's'}`,
        ].filter(Boolean).join(' · ') : '' }));
    }), 'No deployment environments.');
  } catch (error) {
    if (!still()) return;
    // A repository without Pipelines has no environments to show; say so quietly.
    fill(list, [], error instanceof ApiError && error.status === 404 ? 'No deployment environments.' : 'Could not load deployments.');
    if (!(error instanceof ApiError && error.status === 404)) showError(error);
  }
}

function renderPipelineList() {
  const list = $('pipeline-list');
  fill(list, pipelines.map((p) => row({
    testid: 'pipeline-row',
    data: { uuid: p.uuid, status: p.status },
    title: `#${p.build_number}`,
    onOpen: () => openPipeline(p.uuid),
    badges: [badge(p.status, p.status, 'pipeline-badge')],
    meta: [p.target?.ref_name, p.trigger, short(p.target?.commit_hash), fmtDate(p.created_on), fmtDuration(p.duration_seconds)],
  })), 'No pipeline runs yet.');
  if (next) moreRow(list, loadMore);
  markSelected(list, 'uuid', selected);
}

// The cursor carries the listing's order; a run already shown is not repeated.
async function loadMore() {
  const from = next;
  try {
    const data = await api(repoPath(`/pipelines${query({ cursor: from })}`));
    if (next !== from) return; // reloaded meanwhile
    const older = (data.pipelines ?? []).filter((p) => !pipelines.some((known) => known.uuid === p.uuid));
    pipelines = [...pipelines, ...older];
    next = data.next_cursor ?? null;
    renderPipelineList();
  } catch (error) {
    showError(error);
  }
}

function upsertPipeline(pipeline) {
  const at = pipelines.findIndex((p) => p.uuid === pipeline.uuid);
  if (at >= 0) pipelines[at] = { ...pipelines[at], ...pipeline };
  else pipelines.unshift(pipeline);
  renderPipelineList();
}

async function openPipeline(uuid, known) {
  stopFollow();
  selected = uuid;
  markSelected($('pipeline-list'), 'uuid', uuid);
  $('pipeline-detail').hidden = false;
  reveal($('pipeline-detail'));
  $('step-log').hidden = true;
  $('step-log-title').hidden = true;
  const still = ticket('pipeline-detail');
  let pipeline = known;
  if (!pipeline) {
    loading($('step-list'), 2);
    try {
      pipeline = (await api(repoPath(`/pipelines/${enc(uuid)}`))).pipeline;
    } catch (error) {
      if (still()) { fill($('step-list'), [], 'Could not load this run.'); showError(error); }
      return;
    }
    if (!still()) return;
  }
  renderPipelineHeader(pipeline);
  loadSteps(pipeline);
  if (MOVING.has(pipeline.status)) follow(pipeline);
}

function renderPipelineHeader(p) {
  $('pipeline-detail').dataset.uuid = p.uuid;
  $('pipeline-detail-title').textContent = `Pipeline #${p.build_number}`;
  const status = $('pipeline-status');
  status.dataset.status = p.status;
  status.textContent = p.status;
  $('pipeline-stop').hidden = !(MOVING.has(p.status) || p.status === 'paused');
  $('pipeline-detail-meta').textContent = [
    p.target?.ref_name && `on ${p.target.ref_name}`, p.trigger, short(p.target?.commit_hash),
    who(p.creator) && `by ${who(p.creator)}`, fmtDate(p.created_on),
    p.duration_seconds != null && `took ${fmtDuration(p.duration_seconds)}`,
    p.state_name, p.result_name,
  ].filter(Boolean).join(' · ');
}

// Follows a moving run every POLL_MS until it settles; server-sent events only hurry it.
function follow(pipeline) {
  stopFollow();
  const run = { uuid: pipeline.uuid, status: pipeline.status, timer: 0 };
  following = run;
  const tick = async () => {
    // An event can ask while a poll is already out; one request at a time is enough.
    if (following !== run || run.busy) return;
    run.busy = true;
    clearTimeout(run.timer);
    try {
      // A moving run must be read fresh, not from the gateway's short read cache.
      const p = (await api(repoPath(`/pipelines/${enc(run.uuid)}`), { headers: { 'Cache-Control': 'no-cache' } })).pipeline;
      if (following !== run) return;
      if (!p) throw new ApiError(0, { code: 'internal', message: 'The gateway answered without the pipeline.' });
      renderPipelineHeader(p);
      upsertPipeline(p);
      if (p.status !== run.status) loadSteps(p, { quiet: true });
      run.status = p.status;
      if (MOVING.has(p.status)) {
        run.timer = setTimeout(tick, POLL_MS);
      } else {
        following = null;
        notice(`Pipeline #${p.build_number} ${p.status}.`);
      }
    } catch (error) {
      if (following !== run) return;
      showError(error);
      run.timer = setTimeout(tick, POLL_MS * 4); // keep following, more gently
    } finally {
      run.busy = false;
    }
  };
  run.tick = tick;
  run.timer = setTimeout(tick, POLL_MS);
}

// An event about the followed run: ask now rather than at the next tick.
export function pollNow() {
  following?.tick();
}

function stopFollow() {
  if (following) clearTimeout(following.timer);
  following = null;
}

async function loadSteps(pipeline, { quiet = false } = {}) {
  const list = $('step-list');
  if (!quiet) loading(list, 2);
  const still = ticket('steps');
  try {
    const steps = (await api(repoPath(`/pipelines/${enc(pipeline.uuid)}/steps`))).steps ?? [];
    if (!still()) return;
    fill(list, steps.map((s) => row({
      testid: 'step-row',
      data: { uuid: s.uuid, status: s.status },
      title: s.name || 'Step',
      badges: [badge(s.status, s.status, 'step-status')],
      extra: [el('button', {
        type: 'button', class: 'ghost', 'data-testid': 'step-log-button',
        on: { click: () => loadLog(pipeline.uuid, s) },
      }, 'View log')],
      meta: [fmtDuration(s.duration_seconds), s.started_on && `started ${fmtDate(s.started_on)}`],
    })), MOVING.has(pipeline.status) ? 'Waiting for steps…' : 'No steps.');
  } catch (error) {
    if (!still()) return;
    fill(list, [], 'Could not load steps.');
    showError(error);
  }
}

async function loadLog(pipelineUuid, step) {
  const pre = $('step-log');
  $('step-log-title').hidden = false;
  $('step-log-title').textContent = `Log · ${step.name || 'step'}`;
  pre.hidden = false;
  pre.setAttribute('aria-busy', 'true');
  pre.textContent = 'Loading log…';
  const still = ticket('log');
  try {
    const { log } = await api(repoPath(`/pipelines/${enc(pipelineUuid)}/steps/${enc(step.uuid)}/log`));
    if (!still()) return;
    pre.textContent = log?.content || '(empty log)';
    pre.dataset.totalSize = String(log?.total_size ?? '');
  } catch (error) {
    if (!still()) return;
    pre.textContent = 'No log available.';
    showError(error);
  } finally {
    if (still()) pre.removeAttribute('aria-busy');
  }
}

async function stopPipeline() {
  const uuid = selected;
  if (!uuid) return;
  clearError();
  try {
    const { pipeline } = await api(repoPath(`/pipelines/${enc(uuid)}/stop`), { method: 'POST', body: {} });
    notice('Stop requested.');
    renderPipelineHeader(pipeline);
    upsertPipeline(pipeline);
    if (MOVING.has(pipeline.status)) follow(pipeline); else stopFollow();
  } catch (error) {
    showError(error);
  }
}

function addVariableRow(key = '', value = '') {
  const line = el('div', { class: 'var-row', 'data-testid': 'variable-row' },
    el('input', { name: 'variable_key', placeholder: 'NAME', 'aria-label': 'Variable name', pattern: '[A-Za-z_][A-Za-z0-9_]*', value: key }),
    el('input', { name: 'variable_value', placeholder: 'value', 'aria-label': 'Variable value', value }));
  line.append(el('button', {
    type: 'button', class: 'ghost', 'data-testid': 'variable-remove', 'aria-label': 'Remove variable',
    on: { click: () => line.remove() },
  }, 'Remove'));
  $('variable-rows').append(line);
  line.querySelector('input').focus();
}

export async function openRunForm() {
  if (!needRepo()) return;
  const form = showForm('run-pipeline-form');
  await fillBranchSelect(form.elements.branch, [currentRepo()?.main_branch, 'main']);
  form.elements.branch.focus();
}

async function triggerPipeline(event) {
  event.preventDefault();
  clearError();
  const form = event.currentTarget;
  const body = { branch: form.elements.branch.value };
  const variables = {};
  for (const line of $('variable-rows').querySelectorAll('[data-testid="variable-row"]')) {
    const key = line.querySelector('[name="variable_key"]').value.trim();
    if (key) variables[key] = line.querySelector('[name="variable_value"]').value;
  }
  if (Object.keys(variables).length) body.variables = variables;
  await submitting(form, async () => {
    const { pipeline } = await api(repoPath('/pipelines/trigger'), { method: 'POST', body });
    hideForm('run-pipeline-form');
    $('variable-rows').replaceChildren();
    notice(`Pipeline #${pipeline.build_number} started on ${body.branch}.`);
    upsertPipeline({ ...pipeline, justTriggered: true });
    await openPipeline(pipeline.uuid, pipeline);
  });
}

export function repoChanged() {
  selected = null;
  stopFollow();
  $('pipeline-detail').hidden = true;
  hideForm('run-pipeline-form');
}

export function signedOut() {
  stopFollow();
  pipelines = [];
  selected = null;
  $('pipeline-detail').hidden = true;
  $('step-log').textContent = '';
}

export function wire() {
  on('run-pipeline-button', 'click', toggleForm('run-pipeline-form', openRunForm));
  on('pipelines-refresh', 'click', () => load());
  on('variable-add', 'click', () => addVariableRow());
  on('run-pipeline-form', 'submit', triggerPipeline);
  on('pipeline-stop', 'click', stopPipeline);
}
