import { relative } from 'node:path';
import type ts from 'typescript';
import { HandlerExportNotCallable } from '../errors.js';

function callable(type: ts.Type, typescript: typeof ts): boolean {
  return (type.flags & typescript.TypeFlags.Any) !== 0 || type.getCallSignatures().length > 0;
}

/**
 * The server calls the export as `handle(data, context)`, or calls its `handle` member, so an
 * export whose type is neither (a number, a class, a plain object) would fail only once served.
 * A missing export is left to the bundler, which lists the exports that do exist.
 */
export function checkExportCallable(program: ts.Program, file: string, exportName: string, cwd: string, typescript: typeof ts): void {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!source || !moduleSymbol) return;
  const exported = checker.getExportsOfModule(moduleSymbol).find((s) => s.name === exportName);
  if (!exported) return;
  const type = checker.getTypeOfSymbolAtLocation(exported, source);
  if (callable(type, typescript)) return;
  const member = type.getProperty('handle');
  if (member && callable(checker.getTypeOfSymbolAtLocation(member, source), typescript)) return;
  throw new HandlerExportNotCallable(`${relative(cwd, file)}: export "${exportName}" has type ${checker.typeToString(type)}; a handler export must be a function or an object with a callable "handle" member`,
  );
}
