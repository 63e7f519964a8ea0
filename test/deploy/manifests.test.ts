import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { readSharedKeys, tokenAuthRequired } from '../../packages/server/src/auth/index.js';
import { type ServerConfig, loadConfig } from '../../packages/server/src/config/index.js';
import { ServerEvents } from '../../packages/server/src/events.js';
import { inferenceServiceHandlers } from '../../packages/server/src/grpc/service.js';
import { ServerMetrics } from '../../packages/server/src/metrics/index.js';
import { openApiDocument } from '../../packages/server/src/openapi/index.js';
import { ROOT, SHARED } from '../support/model-server.js';

/**
 * Every manifest in deploy/kubernetes and deploy/kserve, validated offline against the real schemas:
 * core and operator types with kubernetes-models (the Kubernetes OpenAPI, KEDA's and the Prometheus
 * Operator's CRDs, compiled), KServe's resources with ajv against the CRDs in ../shared/reference/kserve
 * (read where they are, not copied). Then what no schema knows: names that must match across
 * manifests, the shutdown timing, the resources against the benchmark, the config against the server's.
 */

type Manifest = Record<string, any> & { apiVersion: string; kind: string; metadata: { name: string } & Record<string, any> };

const KSERVE_CRDS = path.join(SHARED, 'reference/kserve/crds');
const WORKER_STOP_MARGIN_S = 5;

function load(dir: string): Array<{ file: string; manifest: Manifest }> {
  const found: Array<{ file: string; manifest: Manifest }> = [];
  for (const name of readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    const file = path.join(dir, name);
    for (const doc of parseAllDocuments(readFileSync(path.join(ROOT, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      found.push({ file, manifest: doc.toJS() as Manifest });
    }
  }
  return found;
}

/**
 * As the API server treats a structural schema: a field the schema does not declare is an error
 * (kubectl's strict field validation), unless the schema keeps unknown fields.
 */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] =
      key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, closeObjects(v)])) : closeObjects(value);
  }
  if (out['properties'] !== undefined && out['additionalProperties'] === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) {
    out['additionalProperties'] = false;
  }
  return out;
}

// Unoptimised code: the InferenceService CRD (2 MB of schema) compiles in a third of the time, and a
// handful of manifests are validated once.
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, code: { optimize: false } });
addFormats(ajv);
// Kubernetes' schema extensions: list and map semantics for server-side apply, not constraints on a
// manifest (x-kubernetes-int-or-string comes with its own anyOf).
for (const keyword of ['x-kubernetes-list-type', 'x-kubernetes-int-or-string', 'x-kubernetes-map-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-preserve-unknown-fields']) {
  ajv.addKeyword(keyword);
}

function crdSchema(file: string, version: string): Record<string, any> {
  const crd = parseAllDocuments(readFileSync(path.join(KSERVE_CRDS, file), 'utf8'))[0]!.toJS() as Record<string, any>;
  const served = (crd['spec'].versions as Array<Record<string, any>>).find((v) => v['name'] === version);
  if (served === undefined) throw new Error(`${file} has no version ${version}`);
  return served['schema'].openAPIV3Schema as Record<string, any>;
}

const kserveValidators = new Map<string, ValidateFunction>();
function kserveValidator(apiVersion: string, kind: string): ValidateFunction {
  const key = `${apiVersion}/${kind}`;
  let validate = kserveValidators.get(key);
  if (validate === undefined) {
    const file = { ClusterServingRuntime: 'serving.kserve.io_clusterservingruntimes.yaml', InferenceService: 'serving.kserve.io_inferenceservices.yaml' }[kind];
    if (file === undefined) throw new Error(`no KServe CRD for ${kind}`);
    validate = ajv.compile(closeObjects(crdSchema(file, apiVersion.split('/')[1]!)) as object);
    kserveValidators.set(key, validate);
  }
  return validate;
}

/** Validates one manifest against its kind's schema; throws naming every problem. */
function validate({ file, manifest }: { file: string; manifest: Manifest }): void {
  const core: Record<string, new (data: any) => { validate(): void }> = {
    'v1/ConfigMap': ConfigMap,
    'v1/Secret': Secret,
    'v1/Service': Service,
    'v1/PersistentVolumeClaim': PersistentVolumeClaim,
    'apps/v1/Deployment': Deployment,
    'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
    'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
    'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  };
  const Model = core[`${manifest.apiVersion}/${manifest.kind}`];
  if (Model !== undefined) {
    new Model(manifest).validate();
    return;
  }
  if (manifest.apiVersion.startsWith('serving.kserve.io/')) {
    new ObjectMeta(manifest.metadata).validate();
    const check = kserveValidator(manifest.apiVersion, manifest.kind);
    if (!check(manifest)) throw new Error(`${file}: ${ajv.errorsText(check.errors, { separator: '\n' })}`);
    return;
  }
  throw new Error(`${file}: no schema for ${manifest.apiVersion} ${manifest.kind}; add one to this test`);
}

function serverConfig(text: string, overrides: Record<string, unknown> = {}): ServerConfig {
  const dir = mkdtempSync(path.join(tmpdir(), 'ms-manifest-config-'));
  writeFileSync(path.join(dir, 'config.properties'), text);
  return loadConfig({ cwd: dir, overrides, env: {} }).config;
}

/** Kubernetes quantities as bytes: the binary and decimal suffixes the manifests use. */
function bytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (match === null) throw new Error(`not a quantity: ${quantity}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * unit;
}

const kubernetes = load('deploy/kubernetes');
const kserve = load('deploy/kserve');
const find = (kind: string, from = kubernetes) => {
  const found = from.find((m) => m.manifest.kind === kind);
  if (found === undefined) throw new Error(`no ${kind} manifest`);
  return found.manifest;
};

describe('deploy/ manifests against their schemas', () => {
  it.each([...kubernetes, ...kserve].map((m) => [m.file, `${m.manifest.kind} ${m.manifest.metadata.name}`, m] as const))(
    '%s: %s is valid',
    (_file, _what, entry) => {
      expect(() => validate(entry)).not.toThrow();
    },
  );

  it('ships every kind the deployment needs', () => {
    expect(kubernetes.map((m) => m.manifest.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'ScaledObject', 'Secret', 'Service', 'ServiceMonitor'].sort(),
    );
    expect(kserve.map((m) => m.manifest.kind).sort()).toEqual(['ClusterServingRuntime', 'InferenceService', 'InferenceService']);
  });

  it('catches what the validators exist for: a wrong type, a misspelt field, a missing required one', () => {
    const deployment = structuredClone(find('Deployment'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    expect(() => validate({ file: 'broken', manifest: deployment })).toThrow(/containerPort must be integer/);

    const runtime = structuredClone(find('ClusterServingRuntime', kserve));
    runtime.spec.containers[0].readinessProb = runtime.spec.containers[0].readinessProbe;
    expect(() => validate({ file: 'broken', manifest: runtime })).toThrow(/must NOT have additional properties/);

    const isvc = structuredClone(find('InferenceService', kserve));
    delete isvc.spec.predictor;
    expect(() => validate({ file: 'broken', manifest: isvc })).toThrow(/must have required property 'predictor'/);
  });

  it("names in the Deployment's pod spec are the PodSpec's: checked strictly against the PodSpec KServe's InferenceService embeds", () => {
    // kubernetes-models checks types and required fields but lets an unknown field through; a
    // misspelt probe would silently be no probe.
    const predictor = crdSchema('serving.kserve.io_inferenceservices.yaml', 'v1beta1')['properties'].spec.properties.predictor;
    const check = ajv.compile(closeObjects(predictor) as object);
    const podSpec = find('Deployment').spec.template.spec;
    expect(check(podSpec) ? [] : check.errors).toEqual([]);
    const misspelt = structuredClone(podSpec);
    misspelt.containers[0].livenesProbe = misspelt.containers[0].livenessProbe;
    expect(check(misspelt)).toBe(false);
  });
});

describe('deploy/kubernetes fits together and fits the server', () => {
  const deployment = find('Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c: { name: string }) => c.name === 'model-server');
  const configMap = find('ConfigMap');
  const config = serverConfig(configMap.data['config.properties']);

  it("holds a config.properties that the server's own schema accepts, read from the mounted ConfigMap", () => {
    const configVolume = pod.volumes.find((v: { configMap?: { name: string } }) => v.configMap?.name === configMap.metadata.name);
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === configVolume.name);
    expect(container.args).toEqual(['--config', `${mount.mountPath}/config.properties`]);
    expect(config.enable_envvars_config).toBe(true);
    expect(config.inference_address).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.grpc_inference_address).toEqual({ host: '0.0.0.0', port: 9000 });
  });

  it('finishes a rolling update inside the grace period, readiness failing before the listener closes', () => {
    const preStop = container.lifecycle.preStop.exec.command as string[];
    expect(preStop[0]).toBe('sleep');
    const preStopS = Number(preStop[1]);
    const drainS = preStopS + config.shutdown_delay + config.default_response_timeout + WORKER_STOP_MARGIN_S;
    expect(drainS).toBeLessThanOrEqual(pod.terminationGracePeriodSeconds);
    // A balancer probing as often as the kubelet sees readiness fail while the listener still serves.
    const probe = container.readinessProbe;
    expect(config.shutdown_delay).toBeGreaterThan(0);
    expect(probe.periodSeconds * probe.failureThreshold).toBeLessThanOrEqual(config.shutdown_delay);
    expect(probe.httpGet).toEqual({ path: '/ping', port: 'inference' });
    // Liveness tolerates the whole drain: the listener is closed for up to default_response_timeout.
    const live = container.livenessProbe;
    expect(live.httpGet.path).toBe('/v2/health/live');
    expect(live.periodSeconds * live.failureThreshold).toBeGreaterThanOrEqual(preStopS + config.shutdown_delay);
    // Surge before removing: capacity holds during an update.
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  });

  it('turns token authorization on with the keys of the mounted Secret, whose shipped placeholder the server refuses', async () => {
    expect(tokenAuthRequired({ hosts: ['0.0.0.0'], enable_token_authorization: config.enable_token_authorization })).toBe(true);
    const secret = find('Secret');
    const keysVolume = pod.volumes.find((v: { secret?: { secretName: string } }) => v.secret?.secretName === secret.metadata.name);
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === keysVolume.name);
    const [keyName] = Object.keys(secret.stringData);
    expect(config.shared_key_file).toBe(`${mount.mountPath}/${keyName}`);
    const dir = mkdtempSync(path.join(tmpdir(), 'ms-secret-'));
    writeFileSync(path.join(dir, keyName!), secret.stringData[keyName!]);
    await expect(readSharedKeys(path.join(dir, keyName!))).rejects.toThrow(/must be at least 32 characters/);
  });

  it('requests the memory the benchmark measured and limits it with room for the front end to grow', () => {
    const bench = JSON.parse(readFileSync(path.join(ROOT, 'bench/results/resnet50-synthetic.json'), 'utf8'));
    const peak = bench.server.rss.peakBytes as number;
    expect(bench.server.settings.workers).toBe(config.default_workers_per_model);
    expect(bytes(container.resources.requests.memory)).toBeGreaterThanOrEqual(peak);
    expect(bytes(container.resources.limits.memory)).toBeGreaterThanOrEqual(peak * 1.5);
    expect(Number(container.resources.requests.cpu)).toBe(config.default_workers_per_model);
  });

  it('wires the Service, PodDisruptionBudget, ServiceMonitor, volumes and ScaledObject to the pods and ports that exist', () => {
    const labels = deployment.spec.template.metadata.labels;
    const portNames = container.ports.map((p: { name: string }) => p.name);
    const service = find('Service');
    expect(labels).toMatchObject(service.spec.selector);
    for (const port of service.spec.ports) expect(portNames).toContain(port.targetPort);
    expect(service.spec.ports.map((p: { name: string }) => p.name)).not.toContain('management');
    // Every API the Service exposes is on the port the config gives it; gRPC is marked as HTTP/2 without TLS.
    const containerPort = (name: string) => container.ports.find((p: { name: string }) => p.name === name).containerPort;
    expect([containerPort('inference'), containerPort('metrics'), containerPort('grpc')]).toEqual([
      config.inference_address.port, config.metrics_address.port, config.grpc_inference_address.port,
    ]);
    expect(service.spec.ports.find((p: { name: string }) => p.name === 'grpc')).toMatchObject({ targetPort: 'grpc', appProtocol: 'kubernetes.io/h2c' });
    expect(labels).toMatchObject(find('PodDisruptionBudget').spec.selector.matchLabels);
    const monitor = find('ServiceMonitor');
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain(monitor.spec.endpoints[0].port);
    expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(config.metrics_address.port));
    const claim = pod.volumes.find((v: { persistentVolumeClaim?: unknown }) => v.persistentVolumeClaim !== undefined);
    expect(claim.persistentVolumeClaim.claimName).toBe(find('PersistentVolumeClaim').metadata.name);
    const mountOf = (name: string) => container.volumeMounts.find((m: { name: string }) => m.name === name).mountPath;
    expect(mountOf(claim.name)).toBe(config.model_store);
    const scaled = find('ScaledObject');
    expect(scaled.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(2);
  });

  it("scales on metrics the server exports, under the names it exports them", async () => {
    const exported = await new ServerMetrics(new ServerEvents(), { processMetrics: false }).registry.metrics();
    const families = new Set([...exported.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
      type === 'histogram' ? [`${name}_sum`, `${name}_count`, `${name}_bucket`] : [name!],
    ));
    const queries = find('ScaledObject').spec.triggers.map((t: { metadata: { query: string } }) => t.metadata.query);
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries as string[]) {
      const names = [...query.matchAll(/\b(ts_[a-z_]+)\{/g)].map((m) => m[1]);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(families).toContain(name);
    }
  });
});

describe('deploy/kserve uses KServe storage layout and fits the server', () => {
  const runtime = find('ClusterServingRuntime', kserve);
  const services = kserve.filter((m) => m.manifest.kind === 'InferenceService').map((m) => m.manifest);
  const byProtocol = (protocol: string) => services.find((s) => s.spec.predictor.model.protocolVersion === protocol)!;
  const container = runtime.spec.containers[0];

  it('reads the archives and config where the storage initializer puts them', () => {
    expect(container.name).toBe('kserve-container');
    expect(container.args).toEqual(
      expect.arrayContaining(['--model-store=/mnt/models/model-store', '--config=/mnt/models/config/config.properties']),
    );
  });

  it('is the runtime each InferenceService asks for, with the format and protocol it names: v2 (REST) and grpc-v2', () => {
    expect(services.map((s) => s.spec.predictor.model.protocolVersion).sort()).toEqual(['grpc-v2', 'v2']);
    for (const isvc of services) {
      const model = isvc.spec.predictor.model;
      expect(model.runtime).toBe(runtime.metadata.name);
      expect(runtime.spec.supportedModelFormats.map((f: { name: string }) => f.name)).toContain(model.modelFormat.name);
      expect(runtime.spec.protocolVersions).toContain(model.protocolVersion);
    }
  });

  it('lists the KServe protocols the server serves, v1, v2 and grpc-v2, each with its predict call', () => {
    const paths = Object.keys((openApiDocument() as { paths: object }).paths);
    const proto = readFileSync(path.join(ROOT, 'packages/server/proto/grpc_predict_v2.proto'), 'utf8');
    const served: Record<string, boolean> = {
      v1: paths.includes('/v1/models/{model_name}:predict'),
      v2: paths.includes('/v2/models/{model_name}/infer'),
      // The shipped proto declares ModelInfer in the service, and the server implements it.
      'grpc-v2':
        /service GRPCInferenceService\s*\{[\s\S]*?\brpc ModelInfer\(/.test(proto) &&
        'ModelInfer' in inferenceServiceHandlers({ ctx: {} as never, accessLog: {} as never, inferenceKey: undefined, responseSizes: new WeakMap() }),
    };
    expect(runtime.spec.protocolVersions).toEqual(['v1', 'v2', 'grpc-v2']);
    for (const protocol of runtime.spec.protocolVersions as string[]) expect([protocol, served[protocol]]).toEqual([protocol, true]);
  });

  it("starts with the example config.properties: the server's schema accepts it and token authorization is explicitly off", () => {
    const text = readFileSync(path.join(ROOT, 'deploy/kserve/storage/config/config.properties'), 'utf8');
    expect(container.args).toContain('--disable-token-auth');
    const config = serverConfig(text, { model_store: '/mnt/models/model-store', disable_token_authorization: true });
    const hosts = [config.inference_address.host, config.management_address.host, config.metrics_address.host, config.grpc_inference_address.host];
    expect(tokenAuthRequired({ hosts, disable_token_authorization: config.disable_token_authorization })).toBe(false);
    expect(String(config.metrics_address.port)).toBe(runtime.spec.annotations['prometheus.kserve.io/port']);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: config.inference_address.port });
  });

  it('exposes one port per InferenceService, as Knative allows: none for REST (the default 8080), h2c on the gRPC address for grpc-v2', () => {
    const config = serverConfig(readFileSync(path.join(ROOT, 'deploy/kserve/storage/config/config.properties'), 'utf8'), { model_store: '/mnt/models/model-store' });
    // KServe merges an InferenceService's ports into the runtime's (strategic merge by containerPort): a
    // port declared by the runtime would be a second port beside the gRPC one, which Knative refuses.
    expect(container.ports).toBeUndefined();
    expect(byProtocol('v2').spec.predictor.model.ports).toBeUndefined();
    expect(config.inference_address.port).toBe(8080);
    expect(byProtocol('grpc-v2').spec.predictor.model.ports).toEqual([{ name: 'h2c', containerPort: config.grpc_inference_address.port, protocol: 'TCP' }]);
    expect(config.grpc_inference_address).toEqual({ host: '0.0.0.0', port: 9000 });
  });
});
