// The Overview's dashboard: the workspace's delivery insights over 4, 12 or
// 26 weeks. DORA measures with their band and trend, review flow and
// pipelines, the charts the gateway draws (each with its text alternative),
// what needs attention, each repository, and what the figures leave out.

import { $, el, fill, guard, loading, ticket } from './dom.js';
import { api, query, showError } from './api.js';
import {
  BAND_WORDS, MEASURES, REASON_WORDS, SIGNAL_WORDS, SOURCE_WORDS,
  fmtHours, hoursText, minutesText, oneDecimal, percent, trend,
} from './measures.js';
import * as state from './state.js';

let weeks = 12;
// The dashboard looks a little wider than the operation's default sample
// (10): a workspace's 12 most recently updated repositories, within the
// default budget of 120 upstream requests. The gateway keeps an analysis
// for minutes, so looking again costs nothing upstream.
const SAMPLE = 12;
const BUDGET = 120;

const LISTS = ['dora', 'insights-flow', 'insights-charts', 'attention-list'];

export function wire() {
  for (const button of document.querySelectorAll('#insights-window [data-weeks]')) {
    button.addEventListener('click', guard(() => {
      weeks = Number(button.dataset.weeks);
      markWindow();
      return load();
    }));
  }
  markWindow();
}

function markWindow() {
  for (const button of document.querySelectorAll('#insights-window [data-weeks]')) {
    button.setAttribute('aria-pressed', String(Number(button.dataset.weeks) === weeks));
  }
}

export async function load() {
  const section = $('insights');
  section.hidden = !state.ws();
  if (!state.ws()) return;
  const still = ticket('insights');
  for (const id of LISTS) loading($(id), id === 'dora' ? 4 : 2);
  $('insights-repos').replaceChildren();
  $('insights-partial').hidden = true;
  $('insights-summary').textContent = `Reading ${weeks} weeks of ${state.ws()}…`;
  let answer;
  try {
    answer = await api(`/bitbucket/insights/delivery${query({ workspace: state.ws(), weeks, max_repositories: SAMPLE, max_requests: BUDGET })}`);
  } catch (error) {
    if (!still()) return;
    for (const id of LISTS) fill($(id), [], 'Could not load delivery insights.');
    $('insights-summary').textContent = '';
    showError(error);
    return;
  }
  if (!still()) return;
  const insights = answer.insights ?? {};
  renderSummary(insights);
  renderPartial(insights);
  renderDora(insights.rollup ?? {});
  renderFlow(insights.rollup ?? {});
  renderCharts(answer.charts ?? []);
  renderAttention(insights.attention ?? []);
  renderRepositories(insights.repositories ?? []);
}

const day = (stamp) => {
  const date = new Date(stamp);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleDateString([], { day: 'numeric', month: 'short' });
};

function renderSummary(insights) {
  const sampled = insights.repositories?.length ?? 0;
  $('insights-summary').textContent = [
    `${insights.weeks ?? weeks} weeks, ${day(insights.window_start)} – ${day(insights.window_end)}`,
    `${sampled} of ${insights.repositories_in_workspace ?? sampled} repositories`,
  ].join(' · ');
}

function renderPartial(insights) {
  const box = $('insights-partial');
  const leftOut = insights.left_out ?? [];
  const notSampled = insights.not_sampled ?? 0;
  box.hidden = !insights.partial;
  if (!insights.partial) return;
  // replaceChildren would write a null as the text "null".
  box.replaceChildren(...[
    el('strong', { text: 'Partial figures. ' }),
    el('span', { text: leftOut.length ? 'Left out:' : 'Some repositories are not in these figures.' }),
    leftOut.length ? el('ul', {}, leftOut.map((r) => el('li', { 'data-testid': 'left-out-row' },
      el('span', { class: 'mono', text: r.repo_slug }),
      ` — ${REASON_WORDS[r.reason] ?? r.reason}${r.detail ? `: ${r.detail}` : ''}`))) : null,
    notSampled ? el('p', { 'data-testid': 'not-sampled', text: `${notSampled} more ${notSampled === 1 ? 'repository was' : 'repositories were'} not sampled.` }) : null,
  ].filter(Boolean));
}

function band(value) {
  return el('span', { class: 'band', 'data-band': value || 'none', 'data-testid': 'dora-band', text: value ? `${BAND_WORDS[value] ?? value} band` : 'No band' });
}

function measureCard({ testid, label, value, unit, bandValue, change, meta }) {
  return el('li', { 'data-testid': testid, class: 'measure' },
    el('span', { class: 'label', text: label }),
    el('span', { class: 'value' }, value ?? '—', unit && value != null ? el('span', { class: 'unit', text: ` ${unit}` }) : null),
    band(bandValue),
    el('span', { class: 'trend', 'data-trend': change.direction, text: change.text }),
    meta ? el('span', { class: 'meta muted', text: meta }) : null);
}

function renderDora(rollup) {
  const dora = rollup.dora ?? {};
  const byWeek = rollup.weeks ?? [];
  const lead = fmtHours(dora.lead_time?.median_hours);
  const restore = fmtHours(dora.time_to_restore?.median_hours);
  fill($('dora'), [
    measureCard({
      testid: 'dora-deployment-frequency', label: 'Deployment frequency',
      value: dora.deployments_per_week != null ? oneDecimal(dora.deployments_per_week) : null, unit: 'per week',
      bandValue: dora.deployment_frequency_band, change: trend(byWeek, MEASURES.deployments),
      meta: `${dora.deployments ?? 0} deployments`,
    }),
    measureCard({
      testid: 'dora-lead-time', label: 'Lead time for changes',
      value: lead?.value, unit: lead?.unit, bandValue: dora.lead_time_band, change: trend(byWeek, MEASURES.leadTime),
      meta: `median of ${dora.lead_time?.count ?? 0} changes · p90 ${hoursText(dora.lead_time?.p90_hours)}${dora.changes_not_deployed ? ` · ${dora.changes_not_deployed} not deployed yet` : ''}`,
    }),
    measureCard({
      testid: 'dora-change-failure-rate', label: 'Change failure rate',
      value: dora.change_failure_rate != null ? String(Math.round(dora.change_failure_rate * 100)) : null, unit: '%',
      bandValue: dora.change_failure_band, change: trend(byWeek, MEASURES.changeFailure),
      meta: `${dora.failed_deployments ?? 0} failed of ${dora.deployments ?? 0}`,
    }),
    measureCard({
      testid: 'dora-time-to-restore', label: 'Time to restore',
      value: restore?.value, unit: restore?.unit, bandValue: dora.time_to_restore_band, change: trend(byWeek, MEASURES.restore),
      meta: `median of ${dora.time_to_restore?.count ?? 0} restores${dora.unrestored_failures ? ` · ${dora.unrestored_failures} not restored` : ''}`,
    }),
  ]);
}

function figure(testid, label, value, sub) {
  return el('li', { 'data-testid': testid },
    el('span', { class: 'value', text: value }),
    el('span', { class: 'label', text: label }),
    sub ? el('span', { class: 'meta muted', text: sub }) : null);
}

function renderFlow(rollup) {
  const review = rollup.review ?? {};
  const p = rollup.pipelines ?? {};
  fill($('insights-flow'), [
    figure('flow-first-review', 'Time to first review', hoursText(review.time_to_first_review?.median_hours),
      `median · p90 ${hoursText(review.time_to_first_review?.p90_hours)}`),
    figure('flow-merge', 'Time to merge', hoursText(review.time_to_merge?.median_hours),
      `median · p90 ${hoursText(review.time_to_merge?.p90_hours)} · ${review.merged ?? 0} merged`),
    figure('flow-waiting', 'Waiting for review', String(review.waiting_for_review ?? 0),
      `${review.open ?? 0} open${review.oldest_waiting_hours != null ? ` · oldest ${hoursText(review.oldest_waiting_hours)}` : ''}`),
    figure('flow-success', 'Pipeline success', percent(p.success_rate),
      `${p.runs ?? 0} runs · ${p.failed ?? 0} failed · ${p.stopped ?? 0} stopped`),
    figure('flow-duration', 'Pipeline duration', minutesText(p.duration_p50_seconds),
      `median · p90 ${minutesText(p.duration_p90_seconds)}`),
  ]);
}

function renderCharts(charts) {
  fill($('insights-charts'), charts.map((chart) => el('li', {},
    el('figure', { 'data-testid': 'insights-chart', 'data-name': chart.name },
      el('img', { src: chart.svg ? `data:image/svg+xml;charset=utf-8,${encodeURIComponent(chart.svg)}` : chart.url, alt: chart.alt, width: 640, height: 300, decoding: 'async' }),
      el('figcaption', { text: chart.title })))), 'No charts.');
}

function renderAttention(attention) {
  fill($('attention-list'), attention.map((item) => el('li', { 'data-testid': 'attention-row', 'data-signal': item.signal },
    el('span', { class: 'title mono', text: item.repo_slug }),
    el('span', { class: 'badge', 'data-status': 'attention', text: SIGNAL_WORDS[item.signal] ?? item.signal }),
    item.detail ? el('span', { class: 'meta', text: item.detail }) : null)), 'Nothing needs attention.');
}

function renderRepositories(repositories) {
  const cell = (label, text) => el('td', { 'data-label': label, text });
  $('insights-repos').replaceChildren(...repositories.map((r) => {
    const f = r.figures ?? {};
    const dora = f.dora ?? {};
    return el('tr', { 'data-testid': 'insights-repo-row' },
      el('th', { scope: 'row', class: 'mono', text: r.repo_slug }),
      cell('Source', SOURCE_WORDS[r.deployment_source] ?? r.deployment_source ?? '—'),
      cell('Deploys / week', dora.deployments_per_week != null ? oneDecimal(dora.deployments_per_week) : '—'),
      cell('Lead time', hoursText(dora.lead_time?.median_hours)),
      cell('Change failures', percent(dora.change_failure_rate)),
      cell('Restore', hoursText(dora.time_to_restore?.median_hours)),
      cell('Pipeline success', percent(f.pipelines?.success_rate)));
  }));
  $('insights-repos-empty').hidden = repositories.length > 0;
}
