import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface SoakResult {
  passed: boolean;
  requests: { sent: number; byStatus: Record<string, number>; loadErrors: Record<string, number>; answeredTwice: number; neverAnswered: number; crossed: number; failureKinds: Record<string, number> };
  serverSide: { duplicateIds: number; missingIds: number; answeredTwiceLogged: number };
  faults: Array<{ kind: string; recovered: boolean; detail: string }>;
  stop: { sent: number; inFlight: number; byStatus: Record<string, number>; exitCode: number; survivors: number[] };
}

// The soak is plain ESM JavaScript run by node (`npm run soak`); its modules are loaded as they are at run time.
const load = <T>(path: string): Promise<T> => import(join(ROOT, path)) as Promise<T>;

/**
 * `npm run soak`, short: the same run and the same checks as the long one, for about 80 s of load
 * with every fault injected at least once.
 */
describe('npm run soak, short', () => {
  it('answers every request exactly once through every fault and a --stop with requests in flight', async () => {
    const { runSoak } = await load<{ runSoak: (o: object) => Promise<SoakResult> }>('soak/soak.mjs');
    const { renderSoakTable } = await load<{ renderSoakTable: (r: SoakResult) => string }>('soak/table.mjs');
    const { FAULT_KINDS } = await load<{ FAULT_KINDS: readonly string[] }>('soak/faults.mjs');
    const lines: string[] = [];
    const result = await runSoak({ root: ROOT, durationMs: 80_000, requests: 100_000, concurrency: 8, rate: 40, faultEveryMs: 10_000, log: (line: string) => lines.push(line) });
    console.log(`${lines.join('\n')}\n${renderSoakTable(result)}`);

    expect(result.requests.neverAnswered).toBe(0);
    expect(result.requests.failureKinds).toEqual({});
    expect(result.requests.answeredTwice).toBe(0);
    expect(result.requests.crossed).toBe(0);
    expect(result.serverSide).toEqual({ accessLogIds: expect.any(Number), duplicateIds: 0, missingIds: 0, answeredTwiceLogged: 0 });
    // The steady load loses nothing to the faults but a request alone on the SIGSTOPped worker (504):
    // everything else a fault touched is retried and answered 200.
    const { 504: timeouts = 0, ...others } = result.requests.loadErrors;
    expect(others).toEqual({});
    expect(timeouts).toBeLessThanOrEqual(result.faults.filter((f) => f.kind === 'stop').length);
    for (const kind of FAULT_KINDS) {
      const injected = result.faults.filter((f) => f.kind === kind);
      expect(injected.length).toBeGreaterThan(0);
      for (const fault of injected) expect(fault).toMatchObject({ kind, recovered: true });
    }
    expect(result.stop.inFlight).toBeGreaterThan(0);
    expect(result.stop.byStatus).toEqual({ 200: result.stop.sent });
    expect(result.stop.exitCode).toBe(0);
    expect(result.stop.survivors).toEqual([]);
    expect(result.passed).toBe(true);
  }, 150_000);
});
