import { readFileSync } from 'node:fs';
import type { Report } from '../core/report.js';
import { sloMet, withSlo } from '../core/slo.js';
import { renderTable } from '../report/table.js';
import { checkOutputs, STDOUT, writeReports } from '../report/write.js';
import { CliError } from './errors.js';
import type { CliIo, Output } from './io.js';

/**
 * The end of `compare` and `simulate`: the SLO verdicts, the table, the report files, the
 * report's directory, the exit code. With `--json -` the JSON report is all that goes to stdout
 * (for a pipe); the table and the rest go to stderr.
 */

export interface ReportFlags {
  readonly json?: string;
  readonly html?: string;
  readonly out?: string;
  readonly slo?: string;
}

/** Refuse output paths that could not be written, before a run spends any time. */
export function checkReportFlags(flags: ReportFlags): void {
  try {
    checkOutputs({ dir: flags.out, json: flags.json, html: flags.html });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}

/** Where the human-readable summary goes: stdout, unless stdout carries the JSON report. */
function summaryStream(io: CliIo, flags: ReportFlags): Output {
  return flags.json === STDOUT ? io.stderr : io.stdout;
}

/** ANSI colour on a terminal, unless NO_COLOR is set (no-color.org). */
export function useColor(stream: Output): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR;
}

/** Print the table (and `extra` under it), write the report files, print where they went; exit code 1 when a policy missed the SLO. */
export async function finishReport(io: CliIo, report: Report, flags: ReportFlags, scenarioFile: string, sloText: string | undefined, extra = ''): Promise<Report> {
  const checked = withSlo(report, flags.slo ?? sloText);
  const out = summaryStream(io, flags);
  out.write(`${renderTable(checked, { color: useColor(out) })}\n${extra === '' ? '' : `${extra}\n`}`);
  const written = await writeReports(checked, { dir: flags.out, json: flags.json, html: flags.html, scenarioText: readFileSync(scenarioFile, 'utf8'), stdout: io.stdout });
  if (written.dir !== undefined) out.write(`report: ${written.dir}\n`);
  if (!sloMet(checked)) io.fail(1);
  return checked;
}
