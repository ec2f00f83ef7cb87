// ort_run.js runs an ONNX model with onnxruntime-node, for convc's export
// tests: node ort_run.js MODEL INPUT.json, where INPUT.json is
// {"shape": [n, ...], "data": [...]} (float32 values, row-major). It
// prints {"shape": [...], "data": [...]}, the model's output "output", as
// JSON on one line. NODE_PATH must name the node_modules folder that holds
// onnxruntime-node.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, inputPath] = process.argv.slice(2);
  const input = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  const x = new ort.Tensor('float32', Float32Array.from(input.data), input.shape);
  const out = await session.run({ input: x });
  const y = out.output;
  process.stdout.write(JSON.stringify({ shape: y.dims, data: Array.from(y.data), version: ort.env.versions.node }) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
