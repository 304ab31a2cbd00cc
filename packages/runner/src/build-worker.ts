// The dev watch's compiler, in a worker thread so that the runner keeps echoing output meanwhile. It builds
// what `tsc -p tsconfig.build.json` builds, but stays alive between builds: each package keeps its last
// program (a builder program: only the files a change affects are checked and written again), and every
// package shares one cache of parsed files, so lib.d.ts, @types/node, zod's and the kit's declarations are
// parsed once, not once per package and per build. A first build costs what tsc costs; the next ones a
// fraction (the figures: docs/testing.md#dev-mode).
import { statSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import ts from 'typescript';

export interface BuildRequest {
  id: number;
  dir: string;
  pretty: boolean;
}

export interface BuildResult {
  id: number;
  ok: boolean;
  output: string[];
}

const parsedFiles = new Map<string, { mtimeMs: number; file: ts.SourceFile }>();
const lastProgram = new Map<string, ts.EmitAndSemanticDiagnosticsBuilderProgram>();

const formatHost: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (name) => name,
  getCurrentDirectory: () => process.cwd(),
  getNewLine: () => '\n',
};

export function build(dir: string, pretty: boolean): { ok: boolean; output: string[] } {
  const configPath = path.join(dir, 'tsconfig.build.json');
  const configErrors: ts.Diagnostic[] = [];
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    // As in `npm run build`, except that a build with errors writes nothing: dist/ keeps the last good one.
    { noEmitOnError: true },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => configErrors.push(d) },
  );
  if (!parsed) return report(dir, configErrors, pretty);
  const host = ts.createIncrementalCompilerHost(parsed.options);
  const parse = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const mtimeMs = statSync(fileName, { throwIfNoEntry: false })?.mtimeMs;
    const format = typeof languageVersion === 'object' ? languageVersion.impliedNodeFormat : undefined;
    const key = `${fileName}|${JSON.stringify(languageVersion, ['languageVersion'])}|${format}`;
    const cached = parsedFiles.get(key);
    if (cached && mtimeMs !== undefined && cached.mtimeMs === mtimeMs) return cached.file;
    const file = parse(fileName, languageVersion, onError, shouldCreate);
    if (file && mtimeMs !== undefined) parsedFiles.set(key, { mtimeMs, file });
    return file;
  };
  const program = ts.createEmitAndSemanticDiagnosticsBuilderProgram(
    parsed.fileNames,
    parsed.options,
    host,
    lastProgram.get(dir),
    ts.getConfigFileParsingDiagnostics(parsed),
    parsed.projectReferences,
  );
  const diagnostics = [
    ...program.getConfigFileParsingDiagnostics(),
    ...program.getOptionsDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSemanticDiagnostics(),
  ];
  lastProgram.set(dir, program);
  const errors = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) return report(dir, errors, pretty);
  const emitted = program.emit();
  return report(dir, [...diagnostics, ...emitted.diagnostics], pretty);
}

function report(dir: string, diagnostics: readonly ts.Diagnostic[], pretty: boolean) {
  const host = { ...formatHost, getCurrentDirectory: () => dir };
  const text = pretty
    ? ts.formatDiagnosticsWithColorAndContext(diagnostics, host)
    : ts.formatDiagnostics(diagnostics, host);
  const ok = !diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error);
  return { ok, output: text.trimEnd().split('\n').filter(Boolean).slice(-40) };
}

parentPort?.on('message', ({ id, dir, pretty }: BuildRequest) => {
  let result: Omit<BuildResult, 'id'>;
  try {
    result = build(dir, pretty);
  } catch (err) {
    result = { ok: false, output: [`the compiler failed: ${(err as Error).stack ?? err}`] };
  }
  parentPort!.postMessage({ id, ...result } satisfies BuildResult);
});
