import { parseArgs } from 'node:util';

const HELP = `npm run demo [-- OPTIONS]

Archives examples/resnet50 with model-archiver, starts model-server, classifies the sample photos as
the MMS tutorial does, and stops the server.

  --weights PATH   the ONNX model to serve (also NODESERVE_WEIGHTS); default: the real ResNet-50 if
                   downloaded, else ../shared/models/mobilenetv2-12-int8.onnx, else a synthetic ResNet-50;
                   \`--weights synthetic\` asks for the synthetic one (random weights, meaningless labels)
  --port N         inference port; management and metrics use N+1 and N+2 (default 8080, as the
                   tutorial); 0 lets the system pick free ports
  --workdir DIR    where the model store, config and logs go (default: the repository root)
  --images LIST    comma-separated photos to classify (default: kitten, a dog and a pelican)
  -h, --help       this text`;

/**
 * @param {string[]} argv
 * @param {NodeJS.ProcessEnv} env
 */
export function parseOptions(argv, env) {
  const { values } = parseArgs({
    args: argv,
    options: {
      weights: { type: 'string' },
      port: { type: 'string', default: '8080' },
      workdir: { type: 'string' },
      images: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65533) throw new Error(`--port ${values.port}: expected 0 or a port up to 65533`);
  return {
    help: values.help ? HELP : undefined,
    weights: values.weights ?? (env.NODESERVE_WEIGHTS || undefined),
    port,
    workdir: values.workdir,
    images: values.images?.split(',').filter(Boolean),
  };
}
