import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Replace the `## heading` section of a Markdown file (up to the next `## `) with `section`, or
 * append it; the file is created with a `# Benchmarks` title if missing. Benchmarks each own one
 * section of BENCHMARKS.md and rewrite only it.
 */
export function replaceSection(file: string, heading: string, section: string): void {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  // The whole heading line, so "## Simulator speed" does not match "## Simulator speed: why".
  const line = `\n## ${heading}\n`;
  const at = existing.indexOf(line);
  const start = at < 0 ? -1 : at + 1;
  let next: string;
  if (start < 0) {
    next = `${existing.trimEnd()}\n\n${section}`;
  } else {
    const end = existing.indexOf('\n## ', start + 1);
    next = `${existing.slice(0, start)}${section}${end < 0 ? '' : `\n${existing.slice(end + 1)}`}`;
  }
  writeFileSync(file, next);
}
