import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, relative } from 'node:path';
import type { Report } from '../core/report.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';

/**
 * Where reports go. With neither `json` nor `html`, all three files (report.json, report.html,
 * report.md) go into `dir`, by default `reports/<scenario>-<timestamp>/`. With an explicit `json`
 * and/or `html` path, exactly those are written, and the Markdown summary goes beside the HTML
 * (or the JSON when there is no HTML). Used by `compare` and `simulate` alike.
 */

export interface WriteOptions {
  readonly dir?: string;
  readonly json?: string;
  readonly html?: string;
  /** The scenario file's text, for the HTML page. */
  readonly scenarioText?: string;
  /** Base of the default directory; `reports` under the working directory unless given. */
  readonly reportsRoot?: string;
}

export interface WrittenReports {
  /** The directory the report's files are in (the HTML's, the JSON's, or the default one). */
  readonly dir: string;
  readonly json?: string;
  readonly html?: string;
  readonly markdown: string;
}

/** `default-2026-11-26T00-31-02` — sortable, and safe in file names on every OS. */
function defaultReportDir(report: Report, root = 'reports', at: Date = new Date()): string {
  const stamp = at.toISOString().replace(/\.\d+Z$/, '').replace(/:/g, '-');
  return join(root, `${report.scenario}-${stamp}`);
}

function beside(path: string, ext: string): string {
  return join(dirname(path), `${basename(path, extname(path))}${ext}`);
}

async function write(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

export async function writeReports(report: Report, opts: WriteOptions = {}): Promise<WrittenReports> {
  const explicit = opts.json !== undefined || opts.html !== undefined;
  const dir = opts.dir ?? defaultReportDir(report, opts.reportsRoot);
  const jsonPath = explicit ? opts.json : join(dir, 'report.json');
  const htmlPath = explicit ? opts.html : join(dir, 'report.html');
  const markdownPath = htmlPath !== undefined ? beside(htmlPath, '.md') : beside(jsonPath as string, '.md');

  if (jsonPath !== undefined) await write(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  if (htmlPath !== undefined) await write(htmlPath, await renderHtml({ report, scenarioText: opts.scenarioText }));
  // Links in the summary are relative to it, so the directory can be moved as a whole.
  const link = (p: string | undefined): string | undefined => (p === undefined ? undefined : relative(dirname(markdownPath), p));
  await write(markdownPath, renderMarkdown(report, { html: link(htmlPath), json: link(jsonPath) }));
  return { dir: dirname(markdownPath), json: jsonPath, html: htmlPath, markdown: markdownPath };
}
