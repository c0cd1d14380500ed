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

  it('prints one row per policy with the best of each ranked column marked', () => {
    // columns: policy, req/s, mean, p50, p90, p99, p99.9, errors, max/mean, Jain, sticky
    expect(row(table, 'least-loaded')).toEqual(['least-loaded', '100.0*', '5.00*', '4.00*', '9.00*', '20.0*', '40.0*', '0*', '1.40', '0.86', '-']);
    expect(row(table, 'round-robin')).toEqual(['round-robin', '50.0', '10.0', '8.00', '18.0', '40.0', '80.0', '3', '1.00', '1.00', '-']);
    expect(row(table, 'session-sticky')[7]).toBe('0*'); // a tie is marked in every tied row
    expect(row(table, 'session-sticky')[10]).toBe('98.0%'); // the only sticky value is not "best" of one
  });

  it('has no ANSI escapes unless colour is asked for', () => {
    expect(table).not.toContain('\u001b[');
    expect(renderTable(fixtureReport(), { color: true })).toContain('\u001b[1;32m100.0*');
  });
});

describe('renderMarkdown', () => {
  it('is a Markdown table with the best values in bold and the command', () => {
    const md = renderMarkdown(fixtureReport(), { html: 'report.html' });
    expect(md).toContain('| least-loaded | **100.0** | **5.00** |');
    expect(md).toContain('[report.html](report.html)');
    expect(md).toContain('dispatchlab compare --scenario scenarios/tiny.yaml');
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(4);
  });
});
