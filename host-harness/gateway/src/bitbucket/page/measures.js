// The dashboard's arithmetic and wording: how a duration, a rate and a band
// read, and whether the last four weeks did better than the four before.
// No DOM here.

export const fmtHours = (hours) => {
  if (hours == null) return null;
  if (hours < 1) return { value: String(Math.round(hours * 60)), unit: 'min' };
  if (hours < 48) return { value: oneDecimal(hours), unit: 'h' };
  return { value: oneDecimal(hours / 24), unit: 'days' };
};

export const hoursText = (hours) => {
  const f = fmtHours(hours);
  return f ? `${f.value} ${f.unit}` : '—';
};

export const percent = (rate) => (rate == null ? '—' : `${Math.round(rate * 100)}%`);

export const oneDecimal = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(1).replace(/\.0$/, ''));

// Seconds as minutes and seconds ("4m 10s"), rounded to whole seconds.
export function minutesText(seconds) {
  if (seconds == null) return '—';
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m ? `${m}m ${s % 60}s` : `${s}s`;
}

export const BAND_WORDS = { elite: 'Elite', high: 'High', medium: 'Medium', low: 'Low' };

export const SOURCE_WORDS = {
  production_environment: 'Production environment',
  main_branch_pipelines: 'Main-branch pipelines',
  none: 'Not deployed',
};

export const SIGNAL_WORDS = {
  unrestored_failure: 'Unrestored failure',
  change_failures: 'Change failures',
  failing_pipelines: 'Failing pipelines',
  waiting_for_review: 'Waiting for review',
  slow_lead_time: 'Slow lead time',
};

export const REASON_WORDS = {
  budget: 'request budget spent',
  rate_limited: 'rate-limited by Bitbucket',
  not_found: 'not found',
  forbidden: 'not allowed',
  upstream_error: 'Bitbucket failed',
};

const sum = (values) => values.reduce((a, b) => a + b, 0);
const mean = (values) => (values.length ? sum(values) / values.length : null);
const present = (values) => values.filter((v) => v != null && Number.isFinite(v));

// Each DORA measure over a run of weeks: a count per week, or the mean of
// the weeks' medians where a week has one, or failed over deployed.
export const MEASURES = {
  deployments: { of: (weeks) => mean(weeks.map((w) => w.deployments ?? 0)), higherIsBetter: true },
  leadTime: { of: (weeks) => mean(present(weeks.map((w) => w.lead_time_median_hours))), higherIsBetter: false },
  changeFailure: {
    of: (weeks) => {
      const deployed = sum(weeks.map((w) => w.deployments ?? 0));
      return deployed ? sum(weeks.map((w) => w.failed_deployments ?? 0)) / deployed : null;
    },
    higherIsBetter: false,
  },
  restore: { of: (weeks) => mean(present(weeks.map((w) => w.time_to_restore_median_hours))), higherIsBetter: false },
};

// The last 4 weeks against the 4 before, as words that do not lean on the
// arrow or a colour: { direction: 'better'|'worse'|'steady'|'unknown', text }.
export function trend(weeks, measure) {
  if (!Array.isArray(weeks) || weeks.length < 8) {
    return { direction: 'unknown', text: 'Trend needs 8 weeks or more' };
  }
  const now = measure.of(weeks.slice(-4));
  const before = measure.of(weeks.slice(-8, -4));
  if (now == null || before == null) return { direction: 'unknown', text: 'Not enough data for a trend' };
  if (before === 0 && now === 0) return { direction: 'steady', text: '→ steady on the 4 weeks before' };
  const change = before === 0 ? 1 : (now - before) / Math.abs(before);
  if (Math.abs(change) < 0.05) return { direction: 'steady', text: '→ steady on the 4 weeks before' };
  const up = change > 0;
  const better = up === measure.higherIsBetter;
  const size = before === 0 ? '' : ` ${Math.round(Math.abs(change) * 100)}%`;
  return {
    direction: better ? 'better' : 'worse',
    text: `${up ? '↑ up' : '↓ down'}${size} on the 4 weeks before (${better ? 'better' : 'worse'})`,
  };
}
