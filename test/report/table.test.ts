import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../report/markdown.js';
import { renderTable } from '../../report/table.js';
import { fixtureReport } from './fixture.js';

function row(table: string, policy: string): string[] {
  const line = table.split('\n').find((l) => l.includes(` ${policy} `));
  if (!line) throw new Error(`no row for ${policy}`);
  return line.split('│').map((c) => c.trim()).filter((c) => c !== '');
}

describe('renderTable', () => {
  const table = renderTable(fixtureReport());

  it('prints one row per policy, errors first, with the best of each ranked column marked', () => {
    // columns: policy, errors, ok/s, mean, p50, p90, p99, p99.9, queue, max/mean, Jain, sticky
    expect(row(table, 'least-loaded')).toEqual(['least-loaded', '0*', '100.0*', '5.00*', '4.00*', '9.00*', '20.0*', '40.0*', '0.10*', '1.40', '0.86', '-']);
    // round-robin failed 3 of its 1000 requests: its speed columns are not in the running.
    expect(row(table, 'round-robin')).toEqual(['round-robin', '3 (0.3%)', '50.0', '10.0', '8.00', '18.0', '40.0', '80.0', '0.10', '1.00', '1.00', '-']);
    expect(row(table, 'session-sticky')[1]).toBe('0*'); // a tie is marked in every tied row
    expect(row(table, 'session-sticky')[11]).toBe('98.0%'); // the only sticky value is not "best" of one
  });

  it('never shows a latency for a run with no successful answer, nor lets a run with errors look best', () => {
    const report = fixtureReport();
    const [rr, ll, sticky] = report.runs;
    const failed = { ...rr, policy: 'all-failed', errors: rr.requests, throughputRps: 0, latencyMs: { mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 } };
    // Faster than everyone on the few it answered, but it failed 30% of its requests.
    const fastButFailing = { ...ll, policy: 'fast-but-failing', errors: 300, throughputRps: 500, latencyMs: { mean: 1, p50: 1, p90: 1, p99: 1, p999: 1, max: 1 } };
    const text = renderTable({ ...report, runs: [failed, fastButFailing, sticky] });
    expect(row(text, 'all-failed').slice(1, 8)).toEqual(['1000 (100%)', '-', '-', '-', '-', '-', '-']);
    expect(row(text, 'fast-but-failing').slice(1, 4)).toEqual(['300 (30%)', '500.0', '1.00']);
    expect(row(text, 'session-sticky').slice(1, 4)).toEqual(['0*', '66.7*', '7.50*']);
  });

  it('shows dropped arrivals and the SLO verdict only when there are some, and warns when the generator fell behind', () => {
    const report = fixtureReport();
    expect(table).not.toMatch(/dropped|SLO|warning/);
    const [rr, ll] = report.runs;
    const text = renderTable({
      ...report,
      slo: 'p99<1ms',
      runs: [
        { ...rr, dropped: 7, late: 40, sendLagMs: { p99: 35, max: 120 }, slo: { pass: false, failed: ['p99<1ms (was 40.00 ms)'] } },
        { ...ll, dropped: 0, late: 0, sendLagMs: { p99: 1, max: 2 }, slo: { pass: false, failed: ['p99<1ms (was 20.00 ms)'] } },
      ],
    });
    expect(row(text, 'round-robin').slice(0, 4)).toEqual(['round-robin', 'FAIL', '3 (0.3%)', '7']);
    expect(row(text, 'least-loaded').slice(0, 4)).toEqual(['least-loaded', 'FAIL', '0*', '0']);
    expect(text).toContain('SLO p99<1ms: 2 of 2 policies failed');
    expect(text).toMatch(/warning: round-robin: the load generator sent 40 of 1000 arrivals 10 ms or more late \(send lag p99 35.0 ms, max 120.0 ms\)/);
    expect(text).not.toMatch(/warning: least-loaded/);
  });

  it('has no ANSI escapes unless colour is asked for', () => {
    expect(table).not.toContain('\u001b[');
    expect(renderTable(fixtureReport(), { color: true })).toContain('\u001b[1;32m100.0*');
  });
});

describe('renderMarkdown', () => {
  it('is a Markdown table with the best values in bold and the command', () => {
    const md = renderMarkdown(fixtureReport(), { html: 'report.html' });
    expect(md).toContain('| least-loaded | **0** | **100.0** | **5.00** |');
    expect(md).toContain('[report.html](report.html)');
    expect(md).toContain('dispatchlab compare --scenario scenarios/tiny.yaml');
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(4);
  });
});
