import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The file and Node flags to fork one of loadtest/'s child-process entries (`name`, without its
 * extension) with, from the build (dist/*.js) and from source under tsx or vitest (*.ts: the
 * child is started with `--import tsx`).
 */
export function childEntry(name: string): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  return { file: join(dirname(here), `${name}${ext}`), execArgv: ext === '.ts' ? ['--import', 'tsx'] : [] };
}
