// The page that test/browser.test.ts bundles (esbuild, Vite) or serves as is (with an import map to
// the prebuilt dist/browser/mamba-ts.js) and drives in Chromium. It imports the package by name,
// as a user's page would, and exposes what the test calls as window.mambaPage.
import { AutoModelForCausalLM, AutoTokenizer, folderFromFiles, getBackend, initCpu } from 'mamba-ts';

async function forward(modelPath, device, ids) {
  const model = await AutoModelForCausalLM.fromPretrained(modelPath, { device });
  try {
    const out = await model.forward(ids, {});
    const result = {
      device: out.logits.device,
      adapter: out.logits.device === 'webgpu' ? getBackend('webgpu').adapterInfo : '',
      shape: out.logits.shape,
      logits: Array.from(await out.logits.data()),
    };
    out.logits.dispose();
    return result;
  } finally {
    model.dispose();
  }
}

window.mambaPage = {
  /** Which CPU kernels run here (WebAssembly or TypeScript), on how many threads. */
  cpuKernels() {
    return initCpu();
  },

  /** The WebGPU adapter Chromium offers, or null. */
  async adapter() {
    const a = await navigator.gpu?.requestAdapter();
    return a ? `${a.info.vendor} ${a.info.architecture}`.trim() || 'unnamed adapter' : null;
  },

  /** Loads a model folder over HTTP and returns its logits for ids. */
  forward,

  /** The same, from File objects (as an <input type="file"> gives them), fetched here first. */
  async forwardFromFiles(modelUrl, names, device, ids) {
    const files = await Promise.all(
      names.map(async (name) => new File([await (await fetch(`${modelUrl}/${name}`)).blob()], name)),
    );
    const folder = folderFromFiles(files);
    try {
      return await forward(folder.path, device, ids);
    } finally {
      folder.release();
    }
  },

  /** Greedy generation from token ids (whole rows back, prompt included), for models without a tokenizer. */
  async generateIds(modelUrl, device, ids, maxNewTokens) {
    const model = await AutoModelForCausalLM.fromPretrained(modelUrl, { device });
    try {
      return await model.generate(ids, { maxNewTokens });
    } finally {
      model.dispose();
    }
  },

  /** Greedy continuation of a prompt: the new token ids and their text. */
  async greedy(modelUrl, device, prompt, maxNewTokens) {
    const tokenizer = await AutoTokenizer.fromPretrained(modelUrl);
    const model = await AutoModelForCausalLM.fromPretrained(modelUrl, { device });
    try {
      const ids = tokenizer.encode(prompt);
      const out = await model.generate([ids], { maxNewTokens, eosTokenId: null });
      const added = out[0].slice(ids.length);
      return { ids: added, text: tokenizer.decode(added) };
    } finally {
      model.dispose();
    }
  },
};
window.mambaReady = true;
