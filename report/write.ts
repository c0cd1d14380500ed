import { closeSync, openSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import type { Report } from '../core/report.js';
import { renderMarkdown } from './markdown.js';

/**
 * Where reports go. With neither `json` nor `html`, all three files (report.json, report.html,
 * report.md) go into `dir`, by default `reports/<scenario>-<timestamp>/`. With an explicit `json`
 * and/or `html` path, exactly those are written, plus the Markdown summary beside the HTML when
 * there is one; `json: '-'` writes the JSON to `stdout` instead of a file. Used by `compare` and
 * `simulate` alike; `checkOutputs` refuses paths that cannot be written before a run starts.
 */

/** The `json` path that means standard output. */
export const STDOUT = '-';

export interface WriteOptions {
  readonly dir?: string;
  readonly json?: string;
  readonly html?: string;
  /** The scenario file's text, for the HTML page. */
  readonly scenarioText?: string;
  /** Base of the default directory; `reports` under the working directory unless given. */
  readonly reportsRoot?: string;
  /** Where `json: '-'` goes (process.stdout unless given). */
  readonly stdout?: { write(text: string): unknown };
}

export interface WrittenReports {
  /** The directory the report's files are in (the HTML's, the JSON's, or the default one); undefined when only stdout was written. */
  readonly dir?: string;
  readonly json?: string;
  readonly html?: string;
  readonly markdown?: string;
}

/**
 * `default-2026-11-26T00-31-02` — sortable, and safe in file names on every OS: the scenario's name
 * is free text, so anything but letters, digits, `.`, `_` and `-` becomes `-`, and a leading dot
 * too, so that a name such as `../x` or `a/b` stays one directory under the root.
 */
export function defaultReportDir(report: Pick<Report, 'scenario'>, root = 'reports', at: Date = new Date()): string {
  const stamp = at.toISOString().replace(/\.\d+Z$/, '').replace(/:/g, '-');
  const name = report.scenario.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^\./, '-');
  return join(root, `${name}-${stamp}`);
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
  const markdownPath = htmlPath !== undefined ? beside(htmlPath, '.md') : undefined;
  const json = `${JSON.stringify(report, null, 2)}\n`;

  if (jsonPath === STDOUT) (opts.stdout ?? process.stdout).write(json);
  else if (jsonPath !== undefined) await write(jsonPath, json);
  if (htmlPath !== undefined) {
    // Loaded here, not at the top: the charts' libraries (Vega, Vega-Lite) are ~28 MB of heap that
    // every process importing this module (the dispatcher and hosts, through the CLI) would carry.
    const { renderHtml } = await import('./html.js');
    await write(htmlPath, await renderHtml({ report, scenarioText: opts.scenarioText }));
  }
  const jsonFile = jsonPath === STDOUT ? undefined : jsonPath;
  if (markdownPath !== undefined) {
    // Links in the summary are relative to it, so the directory can be moved as a whole.
    const link = (p: string | undefined): string | undefined => (p === undefined ? undefined : relative(dirname(markdownPath), p));
    await write(markdownPath, renderMarkdown(report, { html: link(htmlPath), json: link(jsonFile) }));
  }
  const anchor = markdownPath ?? jsonFile;
  return { dir: anchor === undefined ? undefined : dirname(anchor), json: jsonPath, html: htmlPath, markdown: markdownPath };
}

/** The nearest existing ancestor of a path (the path itself if it exists). */
function nearestExisting(path: string): string {
  let p = resolve(path);
  for (;;) {
    try {
      statSync(p);
      return p;
    } catch {
      const up = dirname(p);
      if (up === p) return p;
      p = up;
    }
  }
}

/**
 * Whether a file can be created in the existing directory `dir`: by creating one and removing it.
 * Permission bits do not say (root passes every access check, and a directory such as /proc
 * refuses new files whatever its bits), and a run must not end with its report unwritable.
 */
function canCreateIn(dir: string): boolean {
  // A name of its own: one left by a killed process would make 'wx' fail here for good.
  const probe = join(dir, `.dispatchlab-write-check-${process.pid}-${randomUUID()}`);
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** That directory `path` can be created and written; `target` is what the message names (a file in it). */
function writableDir(path: string, what: string, target = path): void {
  const existing = nearestExisting(path);
  if (!statSync(existing).isDirectory()) throw new Error(`${what}: cannot create ${target}: ${existing} is a file, not a directory`);
  if (!canCreateIn(existing)) throw new Error(`${what}: cannot write ${target}: no file can be created in ${existing}`);
}

function writableFile(path: string, what: string): void {
  let isDir = false;
  let exists = false;
  try {
    isDir = statSync(path).isDirectory();
    exists = true;
  } catch {
    // Does not exist yet: its directory must be creatable.
  }
  if (isDir) throw new Error(`${what}: ${path} is a directory; give a file name`);
  if (exists) {
    // Opened for writing without truncating it: a report written over it later must be allowed to.
    try {
      closeSync(openSync(path, 'r+'));
    } catch {
      throw new Error(`${what}: cannot write ${path}: the file is not writable`);
    }
  }
  writableDir(dirname(path), what, path);
}

/**
 * Refuse, before any run, output paths that could not be written: a file where a directory is
 * needed, a directory where a file is, a read-only place. Throws an Error with one line that names
 * the flag.
 */
export function checkOutputs(opts: Pick<WriteOptions, 'dir' | 'json' | 'html' | 'reportsRoot'>): void {
  if (opts.json !== undefined && opts.json !== STDOUT) writableFile(opts.json, '--json');
  if (opts.html !== undefined) {
    if (opts.html === STDOUT) throw new Error('--html: the HTML report goes to a file; only --json can be "-" (stdout)');
    writableFile(opts.html, '--html');
  }
  if (opts.json === undefined && opts.html === undefined) writableDir(opts.dir ?? opts.reportsRoot ?? 'reports', opts.dir !== undefined ? '--out' : 'report directory');
}
