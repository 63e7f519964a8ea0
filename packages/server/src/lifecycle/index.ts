export { startDetached, START_WAIT_MS } from './daemon.js';
export { describeReady, type StartupReport } from './ready.js';
export { resolveInitialModels, type InitialModel, MAX_INITIAL_MODELS } from './initial-models.js';
export { runPaths, type RunPaths } from './paths.js';
export { isAlive, isServerProcess } from './process-check.js';
export { printStatus } from './status.js';
export { ModelStateSchema, RunStateSchema, portOf, readPid, readRunState, type ModelState, type RunState } from './run-state.js';
export { removeRunFiles, writeRunFiles } from './state-file.js';
export { stopServer } from './stop.js';
