import type { RunState } from './run-state.js';

/** What a detached server tells the `--start` process that spawned it, over the IPC channel. */
export type StartupReport = { type: 'ready'; state: RunState } | { type: 'failed'; message: string };

export function describeReady(state: RunState): string {
  const addresses = state.addresses ?? { inference: '-', management: '-', metrics: '-' };
  const models = state.models.map((m) => `${m.name} ${m.version}`).join(', ');
  return [
    `model-server running (pid ${state.pid})`,
    `  inference:  ${addresses.inference}`,
    `  management: ${addresses.management}`,
    `  metrics:    ${addresses.metrics ?? 'off (enable_metrics_api=false)'}`,
    ...(addresses.grpcInference === undefined ? [] : [`  grpc:       ${addresses.grpcInference}`]),
    `  models:     ${models === '' ? '(none)' : models}`,
    `  logs:       ${state.logDir}`,
    '',
  ].join('\n');
}
