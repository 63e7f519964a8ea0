import type { Command } from 'commander';
import { inspectArchive } from '../reader/archive.js';
import { formatBytes } from './format.js';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('check an archive (.mar, .tar.gz or directory) and print its manifest and files')
    .argument('<archive>', 'the archive to read')
    .option('--json', 'print {format, manifest, entries} as JSON')
    .action(async (archive: string, flags: { json?: boolean }) => {
      const { format, manifest, entries } = await inspectArchive(archive);
      if (flags.json) {
        process.stdout.write(JSON.stringify({ format, manifest, entries }, null, 2) + '\n');
        return;
      }
      const { model, entryPoint } = manifest;
      const rows: [string, string][] = [
        ['archive', `${archive} (${format})`],
        ['model', `${model.modelName} ${model.modelVersion}`],
        ['handler', `${model.handler} -> ${entryPoint.bundle} export ${entryPoint.exportName} (source ${entryPoint.source})`],
        ['model file', model.serializedFile ?? '-'],
        ['config', Object.keys(manifest.config).length > 0 ? JSON.stringify(manifest.config) : '-'],
        ['created', `${manifest.createdOn} by model-archiver ${manifest.archiverVersion}, runtime ${manifest.runtime}`],
      ];
      if (model.description) rows.push(['description', model.description]);
      const lines = rows.map(([k, v]) => `${k.padEnd(11)} ${v}`);
      const sizes = entries.map((e) => formatBytes(e.size));
      const stored = entries.map((e) => (e.compressedSize === undefined ? '' : formatBytes(e.compressedSize)));
      const width = Math.max(4, ...sizes.map((s) => s.length));
      const storedWidth = Math.max(6, ...stored.map((s) => s.length));
      lines.push('', `${'SIZE'.padStart(width)}  ${format === 'zip' ? 'STORED'.padStart(storedWidth) + '  ' : ''}SHA256        PATH`);
      entries.forEach((e, i) => {
        const sha = manifest.files[e.path]?.sha256.slice(0, 12) ?? 'manifest    ';
        const zipColumn = format === 'zip' ? `${(stored[i] ?? '').padStart(storedWidth)}  ` : '';
        lines.push(`${(sizes[i] ?? '').padStart(width)}  ${zipColumn}${sha}  ${e.path}`);
      });
      process.stdout.write(lines.join('\n') + '\n');
    });
}
