import { readFile, stat } from 'node:fs/promises';
import { register } from 'node:module';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from 'esbuild';
import { tsImport } from 'tsx/esm/api';
import type { BackendId, Millis } from '../core/types.js';
import type { BackendView, Outcome, PickContext, Policy, PolicyDefinition, PolicyDeps } from './policy.js';

/**
 * A user's policy in one file (`.ts`, `.mts`, `.js`, `.mjs`) whose default export is a
 * PolicyDefinition, loaded at run time without a build step. tsx's scoped loader (`tsImport`)
 * compiles TypeScript on Node 20, 22 and 24 alike (Node 20 has no type stripping, and Node 22's
 * before 22.18 sits behind a flag), and its esbuild source maps keep the user's line numbers in
 * stack traces. Two resolve rules are added for these files only:
 * - `dispatchlab/policy` (the public types module, policies/api.ts) resolves to the running
 *   dispatcher's own copy, so a file anywhere (a compose mount, /tmp) needs no node_modules;
 * - the file is an ES module even outside an ES-module package (tsx would compile it to CommonJS
 *   there, and stack traces would then point into a data: URL instead of the user's lines).
 * Loaded definitions are cached by absolute path, so creating a policy stays synchronous (the
 * simulator is) once `loadPolicyFile` has run. A policy file is an ES module that imports only
 * `dispatchlab/policy` and Node's built-ins (docs/policies.md).
 */

export class PolicyFileError extends Error {
  override name = 'PolicyFileError';
}

const SOURCE_EXTENSIONS = /\.(ts|mts|js|mjs)$/;
const loaded = new Map<string, PolicyDefinition | PolicyFileError>();
let hooksRegistered = false;

/** Does a policy name from a scenario or the command line name a file? */
export function isPolicyFile(text: string): boolean {
  return SOURCE_EXTENSIONS.test(text);
}

function registerHooks(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  const api = new URL(import.meta.url.endsWith('.ts') ? './api.ts' : './api.js', import.meta.url).href;
  const hooks = `export async function resolve(specifier, context, next) {
    const resolved = await next(specifier === 'dispatchlab/policy' ? ${JSON.stringify(api)} : specifier, context);
    if (context.parentURL !== ${JSON.stringify(import.meta.url)}) return resolved;
    const typescript = /[.]m?ts([?#].*)?$/.test(resolved.url);
    return { ...resolved, format: typescript ? 'module-typescript' : 'module' };
  }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}

/** `file:line:column` of the first stack frame in `path`, or `path` when there is none. */
/** `text` as a regular expression that matches it literally. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function locate(err: unknown, path: string): string {
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  const frame = new RegExp(`(?:${escapeRegExp(path)}|${escapeRegExp(pathToFileURL(path).href)})(?:\\?[^:]*)?:(\\d+)(?::(\\d+))?`).exec(stack);
  return frame === null ? path : `${path}:${frame[1]}${frame[2] === undefined ? '' : `:${frame[2]}`}`;
}

function firstLine(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return `${err.name}: ${err.message.split('\n')[0]}`;
}

/**
 * "<file>:<line>:<col>: syntax error: <what>" from esbuild's failure text (TypeScript and
 * JavaScript syntax errors: "Transform failed ...\n<file>:<line>:<col>: ERROR: <what>"), or undefined.
 */
function syntaxErrorOf(err: unknown): string | undefined {
  const failed = /^(.+:\d+:\d+): ERROR: (.*)$/m.exec(err instanceof Error ? err.message : '');
  return failed === null ? undefined : `${failed[1]}: syntax error: ${failed[2]}`;
}

/** Why loading failed, in one line that starts with file:line:column where there is one. */
async function loadFailure(err: unknown, path: string): Promise<PolicyFileError> {
  const syntax = syntaxErrorOf(err);
  if (syntax !== undefined) return new PolicyFileError(syntax);
  const missing = missingImport(err);
  if (missing !== undefined) return new PolicyFileError(await missingImportMessage(missing.name, missing.importer, missing.what, path));
  // Node parses .js and .mjs files itself, and its SyntaxError has no location (Node 20 puts it in
  // neither the message nor the stack): the file goes through esbuild, as a .ts file does, for one.
  if (err instanceof Error && err.name === 'SyntaxError') {
    const where = await syntaxErrorAt(path);
    if (where !== undefined) return new PolicyFileError(where);
  }
  return new PolicyFileError(`${locate(err, path)}: loading the file failed: ${firstLine(err)}`);
}

/**
 * A module that a policy file (or a file it imports) imports and that does not resolve, from
 * Node's ES module error ("Cannot find package 'x' imported from /dir/file.ts") or, for a
 * CommonJS file further down, the require error ("Cannot find module 'x'\nRequire stack:\n- /dir/file.cjs").
 */
function missingImport(err: unknown): { name: string; importer: string; what: 'package' | 'module' } | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : '';
  const esm = code === 'ERR_MODULE_NOT_FOUND' ? /^Cannot find (package|module) '([^']+)' imported from (.+)$/m.exec(message) : null;
  const cjs = code === 'MODULE_NOT_FOUND' ? /^Cannot find module '([^']+)'\nRequire stack:\n- (.+)$/m.exec(message) : null;
  const found = esm !== null ? { what: esm[1] as 'package' | 'module', name: esm[2], importer: esm[3] } : cjs !== null ? { what: 'module' as const, name: cjs[1], importer: cjs[2] } : undefined;
  if (found === undefined) return undefined;
  const importer = found.importer.replace(/[?#].*$/, '');
  return { ...found, importer: importer.startsWith('file:') ? fileURLToPath(importer) : importer };
}

/**
 * "<importer>:<line>:<col>: cannot find package 'x' that it imports (...)", the line found in the
 * importer's text; a relative import is named as written, not as the path Node resolved it to.
 */
async function missingImportMessage(name: string, importer: string, what: 'package' | 'module', path: string): Promise<string> {
  const written = isAbsolute(name) ? relativeImport(dirname(importer), name) : name;
  const source = await readFile(importer, 'utf8').catch(() => '');
  const quoted = (specifier: string): RegExp => new RegExp(`(['"])${escapeRegExp(specifier)}(?:/[^'"\n]*)?\\1`);
  const match = quoted(written).exec(source) ?? quoted(name).exec(source);
  const before = match === null ? undefined : source.slice(0, match.index).split('\n');
  const at = before === undefined ? importer : `${importer}:${before.length}:${before[before.length - 1].length + 1}`;
  const hint = importer !== path ? '' : ` (a policy file imports only dispatchlab/policy${written === 'zod' ? ', which exports z,' : ''} and Node's built-in modules)`;
  return `${at}: cannot find ${what} '${written}' that it imports${hint}`;
}

function relativeImport(from: string, to: string): string {
  const rel = relative(from, to);
  return rel.startsWith('../') ? rel : `./${rel}`;
}

/** "<file>:<line>:<col>: syntax error: <what>" from esbuild (the version tsx compiles the .ts files with), or undefined. */
async function syntaxErrorAt(path: string): Promise<string | undefined> {
  try {
    const source = await readFile(path, 'utf8');
    await transform(source, { loader: /\.m?ts$/.test(path) ? 'ts' : 'js', format: 'esm', sourcefile: path });
  } catch (err) {
    return syntaxErrorOf(err);
  }
  return undefined;
}


/** Is there a file at `path` (a missing file is "no such file", not an import that failed)? */
async function fileProblem(path: string): Promise<string | undefined> {
  try {
    return (await stat(path)).isFile() ? undefined : 'not a file';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : `cannot read the file (${code ?? String(err)})`;
  }
}

/** What is wrong with a default export that should be a PolicyDefinition, or undefined. */
function shapeProblem(def: unknown): string | undefined {
  if (def === undefined) return 'the file has no default export';
  if (typeof def !== 'object' || def === null) return `the default export is a ${def === null ? 'null' : typeof def}, not an object`;
  const d = def as Record<string, unknown>;
  const missing = [
    typeof d.name === 'string' && d.name !== '' ? undefined : 'name (a non-empty string)',
    typeof (d.options as { safeParse?: unknown } | undefined)?.safeParse === 'function' ? undefined : 'options (a zod schema, e.g. z.strictObject({}))',
    typeof d.create === 'function' ? undefined : 'create(options, deps) (a function returning the Policy)',
  ].filter((m) => m !== undefined);
  return missing.length === 0 ? undefined : `the default export is not a PolicyDefinition: missing ${missing.join(', ')}`;
}

/**
 * Import a policy file, once per absolute path unless `fresh` (the admin API's switch re-reads it,
 * so an edited file takes effect without a restart; tsImport gives each import a module of its
 * own). Throws a PolicyFileError that names the file and line.
 */
export async function loadPolicyFile(file: string, fresh = false): Promise<PolicyDefinition> {
  const path = isAbsolute(file) ? file : resolve(file);
  if (fresh || !loaded.has(path)) {
    registerHooks();
    loaded.set(path, await importPolicyFile(path));
  }
  return loadedPolicyFile(path);
}

async function importPolicyFile(path: string): Promise<PolicyDefinition | PolicyFileError> {
  const missing = await fileProblem(path);
  if (missing !== undefined) return new PolicyFileError(`${path}: ${missing}`);
  try {
    const mod = (await tsImport(pathToFileURL(path).href, import.meta.url)) as { default?: unknown };
    const problem = shapeProblem(mod.default);
    return problem === undefined ? checkedDefinition(mod.default as PolicyDefinition, path) : new PolicyFileError(`${path}: ${problem}`);
  } catch (err) {
    return loadFailure(err, path);
  }
}

/** A file `loadPolicyFile` has loaded; throws its load error, or says it was not loaded. */
export function loadedPolicyFile(file: string): PolicyDefinition {
  const path = isAbsolute(file) ? file : resolve(file);
  const def = loaded.get(path);
  if (def === undefined) throw new PolicyFileError(`${path}: the policy file was not loaded (loadPolicyFile first)`);
  if (def instanceof PolicyFileError) throw def;
  return def;
}

/** The user's definition, with every policy it creates wrapped in a CheckedPolicy. */
function checkedDefinition(def: PolicyDefinition, path: string): PolicyDefinition {
  return {
    name: def.name,
    summary: typeof def.summary === 'string' ? def.summary : '',
    options: def.options,
    create(options, deps: PolicyDeps) {
      let policy: unknown;
      try {
        policy = def.create(options, deps);
      } catch (err) {
        throw new PolicyFileError(`${locate(err, path)}: create threw ${firstLine(err)}`);
      }
      if (typeof (policy as Policy | undefined)?.pick !== 'function') throw new PolicyFileError(`${path}: create() must return an object with a pick(backends, ctx) method`);
      return new CheckedPolicy(policy as Policy, path);
    },
  };
}

/**
 * A user's policy behind the checks a built-in needs no help with: an exception becomes a
 * PolicyFileError naming the file, line and hook, and `pick` must return the id of one of the
 * backends it was given (the Balancer then checks it is eligible). The Balancer fails the request
 * (live: 500) rather than the process. Costs one scan of the backends per pick.
 */
export class CheckedPolicy implements Policy {
  constructor(
    private readonly inner: Policy,
    readonly file: string,
  ) {}

  get name(): string {
    return this.inner.name;
  }
  get sticky(): boolean | undefined {
    return this.inner.sticky;
  }
  get session(): Policy['session'] {
    return this.inner.session;
  }

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    const id = this.call('pick', () => this.inner.pick(backends, ctx));
    if (id !== undefined && !backends.some((b) => b.id === id)) {
      const known = backends.map((b) => b.id).join(', ');
      throw new PolicyFileError(`${this.file}: pick returned ${JSON.stringify(id)}, which is not the id of any backend it was given (${known || 'none'})`);
    }
    return id;
  }

  onDispatch(id: BackendId, now: Millis): void {
    this.call('onDispatch', () => this.inner.onDispatch?.(id, now));
  }

  onComplete(id: BackendId, outcome: Outcome, now: Millis): void {
    this.call('onComplete', () => this.inner.onComplete?.(id, outcome, now));
  }

  onMembershipChange(backends: readonly BackendView[]): void {
    this.call('onMembershipChange', () => this.inner.onMembershipChange?.(backends));
  }

  trackedIds(): BackendId[] {
    return this.call('trackedIds', () => this.inner.trackedIds?.() ?? []);
  }

  private call<T>(hook: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new PolicyFileError(`${locate(err, this.file)}: ${hook} threw ${firstLine(err)}`);
    }
  }
}
