import type { LineSink } from './sink.js';

export interface AccessRecord {
  time: Date;
  remote: string;
  method: string;
  url: string;
  status: number;
  bytes: number;
  ms: number;
  model?: string;
  version?: string;
  requestId: string;
}

/**
 * `access.log`: one line per request, space-separated like the common log format so the usual tools
 * can cut it, with the model and request id at the end:
 * `2026-01-02T03:04:05.678Z 127.0.0.1 "POST /predictions/resnet50" 200 312 5.1ms resnet50/1.0 <request id>`.
 */
export class AccessLog {
  constructor(private readonly sink: LineSink) {}

  record(r: AccessRecord): void {
    const model = r.model === undefined ? '-' : r.version === undefined ? r.model : `${r.model}/${r.version}`;
    const url = r.url.replace(/["\s]/g, (c) => encodeURIComponent(c));
    this.sink.write(
      `${r.time.toISOString()} ${r.remote} "${r.method} ${url}" ${r.status} ${r.bytes} ${r.ms.toFixed(1)}ms ${model} ${r.requestId}`,
    );
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
